"""What a customer asking for advice says they need, in their own words.

"em dùng nhiều data", "gói nào rẻ nhất", "mỗi tháng tầm 100k thôi": said while the bot
asks for the phone number of an advice request, such a message was taken for a wrong
answer and the question asked again, the words lost; yet they are what the advisor who
calls back needs first. :func:`need_in_message` says whether a message says more than
"I want advice", with a word of what a line is used for or costs (``_NEED_WORDS``),
and gives its words, phone numbers aside, to be stored with the request (its note, shown
to the team).
"""

from __future__ import annotations

import re
from typing import Final

from bot.phone import NUMBER
from bot.text import fold, words

# Words of a bare request for advice, its politeness and its addressees, folded: a
# message of these words alone ("tu van goi cuoc giup e voi ad") says no need.
_GENERIC: Final = frozenset(
    {
        "tu", "van", "goi", "cuoc", "dich", "vu", "san", "pham", "thong", "tin", "hoi",
        "cho", "em", "e", "minh", "mk", "mik", "toi", "tui", "t", "anh", "a", "chi", "c",
        "ban", "b", "ad", "admin", "shop", "oi", "giup", "voi", "di", "nhe", "nha",
        "can", "muon", "nghe", "ve", "duoc", "dc", "khong", "ko", "k", "xin", "la", "ah",
        "ak", "vs", "hoac", "va", "cai", "nao", "gi", "j", "so", "sdt", "dien", "thoai",
        "cua", "nay", "them", "mot", "chut", "it", "lai", "kiem", "tra", "xem", "ho", "on",
        "da", "vang", "ok", "roi", "con", "co", "the", "vay", "z", "v", "nhu", "ma",
        "mobifone", "mobi", "mb", "sim", "thue", "bao",
    }
)  # fmt: skip
# A phone number with the words that introduce it ("cho sdt 0839…", "số 0932…").
NUMBER_SAID: Final = re.compile(
    r"(?:(?<!\w)(?:cho\s+)?(?:s[oố]|sdt|sđt)(?:\s+(?:đ|d)i[eệ]n\s+tho[aạ]i)?\s*)?" + NUMBER.pattern,
    re.IGNORECASE,
)
# Words that say what a line is used for or what it may cost, folded: a message says a
# need with one of them ("em dung nhieu data lam, hay xem youtube", "gói nào rẻ nhất"),
# whatever the NLU read it as; "thôi để em gọi 9090", read as asking for advice ("gọi" and
# "gói" fold alike), says none.
_NEED_WORDS: Final = re.compile(
    r"(?<!\w)(?:data|dung luong|\d+ ?(?:gb|mb|k|phut)|gb|internet|wifi|mang|4g|5g|youtube"
    r"|facebook|fb|tiktok|zalo|xem phim|luot web|luot mang|noi mang|ngoai mang|nhan tin"
    r"|tin nhan|sms|phut goi|goi dien|re|tiet kiem|moi thang|1 thang|mot thang|tra truoc"
    r"|tra sau|combo|nghin|ngan|sinh vien|hoc sinh|nguoi gia|gia dinh|nhieu|it|nang cap"
    r"|doi goi|goi lon|goi nho|khuyen mai|uu dai|gia|tien|bn)(?!\w)"
)
# A need is kept to this many characters (the request's note is free text; a long
# message is cut at a word).
MAX_NEED: Final = 300


def need_in_message(text: str) -> str | None:
    """The message's words when they say a need beside the request for advice (a word
    none of a bare request's, and a word of a need): phone numbers left out, spaces
    collapsed; None for a bare request ("tư vấn gói cước cho em"), a message that names
    no need ("thôi để em gọi 9090") or a message of no words."""
    folded = [fold(word) for word in words(NUMBER_SAID.sub(" ", text))]
    if not any(word not in _GENERIC and not word.isdigit() for word in folded):
        return None
    if not _NEED_WORDS.search(" ".join(folded)):
        return None
    return said_without_numbers(text)


def said_without_numbers(text: str) -> str | None:
    """``text`` as a note keeps it: without its phone numbers (and their cue), spaces
    collapsed, cut at a word to ``MAX_NEED`` characters; None when nothing is left. What
    a customer needs (here) and when they can be visited (``bot.visits``) are kept so."""
    said = " ".join(NUMBER_SAID.sub(" ", text).split()).strip(" ,.;:-")
    if len(said) > MAX_NEED:
        said = said[:MAX_NEED].rsplit(" ", 1)[0]
    return said or None


def with_need(before: str | None, need: str) -> str:
    """``need`` added to what was noted before (" / " between), unless already in it."""
    if not before:
        return need
    if fold(need) in fold(before):
        return before
    return f"{before} / {need}"[: MAX_NEED * 2]

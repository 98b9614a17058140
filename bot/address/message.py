"""The address inside a message that says more ("sdt 0903123456, dia chi P.5 Q.3 tphcm").

Customers often give everything in one line, before the address is asked. The part after
an address cue ("địa chỉ", "dia chi", "đ/c", "dc") is the address, up to a phone number or
its cue; it is taken only when it reads as one, since chat text reads as some place almost
always (Vietnamese syllables are names somewhere) and "dc"/"đc" is also "được" ("dc ko").
"""

from __future__ import annotations

import re

from bot.address.model import Resolution
from bot.address.resolver import names_a_unit, resolve
from bot.names import NAME_CUE
from bot.phone import CUE as PHONE_CUE
from bot.phone import NUMBER
from bot.text import fold, words

# A cue that means "address" and nothing else; "dc"/"đc" is also teen-code for "được".
# "địa chỉ cụ thể / chính xác" (the exact address) is one cue: "ko nho dia chi cu the, o xa
# Nghi Phong …" kept "cu the, o xa …" ("cụ", "thế" alone open names: Thế Lữ).
_CUE = re.compile(
    r"(?<!\w)(?:(?:địa\s*chỉ|đ/c|d/c|đ\.c|dia\s*chi)"
    r"(?:\s+(?:cụ\s*thể|cu\s*the|chính\s*xác|chinh\s*xac))?|(?P<short>đc|dc)"
    # "nhà (em) ở …": where the customer lives ("… cho so 0905…, nha o 45 Nguyen Van Linh,
    # Da Nang" lost its address: no unit named with its type word, and beside a phone
    # number a province alone is not taken).
    # "mẹ em ở …", "nhà bố mình ở …": a relative's home, the SIM swapped for them.
    r"|(?:(?:nhà|nha)\s+(?:{rel}\s+)?(?:{pron}\s+)?|{rel}\s+{pron}\s+)(?:ở|o))(?!\w)".format(
        rel=r"(?:mẹ|me|má|bố|bo|ba|cha|ông|ong|bà)",
        pron=r"(?:em|e|mình|minh|mk|tôi|toi|tui|anh|chị|chi|c|bác|bac|cô|co)",
    ),
    re.I,
)
# Words between the cue and the address: "địa chỉ nhà em là …", "dc: …", "đ/c ở …",
# "địa chỉ mới: …", and a correction's "địa chỉ sai rồi, đúng là …" ("lại", "thành",
# "đồi" are not among them: Lai Châu, Thành phố …, Đội 5).
_FILLERS = frozenset(
    {"nha", "cua", "em", "e", "toi", "minh", "anh", "a", "chi", "c", "la", "o", "tai"}
    | {"moi", "dung", "sai", "nham", "ko", "khong", "k", "roi", "r", "bi", "sua", "phai"}
    # "dc"/"đc": the short address cue, opening the part after a phone number ("sdt 0912…,
    # dc 12 ly thuong kiet hoan kiem hn"); left out only where the reading is the same.
    | {"dc"}
)
_LEADING = re.compile(r"[\s:;,.\-–]+|\w+", re.UNICODE)
# Where the address stops: a phone number (as bot.phone finds one), its cue ("đt" alone is
# no cue: "ĐT 741" is a provincial road; before the number it is trimmed as a closing
# word), or a name's cue ("…, ten chi la Thu": bot.names).
_END = re.compile(rf"{PHONE_CUE.pattern}|{NUMBER.pattern}|{NAME_CUE.pattern}", re.I)
# A closing "được không" ("… dc ko?": is that all right) is a question, not the address.
_TRAILING = re.compile(
    r"(?:[\s,;.?\-–]|(?<!\w)(?:ạ|nhé|nhe|nha|đt|dt)(?!\w)"
    r"|(?<!\w)(?:được|duoc|đc|dc)\s+(?:không|khong|ko|k|hông|hong)(?!\w))+$",
    re.I,
)


def address_in_message(text: str) -> str | None:
    """The address part of ``text`` after its last address cue that has one, as typed,
    when it reads as an address: a unit named with its type word, or (after a cue that
    means nothing else) a province or ward decided without guessing. None when there is no
    such part."""
    # The last cue first: a correction names the address again after the words that
    # say the first was wrong ("sai dia chi roi, dia chi dung la …", "dia chi cu la …, dia
    # chi moi la …"); "dc" closing a sentence ("… dc khong") is "được" and reads as none.
    for cue in reversed(list(_CUE.finditer(text))):
        part = _part_after(text, cue.end())
        if not part:
            continue
        if names_a_unit(part):
            return part
        if cue.group("short") is None and resolve(part).decided:
            return part
    return None


def address_beside_phone(text: str) -> str | None:
    """The part of ``text`` before, between or after its phone numbers and their cues
    ("0903123456 P.5 Q.3 tphcm", "sdt e la 0903…, e o Phuong 1 Quan 10 tphcm", or a text
    with no number: "Phường Bến Nghé, Quận 1, TP HCM") that names a unit with its type
    word: an address typed before it is asked, without a cue. Beside a phone number, a
    part without a type word is taken too when it reads as a place below a province,
    decided without guessing ("doi sim 0903123458 tai 77 Tran Hung Dao Quy Nhon Binh
    Dinh"). Whatever else the text is, it is then read as the address: the caller takes
    it only while none is given."""
    parts: list[str] = []
    for start in (0, *(found.end() for found in _END.finditer(text))):
        # One at a time: a part is trimmed by reading it (resolve), and the first part
        # that names a unit ends the search.
        part = _part_after(text, start)
        if part and names_a_unit(part):
            return _from_where_i_live(part)
        parts.append(part)
    if NUMBER.search(text) is None:
        return None
    for part in parts:
        if part and _decided_below_province(part):
            return part
    return None


# "em ở …", "mình ở …" inside a part that names a unit: where the customer lives starts
# there ("Em chào anh chị ạ, em được mời đổi sim 4G, em ở xã Phong Điền, …, sđt …").
_I_LIVE = re.compile(
    r"(?<!\w)(?:em|e|mình|minh|mk|tôi|toi|tui|anh|chị|chi|c)\s+(?:ở|o)(?!\w)", re.I
)


# What before "em ở" belongs to the address: a house number (not "4G") or a street or
# hamlet word.
_HOUSE_NUMBER = re.compile(r"^(?![2-5]g$).*\d")
_HOME_WORDS = frozenset(
    {"so", "ngo", "ngach", "hem", "kiet", "duong", "pho", "thon", "xom", "ap", "to", "khu"}
)
# A number before one of these counts something else ("chị năm nay 60 tuổi", "dùng sim 10
# năm rồi"), folded.
_NO_HOUSE_AFTER = frozenset({"tuoi", "nam", "thang", "ngay", "lan", "gio", "phut", "tuan"})


def _from_where_i_live(part: str) -> str:
    """``part`` from its last "em ở" on, when what follows names a unit and reads as the
    whole does: the greeting and the chat before it are no address."""
    cues = list(_I_LIVE.finditer(part))
    found = cues[-1] if cues else None
    if found is None or found.start() == 0:
        return part
    before = [fold(word) for word in words(part[: found.start()])]
    if any(
        word in _HOME_WORDS or (_HOUSE_NUMBER.search(word) and following not in _NO_HOUSE_AFTER)
        for word, following in zip(before, [*before[1:], ""], strict=True)
    ):
        return part  # "so 5 ngo 12, em o phuong …": the house before it is the address's
    rest = _part_after(part, found.end())
    if rest and names_a_unit(rest) and _reading(rest) == _reading(part):
        return rest
    return part


def address_answer(text: str) -> str:
    """The address in an answer to the address question, as typed: the part after an
    address cue ("sai rồi, địa chỉ là …"), else the text without the filler words it opens
    with ("nhà em ở …"), its closing particles ("… ạ") and a phone number typed with it,
    when that part reads as an address (a unit named with its type word, or a place decided
    without guessing); else the text itself, so that small talk ("tôi không biết") is
    still asked about as typed."""
    whole = text.strip()
    part = address_in_message(whole)
    if part is not None:
        return part
    part = _part_after(whole, 0) or address_beside_phone(whole) or ""
    if not part or part == whole:
        return whole
    found = resolve(part)
    if (
        (names_a_unit(part) or found.decided)
        # Cut at a phone number, the part reads as the whole does: not when words after
        # the number name the province ("12 Le Loi P5, sdt 0903…, tphcm").
        and _reading_of(found) == _reading(whole)
    ):
        return part
    return whole


# Words typed around a phone number that say nothing of a place: "so nay 0905…", "sdt
# cua e la 0905… nhe".
_AROUND_PHONE = _FILLERS | {"so", "nay", "day", "do", "nhe", "nha", "a", "ạ", "dt", "đt"}


def phone_only(text: str) -> bool:
    """Whether ``text`` is a phone number and nothing else of an address ("0905111222",
    "sdt e la 0905 111 222 nhe"): typed at the address question, it is no address (it was
    asked about, then kept in the address the team reads)."""
    if NUMBER.search(text) is None:
        return False
    rest = _END.sub(" ", text)
    return all(fold(word) in _AROUND_PHONE for word in words(rest))


# Without a type word, how sure the resolver must be of a part beside a phone number: what
# a province named with the place gives ("tai 77 Tran Hung Dao Quy Nhon Binh Dinh": 0.68;
# "88 Nguyen Van Cu, Long Bien, Ha Noi": 0.79), not small talk that reads as a place ("ad
# oi", Xã A Dơi of Quảng Trị: 0.55).
_UNMARKED_CONFIDENCE = 0.6


def _decided_below_province(part: str) -> bool:
    """Whether ``part`` reads, without guessing, as a ward or an old district of a province
    decided at ``_UNMARKED_CONFIDENCE`` or more (a province alone, "ha noi", is no home
    address)."""
    found = resolve(part)
    return (
        found.decided
        and found.confidence >= _UNMARKED_CONFIDENCE
        and (found.ward_code is not None or found.old_district_code is not None)
    )


def _part_after(text: str, start: int) -> str:
    """The text from ``start`` up to a phone number or its cue, trimmed of trailing
    punctuation and particles, and of the filler words it opens with ("nhà em là:", "sai
    rồi, đúng là") as far as they change nothing of what it reads as: "Nha Trang", "Cửa
    Lò", "A Lưới", "Minh Khai" open with words that are fillers elsewhere."""
    rest = text[start:]
    end = _END.search(rest)
    if end is not None:
        rest = rest[: end.start()]
    whole = _trimmed(rest)
    cuts: list[str] = []
    position = 0
    while position < len(rest):
        piece = _LEADING.match(rest, position)
        if piece is None:
            break
        word = piece.group()
        if word[0].isalnum() and fold(word) not in _FILLERS:
            break
        position = piece.end()
        if word[0].isalnum():
            cuts.append(_trimmed(rest[position:]))
    if not cuts or not whole:
        return whole
    reading = _reading(whole)
    for cut in reversed(cuts):  # the most fillers left out first
        if cut and _reading(cut) == reading:
            return cut
    return whole


# What is left of a request written after the address once its words are taken out
# (bot.form's _without_request_words puts a comma in their place): "…, tp hcm, can doi sim
# cho so 0908…" leaves ", can , cho so" before the number, "…, doi sim 4g" leaves ", 4g".
# Whole comma parts of such words only ("Xóm Chợ" keeps its part).
_GLUE_TAIL = re.compile(
    r"(?:,\s*(?:(?:cần|can|cho|số|so|của|cua|là|la|muốn|muon|mình|minh|tôi|toi|tui|em|e|chị"
    r"|chi|anh|bố|bo|mẹ|me|sim|4g)"
    r"(?!\w)\s*)*)+$",
    re.I,
)


# "ạ" typed without its dot closes many answers ("…, Nghe An a"): a closing lower-case
# "a" after a word of letters that labels no lettered place ("Khu A", "tổ a", "ấp A",
# "lô a", "5 a" keep it).
_CLOSING_A = re.compile(r"(?<!\w)(?P<before>[^\W\d_]+)[\s,.!]+a[\s.!]*$")
_LETTERED = frozenset(
    {"khu", "to", "ap", "lo", "day", "block", "nha", "tang", "phong", "kp", "khom", "doi", "pho"}
    | {"xom", "thon", "so", "hem", "ngo", "kiet", "ngach", "khoi", "cum", "lau", "toa"}
)


def _trimmed(text: str) -> str:
    trimmed = _GLUE_TAIL.sub("", _TRAILING.sub("", text).rstrip()).strip(" ,;.:-–")
    closing = _CLOSING_A.search(trimmed)
    if closing is not None and fold(closing.group("before")) not in _LETTERED:
        return _trimmed(trimmed[: closing.start("before") + len(closing.group("before"))])
    return trimmed


def _reading(text: str) -> tuple[str | None, ...]:
    """What a text reads as, in both structures, to compare a part with and without its
    opening words ("Nha Trang, Khanh Hoa" and "Trang, Khanh Hoa" both give the province;
    only the first gives the old city)."""
    return _reading_of(resolve(text))


def _reading_of(found: Resolution) -> tuple[str | None, ...]:
    return (
        found.status,
        found.province_code,
        found.ward_code,
        found.old_district_code,
        found.old_ward_code,
    )

"""When the customer says they can be visited (or called), in their own words.

"tôi bận cả ngày, tối mới ở nhà", "thứ 7 có đến không", "sau 5h chiều em mới về": said
while the bot collects a request, such a message was taken for the name (at the name
question), or answered "em chưa hiểu" (at the read-back), and the words were lost; yet
the team that calls back to set a time needs them first. :func:`visit_time_in_message`
says whether a message names a time of day, a day or a part of the week together with a
word of being there or coming (``_PRESENCE``), and gives its words, phone numbers aside,
to be stored with the request (its note, shown to the team).

A question of when the staff will come, with no time of the customer's own ("bao giờ
nhân viên đến", "mấy giờ đến") is not one: the FAQ answers it.
"""

from __future__ import annotations

import re
from typing import Final

from bot.needs import NUMBER_SAID, said_without_numbers, with_need
from bot.text import fold

# A time of day, a day or a part of the week, folded. Folded, "sáng" is "sang" (to, as in
# "đổi sang SIM 4G") and "tối" is "toi" (I): each is a time only beside a word that makes
# it one ("buổi sáng", "sáng mai", "tối mới", "5h chiều") or typed with its tone.
_WHEN: Final = re.compile(
    r"(?<!\w)(?:"
    r"\d{1,2}\s*(?:h|g|gio|giờ)(?:\s*\d{1,2})?(?:\s*(?:sang|trua|chieu|toi))?"
    r"|(?:buoi|sang|trua|chieu|toi|mai)\s+"
    r"(?:sang|trua|chieu|toi|nay|mai|mot|som|muon|moi|thu|chu nhat|cn)"
    r"|buoi\s+(?:sang|trua|chieu|toi|dem)|trua|chieu|ban dem|ban ngay"
    r"|thu\s*(?:[2-7]|hai|ba|tu|nam|sau|bay)|chu nhat|cuoi tuan|ngay thuong|ngay nghi"
    r"|ngay mai|hom nay|ngay kia|ca ngay|gio hanh chinh|ngoai gio|gio nghi trua"
    r"|tuan (?:sau|nay|toi)"
    r")(?!\w)"
)
# Of those, the ones that name a time of the customer's even in a question ("thứ 7 có
# đến không"), unlike "bao giờ nhân viên đến" or "mấy giờ đến".
_OWN_TIME: Final = re.compile(r"\d|thu|chu nhat|cn|tuan|mai|nay|ngay|sang|trua|chieu|toi|dem")
_TONED_WHEN: Final = re.compile(r"(?<!\w)(?:sáng|tối)(?!\w)", re.IGNORECASE)
# Being there, away, busy or free, or the staff coming or calling, folded.
_PRESENCE: Final = re.compile(
    r"(?<!\w)(?:o nha|co nha|co mat|ve nha|ve|vang|di lam|di vang|di cong tac|ban|ranh"
    r"|den|toi noi|qua|ghe|goi|lien he|hen|gap|tien|duoc khong|dc ko|duoc ko|dc khong"
    r"|lam|khong co ai|ko co ai)(?!\w)"
)
# Questions of when the staff come, with no time of the customer's: the FAQ's.
_ONLY_ASKS_WHEN: Final = re.compile(r"(?<!\w)(?:may gio|bao gio|khi nao|bao lau|luc nao)(?!\w)")


def visit_time_in_message(text: str) -> str | None:
    """The message's words when they say when the customer can be visited or called (a
    time and a word of being there or coming): phone numbers left out, spaces collapsed;
    None otherwise ("đổi sang sim 4g", "bao giờ nhân viên đến")."""
    bare = NUMBER_SAID.sub(" ", text)
    folded = " ".join(fold(bare).split())
    when = _WHEN.findall(folded) or _TONED_WHEN.findall(bare)
    if folded.startswith("mai "):
        when.append("mai")  # "mai em không ở nhà": tomorrow (a name has a capital or a cue)
    if not when or not _PRESENCE.search(folded):
        return None
    if _ONLY_ASKS_WHEN.search(folded) and not any(_OWN_TIME.search(w) for w in when):
        return None
    return said_without_numbers(text)


def with_visit_time(before: str | None, said: str) -> str:
    """``said`` added to what was noted before (" / " between), unless already in it."""
    return with_need(before, said)

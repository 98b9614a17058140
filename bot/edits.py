"""A house number corrected in a few words ("số 14 chứ không phải 12").

"sai địa chỉ rồi, số 14 chứ ko phải 12" said after the address: the correction cleared the
address and asked it again from the start, though only the number was wrong and the
ward, already read (or chosen with a button), stays the same. :func:`number_corrected`
gives the address with that number replaced, when the message says which number replaces
which and the address holds the wrong one once.
"""

from __future__ import annotations

import re
from typing import Final

from bot.text import fold

# A house number, an alley or a lane: "14", "12A", "5/3", "12/3B".
_NUMBER: Final = r"\d+[a-z]?(?:/\d+[a-z]?)*"
_SO: Final = r"(?:(?:so nha|so|nha so|ngo|ngach|hem|kiet)\s+)?"
_NOT: Final = r"(?:khong|ko|k|hong|chu khong|chu ko|chu k|chu)\s+phai\s+"
# "14 chứ không phải 12", "không phải 12 mà là 14", "sửa 12 thành 14", "12 sai, đúng là 14".
_SAYINGS: Final = (
    re.compile(rf"(?<!\w){_SO}(?P<new>{_NUMBER})\s*,?\s*{_NOT}{_SO}(?P<old>{_NUMBER})(?!\w)"),
    re.compile(
        rf"(?<!\w){_NOT}{_SO}(?P<old>{_NUMBER})\s*,?\s*(?:ma\s+)?(?:la\s+|phai\s+)?{_SO}"
        rf"(?P<new>{_NUMBER})(?!\w)"
    ),
    re.compile(
        rf"(?<!\w)(?:sua\s+)?{_SO}(?P<old>{_NUMBER})\s+(?:thanh|sang)\s+{_SO}(?P<new>{_NUMBER})(?!\w)"
    ),
)


def number_corrected(message: str, address: str) -> str | None:
    """``address`` with the number the message says is wrong replaced by the one it says
    is right ("số 14 chứ không phải 12" in "số 12 ngõ 5 …": "số 14 ngõ 5 …"), or None:
    no such saying, or the wrong number is not in the address exactly once."""
    folded = " ".join(fold(message).split())
    for saying in _SAYINGS:
        found = saying.search(folded)
        if found is None:
            continue
        old, new = found["old"], found["new"]
        if old == new:
            return None
        places = list(re.finditer(rf"(?<![\w/]){re.escape(old)}(?![\w/])", address, re.I))
        if len(places) != 1:
            return None
        typed = re.search(rf"(?<![\w/]){re.escape(new)}(?![\w/])", message, re.I)
        at = places[0]
        return address[: at.start()] + (typed[0] if typed else new) + address[at.end() :]
    return None

"""Whether a chat message asks something, beside what else it says.

"đổi sim 4g có giữ số cũ không? nhà tôi ở 12 Lê Lợi …" is a request with its address,
and a question: the NLU gives the message one intent (the request), so the question went
unanswered. The form answers it first when this says the message asks, and the NLU's
answer selector is sure which question it is (``actions.form``). A request made politely
("đổi sim cho em được không?") asks nothing: it is the request.
"""

from __future__ import annotations

import re
from typing import Final

from bot.text import fold, words

# Teen-code of the words below ("ko", "dc"); the NLU's own table reads "a" as "anh", which
# here is the particle "à".
_SHORT: Final = {"ko": "khong", "k": "khong", "kh": "khong", "kg": "khong", "dc": "duoc"}
# Question words of chat Vietnamese, folded (no diacritics).
_INTERROGATIVE: Final = re.compile(
    r"(?<!\w)(?:bao lau|bao nhieu|bao gio|o dau|cho nao|the nao|nhu nao|lam sao|tai sao"
    r"|vi sao|la gi|cai gi|nhung gi|may gio|khi nao|luc nao|co phai)(?!\w)"
)
# A yes/no question ends its clause with one of these ("có mất phí không")...
_YES_NO: Final = frozenset({"khong", "chua", "hong", "hok", "hem"})
# ...said after "có" ("có … không"), unless right after a word that makes it a polite
# request ("được không", "giúp em không", "nhé không").
_POLITE: Final = frozenset({"duoc", "giup", "nhe", "nha", "voi"})
# Particles and addressees that may close a question ("… không ạ", "… không ad").
_CLOSING: Final = frozenset(
    {"a", "ah", "ak", "ha", "nhi", "vay", "the", "z", "v", "em", "e", "ad", "shop", "ban"}
)
# A clause closed by "?" after one of these, as typed, asks too ("miễn phí à?", "giữ số
# hả?"); "a?" without its mark may be "ạ?", a polite request.
_ASKING_PARTICLES: Final = frozenset({"à", "hả", "ha", "ư", "sao", "hở", "ah"})
_CLAUSES: Final = re.compile(r"[,.;!\n]+|(?<=\?)")


def asks(text: str) -> bool:
    """Whether ``text`` asks a question in one of its clauses (see the module's docstring)."""
    for clause in _CLAUSES.split(text):
        written = words(clause.lower())
        if not written:
            continue
        typed = [_SHORT.get(word, word) for word in map(fold, written)]
        if _INTERROGATIVE.search(" ".join(typed)):
            return True
        if "?" in clause and written[-1] in _ASKING_PARTICLES:
            return True
        while len(typed) > 1 and typed[-1] in _CLOSING:
            typed.pop()
        if (
            typed[-1] in _YES_NO
            and len(typed) >= 3
            and "co" in typed[:-1]
            and typed[-2] not in _POLITE
        ):
            return True
    return False


def without_questions(text: str) -> str:
    """``text`` without the clauses that ask ("12 le loi q1 hcm, bao lau thi co sim": the
    address the team reads is "12 le loi q1 hcm"); as it is when nothing else is left."""
    clauses = [clause.strip() for clause in _CLAUSES.split(text) if clause.strip()]
    kept = [clause for clause in clauses if not asks(clause)]
    if not kept or len(kept) == len(clauses):
        return text
    return ", ".join(clause.rstrip("?").strip() for clause in kept)

"""The customer's name given in a message that says more ("…, ten chi la Thu").

Customers often give everything in one line: the request, the phone, the address and
their name. The name follows a name cue ("tên em là", "ten chi la", "tên:"); the address
before it stops there (``bot.address.message``), and the form takes the name without
asking it.
"""

from __future__ import annotations

import re

from bot.phone import CUE as PHONE_CUE
from bot.phone import NUMBER
from bot.text import fold

# "tên (của) em/chị/anh… là", "ten la", "tên:", and a correction's "tên đúng là". "là" (or
# a colon) is required: "Tên Lửa" is a street of Hồ Chí Minh City.
_WHO = (
    r"em|e|tôi|toi|chị|chi|c|anh|a|mình|minh|cháu|chau|bác|bac|cô|co|chú|chu|ông|ong|bà|ba"
    # A relative whose line it is ("tên mẹ là Nguyễn Thị Hoa", "ten cua bo em la Tam"):
    # the name alone, no title (the team calls the line's owner by it).
    r"|mẹ|me|má|bố|bo|cha|chồng|chong|vợ|vo|con"
)
# "(của) mẹ em", "bố tôi": the relative's speaker after it.
_OF_WHOM = r"(?:\s+(?:em|e|tôi|toi|mình|minh|chị|chi|anh|cháu|chau))?"
# Or the speaker before it: "mình tên Tâm", "em tên Hằng", "chị tên là Thu".
NAME_CUE = re.compile(
    rf"(?<!\w)(?:tên|ten)(?:\s+(?:của|cua))?(?:\s+(?P<who>{_WHO}){_OF_WHOM})?"
    r"(?:\s+(?:đúng|dung))?"
    r"(?:\s+(?:là|la)(?!\w)|\s*:)"
    rf"|(?<!\w)(?P<speaker>{_WHO})\s+(?:tên|ten)(?!\w)(?:\s+(?:là|la)(?!\w)|\s*:)?"
    # Or "tên" opening the last comma part, the name closing the message: "…, ten Lan".
    r"|(?:(?<=,)|(?<=,\s))(?:tên|ten)(?=\s+[^\W\d_]+(?:\s+[^\W\d_]+){0,2}[\s.!]*$)",
    re.I,
)
# Or the speaker introducing themselves as the message opens, after a greeting perhaps:
# "Mình là Hoa, muốn đổi sim…", "chào shop, em là Nguyễn Thị Lan". The name is the run of
# words typed with a capital after "là": "mình là khách hàng", "em là sinh viên" name no one.
_INTRO = re.compile(
    r"^\W*(?i:(?:(?:chào|chao|xin chào|xin chao|alo|hi|hello)(?:\s+[^\W\d_]+){0,2}?[\s,.!?]+)?"
    rf"(?P<speaker>{_WHO})\s+(?:là|la))\s+(?P<name>(?:[^\W\d_]+\s*)+)",
)
# Those who say "tên chị là Thu" are called so: the team calls back "chị Thu".
_TITLES = frozenset({"chi", "anh", "co", "chu", "bac", "ong", "ba"})
# Where the name stops: a comma or a sentence's end, a phone number or its cue, an
# address cue.
_NAME_END = re.compile(
    rf"[,;.!?\n]|{NUMBER.pattern}|{PHONE_CUE.pattern}|(?<!\w)(?:địa\s*chỉ|dia\s*chi|đ/c|d/c)(?!\w)",
    re.I,
)
# "a" is "ạ" typed without its tone, never "A" ("Nguyễn Văn A" is a name).
_CLOSING = re.compile(r"(?:\s+(?:ạ|Ạ|(?-i:a)|nhé|nhe|nha|nhá|đó|do))+$", re.I)
_QUESTION_WORDS = frozenset({"gi", "j", "nao", "sao"})
# A name is a few words; more is a sentence.
MAX_NAME_WORDS = 5


def name_in_message(text: str) -> str | None:
    """The name after the last name cue of ``text``, as typed ("chi Thu" for "ten chi la
    Thu", "Nguyễn Văn An" for "tên em là Nguyễn Văn An nhé"), or None: no cue, or no name
    of one to five words with letters after it."""
    cues = list(NAME_CUE.finditer(text))
    if not cues:
        return _introduced(text)
    cue = cues[-1]
    rest = text[cue.end() :]
    end = _NAME_END.search(rest)
    if end is not None:
        rest = rest[: end.start()]
    name = _CLOSING.sub("", " ".join(rest.split()))
    words = name.split()
    if not words or len(words) > MAX_NAME_WORDS or not any(ch.isalpha() for ch in name):
        return None
    if _QUESTION_WORDS & set(fold(name).split()):
        return None  # "em tên là gì?": a question, not a name
    who = cue.group("who") or cue.group("speaker")
    if who is not None and fold(who) in _TITLES:
        return f"{who} {name}"
    return name


def _introduced(text: str) -> str | None:
    """The name the message opens with ("Mình là Hoa, …"): the words after "là" typed with
    a capital, one to five of them; None otherwise."""
    found = _INTRO.match(text)
    if found is None:
        return None
    name: list[str] = []
    for word in found.group("name").split():
        if not word[0].isupper():
            break
        name.append(word)
    if not name or len(name) > MAX_NAME_WORDS:
        return None
    who = found.group("speaker")
    return f"{who} {' '.join(name)}" if fold(who) in _TITLES else " ".join(name)

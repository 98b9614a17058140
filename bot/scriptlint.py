"""``python -m bot.scriptlint``: the checks CSKH's script must pass before it goes live.

``rasa data validate`` checks that the script is consistent for Rasa; this lint checks
what matters to customers and to the channels, with ``file:line: problem — fix``
messages a non-programmer can act on. It reads the YAML with ruamel.yaml for line
numbers and imports no Rasa, so it runs in a second.

Checks (docs/cskh.md explains each for CSKH):

- every intent has enough examples typed with diacritics and without;
- every response is used (rule/story, form question, FAQ answer or custom action);
- no response or staff guide asks for an OTP or a password;
- no phone number in a response or guide other than the hotline 9090;
- buttons fit Facebook, Zalo and Telegram;
- every story and rule ends with a bot action;
- no example appears under two intents;
- the staff guides in ``guides/`` are well-formed.
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from bot import guides

ROOT = Path(__file__).resolve().parent.parent

# An intent needs this many examples with diacritics AND this many without, because
# customers type both and the model must see both.
MIN_EXAMPLES = 10
# A FAQ key (faq/<key>) answers one narrow question; the ResponseSelector separates the
# keys from each other, so fewer examples per key suffice. The faq intent as a whole
# still needs MIN_EXAMPLES of each kind.
MIN_FAQ_KEY_EXAMPLES = 8

# Channel limits (the connectors also enforce them at run time: connectors/facebook.py
# truncates titles to 20 characters, connectors/telegram.py maps long payloads to keys).
FACEBOOK_TITLE_CHARS = 20
FACEBOOK_MAX_BUTTONS = 13
ZALO_MAX_BUTTONS = 5
TELEGRAM_CALLBACK_BYTES = 64

HOTLINE = "9090"
# Responses Rasa's own default actions send (action_default_fallback → utter_default).
BUILTIN_USED = frozenset({"utter_default"})
SPECIAL_INTENTS = frozenset({"nlu_fallback", "restart", "back", "out_of_scope_builtin"})

_ANNOTATION = re.compile(r"\[([^\]]*)\]\s*(?:\([^)]*\)|\{[^}]*\})")
_SLOT_REF = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_RESPONSE_KW = re.compile(r"""\bresponse\s*=\s*["']([A-Za-z0-9_/]+)["']""")


@dataclass(frozen=True, order=True)
class Problem:
    """One finding, printed as ``file:line: problem — fix``."""

    path: str
    line: int
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem} — {self.fix}"


@dataclass
class ScriptPaths:
    """Where the script lives; the bench points these at a copy."""

    root: Path
    domain: Path
    data: list[Path]
    actions: Path | None = None
    guides: Path | None = None

    @classmethod
    def of(cls, root: Path) -> ScriptPaths:
        """The layout of this repository under ``root``."""
        return cls(
            root=root,
            domain=root / "domain.yml",
            data=[root / "data"],
            actions=root / "actions",
            guides=root / "guides",
        )


# -- text helpers ------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case without diacritics: "Mật khẩu" → "mat khau"."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def has_diacritics(text: str) -> bool:
    """True when a letter carries a Vietnamese mark (or is đ)."""
    return any(c.isalpha() and fold(c) != c.lower() for c in text)


def has_letters(text: str) -> bool:
    return any(c.isalpha() for c in text)


def plain_example(text: str) -> str:
    """The example as the customer types it: entity annotations removed."""
    return _ANNOTATION.sub(r"\1", text).strip()


def normalised(text: str) -> str:
    """Whitespace and case folded, for finding the same example twice."""
    return " ".join(plain_example(text).lower().split())


# -- OTP / password requests ---------------------------------------------------------------

# What a scammer asks for (matched on folded text).
_SECRET = re.compile(
    r"\b(?:ma\s+)?otp\b|\bmat\s*khau\b|\bpass(?:word)?\b|\bmat\s+ma\b"
    r"|\bma\s+xac\s+(?:thuc|nhan)\b|\bma\s+(?:pin|puk)\b"
)
# A clause may mention a secret only to forbid sharing it: a negation must come BEFORE
# the secret in the same clause. Plain "không" is not enough on its own because it is
# also the question particle ("đọc mã OTP được không?"), so it counts only right before
# a verb of giving, or written in capitals as emphasis ("KHÔNG"). Without diacritics
# "dung" may be "đừng" or "dùng", so "đừng", "chớ", "cấm" count only when accented.
_NEGATION_FOLDED = re.compile(
    r"\bkhong\s+bao\s+gio\b|\btuyet\s+doi\s+khong\b"
    r"|\bkhong\s+(?:duoc|nen|can|hoi|yeu\s+cau|doc|dua|cung\s+cap|chia\s+se|gui|nhan|"
    r"nhap|bam|tiet\s+lo|bao)\b"
)
_NEGATION_ACCENTED = re.compile(r"\bđừng\b|\bchớ\b|\bcấm\b")
_CAPS_NEGATION = re.compile(r"\bKH[ÔO]NG\b")
_CLAUSE = re.compile(r"[.!?;,:\n]|\bnhung\b|\broi\b")


def secret_requests(text: str) -> list[str]:
    """The clauses of ``text`` that mention an OTP/password without forbidding it.

    Any unforbidden mention counts, not only an explicit "please give": a customer
    cannot tell a bot's mention from a request, and scammers copy the bot's wording.
    """
    text = unicodedata.normalize("NFC", text)
    folded = fold(text)
    if len(folded) != len(text):  # offsets must line up; fall back to the folded text
        text = folded
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _CLAUSE.finditer(folded):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(folded)))
    found: list[str] = []
    negated = False
    for begin, end in spans:
        clause, clause_folded = text[begin:end], folded[begin:end]
        secret = _SECRET.search(clause_folded)
        if not secret:
            negated = False
            continue
        before, before_folded = clause[: secret.start()], clause_folded[: secret.start()]
        # "không hỏi mã OTP, mật khẩu hay mã PIN": a clause that starts with the secret
        # continues the previous clause's list, and its negation.
        listed = negated and not before_folded.strip(" -–—(")
        negated = listed or bool(
            _NEGATION_FOLDED.search(before_folded)
            or _NEGATION_ACCENTED.search(before.lower())
            or _CAPS_NEGATION.search(before)
        )
        if not negated:
            found.append(clause.strip())
    return found


# -- phone numbers ---------------------------------------------------------------------------

_DIGIT_RUN = re.compile(r"\+?\d[\d .\-]{5,}\d")
_MOBILE = re.compile(r"(?:84|0)[35789]\d{8}")
_LANDLINE = re.compile(r"02\d{8,9}")
_SERVICE = re.compile(r"(?:1800|1900)\d{4,6}")
_CALL_NUMBER = re.compile(
    r"\b(?:tong\s+dai|hotline|goi(?:\s+so)?|lien\s+he|so\s+dien\s+thoai|sdt)\s*:?\s*(\d{3,6})\b"
)


def phone_numbers(text: str) -> list[str]:
    """Phone numbers in ``text`` other than the hotline 9090."""
    found: list[str] = []
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if any(p.fullmatch(digits) for p in (_MOBILE, _LANDLINE, _SERVICE)):
            found.append(match.group().strip())
    for match in _CALL_NUMBER.finditer(fold(text)):
        number = match.group(1)
        if number != HOTLINE and not any(number in f for f in found):
            found.append(number)
    return found


# -- YAML loading ------------------------------------------------------------------------------


@dataclass
class Loaded:
    """A parsed YAML file with its display path."""

    path: Path
    shown: str
    data: Any


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def load(path: Path, root: Path, problems: list[Problem]) -> Loaded | None:
    """Parse one file; a syntax error becomes a problem at its line."""
    shown = _shown(path, root)
    try:
        data = _yaml().load(path.read_text(encoding="utf-8"))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problems.append(
            Problem(
                shown,
                line,
                f"YAML không đọc được: {exc.problem or exc}",
                "kiểm tra thụt lề (dùng dấu cách, không dùng tab), dấu ':' và dấu ngoặc kép",
            )
        )
        return None
    return Loaded(path, shown, data)


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _line_of_key(node: Any, key: str) -> int:
    try:
        return int(node.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return _line(node)


def _line_of_item(node: Any, index: int) -> int:
    try:
        return int(node.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return _line(node)


def _line(node: Any) -> int:
    try:
        return int(node.lc.line) + 1
    except AttributeError:
        return 1


def _yaml_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.y*ml") if p.is_file()))
        elif path.exists():
            files.append(path)
    return files


# -- the script model ------------------------------------------------------------------------


@dataclass
class Example:
    text: str
    intent: str
    shown: str
    line: int


@dataclass
class Script:
    """What the checks need from the files, with where each thing was written."""

    intents: dict[str, int] = field(default_factory=dict)  # declared in domain → line
    responses: dict[str, tuple[int, Any]] = field(default_factory=dict)
    required_slots: set[str] = field(default_factory=set)
    forms: set[str] = field(default_factory=set)
    examples: list[Example] = field(default_factory=list)
    intent_lines: dict[str, tuple[str, int]] = field(default_factory=dict)
    actions_used: set[str] = field(default_factory=set)
    actions_in_code: set[str] = field(default_factory=set)
    stories: list[tuple[Loaded, str, Any]] = field(default_factory=list)  # file, kind, item
    domain: Loaded | None = None
    # lookup tables: name → (phrase, file, line); synonyms: phrase lower-cased → values
    lookups: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)
    synonyms: dict[str, set[str]] = field(default_factory=dict)


def read_script(paths: ScriptPaths, problems: list[Problem]) -> Script:
    """Parse domain, data and actions into a :class:`Script`."""
    script = Script()
    domain = load(paths.domain, paths.root, problems) if paths.domain.exists() else None
    if domain is None or not isinstance(domain.data, CommentedMap):
        if domain is not None:
            problems.append(Problem(domain.shown, 1, "domain trống", "khôi phục domain.yml"))
        return script
    script.domain = domain
    intents = domain.data.get("intents") or []
    for index, item in enumerate(intents):
        name = next(iter(item)) if isinstance(item, dict) else str(item)
        script.intents[name] = _line_of_item(intents, index)
    responses = domain.data.get("responses") or {}
    for name in responses:
        script.responses[str(name)] = (_line_of_key(responses, name), responses[name])
    for form_name, form in (domain.data.get("forms") or {}).items():
        script.forms.add(str(form_name))
        for slot in (form or {}).get("required_slots") or []:
            script.required_slots.add(str(slot))
            script.actions_used.add(f"utter_ask_{form_name}_{slot}")

    for path in _yaml_files(paths.data):
        loaded = load(path, paths.root, problems)
        if loaded is None or not isinstance(loaded.data, CommentedMap):
            continue
        _read_nlu(loaded, script)
        for kind in ("stories", "rules"):
            for item in loaded.data.get(kind) or []:
                script.stories.append((loaded, kind, item))
                for step in item.get("steps") or []:
                    if isinstance(step, dict) and "action" in step:
                        script.actions_used.add(str(step["action"]))

    if paths.actions and paths.actions.is_dir():
        for py in sorted(paths.actions.glob("*.py")):
            script.actions_in_code.update(_RESPONSE_KW.findall(py.read_text(encoding="utf-8")))
    return script


def _list_items(item: CommentedMap) -> Iterator[tuple[str, int]]:
    """The ``- `` lines of an item's ``examples`` block, with their line numbers."""
    block = item.get("examples") or ""
    first = _line_of_key(item, "examples") + 1
    for offset, raw in enumerate(str(block).splitlines()):
        stripped = raw.strip()
        if stripped.startswith("- "):
            yield stripped[2:].strip(), first + offset


def _read_nlu(loaded: Loaded, script: Script) -> None:
    for item in loaded.data.get("nlu") or []:
        if isinstance(item, CommentedMap) and "lookup" in item:
            table = script.lookups.setdefault(str(item["lookup"]), [])
            table.extend((text, loaded.shown, line) for text, line in _list_items(item))
            continue
        if isinstance(item, CommentedMap) and "synonym" in item:
            for text, _ in _list_items(item):
                script.synonyms.setdefault(text.lower(), set()).add(str(item["synonym"]))
            continue
        if not isinstance(item, CommentedMap) or "intent" not in item:
            continue
        intent = str(item["intent"])
        script.intent_lines.setdefault(intent, (loaded.shown, _line(item)))
        for text, line in _list_items(item):
            script.examples.append(Example(text, intent, loaded.shown, line))


# -- checks ----------------------------------------------------------------------------------


def check_examples(script: Script, shown_domain: str) -> list[Problem]:
    """Enough examples with and without diacritics per intent and per FAQ key."""
    problems: list[Problem] = []
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for example in script.examples:
        text = plain_example(example.text)
        names = [example.intent]
        if "/" in example.intent:
            names.append(example.intent.split("/", 1)[0])
        for name in names:
            if not has_letters(text):  # "0901234567" is typed the same on any keyboard
                counts[name][0] += 1
                counts[name][1] += 1
            elif has_diacritics(text):
                counts[name][0] += 1
            else:
                counts[name][1] += 1
    wanted = set(script.intents) | set(counts)
    for name in sorted(wanted - SPECIAL_INTENTS):
        minimum = MIN_FAQ_KEY_EXAMPLES if "/" in name else MIN_EXAMPLES
        with_marks, without = counts.get(name, [0, 0])
        if with_marks >= minimum and without >= minimum:
            continue
        where, line = script.intent_lines.get(name, (shown_domain, script.intents.get(name, 1)))
        problems.append(
            Problem(
                where,
                line,
                f"ý định '{name}' có {with_marks} câu mẫu có dấu và {without} câu không dấu"
                f" (cần ít nhất {minimum} mỗi loại)",
                "thêm câu mẫu khách hay gõ vào data/nlu/, cả có dấu lẫn không dấu",
            )
        )
    return problems


def check_duplicates(script: Script) -> list[Problem]:
    """The same example under two intents makes the model guess."""
    first: dict[str, Example] = {}
    problems: list[Problem] = []
    for example in script.examples:
        key = normalised(example.text)
        seen = first.setdefault(key, example)
        if seen.intent != example.intent:
            problems.append(
                Problem(
                    example.shown,
                    example.line,
                    f"câu mẫu '{plain_example(example.text)}' thuộc cả '{example.intent}'"
                    f" và '{seen.intent}' ({seen.shown}:{seen.line})",
                    "giữ câu này ở đúng một ý định, xóa ở chỗ còn lại",
                )
            )
    return problems


def check_lookups(script: Script) -> list[Problem]:
    """Each phrase of a lookup table is the synonym of exactly one value (what the slot
    receives: a phrase without one would fill it with the words as typed), and no phrase
    of one value sits inside a phrase of another (both would be found in one message)."""
    problems: list[Problem] = []
    for name, phrases in script.lookups.items():
        valued: list[tuple[str, str, str, int]] = []
        for text, shown, line in phrases:
            values = script.synonyms.get(text.lower(), set())
            if len(values) != 1:
                found = ", ".join(sorted(values)) or "không có"
                problems.append(
                    Problem(
                        shown,
                        line,
                        f"cụm '{text}' của bảng '{name}' cần đúng một danh sách synonym"
                        f" (hiện: {found})",
                        "thêm cụm này vào đúng một danh sách `synonym:` trong cùng tệp",
                    )
                )
                continue
            valued.append((f" {fold(text)} ", next(iter(values)), shown, line))
        for inner, value, shown, line in valued:
            for outer, other, _, _ in valued:
                if other != value and inner in outer:
                    problems.append(
                        Problem(
                            shown,
                            line,
                            f"cụm '{inner.strip()}' ({value}) nằm trong cụm '{outer.strip()}'"
                            f" ({other}) của bảng '{name}'",
                            "viết cụm này dài hơn cho rõ loại, hoặc bỏ nó",
                        )
                    )
    return problems


def check_responses_used(script: Script, shown_domain: str) -> list[Problem]:
    """A response nothing sends is a text CSKH edits for nothing (often a typo in a name)."""
    used = set(script.actions_used) | script.actions_in_code | BUILTIN_USED
    used.update(f"utter_ask_{slot}" for slot in script.required_slots)
    faq_keys = {e.intent for e in script.examples if "/" in e.intent}
    problems: list[Problem] = []
    for name, (line, _) in sorted(script.responses.items(), key=lambda kv: kv[1][0]):
        if "/" in name:
            base, key = name.split("/", 1)
            intent = f"{base.removeprefix('utter_')}/{key}"
            if base in used and intent in faq_keys:
                continue
            fix = (
                f"thêm câu mẫu cho ý định '{intent}' trong data/nlu/"
                if base in used
                else f"thêm rule gọi '{base}' trong data/rules/"
            )
            problems.append(
                Problem(shown_domain, line, f"câu trả lời '{name}' không được dùng", fix)
            )
        elif name not in used:
            problems.append(
                Problem(
                    shown_domain,
                    line,
                    f"câu trả lời '{name}' không được dùng ở rule, story hay form nào",
                    "thêm '- action: " + name + "' vào một rule/story, hoặc xóa câu trả lời này",
                )
            )
    for intent in sorted(faq_keys):
        base, key = intent.split("/", 1)
        if f"utter_{base}/{key}" not in script.responses:
            where, line = script.intent_lines[intent]
            problems.append(
                Problem(
                    where,
                    line,
                    f"ý định '{intent}' chưa có câu trả lời",
                    f"thêm 'utter_{base}/{key}:' vào responses trong domain.yml",
                )
            )
    return problems


def _variations(script: Script) -> Iterator[tuple[str, int, Any]]:
    for name, (line, variations) in script.responses.items():
        if not isinstance(variations, CommentedSeq):
            continue
        for index, variation in enumerate(variations):
            if isinstance(variation, CommentedMap):
                yield name, _line_of_item(variations, index) or line, variation


def check_texts(texts: Iterator[tuple[str, int, str, str]]) -> list[Problem]:
    """No OTP/password request and no phone number but the hotline, in any text."""
    problems: list[Problem] = []
    for shown, line, what, text in texts:
        for clause in secret_requests(text):
            problems.append(
                Problem(
                    shown,
                    line,
                    f'{what} nhắc tới OTP/mật khẩu mà không cấm chia sẻ: "{clause}"',
                    "không bao giờ hỏi OTP/mật khẩu; nếu là lời cảnh báo, viết rõ"
                    ' "không bao giờ", "tuyệt đối không" hoặc "đừng" trước nó',
                )
            )
        for number in phone_numbers(text):
            problems.append(
                Problem(
                    shown,
                    line,
                    f"{what} có số điện thoại {number}",
                    f"chỉ ghi tổng đài {HOTLINE}; số của nhân viên/đội do hệ thống điền",
                )
            )
    return problems


def _response_texts(script: Script, shown: str) -> Iterator[tuple[str, int, str, str]]:
    for name, line, variation in _variations(script):
        if "text" in variation:
            yield shown, _line_of_key(variation, "text"), f"'{name}'", str(variation["text"])
        for button in variation.get("buttons") or []:
            if isinstance(button, dict) and "title" in button:
                yield shown, _line(button) or line, f"nút của '{name}'", str(button["title"])


def _condition_key(variation: Any) -> tuple[tuple[str, str], ...]:
    """A variation's condition as a comparable value (no condition: empty)."""
    return tuple(
        sorted(
            (str(item.get("name")), str(item.get("value")))
            for item in variation.get("condition") or []
            if isinstance(item, dict)
        )
    )


def check_buttons(script: Script, shown: str) -> list[Problem]:
    """Buttons every channel can show; slot-filled ones are the connectors' job at run time.
    A variation with more buttons than Zalo shows is fine beside a ``channel: zalo`` one of
    the same condition (Zalo gets that one)."""
    problems: list[Problem] = []
    for_zalo = {
        (name, _condition_key(variation))
        for name, _line, variation in _variations(script)
        if str(variation.get("channel") or "") == "zalo"
    }
    for name, line, variation in _variations(script):
        buttons = variation.get("buttons") or []
        channel = str(variation.get("channel") or "")
        zalo_has_its_own = not channel and (name, _condition_key(variation)) in for_zalo
        line = _line_of_key(variation, "buttons") if buttons else line
        if channel in ("", "facebook") and len(buttons) > FACEBOOK_MAX_BUTTONS:
            problems.append(
                Problem(
                    shown,
                    line,
                    f"'{name}' có {len(buttons)} nút, Facebook hiện tối đa {FACEBOOK_MAX_BUTTONS}",
                    "bớt nút",
                )
            )
        if channel in ("", "zalo") and not zalo_has_its_own and len(buttons) > ZALO_MAX_BUTTONS:
            problems.append(
                Problem(
                    shown,
                    line,
                    f"'{name}' có {len(buttons)} nút, Zalo hiện tối đa {ZALO_MAX_BUTTONS}",
                    "bớt nút, hoặc thêm một biến thể 'channel: zalo' có tối đa 5 nút",
                )
            )
        for index, button in enumerate(buttons):
            if not isinstance(button, dict):
                continue
            at = _line_of_item(buttons, index)
            title = str(button.get("title") or "")
            payload = str(button.get("payload") or "")
            if not title.strip():
                problems.append(
                    Problem(shown, at, f"nút của '{name}' không có tiêu đề", "thêm title")
                )
            elif (
                not _SLOT_REF.search(title)
                and channel in ("", "facebook")
                and len(title) > FACEBOOK_TITLE_CHARS
            ):
                problems.append(
                    Problem(
                        shown,
                        at,
                        f"nút '{title}' của '{name}' dài {len(title)} ký tự,"
                        f" Facebook cắt ở {FACEBOOK_TITLE_CHARS}",
                        f"rút gọn tiêu đề còn tối đa {FACEBOOK_TITLE_CHARS} ký tự",
                    )
                )
            size = len(payload.encode("utf-8"))
            if (
                not _SLOT_REF.search(payload)
                and channel in ("", "telegram")
                and size > TELEGRAM_CALLBACK_BYTES
            ):
                problems.append(
                    Problem(
                        shown,
                        at,
                        f"payload của nút '{title}' dài {size} byte,"
                        f" Telegram nhận tối đa {TELEGRAM_CALLBACK_BYTES}",
                        "dùng payload ngắn kiểu '/ten_y_dinh'",
                    )
                )
    return problems


def check_story_ends(script: Script) -> list[Problem]:
    """A story or rule that ends on the customer's turn leaves the bot silent."""
    problems: list[Problem] = []
    for loaded, kind, item in script.stories:
        steps = [s for s in item.get("steps") or [] if isinstance(s, dict)]
        turns = [s for s in steps if {"intent", "user", "or", "action", "checkpoint"} & set(s)]
        name = item.get("story") or item.get("rule") or "?"
        if not turns:
            problems.append(
                Problem(loaded.shown, _line(item), f"'{name}' không có bước nào", "thêm các bước")
            )
            continue
        last = turns[-1]
        if "action" in last or "checkpoint" in last:
            continue
        problems.append(
            Problem(
                loaded.shown,
                _line(last),
                f"{'story' if kind == 'stories' else 'rule'} '{name}' kết thúc bằng lượt của khách",
                "thêm '- action: ...' (câu bot trả lời) sau lượt cuối của khách",
            )
        )
    return problems


def check_guides(paths: ScriptPaths, problems: list[Problem]) -> None:
    """Staff guides: well-formed, and the same OTP/phone rules as customer texts."""
    if not paths.guides or not paths.guides.is_dir():
        return
    for path in sorted(paths.guides.glob("*.yml")):
        loaded = load(path, paths.root, problems)
        if loaded is None:
            continue
        for line, problem, fix in guides.validate(loaded.data):
            problems.append(Problem(loaded.shown, line, problem, fix))
        problems.extend(
            check_texts(
                (loaded.shown, line, "hướng dẫn", text) for line, text in guides.texts(loaded.data)
            )
        )


def lint(paths: ScriptPaths) -> list[Problem]:
    """Every problem in the script, sorted by file and line."""
    problems: list[Problem] = []
    script = read_script(paths, problems)
    shown = script.domain.shown if script.domain else "domain.yml"
    problems += check_examples(script, shown)
    problems += check_duplicates(script)
    problems += check_lookups(script)
    problems += check_responses_used(script, shown)
    problems += check_texts(_response_texts(script, shown))
    problems += check_buttons(script, shown)
    problems += check_story_ends(script)
    check_guides(paths, problems)
    return sorted(set(problems))


def main(argv: list[str] | None = None) -> int:
    """Print the problems; exit 1 when there is any."""
    parser = argparse.ArgumentParser(prog="python -m bot.scriptlint", description=__doc__)
    parser.add_argument("--root", type=Path, default=ROOT, help="project folder")
    parser.add_argument("--domain", type=Path, help="domain file (default: <root>/domain.yml)")
    parser.add_argument("--data", type=Path, action="append", help="data folder (repeatable)")
    parser.add_argument("--guides", type=Path, help="staff guides folder (default: <root>/guides)")
    args = parser.parse_args(argv)
    paths = ScriptPaths.of(args.root)
    if args.domain:
        paths.domain = args.domain
    if args.data:
        paths.data = args.data
    if args.guides:
        paths.guides = args.guides
    problems = lint(paths)
    for problem in problems:
        print(problem)
    if problems:
        print(f"script lint: {len(problems)} lỗi cần sửa", file=sys.stderr)
        return 1
    print("script lint: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

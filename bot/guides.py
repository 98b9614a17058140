"""Staff guides CSKH writes as data: the outbound-call script and the 9090 hand-over guide.

They live in ``guides/*.yml`` so CSKH edits them like the chat script; ``make
check-script`` validates them (:func:`validate`) and the team console shows them next to
a request (:func:`load_all`). A guide is staff text, never sent to customers.

Format::

    title: Kịch bản gọi ra             # required
    audience: Nhân viên bán hàng         # optional
    sections:                           # required, at least one
      - title: Mở đầu                   # required
        say: [lời đọc cho khách, ...]   # at least one of say / steps / notes / qa
        steps: [việc cần làm, ...]
        notes: [lưu ý, ...]
        qa:
          - ask: khách hỏi / băn khoăn
            answer: cách trả lời
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
GUIDE_KEYS = frozenset({"title", "audience", "sections"})
SECTION_KEYS = frozenset({"title", "say", "steps", "notes", "qa"})
LIST_KEYS = ("say", "steps", "notes")
QA_KEYS = frozenset({"ask", "answer"})


@dataclass(frozen=True)
class Section:
    title: str
    say: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    qa: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Guide:
    key: str
    title: str
    audience: str = ""
    sections: list[Section] = field(default_factory=list)
    error: str = ""  # set when the file is broken: the console says so instead of failing


def guides_dir() -> Path:
    """``GUIDES_DIR`` or the repository's ``guides/``."""
    return Path(os.environ.get("GUIDES_DIR") or ROOT / "guides")


def _line(node: Any, key: str | int | None = None) -> int:
    lc = getattr(node, "lc", None)
    if lc is None:
        return 1
    try:
        if isinstance(key, int):
            return int(lc.item(key)[0]) + 1
        if key is not None:
            return int(lc.key(key)[0]) + 1
    except (KeyError, IndexError, TypeError):
        pass
    return int(lc.line) + 1


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def validate(data: Any) -> list[tuple[int, str, str]]:
    """``(line, problem, fix)`` for every way ``data`` is not a guide (ruamel nodes give lines)."""
    fix_keys = "chỉ dùng các khóa: "
    if not isinstance(data, dict):
        return [(1, "hướng dẫn phải là một bảng có title và sections", "xem mẫu ở docs/cskh.md")]
    problems: list[tuple[int, str, str]] = []
    for key in data:
        if key not in GUIDE_KEYS:
            problems.append(
                (_line(data, key), f"khóa lạ '{key}'", fix_keys + ", ".join(sorted(GUIDE_KEYS)))
            )
    if not _is_text(data.get("title")):
        problems.append((_line(data, "title"), "thiếu title", "thêm 'title: ...'"))
    sections = data.get("sections")
    if not isinstance(sections, list) or not sections:
        return [*problems, (_line(data, "sections"), "thiếu sections", "thêm ít nhất một mục")]
    for index, section in enumerate(sections):
        at = _line(sections, index)
        if not isinstance(section, dict):
            problems.append((at, "mục phải có title và nội dung", "viết '- title: ...'"))
            continue
        for key in section:
            if key not in SECTION_KEYS:
                problems.append(
                    (
                        _line(section, key),
                        f"khóa lạ '{key}'",
                        fix_keys + ", ".join(sorted(SECTION_KEYS)),
                    )
                )
        if not _is_text(section.get("title")):
            problems.append((at, "mục thiếu title", "thêm 'title: ...'"))
        if not any(section.get(k) for k in (*LIST_KEYS, "qa")):
            problems.append((at, "mục không có nội dung", "thêm say, steps, notes hoặc qa"))
        for key in LIST_KEYS:
            value = section.get(key)
            if value is None:
                continue
            if not isinstance(value, list) or not all(_is_text(v) for v in value):
                problems.append(
                    (_line(section, key), f"'{key}' phải là danh sách câu", "viết mỗi câu sau '- '")
                )
        qa = section.get("qa")
        if qa is None:
            continue
        if not isinstance(qa, list):
            problems.append((_line(section, "qa"), "'qa' phải là danh sách", "viết '- ask: ...'"))
            continue
        for q_index, pair in enumerate(qa):
            if (
                not isinstance(pair, dict)
                or set(pair) != QA_KEYS
                or not all(_is_text(pair[k]) for k in QA_KEYS)
            ):
                problems.append(
                    (
                        _line(qa, q_index),
                        "mỗi câu hỏi cần đúng 'ask' và 'answer'",
                        "viết '- ask: ...' và 'answer: ...'",
                    )
                )
    return problems


def texts(data: Any) -> Iterator[tuple[int, str]]:
    """Every text of a guide with its line, for the OTP and phone-number checks."""
    if not isinstance(data, dict):
        return
    for key in ("title", "audience"):
        if isinstance(data.get(key), str):
            yield _line(data, key), data[key]
    for section in data.get("sections") or []:
        if not isinstance(section, dict):
            continue
        if isinstance(section.get("title"), str):
            yield _line(section, "title"), section["title"]
        for key in LIST_KEYS:
            value = section.get(key)
            for index, text in enumerate(value if isinstance(value, list) else []):
                if isinstance(text, str):
                    yield _line(value, index), text
        qa = section.get("qa")
        for index, pair in enumerate(qa if isinstance(qa, list) else []):
            if isinstance(pair, dict):
                for text in pair.values():
                    if isinstance(text, str):
                        yield _line(qa, index), text


def load(path: Path) -> Guide:
    """One guide for display; a broken file gives a guide with ``error`` set."""
    key = path.stem
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return Guide(key, key, error=f"không đọc được {path.name}: {exc}")
    problems = validate(data)
    if problems:
        line, problem, _ = problems[0]
        return Guide(key, key, error=f"{path.name}:{line}: {problem}")
    sections = [
        Section(
            title=s["title"],
            say=list(s.get("say") or []),
            steps=list(s.get("steps") or []),
            notes=list(s.get("notes") or []),
            qa=[(p["ask"], p["answer"]) for p in s.get("qa") or []],
        )
        for s in data["sections"]
    ]
    return Guide(key, data["title"], str(data.get("audience") or ""), sections)


_CACHE: dict[Path, tuple[float, Guide]] = {}


def load_cached(path: Path) -> Guide:
    """:func:`load`, re-read only when the file changed: CSKH's edits show without restart."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return Guide(path.stem, path.stem, error=f"không có tệp {path.name}")
    cached = _CACHE.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    guide = load(path)
    _CACHE[path] = (mtime, guide)
    return guide

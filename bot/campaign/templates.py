"""Invitation templates (``data/campaign/templates.yml``) and their channel-length check.

CSKH edits the texts; this module refuses a template that would not fit its channel
(an SMS that silently becomes three paid parts, a Liveinfo prompt the handset cuts) or
that lacks the hotline or the personal link. SMS length is counted the way networks do:
GSM-7 when every character is in the GSM 03.38 alphabet (160 septets, 153 per part of a
long message; the extension table costs two), else UCS-2 (70 UTF-16 units, 67 per part).
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_TEMPLATES = ROOT / "data" / "campaign" / "templates.yml"

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
PLACEHOLDERS = frozenset({"link", "hotline"})


@dataclass(frozen=True)
class SmsLength:
    """How a text travels as SMS."""

    encoding: str  # "GSM-7" | "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def is_gsm7(text: str) -> bool:
    """Whether every character is in the GSM-7 alphabet (basic or extension)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _pack(costs: list[int], single: int, part: int) -> int:
    """Segments for characters of these costs: one if all fit, else greedy parts.

    A character (an escape pair, a surrogate pair) is never split across two parts.
    """
    total = sum(costs)
    if total <= single:
        return 1 if total else 0
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return segments


def sms_length(text: str) -> SmsLength:
    """Encoding, units and segments of ``text`` sent as one (possibly long) SMS."""
    if is_gsm7(text):
        costs = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return SmsLength("GSM-7", sum(costs), _pack(costs, 160, 153))
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsLength("UCS-2", sum(costs), _pack(costs, 70, 67))


@dataclass(frozen=True)
class Channel:
    name: str
    kind: str  # "sms" | "text"
    max_segments: int | None = None
    max_chars: int | None = None
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Templates:
    """The loaded file: texts, channel limits and worst-case placeholder values."""

    texts: dict[str, str]
    channels: dict[str, Channel]
    samples: dict[str, str]
    call_script: str
    source: str = ""
    lines: dict[str, int] = field(default_factory=dict)

    def render(self, name: str, **values: str) -> str:
        """The template with ``{link}``/``{hotline}`` filled in."""
        merged = {**self.samples, **values}
        return self.texts[name].format_map(merged)


@dataclass(frozen=True)
class Problem:
    template: str
    message: str

    def __str__(self) -> str:
        return f"{self.template}: {self.message}"


def load_templates(path: str | Path | None = None) -> Templates:
    """Read the templates file (default ``data/campaign/templates.yml``)."""
    return _load(str(Path(path) if path else DEFAULT_TEMPLATES))


@lru_cache(maxsize=4)
def _load(path: str) -> Templates:
    raw: dict[str, Any] = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    channels = {
        name: Channel(
            name=name,
            kind=str(spec.get("kind", "text")),
            max_segments=spec.get("max_segments"),
            max_chars=spec.get("max_chars"),
            requires=tuple(spec.get("requires") or ()),
        )
        for name, spec in (raw.get("channels") or {}).items()
    }
    return Templates(
        texts={k: str(v) for k, v in (raw.get("templates") or {}).items()},
        channels=channels,
        samples={k: str(v) for k, v in (raw.get("samples") or {}).items()},
        call_script=str(raw.get("call_script") or ""),
        source=path,
    )


def check(templates: Templates) -> list[Problem]:
    """Every problem of every template; an empty list means all may be sent."""
    problems: list[Problem] = []
    for name in templates.channels:
        if name not in templates.texts:
            problems.append(Problem(name, "missing template for this channel"))
    for name, body in templates.texts.items():
        channel = templates.channels.get(name)
        if channel is None:
            problems.append(Problem(name, "no channel limits defined in 'channels'"))
            continue
        try:
            used = {f for _, f, _, _ in string.Formatter().parse(body) if f is not None}
        except ValueError as exc:
            problems.append(Problem(name, f"bad braces: {exc}"))
            continue
        unknown = used - PLACEHOLDERS
        if unknown:
            problems.append(Problem(name, f"unknown placeholder(s): {', '.join(sorted(unknown))}"))
            continue
        for needed in channel.requires:
            if needed not in used:
                problems.append(Problem(name, f"must contain {{{needed}}}"))
        if name != "email_subject" and "{hotline}" not in body and "9090" not in body:
            problems.append(Problem(name, "must give the 9090 hotline"))
        text = templates.render(name)
        if channel.kind == "sms":
            length = sms_length(text)
            limit = channel.max_segments or 1
            if length.segments > limit:
                problems.append(
                    Problem(
                        name,
                        f"{length.segments} SMS segments ({length.encoding}, {length.units} "
                        f"units with the longest link), limit {limit}",
                    )
                )
        elif channel.max_chars is not None and len(text) > channel.max_chars:
            problems.append(
                Problem(
                    name, f"{len(text)} characters with the longest link, limit {channel.max_chars}"
                )
            )
    return problems


def describe(templates: Templates) -> list[str]:
    """One line per template: its length as sent (for the CLI)."""
    lines = []
    for name in templates.texts:
        channel = templates.channels.get(name)
        try:
            text = templates.render(name)
        except (KeyError, ValueError, IndexError):
            lines.append(f"{name:<18} cannot be rendered (see the problems below)")
            continue
        if channel and channel.kind == "sms":
            length = sms_length(text)
            lines.append(
                f"{name:<18} {length.encoding} {length.units} units, {length.segments} segment(s)"
            )
        else:
            lines.append(f"{name:<18} {len(text)} characters")
    return lines

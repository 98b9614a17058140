"""What the resolver returns: the public contract the form validator and the store use."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from typing import Literal

Status = Literal["resolved", "province_only", "ambiguous", "not_found"]


@dataclass(frozen=True)
class Candidate:
    """One answer the customer can pick when the text does not decide (a button)."""

    province_code: str
    province_name: str
    ward_code: str | None
    ward_name: str | None
    old_province_name: str | None = None
    old_district_name: str | None = None
    old_ward_name: str | None = None
    score: float = 0.0

    @property
    def label(self) -> str:
        """Current names, ward first: "Phường Kim Liên, Thành phố Hà Nội"."""
        if self.ward_name:
            return f"{self.ward_name}, {self.province_name}"
        return self.province_name


@dataclass(frozen=True)
class Resolution:
    """The units a free-text address names, in the current and (when written) old structure."""

    text: str
    status: Status
    confidence: float
    province_code: str | None = None
    province_name: str | None = None
    ward_code: str | None = None
    ward_name: str | None = None
    old_province_code: str | None = None
    old_province_name: str | None = None
    old_district_code: str | None = None
    old_district_name: str | None = None
    old_ward_code: str | None = None
    old_ward_name: str | None = None
    street: str | None = None
    candidates: tuple[Candidate, ...] = ()

    @property
    def label(self) -> str:
        """Current names read back to the customer; empty when no province is known."""
        parts = [name for name in (self.ward_name, self.province_name) if name]
        return ", ".join(parts)

    def to_dict(self) -> dict[str, object]:
        """JSON-able form, candidates included (with their labels)."""
        out = asdict(self)
        out["label"] = self.label
        out["candidates"] = [
            {**asdict(candidate), "label": candidate.label} for candidate in self.candidates
        ]
        return out


_RESOLUTION_DEFAULTS: dict[str, object] = {
    field.name: field.default for field in fields(Resolution) if field.default is not MISSING
}


def resolution(**values: object) -> Resolution:
    """``Resolution(**values)`` at a fifth of the cost, for the resolver's hot path.

    The frozen dataclass's ``__init__`` sets its sixteen fields one by one through
    ``object.__setattr__`` (a tenth of the time of a compiled resolve); this fills the new
    instance's ``__dict__`` at once, defaults first. The values are not checked: the
    resolver passes exactly what it would pass to the constructor, and a test checks that
    both ways build equal, equally frozen objects."""
    made = object.__new__(Resolution)
    state = made.__dict__
    state.update(_RESOLUTION_DEFAULTS)
    state.update(values)
    return made

"""What the resolver returns: the public contract the form validator and the store use."""

from __future__ import annotations

from dataclasses import asdict, dataclass
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
    # The candidates rest only on names read with typos, in a text where nothing was found
    # as typed ("Vât Hồ"; "tôi không biết" meets Krông Nô): offered, never decided.
    guessed: bool = False

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

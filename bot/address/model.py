"""What the resolver returns: the public contract the form validator and the store use."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Literal

from bot.text import fold

Status = Literal["resolved", "province_only", "ambiguous", "not_found"]

# A type word or its abbreviation opening a name typed as an answer ("P. Yên Hòa", "P1").
_TYPE_WORD = re.compile(
    r"^(?:phuong|xa|thi tran|dac khu|thanh pho|tinh|ph|p|f|x|tt|tp|t)(?:\b\.?\s*|(?=\d))"
)


def _bare(typed: str) -> str:
    """Folded, punctuation as spaces, without the type word it opens with."""
    words = " ".join(re.sub(r"[^\w.]+", " ", fold(typed)).split())
    return _TYPE_WORD.sub("", words, count=1).replace(".", " ").strip()


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

    def named_by(self, typed: str) -> bool:
        """Whether a customer's answer names it: its label, or its ward's name (its
        province's, for a province) with or without the type word, abbreviated or not
        ("Yên Hòa", "P. Yên Hòa" for the button "Phường Yên Hòa, Thành phố Hà Nội")."""
        folded = fold(typed).strip()
        if folded == fold(self.label):
            return True
        bare = _bare(typed)
        return bool(bare) and bare == _bare(self.ward_name or self.province_name)


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
    def decided(self) -> bool:
        """A province, or a place below it, read without guessing."""
        return self.status in ("resolved", "province_only") and not self.guessed

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

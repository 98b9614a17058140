"""``bot.phone.find``: the number inside a message, read as the NLU's regex entity reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot import phone

ROOT = Path(__file__).resolve().parent.parent


def test_the_number_pattern_is_the_nlu_regex_entity() -> None:
    """The validator and the NLU must agree on what a number in a message is: the entity the
    NLU fills the slot with is the number the validator finds (CSKH edits data/nlu/)."""
    nlu = yaml.safe_load((ROOT / "data" / "nlu" / "regex.yml").read_text(encoding="utf-8"))
    (entry,) = [item for item in nlu["nlu"] if item.get("regex") == "phone_number"]
    patterns = [line.removeprefix("- ").strip() for line in entry["examples"].splitlines()]
    assert [p for p in patterns if p] == [phone.NUMBER.pattern]


@pytest.mark.parametrize(
    ("text", "national"),
    [
        # a house number right after the number is not read into it
        ("0903123456 12 Le Loi P5 Q1 tphcm", "0903123456"),
        ("sdt0903123456 dia chi 5 Nguyen Trai", "0903123456"),  # the cue typed onto it
        ("so 8 hem 12 P.5 Q.3 tphcm +84 903 123 456", "0903123456"),
        ("dt 090 312 3456 nha", "0903123456"),
        ("so 5 ngo 12, 0903.123.456", "0903123456"),
        # the first valid one: 0241234567 is a landline, 09031234567 no number at all
        ("nha 0241234567, 09031234567, dd 0912345678", "0912345678"),
    ],
)
def test_find_reads_the_number_as_typed_among_other_words(text: str, national: str) -> None:
    found = phone.find(text)
    assert found is not None
    assert found.national == national


@pytest.mark.parametrize("text", ["so 12 ngo 345 Lê Lợi", "1234567890903123456", "ma 0903123"])
def test_find_finds_nothing_where_there_is_no_mobile_number(text: str) -> None:
    assert phone.find(text) is None


def test_find_all_gives_every_distinct_number_in_order() -> None:
    text = "doi sim cho 2 so 0912 111 222 va +84913111222, so dau 0912111222 nhe, 0241234567"
    assert [n.national for n in phone.find_all(text)] == ["0912111222", "0913111222"]
    assert phone.find_all("khong co so nao") == []

"""``bot.address.with_district_wards`` (an old district named without a ward),
``ward_question`` (the wards the chat and the 9090 intake ask about) and ``ward_to_type``
(a district of more wards than buttons: the chat asks the ward typed)."""

from __future__ import annotations

import pytest

from bot.address import (
    Candidate,
    choice_labels,
    resolve,
    ward_question,
    ward_to_type,
    with_district_wards,
)


def _labels(text: str, most: int = 5) -> list[str]:
    return [c.label for c in with_district_wards(resolve(text), most).candidates]


def test_a_district_that_became_a_few_wards_lists_them_all() -> None:
    assert _labels("Son Tay, Ha Noi") == [
        "Phường Sơn Tây, Thành phố Hà Nội",  # the ward named like the district first
        "Phường Tùng Thiện, Thành phố Hà Nội",
        "Xã Hòa Lạc, Thành phố Hà Nội",
        "Xã Đoài Phương, Thành phố Hà Nội",
    ]


def test_the_candidates_keep_the_district_read() -> None:
    found = with_district_wards(resolve("12 Nguyễn Đình Chiểu, Quận 3, TP HCM"), 5)
    assert found.status == "province_only"
    assert {c.old_district_name for c in found.candidates} == {"Quận 3"}
    assert {c.province_code for c in found.candidates} == {found.province_code}


@pytest.mark.parametrize(
    ("text", "most"),
    [
        ("88 Nguyen Van Cu, Long Bien, Ha Noi", 5),  # seven wards: more than the buttons
        ("Son Tay, Ha Noi", 3),
        ("ha noi", 5),  # no district
        ("12/3 Le Van Sy P13 Q3 tphcm", 5),  # the ward is known
        ("Phuong 1", 5),  # the province is not
    ],
)
def test_otherwise_the_answer_is_unchanged(text: str, most: int) -> None:
    found = resolve(text)
    assert with_district_wards(found, most) == found


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("12 Nguyễn Đình Chiểu, Quận 3, TP HCM", 3),  # an old district: three wards now
        ("số 8 ngõ 45 Trần Duy Hưng, Trung Hòa, Cầu Giấy, Hà Nội", 3),  # a split old ward
    ],
)
def test_the_wards_to_ask_lie_in_the_province_read(text: str, count: int) -> None:
    found = resolve(text)
    wards = ward_question(found, 5)
    assert len(wards) == count, wards
    assert all(ward.ward_code and ward.province_code == found.province_code for ward in wards)


def test_no_more_wards_are_asked_than_the_buttons() -> None:
    found = resolve("Son Tay, Ha Noi")  # four wards now
    assert len(ward_question(found, 4)) == 4
    assert ward_question(found, 3) == ()  # a shorter list would be a guess


@pytest.mark.parametrize(
    "text",
    ["12/3 Le Van Sy P13 Q3 tphcm", "88 Nguyen Van Cu, Long Bien, Ha Noi", "ha noi", "Phuong 1"],
)
def test_nothing_is_asked_when_the_ward_is_known_or_no_list_fits(text: str) -> None:
    assert ward_question(resolve(text), 5) == ()


@pytest.mark.parametrize(
    ("text", "most", "district"),
    [
        ("25 ngo 3 Thai Ha, Dong Da, Ha Noi", 5, "Quận Đống Đa"),  # seven wards now
        ("88 Nguyen Van Cu, Long Bien, Ha Noi", 5, "Quận Long Biên"),
        ("25 ngo 3 Thai Ha, Dong Da, Ha Noi", 7, None),  # seven buttons would show them
        ("Son Tay, Ha Noi", 3, "Thị xã Sơn Tây"),  # four wards, three buttons
        ("12 Nguyen Dinh Chieu, Quan 3, TP HCM", 5, None),  # three: buttons
        ("12/3 Le Van Sy P13 Q3 tphcm", 5, None),  # the ward is named
        ("ha noi", 5, None),  # no district
    ],
)
def test_the_ward_is_asked_typed_when_the_buttons_cannot_show_them(
    text: str, most: int, district: str | None
) -> None:
    found = resolve(text)
    assert ward_to_type(found, most) == district
    if district is not None:
        assert ward_question(found, most) == ()  # never both questions


def test_wards_read_in_different_old_districts_are_labelled_with_them() -> None:
    # "Phường 1, Vĩnh Long": a Phường 1 in four old cities of the merged province, now four
    # wards whose names the customer never wrote; the old district tells them apart.
    labels = choice_labels(ward_question(resolve("phuong 1, vinh long"), 5))
    assert "Phường Long Châu (TP Vĩnh Long), Tỉnh Vĩnh Long" in labels
    assert "Phường Trà Vinh (TP Trà Vinh), Tỉnh Vĩnh Long" in labels
    assert "Phường Duyên Hải (TX Duyên Hải), Tỉnh Vĩnh Long" in labels
    hcm = choice_labels(ward_question(resolve("p1 tphcm"), 5))
    assert "Phường Hạnh Thông (Quận Gò Vấp), Thành phố Hồ Chí Minh" in hcm


def _ward(name: str, district: str | None, province: str = "79") -> Candidate:
    return Candidate(
        province_code=province,
        province_name="Thành phố Hồ Chí Minh",
        ward_code=name,
        ward_name=name,
        old_district_name=district,
    )


@pytest.mark.parametrize(
    "candidates",
    [
        # One old district (it became these wards): nothing to tell apart.
        [_ward("Phường Bàn Cờ", "Quận 3"), _ward("Phường Xuân Hòa", "Quận 3")],
        # A district unknown for one of them: not said for some only.
        [_ward("Phường Bàn Cờ", "Quận 3"), _ward("Phường Chợ Quán", None)],
        # Different provinces: the province tells them apart.
        [_ward("Phường 1", "Quận 3"), _ward("Phường 1", "Thành phố Cao Lãnh", "82")],
        [_ward("Phường Bàn Cờ", "Quận 3")],
    ],
)
def test_otherwise_the_labels_are_the_candidates_own(candidates: list[Candidate]) -> None:
    assert choice_labels(candidates) == [candidate.label for candidate in candidates]

"""The address inside a message that says more: the part after an address cue."""

from __future__ import annotations

import pytest

from bot.address import address_answer, address_beside_phone, address_in_message, phone_only


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("toi muon doi sim, sdt 0903123456, dia chi P.5 Q.3 tphcm", "P.5 Q.3 tphcm"),
        # "dc" is "địa chỉ" before an address; the phone after it, or its cue, ends it.
        ("sdt 0903123456 dc 12 Le Van Sy P13 Q3 tphcm", "12 Le Van Sy P13 Q3 tphcm"),
        # The address stops where the name is given ("Mình tên Tâm" was kept in it).
        (
            "số 0913555443, địa chỉ 15 Nguyễn Trãi, Phường 2, TP Tân An, Long An. Mình tên Tâm",
            "15 Nguyễn Trãi, Phường 2, TP Tân An, Long An",
        ),
        # "địa chỉ cụ thể / chính xác" is one cue ("cụ thể" was kept in the address).
        ("ko nho dia chi cu the, o xa Nghi Phong huyen Nghi Loc", "xa Nghi Phong huyen Nghi Loc"),
        ("dia chi chinh xac: 12 Le Van Sy P13 Q3 tphcm", "12 Le Van Sy P13 Q3 tphcm"),
        ("dia chi The Lu, P5 Q3 tphcm", "The Lu, P5 Q3 tphcm"),  # "Thế" alone opens a name
        ("dc 12 Le Van Sy Q3 tphcm sdt 0903123456", "12 Le Van Sy Q3 tphcm"),
        ("đ/c: 5 ngõ 12 Phương Mai, Đống Đa, HN 0903123456", "5 ngõ 12 Phương Mai, Đống Đa, HN"),
        # The words between the cue and the address, and a closing particle, are left out.
        ("địa chỉ nhà em là: thôn 2 xã Tân Hòa, Quốc Oai ạ", "thôn 2 xã Tân Hòa, Quốc Oai"),
        ("a dia chi dung la 14 Le Van Sy P13 Q3 tphcm", "14 Le Van Sy P13 Q3 tphcm"),
        ("dia chi sai, dung la 14 Le Van Sy P13 Q3 tphcm", "14 Le Van Sy P13 Q3 tphcm"),
        ("địa chỉ bị nhầm rồi, là thôn 2 xã Tân Hòa, Quốc Oai", "thôn 2 xã Tân Hòa, Quốc Oai"),
        # Words that open names are no fillers ("thành", "lại"); words that are fillers
        # elsewhere stay when they open a name ("nhà", "cửa", "a", "minh", "chi", "o").
        ("dia chi thanh pho Hue", "thanh pho Hue"),
        ("đ/c Lai Châu", "Lai Châu"),
        ("dia chi Nha Trang, Khanh Hoa", "Nha Trang, Khanh Hoa"),
        ("dia chi Cua Lo, Nghe An", "Cua Lo, Nghe An"),
        ("đ/c A Lưới, Huế", "A Lưới, Huế"),
        ("dia chi Minh Khai, Hai Ba Trung, Ha Noi", "Minh Khai, Hai Ba Trung, Ha Noi"),
        ("dia chi Chi Lang, Lang Son", "Chi Lang, Lang Son"),
        ("dia chi O Mon, Can Tho", "O Mon, Can Tho"),
        # The address named again after the words that say the first was wrong.
        (
            "sai dia chi roi, dia chi dung la em o 45 Tran Hung Dao P. Ben Nghe Q1 tphcm nhe",
            "45 Tran Hung Dao P. Ben Nghe Q1 tphcm",
        ),
        (
            "dia chi cu la 5 Nguyen Trai P. Ben Thanh Q1, dia chi moi la 12 Le Van Sy P13 Q3 tphcm",
            "12 Le Van Sy P13 Q3 tphcm",
        ),
        ("dia chi 12 Le Van Sy P13 Q3 tphcm dc ko?", "12 Le Van Sy P13 Q3 tphcm"),
        # After a cue that means nothing else, a province named alone is an address.
        ("dia chi o Ha Noi", "Ha Noi"),
        # The address stops where the name closing the message starts ("…, ten Lan").
        (
            "doi sim 0912000559, dia chi 12 Le Loi P. Ben Nghe Q1 HCM, ten Lan",
            "12 Le Loi P. Ben Nghe Q1 HCM",
        ),
        # "nhà (em) ở": where the customer lives (seen live: the address with the phone,
        # "… nha o 45 Nguyen Van Linh, Da Nang", was lost, and "Hải Châu" then asked
        # among four provinces).
        (
            "toi muon doi sim cho so 0905 123 456 nha o 45 Nguyen Van Linh, Da Nang",
            "45 Nguyen Van Linh, Da Nang",
        ),
        ("doi sim, nhà em ở Cần Thơ", "Cần Thơ"),
        # A relative's home: the SIM swapped for them (seen live: "me em o xom 3 xa dien
        # hong, …" stored with "me em o" in it).
        (
            "me em o xom 3 xa dien hong, dien chau, nghe an",
            "xom 3 xa dien hong, dien chau, nghe an",
        ),
        ("nha me minh o 12 le loi, p ben nghe, q1, tphcm", "12 le loi, p ben nghe, q1, tphcm"),
    ],
)
def test_the_part_after_an_address_cue_is_the_address(text: str, part: str) -> None:
    assert address_in_message(text) == part


@pytest.mark.parametrize(
    "text",
    [
        "doi sim dc ko",  # "được không"
        "đc r ạ",
        "dc giao tan nha ko",  # reads as Xã Giao Bình, but "dc" here is "được"
        "dc ha noi",  # after "dc", only a unit named with its type word is an address
        "Địa chỉ cửa hàng gần nhất ở đâu ạ",  # a question about the stores
        "dia chi 12 Le Loi",  # a street alone: asked for in full when its turn comes
        "dia chi: 0903123456",
        "em o xom 2 xa Nghi Phong, Nghi Loc, Nghe An",  # no cue: taken when asked
        "nhà ở xa lắm",  # "nhà ở" then no place
        "nha o dau vay",
        "me o dau",  # a relative without a pronoun: no cue
    ],
)
def test_no_address_part_without_a_cue_and_a_reading(text: str) -> None:
    assert address_in_message(text) is None


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("0903123456 P.5 Q.3 tphcm", "P.5 Q.3 tphcm"),
        ("sdt 0903123456, P.5 Q.3 tphcm ạ", "P.5 Q.3 tphcm"),
        ("sdt e la 0903 123 510, e o Phuong 1 Quan 10 tphcm", "Phuong 1 Quan 10 tphcm"),
        ("Phường Bến Nghé, Quận 1, TP HCM", "Phường Bến Nghé, Quận 1, TP HCM"),
        ("Ấp 3, ĐT 741, xã Tân Lập đt 0903123456", "Ấp 3, ĐT 741, xã Tân Lập"),  # ĐT: a road
        ("sdt 0903123456", None),
        ("0901234567 chị Lan", None),
        ("ha noi 0903123456", None),  # a province alone is no home address
        # Without a type word, beside a phone number: a place decided below the province.
        (
            "doi sim giup e 0903123458 tai 77 Tran Hung Dao Quy Nhon Binh Dinh",
            "77 Tran Hung Dao Quy Nhon Binh Dinh",
        ),
        ("0903123456 88 Nguyen Van Cu, Long Bien, Ha Noi", "88 Nguyen Van Cu, Long Bien, Ha Noi"),
        ("0903123456 ad oi", None),  # Xã A Dơi, read at 0.55: small talk
        # What the request words leave (the form puts a comma in their place) is no address:
        # "…, can doi sim cho so 0908…" was stored as "… tp hcm, can , cho so".
        (
            "e o so 7 hem 45 duong 3/2 p11 q10 tp hcm, can , cho so 0908 777 666",
            "so 7 hem 45 duong 3/2 p11 q10 tp hcm",
        ),
        (
            "so 5 thon Cho, xa Nghi Phong, Nghe An, cho so 0908777666",
            "so 5 thon Cho, xa Nghi Phong, Nghe An",
        ),
        ("88 Nguyen Van Cu, Long Bien, Ha Noi", None),  # no phone number: not data typed early
        # "dc" (the short cue) opening the part after the number, and what "doi sim 4g"
        # leaves once its request words are taken out (seen live: stored as "dc 12 ly
        # thuong kiet hoan kiem hn, , 4g").
        (
            "sdt 0912345111, dc 12 ly thuong kiet hoan kiem hn, , 4g",
            "12 ly thuong kiet hoan kiem hn",
        ),
        # Where the customer lives starts at "em ở" (seen live: the greeting and "em được
        # mời … 4G" were stored in the address), unless a house or street comes before it.
        (
            "Em chào anh chị ạ, em được mời , 4G, em ở xã Phong Điền, huyện Phong Điền, "
            "Cần Thơ, sđt 0939 000 111, tên Hạnh",
            "xã Phong Điền, huyện Phong Điền, Cần Thơ",
        ),
        (
            "so 5 ngo 12, em o phuong Phuong Mai, Dong Da, HN 0903123456",
            "so 5 ngo 12, em o phuong Phuong Mai, Dong Da, HN",
        ),
        # An age is no house number, and "số chị là" before the number no address (seen
        # live: the whole greeting was stored as the address).
        (
            "Chào em, chị năm nay 60 tuổi rồi không rành điện thoại, con chị bảo có tin nhắn"
            " mời ,, chị ở tổ 3 phường Quang Trung thành phố Thái Nguyên, số chị là 0912 345"
            " 678, em giúp chị nhé",
            "tổ 3 phường Quang Trung thành phố Thái Nguyên",
        ),
        (
            "xom 2 xa Nghi Phong, Nghi Loc, Nghe An, so cua me em la 0912345678",
            "xom 2 xa Nghi Phong, Nghi Loc, Nghe An",
        ),
    ],
)
def test_the_text_beside_a_phone_number_is_an_address_when_it_names_a_unit(
    text: str, part: str | None
) -> None:
    assert address_beside_phone(text) == part


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("nhà em ở 12/3 Lê Văn Sỹ P13 Q3 tphcm ạ", "12/3 Lê Văn Sỹ P13 Q3 tphcm"),
        ("em o so 5 ngo 12 p.Phuong Mai q.Dong Da HN", "so 5 ngo 12 p.Phuong Mai q.Dong Da HN"),
        (
            "dia chi moi la xom 2 xa Nghi Phong, Nghi Loc, Nghe An",
            "xom 2 xa Nghi Phong, Nghi Loc, Nghe An",
        ),
        ("0903123462 ap 3 xa Tan Phu Trung Cu Chi", "ap 3 xa Tan Phu Trung Cu Chi"),
        ("ở Hà Nội", "Hà Nội"),
        # as typed: fillers that change the reading, or nothing that reads as an address
        ("Nha Trang, Khanh Hoa", "Nha Trang, Khanh Hoa"),
        ("A Lưới, Huế", "A Lưới, Huế"),
        ("tôi không biết", "tôi không biết"),
        # the province after the phone number: the part before it reads otherwise
        ("12 Le Loi P5, sdt 0903123463, tphcm", "12 Le Loi P5, sdt 0903123463, tphcm"),
        ("  12/3 Le Van Sy P13 Q3 tphcm ", "12/3 Le Van Sy P13 Q3 tphcm"),
        # "ạ" typed without its dot closes it; a lettered place keeps its letter
        ("xom 3 Dien Hoa Dien Chau Nghe An a", "xom 3 Dien Hoa Dien Chau Nghe An"),
        ("12 Le Loi p Ben Nghe q1 hcm nhe a", "12 Le Loi p Ben Nghe q1 hcm"),
        ("12 Le Loi p5 q3 hcm, to a", "12 Le Loi p5 q3 hcm, to a"),
        ("so 3 Le Loi p Ben Nghe q1 hcm, khu pho a", "so 3 Le Loi p Ben Nghe q1 hcm, khu pho a"),
    ],
)
def test_an_answer_to_the_address_question_keeps_its_address_part(text: str, answer: str) -> None:
    assert address_answer(text) == answer


@pytest.mark.parametrize(
    ("text", "only"),
    [
        ("0905111222", True),
        ("+84 905 111 222", True),
        ("sdt e la 0905 111 222 nhe", True),
        ("so nay 0905111222", True),
        ("0905111222 so 5 ngo 12", False),  # an address with it
        ("so 12 0905111222", False),  # a house number is something
        ("12 Le Loi", False),  # no number at all
        ("Phường 5", False),
    ],
)
def test_phone_only(text: str, only: bool) -> None:
    assert phone_only(text) is only

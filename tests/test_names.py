"""``bot.names.name_in_message``: the name given with the rest of a message."""

from __future__ import annotations

import pytest

from bot.names import name_in_message


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("..., Dong Da, Ha Noi, ten chi la Thu", "chi Thu"),  # called "chị Thu" back
        ("tên em là Nguyễn Văn An nhé", "Nguyễn Văn An"),
        ("Tên: Thu, sdt 0903456789", "Thu"),  # up to the comma
        ("ten toi la Hung 0903456789", "Hung"),  # up to the phone
        ("ten toi la Hung so dien thoai 0903456789", "Hung"),  # or its cue
        ("ten cua anh la Minh a", "anh Minh"),  # closing particle left out
        ("toi ten la Nguyen Van A", "Nguyen Van A"),  # "A" is no "ạ"
        ("ten la Lan, dia chi P5 Q3", "Lan"),
        ("tên là Hoa, tên em là Lan", "Lan"),  # the last one given
        ("Mình tên Tâm", "Tâm"),  # the speaker before "tên", no "là"
        # A relative's line (seen live: "ten me la Nguyen Thi Hoa" was stored whole): the
        # name alone, no title.
        ("ten me la Nguyen Thi Hoa", "Nguyen Thi Hoa"),
        ("tên của mẹ em là Nguyễn Thị Hoa", "Nguyễn Thị Hoa"),
        ("ten bo toi la Tran Van Tam", "Tran Van Tam"),
        ("mẹ tên Hoa", "Hoa"),
        ("Em tên Hằng", "Hằng"),
        ("chị tên là Thu nhé", "chị Thu"),
        # "tên" opening the last comma part, the name closing the message (seen live:
        # "…, dia chi 12 Le Loi P. Ben Nghe Q1 HCM, ten Lan" kept ", ten Lan" in the
        # address and asked the name).
        ("doi sim 0912000559, dia chi 12 Le Loi P. Ben Nghe Q1 HCM, ten Lan", "Lan"),
        ("doi sim, ten Nguyen Thi Lan.", "Nguyen Thi Lan"),
        # A correction after the read-back (seen live: the name was asked again).
        ("sai ten, ten dung la Hùng", "Hùng"),
        ("tên em đúng là Nguyễn Văn Hùng", "Nguyễn Văn Hùng"),
        # The speaker introducing themselves as the message opens (seen live: "Mình là
        # Hoa, muốn đổi sim 4g cho số …" kept the number and address, lost the name).
        ("Mình là Hoa, muốn đổi sim 4g cho số 0912 345 678", "Hoa"),
        ("chào shop, em là Nguyễn Thị Lan", "Nguyễn Thị Lan"),
        ("Alo em là Lan đây", "Lan"),  # the words typed with a capital
        ("chi la Thu nhe", "chi Thu"),
    ],
)
def test_the_name_after_its_cue(text: str, name: str) -> None:
    assert name_in_message(text) == name


@pytest.mark.parametrize(
    "text",
    [
        "em ten la gi",  # a question
        "tên mẹ em là gì vậy",
        "duong Ten Lua, Binh Tan",  # a street: no "là" after "Tên"
        "ten la",  # nothing after the cue
        "ten em la mot nguoi rat dai dong khong ai nho",  # a sentence, not a name
        "ten em la 0903456789",  # no letter before the number
        "doi sim 4g",
        "mình là khách hàng của mobifone",  # "là" then no word typed with a capital
        "em là sinh viên",
        "minh la hoa",  # all lower case: not told from "là" + a common word
        "so 3, ten lua binh tan hcm",  # a street (Tên Lửa) then more: no name at the end
        "12 duong Ten Lua, Binh Tan, tphcm",
    ],
)
def test_no_name(text: str) -> None:
    assert name_in_message(text) is None

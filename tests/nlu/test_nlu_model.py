"""The trained model on what customers type at the buttons: the title itself.

A button's title is what a customer types when the channel shows no buttons (SMS, a
plain-text Zalo reply) or when typing is quicker than tapping, most often without
diacritics: it must mean what the button's payload means. Runs the model ``make train``
builds (``make test`` trains before pytest runs).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa.core.agent import Agent

from bot.text import strip_diacritics

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "current.tar.gz"

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason="no trained model: make train")


def _buttons() -> list[tuple[str, str]]:
    """(title, intent) of every button of domain.yml whose payload is an intent."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    found: dict[tuple[str, str], None] = {}
    for variants in domain["responses"].values():
        for variant in variants:
            for button in variant.get("buttons") or ():
                payload = str(button["payload"])
                if payload.startswith("/"):
                    found[(str(button["title"]), payload[1:].split("{")[0])] = None
    return list(found)


@pytest.fixture(scope="module")
def agent() -> Agent:
    return Agent.load(str(MODEL))


async def _intent(agent: Agent, text: str) -> str:
    parsed = await agent.parse_message(text)
    return str(parsed["intent"]["name"])


def test_every_intent_button_is_checked() -> None:
    # The check below covers the read-back's and the fix menu's buttons, among others.
    intents = {intent for _, intent in _buttons()}
    assert {"affirm", "deny", "correct_name", "correct_address", "skip"} <= intents


@pytest.mark.parametrize(("title", "intent"), _buttons())
async def test_a_button_title_typed_means_the_button(agent: Agent, title: str, intent: str) -> None:
    for typed in (title, strip_diacritics(title).lower()):
        assert await _intent(agent, typed) == intent, typed


@pytest.mark.parametrize(
    "text", ["ten e la Hai", "Tên: Nguyễn Văn Hải", "chị Mai", "Nguyen Thi Lan", "tên tôi là Mai"]
)
async def test_a_name_typed_at_the_name_question_stays_a_name(agent: Agent, text: str) -> None:
    # "tên" alone asks to fix the name (the fix menu's button); a name given with it is not.
    assert await _intent(agent, text) == "inform"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("toi muon doi sim, sdt 0903123456, dia chi P.5 Q.3 tphcm", "request_sim_swap"),
        (
            "Đổi sim 4G cho em, số 0912345670, địa chỉ thôn Đông, xã Tân Hòa, Quốc Oai",
            "request_sim_swap",
        ),
        (
            "dang ky sim moi, sdt 0987111222, dc 12 Le Loi, p.Ben Nghe, q1",
            "request_new_subscription",
        ),
    ],
)
async def test_a_request_given_with_its_data_is_the_request(
    agent: Agent, text: str, intent: str
) -> None:
    # Everything in one message: the request starts the form, which keeps the phone (its
    # entity) and the address (after its cue) instead of asking them again.
    parsed = await agent.parse_message(text)
    assert parsed["intent"]["name"] == intent
    assert {e["entity"] for e in parsed["entities"]} == {"phone_number", "request_kind"}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("0903123456, doi sim, 88 Nguyen Van Cu, Long Bien, Ha Noi", "sim_swap"),
        ("doi sim giup e 0903123456 tai 77 Tran Hung Dao Quy Nhon Binh Dinh", "sim_swap"),
        ("doi sim 0987654321 thon 5 xa Cu Ne Krong Buk Dak Lak", "sim_swap"),
        ("0934567890 Phường Tân Định Quận 1 Đổi SIM", "sim_swap"),
        ("sim cu roi doi sim moi 0903123456 p.Phuong Mai q.Dong Da HN", "sim_swap"),
        ("mua sim moi 0903123456 o 12 Ly Thuong Kiet Hoan Kiem HN", "new_subscription"),
        ("đăng ký thuê bao mới 0903123456 Phường Láng Hà Nội", "new_subscription"),
        ("tu van goi data 0903123456 nha o Phuong 7 Quan 3", "advice"),
        (
            "mua sim moi 0961622700 dia chi Tổ dân phố 3, Đường Hùng Vương, Thị trấn Chư Sê,"
            " Huyện Chư Sê, Gia Lai",
            "new_subscription",
        ),
    ],
)
async def test_a_message_read_as_data_still_says_the_request(
    agent: Agent, text: str, kind: str
) -> None:
    # Mostly an address and a number, such a message may be classified as data (inform):
    # then the request words found in it (the request_kind lookup, data/nlu/lookups.yml)
    # give the request type, so the form does not ask what the customer has just said.
    parsed = await agent.parse_message(text)
    kinds = {e["value"] for e in parsed["entities"] if e["entity"] == "request_kind"}
    assert kinds == {kind}
    # correct_address: "dia chi" and a long address read as an address given again; the
    # request_type slot takes the entity from it too (domain.yml).
    assert parsed["intent"]["name"] in {"inform", "correct_address", f"request_{kind}"}


async def test_a_request_with_its_data_is_never_not_understood(agent: Agent) -> None:
    # Request and inform too close to tell: the fallback took it, the request words and the
    # phone number make it the request (nlu_components/request_words.py); a question with
    # the same words and no number stays what the classifier makes of it.
    parsed = await agent.parse_message("doi sim 0903123472 dia chi 5 Nguyen Trai P.Ben Thanh Q1")
    assert parsed["intent"]["name"] == "request_sim_swap"
    parsed = await agent.parse_message("doi sim xong co mat danh ba khong")
    assert parsed["intent"]["name"] != "request_sim_swap"


@pytest.mark.parametrize(
    "text", ["12/3 Le Van Sy P13 Q3 tphcm", "0903123456", "xom 2 xa Nghi Phong, Nghi Loc"]
)
async def test_data_alone_names_no_request(agent: Agent, text: str) -> None:
    parsed = await agent.parse_message(text)
    assert not [e for e in parsed["entities"] if e["entity"] == "request_kind"]


@pytest.mark.parametrize(
    "text", ["tại sao bot cần sđt của tôi", "lay sdt e lam gi z", "dia chi nha e co bi lo ko"]
)
async def test_why_the_phone_and_address_are_asked_is_answered(agent: Agent, text: str) -> None:
    # A customer wary of giving personal data gets the reason (utter_faq/why_data), then
    # the question again, rather than the question repeated alone.
    parsed = await agent.parse_message(text)
    assert parsed["intent"]["name"] == "faq"
    selected = parsed["response_selector"]["default"]["response"]["intent_response_key"]
    assert selected == "faq/why_data"


@pytest.mark.parametrize(
    "text",
    ["yêu cầu của em đến đâu rồi", "yeu cau doi sim cua minh sao r", "dk roi ma chua thay ai goi"],
)
async def test_how_my_request_stands_is_a_status_question(agent: Agent, text: str) -> None:
    # After sending: the request's status (action_request_status), not "how long it takes".
    assert await _intent(agent, text) == "ask_status"


@pytest.mark.parametrize(
    "text",
    [
        "khong muon cho dia chi",
        "ko nho so",
        "không muốn để lại số điện thoại",
        # A new line's customer without a number yet (it was out of scope: "em chưa hỗ trợ").
        "con tôi chưa có số",
        "chua co so",
    ],
)
async def test_not_giving_the_phone_or_the_address_is_a_skip(agent: Agent, text: str) -> None:
    # Read as correct_phone / correct_address ("số", "địa chỉ" in them), they cleared the
    # answer and asked the question again without a word of why it is needed (utter_required).
    assert await _intent(agent, text) == "skip"


@pytest.mark.parametrize(
    "text", ["sim em bị hỏng rồi", "may ko nhan sim", "mat sim thi phai lam sao"]
)
async def test_a_broken_or_lost_sim_gets_its_answer(agent: Agent, text: str) -> None:
    # Answered "if you already use a 4G SIM there is no need" (faq/already_swapped).
    parsed = await agent.parse_message(text)
    selected = parsed["response_selector"]["default"]["response"]
    assert (parsed["intent"]["name"], selected["intent_response_key"]) == (
        "faq",
        "faq/broken_sim",
    )

"""Validation of the request form: one ``validate_<slot>`` per slot.

A rejected answer returns ``{slot: None}`` plus a bookkeeping slot (``phone_error``,
``address_status``) that selects the variation of the form's question in
``domain.yml``; the texts themselves stay in the domain where CSKH edits them.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from dataclasses import asdict, replace
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import ActionExecutionRejected, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.services import (
    address_answer,
    address_beside_phone,
    address_in_message,
    names_a_province,
    names_a_unit,
    resolve_address,
)
from bot import phone
from bot.address import (
    Candidate,
    Resolution,
    choice_labels,
    phone_only,
    ward_question,
    ward_to_type,
)
from bot.campaign import hooks
from bot.names import name_in_message
from bot.needs import need_in_message, said_without_numbers, with_need
from bot.questions import asks, without_questions
from bot.text import fold, words
from bot.visits import visit_time_in_message, with_visit_time

MAX_CHOICES = 5
SKIP_VALUE = "-"
_SKIP_WORDS = {
    *("-", "bo qua", "khong", "ko", "k", "khong can", "thoi", "skip", "/skip"),
    *("khong biet", "ko biet", "k biet", "hong biet"),
    *("khong ro", "ko ro", "k ro", "chua ro"),  # the "Không rõ" button's title, typed
}
# An affirmation typed at the name question ("đúng rồi" answering the question before, "ok"
# before typing the name) is no name: the question is asked again. A word that is also a
# given name without its diacritics ("dung": Dung, Dũng) counts only as typed ("đúng").
_YES_FOLDED = frozenset(
    {"dung roi", "dung roi a", "da dung roi", "vang dung roi", "dung vay", "dung a"}
    | {"da dung", "da dung a", "da vang", "vang a", "da vang a", "chinh xac", "chuan roi"}
    | {"ok", "oke", "oki", "okay", "ok em", "ok e", "ok luon", "yes", "yep", "uh", "uk"}
    | {"um", "uhm", "dong y", "da dong y", "duoc a", "da duoc", "da co", "dc", "roi", "da roi"}
    # "co", "vang", "da" alone (có, vâng, dạ without diacritics): no given name is spelt so
    # ("dung" is: Dung, Dũng, so it is a yes only as typed, in _YES_AS_TYPED).
    | {"co", "co a", "vang", "da"}
)
_YES_AS_TYPED = frozenset({"đúng", "dạ", "có", "vâng", "ừ", "chuẩn", "được"})
# Intents of a message whose name cue is no name given: a question ("tên em là gì?" is
# filtered out by bot.names too), a correction of another answer.
_NOT_A_NAME = frozenset({"faq", "stop", "human_handoff", "correct_phone", "correct_address"})
# Words that open a message as a call, not a name ("Alo, bao lâu…", "Em ơi, …"), folded.
_CALLS = frozenset({"a", "o", "alo", "hi", "hello", "chao", "xin chao", "oi", "ad", "shop"})
# Particles after a name, one word each, folded ("Lan nhé, …").
_CLOSERS = frozenset({"a", "nhe", "nha"})
_SERVICE_OF_INTENT = {
    "request_sim_swap": "sim_swap",
    "request_new_subscription": "new_subscription",
    "request_advice": "advice",
}
_REQUESTS = frozenset(_SERVICE_OF_INTENT)
# "đổi đi", "đổi luôn", "đổi sim", "đổi ngay", or "đổi" last, in a yes ("ok đổi đi em"),
# and words of the other services (folded). Folded, "đợi" (wait) is "doi" too: "ok đợi
# em chút" is told apart by its diacritics, or by the word after it.
_SWAP_WORD = re.compile(r"(?<!\w)doi(?:\s+(?:di|luon|sim|ngay)(?!\w)|\s*$)")
_OTHER_SERVICE_WORD = re.compile(
    r"(?<!\w)(?:goi|cuoc|tu van|dang ky|dk|so moi|thue bao moi|sim moi so)(?!\w)"
)
# Words that ask for a new line, folded ("đăng ký", "mở thêm", "sim mới"): see
# extract_request_type.
_NEW_LINE_WORD = re.compile(r"(?<!\w)(?:dang ky|dk|mo|moi|co them|lam them|thue bao moi)(?!\w)")
# Services one number has one of at a time (see extract_phone_number).
_REPEATABLE_ONCE = frozenset({"sim_swap", "advice"})
# Slots the form's methods set that it does not ask (ValidateRequestForm.run returns them).
_SET_BESIDE = ("same_request",)
# "Ok" or "không" when told the request for this number was already sent: nothing more.
_NOTHING_MORE = frozenset({"affirm", "deny"})
# The service a button's payload asks for (the payload is the intent).
_SERVICE_OF_PAYLOAD = {f"/{intent}": service for intent, service in _SERVICE_OF_INTENT.items()}
# A yes, or data, in answer to an offer of one service takes it.
_ACCEPTS_OFFER = frozenset({"affirm", "inform"})


def offered_service(events: list[dict[str, Any]]) -> str | None:
    """The one service the bot's last message before the customer's latest one offered
    as a button ("Quý khách muốn đổi ngay không ạ?" [Đổi SIM 4G] [Để sau]); None when it
    offered none or several (the greeting's three). The offer stands across questions
    asked in between and answered without buttons (the broken SIM's answer offers the
    swap, "có mất phí không?" is answered free, then "ok đổi đi": it asked which service)."""
    seen_user = False
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            if seen_user and _intent_of(event) != "faq":
                return None  # the customer said something else since: no offer pending
            seen_user = True
        elif kind == "bot" and seen_user:
            buttons = (event.get("data") or {}).get("buttons") or []
            if not buttons:
                continue  # an answer to a question asked in between
            services = {
                _SERVICE_OF_PAYLOAD[b["payload"]]
                for b in buttons
                if b.get("payload") in _SERVICE_OF_PAYLOAD
            }
            return services.pop() if len(services) == 1 else None
    return None


def _intent_of(event: dict[str, Any]) -> str | None:
    """The intent the NLU gave a user event."""
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


# "Số này luôn", "số đang nhắn tin này" at the phone question, folded: the number the
# customer writes from, which a chat channel does not show (Liveinfo and the campaign
# links bring it, and the question is not asked there).
_THIS_NUMBER = re.compile(
    r"(?<!\w)(?:so|sdt|thue bao)\s+(?:nay|(?:(?:em|minh|toi|chi|anh)\s+)?dang\s+"
    r"(?:nhan|nhan tin|nt|chat|dung|xai|nhan cho))(?!\w)"
)
# "cho số khác", "sdt khác", "thêm một số nữa", "thuê bao khác" (folded): another number.
_ANOTHER_NUMBER = re.compile(
    r"(?<!\w)(?:so|sdt|thue bao|sim)\s+(?:khac|nua)(?!\w)"
    r"|(?<!\w)them\s+(?:1\s+|mot\s+)?(?:so|thue bao)(?!\w)"
)
# "thêm", "nữa" (folded): another number asked for on top of this one ("thêm 1 số nữa"),
# not instead of it ("à số khác" corrects the number).
_MORE = re.compile(r"(?<!\w)(?:them|nua)(?!\w)")
# "vẫn địa chỉ cũ", "như trên", "cùng địa chỉ", "giống địa chỉ trước" (folded): the address
# of the request sent before, offered at the address question of the next one.
_SAME_ADDRESS = re.compile(
    r"(?<!\w)(?:(?:van|nhu|giong(?: nhu)?|y nhu|van la)\s+(?:dia chi\s+|dc\s+|nha\s+)?"
    r"(?:cu|tren|truoc|do|vua roi|vua nay|luc nay|hoi nay|ban nay|lan truoc|so truoc)"
    r"|(?:cung|chung)\s+(?:1\s+|mot\s+)?(?:dia chi|nha|dc))(?!\w)"
)
# What the NLU reads small talk as, among the intents the address slot still takes (some
# real addresses are classified so too: "khu tập thể ga, phường 5" is out_of_scope).
_NOT_AN_ADDRESS = frozenset({"out_of_scope", "deny", "affirm"})
# Intents of a message that may carry the address without a cue: data, or a request
# given with its data in one line.
_GIVES_DATA = _REQUESTS | {"inform"}
# What "không biết" / "không" is read as at a question between wards of one province.
_DONT_KNOW = frozenset({"out_of_scope", "deny"})


# Said around a skip word ("em ko ro a", "toi khong biet nha"): a pronoun before it, a
# particle after it.
_SKIP_OPENERS = frozenset({"em", "e", "toi", "minh", "chi", "anh", "c", "a"})
_SKIP_CLOSERS = frozenset({"a", "ah", "ak", "nha", "nhe", "oi", "roi"})  # folded


def _skips(text: str) -> bool:
    """Whether ``text`` is only a skip word ("bỏ qua", "không biết", "không rõ"), said
    with a pronoun before it or a particle after it ("em ko ro a")."""
    typed = [fold(word) for word in words(unicodedata.normalize("NFC", text).lower())]
    if len(typed) > 1 and typed[0] in _SKIP_OPENERS:
        typed = typed[1:]
    while len(typed) > 1 and typed[-1] in _SKIP_CLOSERS:
        typed = typed[:-1]
    return " ".join(typed) in _SKIP_WORDS or fold(text.strip()) in _SKIP_WORDS


def _yes_again_to_the_name(events: list[dict[str, Any]]) -> bool:
    """Whether the customer's last two messages were both a yes typed at the name question."""
    asked: str | None = None
    answers: list[tuple[str, str | None]] = []  # (text, question it answered)
    for event in events:
        kind = event.get("event")
        if kind == "slot" and event.get("name") == "requested_slot":
            asked = event.get("value")
        elif kind == "user":
            answers.append((str(event.get("text") or ""), asked))
    return len(answers) >= 2 and all(
        question == "contact_name" and _affirms(text) for text, question in answers[-2:]
    )


# Said after a yes: particles, and the one addressed ("đúng rồi em", "vâng ạ chị"), folded.
_YES_CLOSERS = _SKIP_CLOSERS | {"em", "e", "chi", "c", "anh", "ad", "shop", "ban"}


def _affirms(text: str) -> bool:
    """Whether ``text`` is only a yes ("Đúng rồi!", "ok em", "vâng", "đúng rồi em ạ"),
    emoji and punctuation aside."""
    typed = words(unicodedata.normalize("NFC", text).lower())
    while typed:
        if " ".join(fold(word) for word in typed) in _YES_FOLDED or " ".join(typed) in (
            _YES_AS_TYPED
        ):
            return True
        if len(typed) < 2 or fold(typed[-1]) not in _YES_CLOSERS:
            return False
        typed = typed[:-1]
    return False


def _within(text: str, pending: str) -> bool:
    """Whether the words of ``text`` run, in order, inside ``pending`` (diacritics, case and
    punctuation aside): "ha noi" in "…, Cầu Giấy, Hà Nội", not "a" in "Hà Nội"."""
    typed = words(fold(text))
    around = words(fold(pending))
    size = len(typed)
    return size > 0 and any(
        around[start : start + size] == typed for start in range(len(around) - size + 1)
    )


async def _another_address(text: str, resolution: Resolution, asked: list[dict[str, Any]]) -> bool:
    """Whether ``text`` (typed at a question between candidates, read as ``resolution``) is
    an address on its own in a province none of the candidates lies in: a place below the
    province read without guessing, not a province alone ("Hà Nội" adds to the address),
    in a text that names its province or a unit with its type word. A name that is also a
    place somewhere ("Nguyen Thi Hoa": Xã Thị Hoa of Cao Bằng) is no address: it replaced
    the one in Hà Nội the customer was choosing a ward of."""
    return (
        resolution.decided
        and resolution.province_code is not None
        and resolution.province_code not in {choice.get("province_code") for choice in asked}
        and (
            resolution.ward_code is not None
            or resolution.old_district_code is not None
            or resolution.old_ward_code is not None
        )
        and (await names_a_unit(text) or await names_a_province(text))
    )


def _same_choices(choices: list[dict[str, Any]] | None, asked: list[dict[str, Any]]) -> bool:
    """Whether ``choices`` are the candidates of the question asked, in its order."""
    if not choices or not asked:
        return False
    return [_codes(c) for c in choices[:MAX_CHOICES]] == [_codes(c) for c in asked]


def _codes(choice: dict[str, Any]) -> tuple[Any, Any]:
    return choice.get("province_code"), choice.get("ward_code")


async def _names_the_place(text: str, tracker: Tracker) -> bool:
    """Whether ``text`` is, in a word or two, the place of the address already given: its
    province ("tphcm", "ha noi" typed after it) or its ward ("ben thanh"), read without
    guessing; or a city's short form, whichever ("tphcm" after an address in Huế). A full
    name that reads so ("Nguyễn Hải Dương") is longer; a name that reads as a ward
    elsewhere in the province ("Quang Trung") or as another province ("Long An") is kept."""
    units = tracker.get_slot("address_units") or {}
    if len(fold(text).split()) > 2:
        return False
    found = await resolve_address(text)
    if not found.decided:
        return False
    compact = "".join(fold(text).split())
    if found.status == "province_only" and (compact.startswith("tp") or len(compact) <= 3):
        # A city's short form ("tphcm", "hcm", "hn") is no one's name, whatever the address.
        return found.ward_code is None and found.old_district_code is None
    return (
        found.province_code == units.get("province_code")
        and found.ward_code in {None, units.get("ward_code")}
        and found.old_district_code in {None, units.get("old_district_code")}
    )


# Words around a button's number typed instead of pressing it: "2", "số 2", "cái thứ 2",
# "chọn 3 ạ" (not a type word: "Phường 1" is a ward).
_NUMBER_WORDS = frozenset({"so", "cai", "thu", "chon", "lua", "em", "e", "toi", "minh", "la"})
_NUMBER_WORDS_AFTER = frozenset({"a", "nhe", "nha"})


def _choice_number(text: str) -> int | None:
    """The number of the button typed ("2", "số 2", "cái thứ 2 ạ"), or None."""
    typed = words(fold(text))
    digits = [index for index, word in enumerate(typed) if word.isdigit()]
    if len(digits) != 1:
        return None
    at = digits[0]
    if all(word in _NUMBER_WORDS for word in typed[:at]) and all(
        word in _NUMBER_WORDS_AFTER for word in typed[at + 1 :]
    ):
        return int(typed[at])
    return None


async def _with_ward_added(text: str, tracker: Tracker) -> str | None:
    """The address taken without a ward ("o Hue"), with the ward or the old district named
    at a later question ("phuong Phu Hoi", "quan cau giay" typed at the name question) when
    that names one in its province: the ward routes the request to its sales force, and a
    district that became several wards gets the question about them. None otherwise."""
    address = str(tracker.get_slot("address") or "")
    units = tracker.get_slot("address_units") or {}
    province = units.get("province_code")
    if not address or not province or units.get("ward_code"):
        return None
    found = await resolve_address(text, province)
    if not found.decided or (found.ward_code is None and found.old_district_code is None):
        return None
    return f"{address}, {text}"


# How sure a reading of an earlier message must be to serve as the address's area: as
# for a place typed beside a phone number without a type word (bot.address.message).
_PLACE_SAID_CONFIDENCE = 0.6


async def _place_said_before(tracker: Tracker) -> tuple[str, str] | None:
    """The area an earlier message of this request named ("mình ở Đà Lạt muốn đổi sim"):
    (province code, its old district or ward and province, as the list writes them), when
    one reads as a place without guessing. Looked for back to the start of the session or
    the last request sent; the latest message (the answer itself) aside."""
    texts: list[str] = []
    latest = True
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "session_started" or (
            kind == "action" and event.get("name") == "action_submit_request"
        ):
            break
        if kind == "user":
            if not latest and not str(event.get("text") or "").startswith("/"):
                texts.append(str(event.get("text") or ""))
            latest = False
    for text in texts:  # the latest first
        found = await resolve_address(text)
        if (
            found.decided
            and not found.guessed
            and found.confidence >= _PLACE_SAID_CONFIDENCE
            and found.province_code
        ):
            below = found.ward_name or found.old_district_name
            names = [name for name in (below, found.province_name) if name]
            return found.province_code, ", ".join(names)
    return None


def _clear_address_question() -> dict[str, Any]:
    slots: dict[str, Any] = {
        "address_status": None,
        "address_district": None,
        "address_pending": None,
        "address_choices": None,
        "address_choice_count": None,
        "address_choice_scope": None,
    }
    slots.update({f"address_choice_{i}": None for i in range(1, MAX_CHOICES + 1)})
    return slots


# An answer to "which ward?" that reads as no place but is part of an address: a number
# or a street or hamlet word (folded) is added to it; other words ("Lan") are not.
_STREETISH = re.compile(
    r"\d|(?<!\w)(?:duong|pho|ngo|ngach|hem|kiet|thon|xom|ap|to|khu|so|toa|chung cu)(?!\w)"
)
# Address questions a "Không rõ" button answers (payload /skip): between the wards of one
# province, or which ward of an old district (typed).
_QUESTIONS_WITH_NO_CHOICE = frozenset({"ambiguous", "ward_missing"})


# How sure the NLU's answer selector must be of the question asked beside a request or
# data (it also ranks the questions of messages that ask none: the gate is
# ``bot.questions.asks``).
_SURE_OF_QUESTION = 0.5


def question_beside(tracker: Tracker, domain: DomainDict) -> str | None:
    """The FAQ answer (``utter_faq/…``) to a question a request or data message also asks
    ("đổi sim 4g có giữ số cũ không? nhà tôi ở …", "doi sim bao lau thi xong, e o quan 3
    tphcm"): the NLU gives the message one intent, so the question went unanswered. Only
    on the form's first run after the message (not again when it runs after another
    action), and not the offer's explanation to a customer who asks for it."""
    intent = latest_intent(tracker)
    if intent not in _GIVES_DATA and intent != "faq":
        return None
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        if event.get("event") == "bot":
            return None  # answered already, or the bot said something else this turn
    # A question with the answer asked ("0905123456, có mất phí không" at the phone
    # question) is the NLU's faq, taken by the form before any rule answers it.
    if intent != "faq" and not asks(str(tracker.latest_message.get("text") or "")):
        return None
    selected = tracker.latest_message.get("response_selector") or {}
    best = next((value for key, value in selected.items() if key != "all_retrieval_intents"), None)
    response = (best or {}).get("response") or {}
    key = str(response.get("intent_response_key") or "")
    if not key or float(response.get("confidence") or 0.0) < _SURE_OF_QUESTION:
        return None
    if key == "faq/what_is_offer" and intent in _REQUESTS:
        return None
    name = f"utter_{key}"
    return name if name in (domain.get("responses") or {}) else None


def _asked_again(tracker: Tracker, slots: dict[str, Any]) -> bool:
    """Whether the answer leaves the pending question between candidates as it was."""
    if tracker.get_slot("address_status") != "ambiguous" or slots.get("address") is not None:
        return False
    if "address_status" not in slots:
        return True
    return (
        slots["address_status"] == "ambiguous"
        and slots.get("address_pending") == tracker.get_slot("address_pending")
        and _same_choices(slots.get("address_choices"), tracker.get_slot("address_choices") or [])
    )


def _previous_offered(tracker: Tracker) -> bool:
    """Whether the address question shows the last request's address to take again (the
    ``address_offer`` variations of ``utter_ask_address``): a home for any service, an area
    (an advice request's) only for advice."""
    if (
        tracker.get_slot("requested_slot") != "address"
        or tracker.get_slot("address_status")
        or not tracker.get_slot("previous_address")
    ):
        return False
    offer = tracker.get_slot("address_offer")
    return offer == "home" or (offer == "area" and tracker.get_slot("request_type") == "advice")


def _previous_address(tracker: Tracker) -> dict[str, Any]:
    """The last request's address, taken again as it was settled (the ward chosen then
    stands: see the first branch of ``validate_address``)."""
    return {
        **_clear_address_question(),
        "address": tracker.get_slot("previous_address"),
        "address_label": tracker.get_slot("previous_address_label"),
        "address_units": tracker.get_slot("previous_address_units"),
    }


def _accept(typed: str, resolution: Resolution) -> dict[str, Any]:
    return {
        **_clear_address_question(),
        "address": typed,
        "address_label": resolution.label,
        "address_units": resolution.to_dict(),
    }


def _ask_choice(typed: str, resolution: Resolution) -> dict[str, Any]:
    candidates = resolution.candidates[:MAX_CHOICES]
    choices = [asdict(c) for c in candidates]
    slots: dict[str, Any] = {
        **_clear_address_question(),
        "address": None,
        "address_status": "ambiguous",
        "address_pending": typed,
        "address_choices": choices,
        "address_choice_count": str(len(candidates)),
        # Wards of one province: the question says the names are new and offers "Không
        # rõ" (the province taken, see validate_address); between areas, no such button.
        "address_choice_scope": "ward" if _province_of(choices) else None,
    }
    labels = choice_labels(candidates)
    slots.update({f"address_choice_{i}": label for i, label in enumerate(labels, start=1)})
    return slots


def _settle(
    typed: str, resolution: Resolution, tracker: Tracker, ward_typed: bool = False
) -> dict[str, Any] | None:
    """A province known: the ward asked when the text names several there (an old ward
    split between new ones, "Phường 1" in Đồng Tháp), or names an old district that became
    a few wards ("Quận 3, TP HCM"): ``bot.address.ward_question``, as the 9090 intake
    asks; asked to be typed when the district became more wards than buttons can show
    ("Đống Đa, Hà Nội": seven; ``bot.address.ward_to_type``), unless that was the question
    just answered (``ward_typed``); else the answer kept; None when no province is known.
    Not for advice: the area's team calls, nobody visits, and "which ward?" only delays
    the call."""
    advice = tracker.get_slot("request_type") == "advice"
    wards = ward_question(resolution, MAX_CHOICES)
    if wards and not advice:
        return _ask_choice(typed, replace(resolution, candidates=wards))
    district = None if advice or ward_typed else ward_to_type(resolution, MAX_CHOICES)
    if district is not None:
        # The province is kept as the question's one choice: the text alone may not name
        # it ("Tân Phú", its province chosen with a button).
        area = Candidate(
            province_code=resolution.province_code or "",
            province_name=resolution.province_name or "",
            ward_code=None,
            ward_name=None,
            old_province_name=resolution.old_province_name,
            old_district_name=resolution.old_district_name,
            score=resolution.confidence,
        )
        return {
            **_clear_address_question(),
            "address": None,
            "address_status": "ward_missing",
            "address_pending": typed,
            "address_district": district,
            "address_choices": [asdict(area)],
        }
    if resolution.status in {"resolved", "province_only"}:
        return _accept(typed, resolution)
    return None


def _ask_more(typed: str) -> dict[str, Any]:
    return {
        **_clear_address_question(),
        "address": None,
        "address_status": "not_found",
        "address_pending": typed,
    }


def one_province(tracker: Tracker) -> str | None:
    """The province of a question between wards of one province (two buttons or more, all
    there); None for a question between provinces or a one-button guess ("is it this
    one?", to which "không" says no)."""
    return _province_of(tracker.get_slot("address_choices") or [])


def _province_of(choices: list[dict[str, Any]]) -> str | None:
    """The one province of two choices or more, None when they are not all in one."""
    codes = {choice.get("province_code") for choice in choices}
    if len(choices) < 2 or len(codes) != 1:
        return None
    (code,) = codes
    return str(code) if code else None


def _not_taken(domain: DomainDict, slot: str) -> set[str]:
    """The intents the slot's ``from_text`` mapping excludes, as CSKH set them in the
    domain."""
    mappings = (domain.get("slots", {}).get(slot) or {}).get("mappings") or []
    return {intent for mapping in mappings for intent in mapping.get("not_intent") or []}


def _without_request_words(tracker: Tracker) -> str:
    """The latest message with the request words the NLU found in it (entity
    ``request_kind``) replaced by a comma, and without the clauses that ask something
    (answered by ``question_beside``), so that an address read from the message does not
    carry them ("0903123456 doi sim P.5 Q.3 tphcm": "P.5 Q.3 tphcm"; "12 le loi q1 hcm, bao
    lau thi co sim": "12 le loi q1 hcm")."""
    text = str(tracker.latest_message.get("text") or "")
    spans = sorted(
        (entity["start"], entity["end"])
        for entity in tracker.latest_message.get("entities") or []
        if entity.get("entity") == "request_kind"
        and isinstance(entity.get("start"), int)
        and isinstance(entity.get("end"), int)
    )
    for start, end in reversed(spans):
        text = f"{text[:start]},{text[end:]}"
    return without_questions(text.strip())


# Below this, a request intent on a word or two typed at the name question is a name the
# NLU took for a request word ("Tư", "Tú": "tư vấn", at 0.41).
_SURE_OF_REQUEST = 0.6


def _name_read_as_a_request(tracker: Tracker) -> str | None:
    """The name typed at the name question when the NLU read it, unsure, as a request
    (one to three words of letters, no request word found in them); None otherwise."""
    if tracker.get_slot("requested_slot") != "contact_name":
        return None
    parsed = tracker.latest_message.get("intent") or {}
    if parsed.get("name") not in _REQUESTS or float(parsed.get("confidence") or 0.0) >= (
        _SURE_OF_REQUEST
    ):
        return None
    entities = tracker.latest_message.get("entities") or []
    if any(entity.get("entity") == "request_kind" for entity in entities):
        return None
    typed = str(tracker.latest_message.get("text") or "").split()
    return " ".join(typed) if 1 <= len(typed) <= 3 and all(w.isalpha() for w in typed) else None


def _slot_before_this_turn(tracker: Tracker, name: str) -> Any:
    """The value ``name`` had before the customer's latest message (the intent's mapping
    may have set it since)."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_user = True
        elif seen_user and event.get("event") == "slot" and event.get("name") == name:
            return event.get("value")
    return None


def _adds_a_request(tracker: Tracker) -> bool:
    """Whether another number is asked for ("thêm 1 số nữa", "đổi thêm sim khác nữa")
    while a request with its number is being collected (the address or the name asked, or
    the request read back: the form, started again by the intent, finds it complete and
    reads it back again): the intent's mapping switched the service and dropped the
    number, and the request in progress was lost without a word. A number typed with it
    is left to the phone's mapping."""
    asked = tracker.get_slot("requested_slot")
    if asked in ("phone_number", "request_type") or (asked is None and not _at_read_back(tracker)):
        return False
    if not tracker.get_slot("phone_number") or _typed_a_phone(tracker):
        return False
    text = fold(str(tracker.latest_message.get("text") or ""))
    return (
        latest_intent(tracker) in _REQUESTS
        and bool(_ANOTHER_NUMBER.search(text))
        and bool(_MORE.search(text))
    )


def _at_read_back(tracker: Tracker) -> bool:
    """Whether the bot's last action before the latest message read the request back."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            seen_user = True
        elif seen_user and event.get("event") == "action" and event.get("name") != "action_listen":
            return bool(event.get("name") == "utter_confirm_request")
    return False


def _means_this_number(tracker: Tracker) -> bool:
    """Whether the answer to the phone question is "this number" ("số này luôn", "số đang
    nhắn tin này nè") with no number in it."""
    if tracker.get_slot("requested_slot") != "phone_number":
        return False
    text = str(tracker.latest_message.get("text") or "")
    return not any(ch.isdigit() for ch in text) and bool(_THIS_NUMBER.search(fold(text)))


# Intents of a message that may say what a customer asking for advice needs (with a word
# of what a line is used for or costs, bot.needs): asking for advice ("gói nào rẻ nhất"),
# small talk ("em dùng nhiều data lắm, hay xem youtube") or an answer ("0905333444, em
# dùng nhiều data").
# Or not understood: beside `visit_time`, "em dung nhieu data lam, hay xem youtube" falls
# under the threshold (it was small talk).
_MAY_SAY_A_NEED = frozenset({"request_advice", "out_of_scope", "inform", "nlu_fallback"})


def _need_said(tracker: Tracker, events: list[dict[str, Any]]) -> str | None:
    """What the customer says they need, in a message of an advice request
    (``_MAY_SAY_A_NEED``: "em dùng nhiều data" at the phone question; "gói data nào rẻ
    nhất" as the first message): the advisor's first question, which was lost (the form
    asked its question again, or the fallback answered). Not a button, not a name read as
    a request ("Tư"), not the same service asked again for a number whose request was just
    sent (``same_request``), not an address."""
    intent = latest_intent(tracker)
    if intent not in _MAY_SAY_A_NEED or _name_read_as_a_request(tracker):
        return None
    set_now = {e.get("name"): e.get("value") for e in events if e.get("event") == "slot"}
    if set_now.get("address"):
        return None  # an address, with whatever else it says, is the address
    service = set_now.get("request_type", tracker.get_slot("request_type"))
    repeat = set_now.get("same_request", tracker.get_slot("same_request"))
    text = str(tracker.latest_message.get("text") or "")
    if service != "advice" or repeat or text.startswith("/"):
        return None
    return need_in_message(text)


# Intents of a message that may say when the customer can be visited or called: small
# talk ("tôi bận cả ngày, tối mới ở nhà"), not understood ("thứ 7 có đến không"), an
# answer, or a question of the FAQ ("chiều mai nhân viên đến được không").
_MAY_SAY_A_TIME = frozenset({"out_of_scope", "nlu_fallback", "inform", "faq"})


def visit_time_said(tracker: Tracker) -> str | None:
    """The latest message's words when it says when the customer can be visited or
    called: the NLU's ``visit_time`` (its words, phone numbers aside), or a message of
    another intent that ``bot.visits`` reads as one; None otherwise."""
    text = str(tracker.latest_message.get("text") or "")
    if text.startswith("/"):
        return None
    intent = latest_intent(tracker)
    if intent == "visit_time":
        return visit_time_in_message(text) or said_without_numbers(text)
    return visit_time_in_message(text) if intent in _MAY_SAY_A_TIME else None


def _visit_time_said(tracker: Tracker, events: list[dict[str, Any]]) -> str | None:
    """When the customer says they can be visited or called (``bot.visits``), in a message
    of a request being collected: it was taken for the name at the name question, or
    answered "em chưa hiểu". Not from an address, a button or a need for advice."""
    set_now = {e.get("name"): e.get("value") for e in events if e.get("event") == "slot"}
    if set_now.get("address") or set_now.get("need_given"):
        return None
    return visit_time_said(tracker)


def _name_before_a_question(text: str) -> str | None:
    """The words before a question ("Lan, bao lâu…", "Nguyễn Thị Lan. Có mất phí không"),
    when typed as a name: one to five words, each with a capital ("Cho em hỏi, …" is no
    name), and not a call ("Alo, …", "Em ơi, …"); None otherwise."""
    head = without_questions(text.strip())
    if head == text.strip():
        return None
    typed = head.split()
    while len(typed) > 1 and fold(typed[-1]) in _CLOSERS:
        typed = typed[:-1]  # "Lan nhé, …"
    if not 1 <= len(typed) <= 5 or not all(w[:1].isupper() and w.isalpha() for w in typed):
        return None
    folded = fold(" ".join(typed))
    if folded in _CALLS or folded.endswith(" oi") or _affirms(" ".join(typed)):
        return None
    return " ".join(typed)


def _no_place(found: Resolution) -> bool:
    """Whether nothing of the text reads as a place as typed: nothing found, or at most
    typo guesses ("không biết" is one letter from Krông; "Hùng", a name, from Hưng)."""
    return found.status == "not_found" or found.guessed


def _typed_a_phone(tracker: Tracker) -> bool:
    """Whether the NLU found a phone number in the latest message."""
    entities = tracker.latest_message.get("entities") or []
    return any(entity.get("entity") == "phone_number" for entity in entities)


def latest_intent(tracker: Tracker) -> str | None:
    """The intent the NLU gave the latest message, as it classified it (not the SDK's
    ``get_intent_of_latest_message``, which reads the ranking and skips a fallback)."""
    name = (tracker.latest_message.get("intent") or {}).get("name")
    return str(name) if name else None


class ValidateRequestForm(FormValidationAction):
    """Checks each answer with the domain core before the form moves on."""

    def name(self) -> str:
        return "validate_request_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        """Validate, then stamp the campaign funnel (conversation started, address given).

        The funnel write never fails the turn (``bot.campaign.hooks`` logs and goes on).
        A question asked beside the request or the data is answered first.
        """
        if (
            tracker.get_slot("same_request")
            and tracker.get_slot("requested_slot") == "phone_number"
            and latest_intent(tracker) in _NOTHING_MORE
            and not _typed_a_phone(tracker)
        ):
            # "ok" / "không" when told the request for this number was sent (the phone's
            # text mapping takes any words, so the form would ask for a number again): the
            # form steps aside, as Rasa's own form does when nothing was extracted, and the
            # rule for it ends the form with the request kept. The words taken are dropped.
            return [SlotSet("phone_number", None), ActionExecutionRejected(self.form_name())]
        if _adds_a_request(tracker):
            # This request first (its service put back), the next number after it: the
            # question asked is asked again, and the result asks what the next one needs.
            dispatcher.utter_message(
                response="utter_next_request_after_this",
                phone_number=tracker.get_slot("phone_number"),
            )
            return [
                SlotSet("request_type", _slot_before_this_turn(tracker, "request_type")),
                SlotSet("more_requested", "yes"),
            ]
        if _means_this_number(tracker):
            # Read as a correction or a question ("giữ số không?" answered), the question
            # came back as it was: it now says the chat does not show the number.
            return [SlotSet("phone_number", None), SlotSet("phone_error", "this_number")]
        question = question_beside(tracker, domain)
        if question:
            dispatcher.utter_message(response=question)
        before = {name: tracker.get_slot(name) for name in _SET_BESIDE}
        asked = tracker.get_slot("requested_slot")
        address_before = tracker.get_slot("address")
        events = await super().run(dispatcher, tracker, domain)
        for name, value in before.items():
            # The SDK returns only the slots the form asks; these are set beside them.
            if tracker.get_slot(name) != value:
                events.append(SlotSet(name, tracker.get_slot(name)))
        if (
            asked == "phone_number"
            and tracker.get_slot("phone_error")
            and latest_intent(tracker) in _REQUESTS
            and not _typed_a_phone(tracker)
        ):
            # Another service asked at the phone question after a wrong answer ("ok", then
            # "tu van goi cuoc"): the question is asked anew for it, not "em chưa thấy số
            # điện thoại trong tin nhắn" of the answer before.
            events.append(SlotSet("phone_error", None))
        number = tracker.get_slot("phone_number")  # as validated this turn
        if (
            latest_intent(tracker) == "correct_phone"
            and asked not in (None, "phone_number")
            and number
            and _typed_a_phone(tracker)
        ):
            # "sai số rồi, số đúng là 0903…" at another question: the form takes the
            # number (the correction rule never runs) and asked on without a word.
            dispatcher.utter_message(response="utter_phone_corrected", phone_number=number)
        address = tracker.get_slot("address")
        if (
            asked not in (None, "address")
            and address
            and any(e.get("event") == "slot" and e.get("name") == "address" for e in events)
            and (latest_intent(tracker) == "correct_address" or address_before)
        ):
            # The same for "sai địa chỉ, địa chỉ đúng là …" (settled: an address that
            # needs a question is asked at once instead), also without the cue ("à địa
            # chỉ đúng là …"); and for the ward added at the name question to an address
            # taken without one ("vẫn ở Huế", then "thôn 3 xã Phú Mậu"), which the new
            # address then starts with: the name was asked again without a word.
            label = tracker.get_slot("address_label")
            if latest_intent(tracker) == "correct_address" or not str(address).startswith(
                str(address_before)
            ):
                dispatcher.utter_message(
                    response="utter_address_corrected", address=address, address_label=label
                )
            else:
                dispatcher.utter_message(
                    response="utter_address_completed", address=address, address_label=label
                )
        need = _need_said(tracker, events)
        if need is not None:
            noted = with_need(tracker.get_slot("advice_need"), need)
            # The words just said (the read-back shows all of them).
            dispatcher.utter_message(response="utter_advice_need_noted", advice_need=need)
            events += [SlotSet("advice_need", noted), SlotSet("need_given", "yes")]
            if asked == "phone_number" and not _typed_a_phone(tracker):
                # The need was the answer, not a wrong number: the question asked plainly.
                events.append(SlotSet("phone_error", None))
            if asked == "contact_name":
                # Nor is it a name (the name's text mapping took it).
                events += [SlotSet("contact_name", None), SlotSet("name_given", None)]
        visit = _visit_time_said(tracker, events)
        if visit is not None:
            dispatcher.utter_message(response="utter_visit_time_noted", visit_time_said=visit)
            events += [
                SlotSet("visit_time", with_visit_time(tracker.get_slot("visit_time"), visit)),
                SlotSet("visit_time_said", visit),
                SlotSet("visit_status", "noted"),
                SlotSet("visit_given", "yes"),  # the read-back shows it
            ]
            if asked == "contact_name":
                # No name either (the name's text mapping took it).
                events += [SlotSet("contact_name", None), SlotSet("name_given", None)]
            if asked == "phone_number" and not _typed_a_phone(tracker):
                events.append(SlotSet("phone_error", None))
        campaign = tracker.get_slot("campaign")
        if campaign:
            given = any(
                e.get("event") == "slot" and e.get("name") == "address" and e.get("value")
                for e in events
            )
            await asyncio.to_thread(
                hooks.form_turn,
                campaign,
                tracker.get_slot("phone_number"),  # as validated this turn
                tracker.events,
                address_given=given,
            )
        return events

    async def extract_request_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A yes ("ok"), or the phone number, in answer to an offer of one service (the
        answer to "what is this offer?" ends "Quý khách muốn đổi ngay không ạ?" with a
        SIM-swap button): that service, not the question which one (asked right after).
        A yes that says "đổi" ("ok đổi đi em", read as affirm) is the SIM swap, offered or
        not, unless it names another service ("ok đổi gói")."""
        intent = latest_intent(tracker)
        if _name_read_as_a_request(tracker):
            # "Tư" at the name question (read as advice, unsure): a name; the service the
            # intent's mapping changed it to is put back.
            return {"request_type": _slot_before_this_turn(tracker, "request_type")}
        if (
            intent == "request_new_subscription"
            and tracker.get_slot("submitted_type") == "sim_swap"
            and _typed_a_phone(tracker)
            and not _NEW_LINE_WORD.search(fold(str(tracker.latest_message.get("text") or "")))
        ):
            # "thêm 1 số nữa 0903…" right after a SIM swap was sent reads as a new line, yet
            # a new line has no number to give: it is that number's SIM swap.
            return {"request_type": "sim_swap"}
        if (
            intent == "request_new_subscription"
            and tracker.get_slot("submitted_type")
            and not _typed_a_phone(tracker)
        ):
            text = fold(str(tracker.latest_message.get("text") or ""))
            if _ANOTHER_NUMBER.search(text) and not _NEW_LINE_WORD.search(text):
                # "thêm 1 số nữa" after a request was sent: another number's SIM swap as
                # much as a new line (the intent's reading); which one is asked.
                return {"request_type": None}
        if tracker.get_slot("request_type") or intent not in _ACCEPTS_OFFER:
            return {}
        service = offered_service(tracker.events)
        if service is None and intent == "affirm":
            typed = str(tracker.latest_message.get("text") or "")
            text = fold(typed)
            if (
                _SWAP_WORD.search(text)
                and not _OTHER_SERVICE_WORD.search(text)
                and "đợi" not in typed.lower()
            ):
                service = "sim_swap"
        return {"request_type": service} if service else {}

    async def extract_phone_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A new request for another number ("đổi sim cho số khác nữa", after one was sent:
        the phone stays known for the next request) asks the phone again, unless the
        message gives the new one. So does the service just sent for that number asked
        again ("gói nào rẻ nhất" right after an advice request: it led to the address,
        name and read-back, to be told the request existed): the question says it was
        sent (``same_request``) and takes another number. Not a new subscription: a
        family takes several with one contact number."""
        intent = latest_intent(tracker)
        known = tracker.get_slot("phone_number")
        if intent not in _REQUESTS or not known:
            return {}
        if _typed_a_phone(tracker):
            return {}
        text = fold(str(tracker.latest_message.get("text") or ""))
        if _ANOTHER_NUMBER.search(text):
            return {"phone_number": None}
        service = _SERVICE_OF_INTENT.get(str(intent))
        if (
            service in _REPEATABLE_ONCE
            and service == tracker.get_slot("submitted_type")
            and known == tracker.get_slot("submitted_phone")
        ):
            return {"phone_number": None, "same_request": "yes"}
        return {}

    async def validate_phone_number(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Keep the national form (what the customer reads back); re-ask on anything else.
        A number typed clears ``same_request`` (see extract_phone_number)."""
        if slot_value is None:
            return {"phone_number": None, "phone_error": None}  # asked again, no error
        checked = self._checked_phone(str(slot_value or ""), dispatcher, tracker)
        if checked["phone_number"] is not None and tracker.get_slot("same_request"):
            checked["same_request"] = None
        return checked

    def _checked_phone(
        self, text: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """The phone number typed, in national form, or the error to word the question."""
        found = phone.find(text)
        if found is None:
            try:
                found = phone.parse(text)
            except phone.InvalidPhoneError:
                # A number that is no mobile number, or no number at all ("e o can tho",
                # "khong nho so"): "the number you typed is wrong" only for the former.
                error = "invalid" if any(ch.isdigit() for ch in text) else "missing"
                return {"phone_number": None, "phone_error": error}
        typed = phone.find_all(str(tracker.latest_message.get("text") or ""))
        if len(typed) > 1 and found.national in {n.national for n in typed}:
            # The slot's entity mapping takes the last number typed: the first is meant
            # first ("cho 2 so 0912… va 0913…").
            found = typed[0]
        others = [n.national for n in typed if n.national != found.national]
        if others:
            # "doi sim cho 2 so 0912… va 0913…": one request is for one number. The first
            # is taken, and the customer told how to send the others (they were dropped
            # without a word).
            dispatcher.utter_message(
                response="utter_one_number_at_a_time",
                phone_number=found.national,
                phone_others=", ".join(others),
            )
        return {"phone_number": found.national, "phone_error": None}

    async def extract_address(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The address given before it is asked, after an address cue in a message that
        says more (``bot.address.address_in_message``); or the address asked, typed as an
        address but read by the NLU as something else ("Ấp Thới Thuận B, TT Thới Lai":
        stop; "Thôn Chợ, Xã Ia Rsươm": correct_address): 1.3 % of the data set's addresses
        fall into the intents the slot's mapping does not take. Such a message is still the
        answer when it names a unit with its type word, as chat messages seldom do
        (``bot.address.names_a_unit``); otherwise the intent is left to its rule (a real
        "dừng lại" still stops)."""
        intent = latest_intent(tracker)
        text = str(tracker.latest_message.get("text") or "").strip()
        asked = tracker.get_slot("requested_slot") == "address"
        status = tracker.get_slot("address_status")
        question = asked and status in _QUESTIONS_WITH_NO_CHOICE
        if not text or (text.startswith("/") and not (question and intent == "skip")):
            # A button's payload answers no address question, but "Không rõ" (/skip) at a
            # question between wards (see validate_address).
            return {}
        if not asked:
            # Given before it is asked, in a message that says more ("sdt 0903123456, dia
            # chi P.5 Q.3 tphcm"), or given again at a later question ("à địa chỉ đúng là
            # 14 Lê Văn Sỹ ..." asked for the name): the part after the address cue, when it
            # reads as one. While a question about the address is pending, only a place.
            if tracker.get_slot("address_pending"):
                # The address came early and is in doubt, the form asking the service
                # first: a place typed now answers that doubt ("Phường 1", then "Đồng
                # Tháp" at the question which service; it fell to "em chưa hiểu").
                if await names_a_unit(text) or await names_a_province(text):
                    return {"address": text}
                return {}
            text = _without_request_words(tracker)
            part = await address_in_message(text)
            if part is None and intent in _GIVES_DATA and not tracker.get_slot("address"):
                # Data typed before it is asked, without a cue: the phone and the address
                # ("0903123465 P.5 Q.3 tphcm"), with the request or not ("mua sim moi
                # 0903123459 o 12 Ly Thuong Kiet P. Hang Bai"), or the address alone at
                # another question.
                part = await address_beside_phone(text)
            if part is None and tracker.get_slot("address") and await names_a_unit(text):
                part = await _with_ward_added(text, tracker)
            if part is None or part == tracker.get_slot("address"):
                return {}
            return {"address": part}
        if _SAME_ADDRESS.search(fold(text)) and (
            _previous_offered(tracker) or not (status or tracker.get_slot("previous_address"))
        ):
            # "vẫn địa chỉ cũ" at the offer of the last request's address (the NLU reads it
            # as skip or correct_address): an answer (see validate_address); and so is
            # "như địa chỉ cũ" when no address was sent before, which the answer says.
            return {"address": text}
        if intent not in _not_taken(domain, "address"):
            return {}
        if question and (
            intent == "skip"
            or ((one_province(tracker) or status == "ward_missing") and _skips(text))
        ):
            # "bỏ qua" at a question between candidates is an answer to it (see
            # validate_address), not a step of the form to skip: the address is required;
            # so is "không rõ" between wards of one province (the NLU reads it as
            # ask_repeat: "say it again").
            return {"address": text}
        if await names_a_unit(text):
            return {"address": text}
        return {}

    async def validate_address(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Resolve to administrative units; a doubtful answer becomes a question. Asked
        the same question between candidates again (the answer chose none: "Lan", "👍"),
        the customer is told so first: the same buttons came back without a word."""
        typed = str(slot_value or "")
        if visit_time_said(tracker) and _no_place(await resolve_address(typed)):
            # "thứ 7 có đến không" (not understood) taken as the address: no place, a
            # time, which run() notes; the question is asked again, nothing kept of it.
            return {"address": None}
        slots = await self._address(slot_value, dispatcher, tracker)
        named_now = tracker.get_slot("contact_name") not in (
            None,
            _slot_before_this_turn(tracker, "contact_name"),
        )
        if (
            _asked_again(tracker, slots)
            and tracker.get_slot("requested_slot") == "address"
            and not named_now
        ):
            # Not when the answer gave the name ("tên chị là Hoa"): it chose nothing, nor
            # tried to; the name is taken and the question asked again.
            dispatcher.utter_message(response="utter_choice_not_understood")
        return slots

    async def _address(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        text = str(slot_value or "").strip()
        status = tracker.get_slot("address_status")
        pending = tracker.get_slot("address_pending") or ""
        intent = latest_intent(tracker)
        typed_now = str(tracker.latest_message.get("text") or "").strip()

        units = tracker.get_slot("address_units") or {}
        if (
            text
            and not status
            and text == tracker.get_slot("address")
            and units.get("text") == text
            and text != typed_now
        ):
            # The answer settled before, validated again as it was: the form, restarted by
            # the correction of another answer ("sửa số điện thoại"), validates what it
            # has. The ward the customer chose stands; reading the text again would ask it
            # again ("Quận 3": which of its three wards?).
            return {"address": text}

        if _previous_offered(tracker) and not await names_a_unit(typed_now):
            # Asked for the address of a second request, the first one's shown: a yes (the
            # button, "ok"), or "vẫn địa chỉ cũ", takes it again; a no asks the address
            # without it. Anything else is read as the new address.
            if intent == "affirm" or _SAME_ADDRESS.search(fold(typed_now)):
                return _previous_address(tracker)
            if intent == "deny" and _no_place(await resolve_address(typed_now)):
                return {"address": None, "address_offer": None}

        if status == "ward_missing" and pending:
            answered = await self._ward_typed(pending, text, typed_now, tracker, intent)
            if answered is not None:
                return answered
            pending, status = "", None  # an address of its own: read as one, below
        if status == "ambiguous" and pending:
            # A button press sends the chosen candidate's label back as text.
            chosen = await self._choose(pending, text, tracker, intent)
            if chosen is None and intent == "affirm":
                # "đúng rồi" to several buttons names none: the same question again, the
                # address typed kept.
                return {"address": None}
            if chosen is not None and chosen.ward_code is None and chosen.province_code:
                # A province chosen: the ward is looked for in it ("Phường 1", then Đồng
                # Tháp: its five Phường 1), and asked when the text names several there.
                # A ward or the old district read there is kept.
                settled = _settle(
                    pending, await resolve_address(pending, chosen.province_code), tracker
                )
                if settled is not None:
                    return settled
            if chosen is not None:
                return _accept(pending, chosen)
            province = one_province(tracker)
            if (
                province
                and (intent in _DONT_KNOW or _skips(text))
                # ...unless it names a ward, which the NLU may take for small talk ("P1").
                and _no_place(await resolve_address(text))
            ):
                # Only the ward was asked, the province known (chosen, or in the text), and
                # the customer does not know it ("không biết": the wards' names are new
                # since 2025): the province is taken; the team calls back for the rest.
                within = await resolve_address(pending, province)
                if within.status in {"resolved", "province_only"}:
                    return _accept(pending, within)
            if intent == "skip":
                # "bỏ qua" between provinces: the address cannot be skipped, and the text
                # typed is still the address; the same question again.
                return {"address": None}
        if text == typed_now and phone_only(text):
            # A phone number typed again (or a new one: the phone slot takes it) is no
            # address: it was asked about, then kept in the address the team reads. The
            # same question again, an address typed before kept.
            return {"address": None} if pending else {**_clear_address_question(), "address": None}
        if text == typed_now:
            # The answer as typed now, not a button's label: its address part, without the
            # request words the NLU found in it ("sai dia chi, doi sim cho 12 Le Loi …"),
            # the fillers it opens with ("nhà em ở …") or its closing particles ("… ạ"):
            # what the team reads and the read-back shows.
            text = await address_answer(_without_request_words(tracker))
        if status in {"ambiguous", "not_found"} and pending and _within(text, pending):
            # Part of the address typed again ("Hà Nội" at the question about its wards):
            # nothing new. Read alone it replaced the address (the street lost); the same
            # question again, the address kept.
            return {"address": None}
        resolution = await resolve_address(text)
        nothing = _no_place(resolution)  # "Hùng", "tôi không biết"
        if (
            nothing
            and not tracker.get_slot("previous_address")
            and _SAME_ADDRESS.search(fold(typed_now))
        ):
            # "như địa chỉ cũ" with no address sent before in this conversation: the
            # question says there is none, rather than coming back without a word.
            return {**_clear_address_question(), "address": None, "address_status": "no_previous"}
        asked = tracker.get_slot("address_choices") or []
        if status == "ambiguous" and await _another_address(text, resolution, asked):
            # A whole address elsewhere, typed at the question ("12 Nguyen Dinh Chieu, P. Le
            # Dai Hanh, Hai Ba Trung, Ha Noi" when asked among the wards of Quận 3, Hồ Chí
            # Minh City): the address given again, read alone rather than after the one it
            # replaces (the team read both, one after the other).
            pending = ""
        if status in {"ambiguous", "not_found"} and pending and fold(text) not in fold(pending):
            # The customer added the missing part ("Hà Nội"): resolve both together.
            combined = f"{pending}, {text}"
            # The province now known, the text may name several wards there: as when the
            # customer presses a province's button, the ward is asked among them.
            together = await resolve_address(combined)
            settled = _settle(combined, together, tracker)
            if status == "ambiguous" and (
                _same_choices((settled or {}).get("address_choices"), asked)
                or (
                    together.status == "ambiguous"
                    and _same_choices([asdict(c) for c in together.candidates], asked)
                )
            ):
                # The same question again: what was added changes nothing ("Hà Nội" when
                # asked among the wards of Quận 3, Hồ Chí Minh City). The address is kept as
                # typed, not with a word that contradicts it.
                return {"address": None}
            if settled is not None and (
                settled["address"] is not None or not (nothing and status == "ambiguous")
            ):
                return settled
            if (
                status == "ambiguous"
                and not nothing
                and together.status == "ambiguous"
                and together.candidates
            ):
                # Still in doubt, between other candidates: asked about all that was typed,
                # not about the addition alone ("Phường 1", then a name of several places).
                return _ask_choice(combined, together)
            if status == "not_found" and not (nothing and intent in _NOT_AN_ADDRESS):
                # More was asked for: what the customer adds is read with what they typed
                # before, never instead of it ("số 5 ngõ 12", then "Phường 1").
                if together.status == "ambiguous" and together.candidates:
                    return _ask_choice(combined, together)
                return _ask_more(combined)
        if intent in _NOT_AN_ADDRESS and nothing:
            # "tôi không biết" (out_of_scope), "em không nhớ" (deny): nothing read as typed,
            # at most typo guesses ("không" is one letter from Krông). The address is
            # asked again as it was: no buttons, and no "which area is 'toi ko biet' in?"
            # (the slot takes these intents, so the form runs: no off-topic reply first).
            return {**_clear_address_question(), "address": None}
        if status == "ambiguous" and pending and nothing:
            # Typed at a question between candidates, an answer that reads as no place
            # ("Hùng", the name given before it is asked): the address typed before is
            # kept, and the same question asked again.
            return {"address": None}
        if not status and resolution.status == "ambiguous" and not resolution.guessed:
            # "Phường 3" names wards in five provinces, but the customer said where they
            # live before the address was asked ("mình ở Đà Lạt muốn đổi sim"): read there.
            place = await _place_said_before(tracker)
            if place is not None:
                combined = f"{text}, {place[1]}"
                together = await resolve_address(combined)
                if together.province_code == place[0]:
                    settled = _settle(combined, together, tracker)
                    if settled is not None:
                        return settled
        if resolution.status == "ambiguous" and resolution.candidates:
            # The province is in doubt (one candidate: a misspelt name's guess, offered as
            # "did you mean").
            return _ask_choice(text, resolution)
        return _settle(text, resolution, tracker) or _ask_more(text)

    async def _ward_typed(
        self, pending: str, text: str, typed_now: str, tracker: Tracker, intent: str | None
    ) -> dict[str, Any] | None:
        """The answer to "which ward of Quận Đống Đa?" (typed, old name or new): read with
        the address before it, in its province. "Không rõ" (the button, typed, "không
        biết", "ok", a name typed ahead) takes the address as it was, the province routing
        it (the team asks the ward on its call-back); a ward found there is taken, or asked
        among a few with buttons; a place below the province or a street, a hamlet, a
        number is added to the address, which keeps the province. None when the answer is
        another address (it names another province): it is read alone."""
        choices = tracker.get_slot("address_choices") or [{}]
        province = str(choices[0].get("province_code") or "")
        if not province:
            return None

        async def as_it_was() -> dict[str, Any]:
            return _accept(pending, await resolve_address(pending, province))

        if intent == "skip" or _skips(text):
            return await as_it_was()
        if await names_a_province(typed_now):
            elsewhere = await resolve_address(text)
            if elsewhere.decided and elsewhere.province_code != province:
                return None
        found = await resolve_address(text, province)
        below = found.ward_code or found.old_district_code or found.old_ward_code
        if not (below or found.candidates) and not _STREETISH.search(fold(text)):
            # "không biết", "ok", "không", or a name typed ahead ("Lan"): no place, nothing
            # to add to the address.
            return await as_it_was()
        combined = f"{pending}, {text}"
        together = await resolve_address(combined, province)
        return _settle(combined, together, tracker, ward_typed=True) or await as_it_was()

    async def _choose(
        self, pending: str, text: str, tracker: Tracker, intent: str | None
    ) -> Resolution | None:
        """The candidate the customer picked (button label, its ward's or province's name
        typed, or its number, or "đúng rồi" to the one button of "is it this area?"), as
        confirmed."""
        choices = [Candidate(**c) for c in tracker.get_slot("address_choices") or []]
        number = _choice_number(text)
        if number is not None and 1 <= number <= len(choices):
            picked: Candidate | None = choices[number - 1]
        elif intent == "affirm" and len(choices) == 1:
            picked = choices[0]
        else:
            # The label shown (the button pressed), its candidate's own, or the name alone
            # when it names one button only ("Yên Hòa").
            shown = [
                fold(str(tracker.get_slot(f"address_choice_{i}") or ""))
                for i in range(1, len(choices) + 1)
            ]
            typed = fold(text).strip()
            named = [
                c
                for c, label in zip(choices, shown, strict=True)
                if label == typed or c.named_by(text)
            ]
            picked = named[0] if len(named) == 1 else None
        if picked is None:
            return None
        return Resolution(
            text=pending,
            status="resolved" if picked.ward_code else "province_only",
            confidence=1.0,  # the customer chose it
            province_code=picked.province_code,
            province_name=picked.province_name,
            ward_code=picked.ward_code,
            ward_name=picked.ward_name,
            old_province_name=picked.old_province_name,
            old_district_name=picked.old_district_name,
            old_ward_name=picked.old_ward_name,
        )

    async def extract_contact_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The name after a name cue ("…, ten chi la Thu"; "tên em là An" at the name
        question), given with the rest in one line or as the answer: the form then does
        not ask it, and the cue is not stored as part of the name."""
        text = str(tracker.latest_message.get("text") or "")
        asked = tracker.get_slot("requested_slot") == "contact_name"
        named = _name_read_as_a_request(tracker)
        if named is not None:
            return {"contact_name": named}
        if asked and latest_intent(tracker) == "faq":
            # "Lan, bao lâu thì nhân viên đến?" read as the question (the name's mapping
            # takes no faq: the name was lost and asked again): the name typed before it.
            # The form answers the question first (question_beside).
            name = _name_before_a_question(text)
            return {} if name is None else {"contact_name": name}
        if text.startswith("/") or latest_intent(tracker) in _NOT_A_NAME:
            return {}
        if not asked and tracker.get_slot("contact_name"):
            return {}
        name = name_in_message(text)
        return {} if name is None else {"contact_name": name}

    async def validate_contact_name(
        self,
        slot_value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """The name, and ``name_given`` ("yes", or empty when there is none), which picks
        the read-back that shows it (``utter_confirm_request``)."""
        typed = str(slot_value or "")
        # "Lan, bao lâu thì nhân viên đến?": the question is answered (question_beside) and
        # is no part of the name; a question alone is no name.
        named = without_questions(typed)
        if named == typed and asks(typed):
            slots: dict[str, Any] = {"contact_name": None}
        else:
            slots = await self._contact_name(named, tracker)
        name = slots["contact_name"]
        return {**slots, "name_given": "yes" if name not in (None, SKIP_VALUE) else None}

    async def _contact_name(self, slot_value: Any, tracker: Tracker) -> dict[str, Any]:
        """Optional: "bỏ qua", "không" or the Skip button store an explicit no-name. An
        address given again at the name question is no name (``extract_address`` takes
        it): the name is asked again once the address is settled."""
        text = " ".join(str(slot_value or "").split())
        if not text or _skips(text) or not any(ch.isalpha() for ch in text):
            # No name: skipped, "không biết", or no letter at all ("1", "?").
            return {"contact_name": SKIP_VALUE}
        if _affirms(text):
            # "đúng rồi", "ok": a yes, not a name; the question again (the name may follow).
            # A second yes to it says there is none to give: it asked forever.
            if _yes_again_to_the_name(tracker.events):
                return {"contact_name": SKIP_VALUE}
            return {"contact_name": None}
        if sum(ch.isalpha() for ch in text) < 2 or _choice_number(text) is not None:
            # One letter ("Q", "a": a slip), or a button's number typed late ("cái thứ 1"):
            # no name; the question again.
            return {"contact_name": None}
        if await names_a_unit(text) or await _names_the_place(text, tracker):
            # A place added after the address was taken ("tphcm", "Quận 5", "ben thanh"),
            # no name: a person's name has no type word of a unit in it.
            return {"contact_name": None}
        typed = str(tracker.latest_message.get("text") or "")
        if text == " ".join(typed.split()) and await address_in_message(typed):
            return {"contact_name": None}
        return {"contact_name": text[:100]}

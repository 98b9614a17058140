"""The actions' funnel hooks and the request's origin channel, on a real SQLite store.

A conversation that carries a campaign (the ``campaign`` slot, set by the Liveinfo Yes
and the invitation link) stamps "conversation started" and "address given" from the
form, "request confirmed" from the submit; the request records the channel that
brought the customer even when they finish on the web page.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from rasa_sdk import Tracker
from sqlalchemy import insert, select, text

from actions.form import ValidateRequestForm
from actions.request import ActionSubmitRequest
from bot import outreach
from bot.address import resolve
from bot.campaign import hooks
from bot.campaign.schema import campaign_targets
from bot.campaign.store import ensure_campaign
from bot.requests.db import create_store_engine, migrate

pytestmark = pytest.mark.usefixtures("store_env")

HCM = "12/3 Le Van Sy P13 Q3 tphcm"
ME = "+84901234567"
SENDER = outreach.sender_id_for("link-secret", ME)
YES = {
    "event": "user",
    "text": '/request_sim_swap{"phone_number": "0901234567", "campaign": "c1"}',
    "input_channel": "liveinfo",
    "metadata": hooks.origin_metadata("liveinfo", "c1", "liveinfo_yes"),
}


@pytest.fixture
def engine():
    url = os.environ["DATABASE_URL"]
    migrate(url)
    engine = create_store_engine(url)
    cid = ensure_campaign(engine, "c1")
    with engine.begin() as conn:
        conn.execute(
            insert(campaign_targets).values(
                campaign_id=cid, phone_e164=ME, imported_at=dt.datetime.now(dt.timezone.utc)
            )
        )
    yield engine
    engine.dispose()


def stamped(engine) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(campaign_targets)).first()._mapping)


def tracker(domain, slots: dict, events: list[dict], text_: str = "") -> Tracker:
    values = {name: None for name in domain["slots"]}
    values["requested_slot"] = None
    values.update(slots)
    return Tracker(
        SENDER,
        values,
        {"text": text_, "intent": {"name": "inform", "confidence": 1.0}, "entities": []},
        events,
        False,
        None,
        {"name": "request_form"},
        "action_listen",
    )


def address_turn(domain, campaign: str | None = "c1") -> Tracker:
    typed = {"event": "user", "text": HCM, "input_channel": "socketio", "metadata": {}}
    slots = {"campaign": campaign, "phone_number": "0901234567", "address": HCM}
    events = [YES, typed, {"event": "slot", "name": "address", "value": HCM}]
    return tracker(domain, {**slots, "requested_slot": "address"}, events, HCM)


async def test_the_liveinfo_yes_turn_itself_starts_no_conversation(engine, dispatcher, domain):
    yes_turn = tracker(
        domain,
        {"campaign": "c1", "phone_number": "0901234567", "request_type": "sim_swap"},
        [YES, {"event": "slot", "name": "phone_number", "value": "0901234567"}],
    )
    events = await ValidateRequestForm().run(dispatcher, yes_turn, domain)
    assert {"event": "slot", "name": "phone_number", "value": "0901234567"} in [
        {k: e[k] for k in ("event", "name", "value")} for e in events
    ]
    row = stamped(engine)
    assert row["conversation_at"] is None and row["address_at"] is None


async def test_the_customers_address_turn_stamps_conversation_and_address(
    engine, dispatcher, domain
):
    events = await ValidateRequestForm().run(dispatcher, address_turn(domain), domain)
    assert any(e["name"] == "address" and e["value"] == HCM for e in events)
    row = stamped(engine)
    assert row["conversation_at"] is not None and row["address_at"] is not None


async def test_an_unresolved_address_is_a_conversation_but_no_address(engine, dispatcher, domain):
    turn = address_turn(domain)
    turn.slots["address"] = "zzz"
    turn.events[-1]["value"] = "zzz"
    await ValidateRequestForm().run(dispatcher, turn, domain)
    row = stamped(engine)
    assert row["conversation_at"] is not None and row["address_at"] is None


async def test_a_conversation_without_campaign_touches_no_target(engine, dispatcher, domain):
    await ValidateRequestForm().run(dispatcher, address_turn(domain, campaign=None), domain)
    row = stamped(engine)
    assert row["conversation_at"] is None and row["address_at"] is None


async def test_a_broken_funnel_never_breaks_the_form(engine, dispatcher, domain):
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE campaign_targets RENAME TO campaign_targets_gone"))
    events = await ValidateRequestForm().run(dispatcher, address_turn(domain), domain)
    assert any(e["name"] == "address" and e["value"] == HCM for e in events)


async def test_a_request_finished_on_the_web_page_keeps_the_liveinfo_channel(
    engine, dispatcher, domain
):
    from bot.requests import get_service

    slots = {
        "campaign": "c1",
        "request_type": "sim_swap",
        "phone_number": "0901234567",
        "address": HCM,
        "address_units": resolve(HCM).to_dict(),
        "contact_name": "-",
    }
    events = [YES, {"event": "user", "text": "đúng", "input_channel": "socketio"}]
    result = await ActionSubmitRequest().run(dispatcher, tracker(domain, slots, events), domain)
    reference = next(e["value"] for e in result if e.get("name") == "request_reference")
    stored = get_service().get(reference)
    assert stored.channel == "liveinfo"  # not socketio: the channel that brought them
    assert stored.campaign == "c1"
    assert get_service().history(reference)[0].reason == (
        "submitted via liveinfo, last message on socketio"
    )
    row = stamped(engine)
    assert row["confirmed_at"] is not None and row["request_id"] is not None

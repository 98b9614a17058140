"""Funnel hooks in ``bot/``: each step stamped where it happens, never breaking the caller.

On SQLite and PostgreSQL: the request service (confirmed; accepted / done /
unreachable), Liveinfo answers, the form's turns, the conversation's origin, and
the invitation behind a link.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import insert, select, text

from bot import outreach
from bot.campaign import hooks, links
from bot.campaign.schema import campaign_targets
from bot.campaign.store import ensure_campaign
from bot.requests import RequestDraft, RequestService
from bot.requests.db import create_store_engine, migrate, session_factory
from bot.routing import load_directory
from tests_support.campaign import invite_by_sms

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
SECRET = "link-secret"
ME = "+84901234567"
HCM = {"province_code": "79", "province_name": "Thành phố Hồ Chí Minh"}


def target(engine, campaign: str = "c1", e164: str = ME, **values) -> None:
    cid = ensure_campaign(engine, campaign)
    with engine.begin() as conn:
        conn.execute(
            insert(campaign_targets).values(
                campaign_id=cid, phone_e164=e164, imported_at=T0, **values
            )
        )


def row(engine, e164: str = ME, campaign: str = "c1") -> dict:
    from bot.campaign.schema import campaigns

    with engine.connect() as conn:
        found = conn.execute(
            select(campaign_targets)
            .join(campaigns, campaigns.c.id == campaign_targets.c.campaign_id)
            .where(campaigns.c.name == campaign, campaign_targets.c.phone_e164 == e164)
        ).first()
    assert found is not None
    return dict(found._mapping)


def user(text_: str, channel: str, metadata: dict | None = None) -> dict:
    return {"event": "user", "text": text_, "input_channel": channel, "metadata": metadata or {}}


LIVEINFO_YES = user("/request_sim_swap", "liveinfo", hooks.origin_metadata("liveinfo", "c1", "x"))


# -- steps --------------------------------------------------------------------------


def test_a_step_is_stamped_once_for_a_target_and_ignored_otherwise(engine):
    target(engine)
    assert hooks.step("c1", "0901234567", "conversation_at", engine=engine, at=T0)
    later = T0 + dt.timedelta(hours=1)
    assert hooks.step("c1", "+84 90 123 4567", "conversation_at", engine=engine, at=later)
    assert row(engine)["conversation_at"].replace(tzinfo=UTC) == T0  # first time counts
    assert not hooks.step("c1", "0907654321", "conversation_at", engine=engine)  # no target
    assert not hooks.step("other", ME, "conversation_at", engine=engine)  # no campaign
    assert not hooks.step(None, ME, "conversation_at", engine=engine)
    assert not hooks.step("c1", "khong nho", "conversation_at", engine=engine)


def test_a_failed_funnel_write_is_logged_masked_and_swallowed(tmp_path, caplog):
    broken = create_store_engine(f"sqlite:///{tmp_path / 'never-migrated.db'}")
    with caplog.at_level(logging.WARNING, logger="bot.campaign.hooks"):
        assert hooks.step("c1", ME, "address_at", engine=broken) is False
        hooks.liveinfo_answers(broken, [("c1", ME, "YES", T0)])
        hooks.request_moved(broken, "c1", ME, "done", T0)
    assert len(caplog.records) == 3
    logged = caplog.text
    assert "901234567" not in logged and "849*****567" in logged
    broken.dispose()


def test_form_turns_count_the_customer_not_the_injected_start(engine):
    target(engine)
    hooks.form_turn("c1", "0901234567", [LIVEINFO_YES], address_given=False, engine=engine)
    assert row(engine)["conversation_at"] is None  # the Yes itself is not a conversation
    typed = [LIVEINFO_YES, user("12 Le Loi", "socketio")]
    hooks.form_turn("c1", "0901234567", typed, address_given=False, engine=engine)
    stamped = row(engine)
    assert stamped["conversation_at"] is not None and stamped["address_at"] is None
    hooks.form_turn("c1", "0901234567", typed, address_given=True, engine=engine)
    assert row(engine)["address_at"] is not None
    hooks.form_turn(None, "0901234567", typed, address_given=True, engine=engine)  # no-op


def test_liveinfo_answers_stamp_yes_and_no_with_the_channel(engine):
    target(engine, e164="+84901000001")
    target(engine, e164="+84901000002")
    target(engine, e164="+84901000003", channel="sms")
    hooks.liveinfo_answers(
        engine,
        [
            ("c1", "+84901000001", "YES", T0 + dt.timedelta(minutes=5)),
            ("c1", "+84901000001", "YES", T0),  # earlier answer, later in the batch
            ("c1", "+84901000002", "NO", T0),
            ("c1", "+84901000003", "YES", T0),
            ("unknown", "+84901000001", "NO", T0),
            ("c1", "+84909999999", "YES", T0),  # not a target
        ],
    )
    yes, no, sms = (row(engine, p) for p in ("+84901000001", "+84901000002", "+84901000003"))
    assert yes["answered_at"].replace(tzinfo=UTC) == T0 and yes["channel"] == "liveinfo"
    assert yes["refused_at"] is None
    assert no["refused_at"] is not None and no["answered_at"] is None
    assert sms["answered_at"] is not None and sms["channel"] == "sms"  # first channel kept


# -- the request service ---------------------------------------------------------------


def _draft(**over) -> RequestDraft:
    values = {
        "request_type": "sim_swap",
        "phone": "0901234567",
        "channel": "liveinfo",
        "last_channel": "socketio",
        "sender_id": outreach.sender_id_for(SECRET, ME),
        "address_text": "12 Lê Lợi",
        "units": HCM,
        "campaign": "c1",
    }
    values.update(over)
    return RequestDraft(**values)


def test_a_campaign_request_is_confirmed_then_accepted_and_done_on_its_target(engine):
    target(engine)
    service = RequestService(session_factory(engine), load_directory())
    outcome = service.submit(_draft())
    stamped = row(engine)
    assert stamped["confirmed_at"] is not None and stamped["request_id"] is not None
    history = service.history(outcome.reference)
    assert history[0].reason == "submitted via liveinfo, last message on socketio"
    assert service.get(outcome.reference).channel == "liveinfo"

    assert row(engine)["accepted_at"] is None
    service.transition(outcome.reference, "accepted", "team")
    service.transition(outcome.reference, "done", "team")
    stamped = row(engine)
    assert stamped["accepted_at"] is not None and stamped["done_at"] is not None
    assert stamped["unreachable_at"] is None


def test_unreachable_is_an_exit_and_requests_without_campaign_touch_nothing(engine):
    target(engine)
    target(engine, e164="+84907654321")
    service = RequestService(session_factory(engine), load_directory())
    first = service.submit(_draft())
    service.transition(first.reference, "assigned", "dispatch")
    service.transition(first.reference, "unreachable", "team")
    assert row(engine)["unreachable_at"] is not None
    plain = service.submit(_draft(phone="0907654321", campaign=None, last_channel=None))
    service.transition(plain.reference, "accepted", "team")
    untouched = row(engine, "+84907654321")
    assert untouched["confirmed_at"] is None and untouched["accepted_at"] is None
    assert service.history(plain.reference)[0].reason == "submitted via liveinfo"


def test_the_request_is_stored_even_when_the_funnel_cannot_be_written(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrate(url)
    engine = create_store_engine(url)
    target(engine)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE campaign_targets RENAME TO campaign_targets_gone"))
    service = RequestService(session_factory(engine), load_directory())
    outcome = service.submit(_draft())
    assert outcome.created
    service.transition(outcome.reference, "accepted", "team")
    assert service.get(outcome.reference).status == "accepted"
    engine.dispose()


# -- origin of a conversation ----------------------------------------------------------


def test_the_origin_is_the_injected_channel_else_the_first_input():
    events = [LIVEINFO_YES, user("12 Le Loi", "socketio"), {"event": "slot", "name": "x"}]
    assert hooks.origin_channel(events) == "liveinfo"
    assert hooks.latest_channel(events) == "socketio"
    assert not hooks.is_customer_turn([LIVEINFO_YES]) and hooks.is_customer_turn(events)
    plain = [user("chao", "facebook"), user("doi sim", "facebook")]
    assert hooks.origin_channel(plain) == "facebook"
    assert hooks.origin_channel([]) is None and not hooks.is_customer_turn([])
    sender = outreach.sender_id_for(SECRET, ME)
    assert hooks.request_channels(events, sender_id=sender, campaign="c1", phone="0901234567") == (
        "liveinfo",
        "socketio",
    )


def test_a_link_conversation_in_a_new_session_takes_the_invitation_channel(engine):
    target(engine, channel="sms")
    sender = outreach.sender_id_for(SECRET, ME)
    later_session = [{"event": "session_started"}, user("12 Le Loi", "socketio")]
    got = hooks.request_channels(
        later_session, sender_id=sender, campaign="c1", phone="0901234567", engine=engine
    )
    assert got == ("sms", "socketio")
    # Not a link conversation: the first input channel, no database read needed.
    assert hooks.request_channels(
        later_session, sender_id="abc", campaign="c1", phone="0901234567", engine=engine
    ) == ("socketio", "socketio")


# -- the invitation behind a link --------------------------------------------------------


def test_a_link_finds_its_invitation_and_a_web_form_its_campaign(engine):
    target(engine)
    target(engine, e164="+84907654321")
    invite_by_sms(engine, "c1", SECRET, T0, gateway_ref="g")
    sender = outreach.sender_id_for(SECRET, ME)
    found = links.find_invitation(engine, sender)
    assert found is not None
    assert (found.campaign, found.channel, found.e164, found.answered) == ("c1", "sms", ME, False)
    assert found.national == "0901234567"
    assert links.find_invitation(engine, outreach.sender_id_for(SECRET, "+84909999999")) is None
    assert links.find_invitation(engine, "0123456789abcdef0123456789abcdef") is None
    assert links.campaign_of_session(engine, SECRET, sender, ME) == ("c1", "sms")

    # A Liveinfo Yes conversation (its link came from the connector, no send row).
    yes_sender = outreach.sender_id_for(SECRET, "+84905555555")
    outreach.OutreachStore(engine).record(
        [outreach.Answer("r1", "+84905555555", "li-2026", "YES", T0)]
    )
    assert links.campaign_of_session(engine, SECRET, yes_sender, "+84905555555") == (
        "li-2026",
        "liveinfo",
    )
    # Someone else's number typed into that conversation's form: no campaign claimed.
    assert links.campaign_of_session(engine, SECRET, yes_sender, "+84906666666") is None


def test_an_unknown_step_is_refused_without_raising(engine):
    target(engine)
    assert hooks.step("c1", ME, "bogus_at", engine=engine) is False

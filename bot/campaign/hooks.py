"""Funnel hooks: the places where a step happens stamp it on the campaign target.

Called by the Liveinfo connector (Yes/No), the web page (link opened), the request
form (conversation started, address given), the request service (request confirmed;
accepted / done / unreachable). Only a conversation or request that carries a campaign
counts. A failed funnel write never breaks the conversation or the request: it is
logged with phone numbers masked and the caller continues (``funnel.sync`` repairs
from the stored answers and requests later).

Also the conversation's *origin*: the channel that brought the customer. A Liveinfo
Yes and an opened invitation link start the conversation with a message the bot
injects; its metadata carries ``{"origin": {"channel": ..., "campaign": ...}}``, so a
request finished on the web page still records the channel that brought the customer.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from bot import outreach
from bot import phone as phones

log = logging.getLogger(__name__)

ORIGIN = "origin"
"""Metadata key of a message the bot injects to start a campaign conversation."""

# Statuses of a request that are funnel steps, and their column.
REQUEST_STEPS: Mapping[str, str] = {
    "accepted": "accepted_at",
    "done": "done_at",
    "unreachable": "unreachable_at",
}

_PHONE_LIKE = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?!\d)")


def redact(value: object) -> str:
    """``str(value)`` with phone numbers masked (database errors quote their parameters)."""
    return _PHONE_LIKE.sub(lambda m: phones.mask(m.group()), str(value))


# -- origin of a conversation ---------------------------------------------------------


def origin_metadata(channel: str, campaign: str | None, via: str) -> dict[str, Any]:
    """Metadata of an injected first message: who brought the customer, and how."""
    return {ORIGIN: {"channel": channel, "campaign": campaign, "via": via}}


def _user_events(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in events if isinstance(e, Mapping) and e.get("event") == "user"]


def _origin_of(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    meta = event.get("metadata")
    origin = meta.get(ORIGIN) if isinstance(meta, Mapping) else None
    return origin if isinstance(origin, Mapping) and origin.get("channel") else None


def origin_channel(events: Sequence[Mapping[str, Any]]) -> str | None:
    """The channel that brought the customer: an injected origin, else the first input.

    ``events`` are the tracker's events as the action server receives them (dicts).
    """
    users = _user_events(events)
    for event in users:
        origin = _origin_of(event)
        if origin is not None:
            return str(origin["channel"])
    for event in users:
        if event.get("input_channel"):
            return str(event["input_channel"])
    return None


def latest_channel(events: Sequence[Mapping[str, Any]]) -> str | None:
    """The input channel of the latest user message (Rasa's own rule)."""
    for event in reversed(_user_events(events)):
        return str(event.get("input_channel") or "") or None
    return None


def request_channels(
    events: Sequence[Mapping[str, Any]],
    *,
    sender_id: str,
    campaign: str | None,
    phone: str | None,
    engine: Engine | None = None,
) -> tuple[str, str]:
    """(channel that brought the customer, channel of their last message) for a request.

    The first comes from the injected origin or the session's first message. A link
    conversation whose origin is no longer in the session (Rasa starts a new session
    after a day; the link lives longer) takes the channel that invited the subscriber,
    from the campaign target.
    """
    latest = latest_channel(events) or "rest"
    origin = origin_channel(events) or latest
    injected = any(_origin_of(e) is not None for e in _user_events(events))
    if not injected and campaign and phone and sender_id.startswith(outreach.SENDER_PREFIX):
        origin = invited_on(campaign, phone, engine=engine) or origin
    return origin, latest


def invited_on(campaign: str, phone: str, *, engine: Engine | None = None) -> str | None:
    """The channel that first reached this target of the campaign; None if unknown."""
    from sqlalchemy import select

    from bot.campaign.schema import campaign_targets as t
    from bot.campaign.schema import campaigns as c

    try:
        e164 = phones.parse(phone).e164
        stmt = (
            select(t.c.channel)
            .join(c, c.c.id == t.c.campaign_id)
            .where(c.c.name == campaign, t.c.phone_e164 == e164)
        )
        with (engine or default_engine()).connect() as conn:
            found = conn.scalar(stmt)
    except Exception as exc:
        log.warning("funnel: no invitation channel for %s: %s", phones.mask(phone), redact(exc))
        return None
    return str(found) if found else None


def is_customer_turn(events: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the latest user message was typed by the customer (not injected)."""
    users = _user_events(events)
    return bool(users) and _origin_of(users[-1]) is None


# -- safe writes ----------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def engine_for(url: str) -> Engine:
    from bot.requests.db import create_store_engine

    return create_store_engine(url)


def default_engine() -> Engine:
    """The request store's database of this process (``DATABASE_URL``), built once."""
    from bot.settings import Settings

    return engine_for(Settings.from_env().database_url)


def step(
    campaign: str | None,
    phone: str | None,
    column: str,
    *,
    engine: Engine | None = None,
    at: dt.datetime | None = None,
    channel: str | None = None,
    request_id: int | None = None,
) -> bool:
    """Stamp ``column`` for (campaign, phone) if it is a target; never raises.

    ``phone`` in any form ``bot.phone`` accepts. Returns whether a target was found.
    """
    if not campaign or not phone:
        return False
    try:
        e164 = phones.parse(phone).e164
    except phones.InvalidPhoneError:
        return False
    from bot.campaign.store import record_step

    try:
        found = record_step(
            engine or default_engine(),
            campaign,
            e164,
            column,
            at=at,
            channel=channel,
            request_id=request_id,
        )
    except Exception as exc:  # the funnel must never break the conversation
        log.warning(
            "funnel: %s not recorded for %s in %s: %s: %s",
            column,
            phones.mask(e164),
            campaign,
            type(exc).__name__,
            redact(exc)[:300],
        )
        return False
    return found


def form_turn(
    campaign: str | None,
    phone: str | None,
    events: Sequence[Mapping[str, Any]],
    *,
    address_given: bool,
    engine: Engine | None = None,
) -> None:
    """One turn of the request form: conversation started, address given.

    A turn the bot injected (the Liveinfo Yes, the opened link) is not the customer
    talking, so it starts nothing; the customer's own first message does.
    """
    if not campaign or not phone or not is_customer_turn(events):
        return
    step(campaign, phone, "conversation_at", engine=engine)
    if address_given:
        step(campaign, phone, "address_at", engine=engine)


_CAMPAIGN_TTL = 60.0
_campaigns: dict[tuple[int, str, str], tuple[bool, float]] = {}


def _imported(engine: Engine, names: set[str]) -> set[str]:
    """Which of these campaigns exist, cached per process (answers arrive by thousands a
    second; most batches belong to one campaign). An existing campaign stays known; a
    missing one is looked up again after a minute (``funnel.sync`` stamps what came
    before it was imported)."""
    from sqlalchemy import select

    from bot.campaign.schema import campaigns

    def key(name: str) -> tuple[int, str, str]:
        # The engine too: a test's fresh database is never answered from another's.
        return id(engine), str(engine.url), name

    clock = time.monotonic()
    stale = {n for n in names if _campaigns.get(key(n), (False, 0.0))[1] <= clock}
    if stale:
        with engine.connect() as conn:
            found = set(conn.scalars(select(campaigns.c.name).where(campaigns.c.name.in_(stale))))
        for name in stale:
            known = name in found
            _campaigns[key(name)] = (known, math.inf if known else clock + _CAMPAIGN_TTL)
    return {n for n in names if _campaigns[key(n)][0]}


def liveinfo_answers(engine: Engine, answers: Iterable[tuple[str, str, str, dt.datetime]]) -> None:
    """Liveinfo Yes/No of a recorded batch: ``(campaign, e164, answer, answered_at)``.

    Answers to campaigns never imported (the Liveinfo platform may run prompts the bot
    has no list for) cost no statement beyond a cached look-up.
    """
    from bot.campaign.store import record_answers

    batch = list(answers)
    if not batch:
        return
    try:
        known = _imported(engine, {a[0] for a in batch})
        batch = [a for a in batch if a[0] in known]
        if batch:
            record_answers(engine, batch, channel="liveinfo")
    except Exception as exc:
        log.warning(
            "funnel: %d Liveinfo answers not recorded: %s: %s",
            len(batch),
            type(exc).__name__,
            redact(exc)[:300],
        )


def request_stored(
    engine: Engine, campaign: str | None, e164: str, request_id: int, at: dt.datetime
) -> None:
    """A request of a campaign was stored: request confirmed."""
    step(campaign, e164, "confirmed_at", engine=engine, at=at, request_id=request_id)


def request_moved(
    engine: Engine, campaign: str | None, e164: str, to_status: str, at: dt.datetime
) -> None:
    """A request of a campaign changed status: accepted, done or unreachable."""
    column = REQUEST_STEPS.get(to_status)
    if column:
        step(campaign, e164, column, engine=engine, at=at)

"""Campaign state that tests start from, written through the sender's own steps."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine

from bot import outreach
from bot.campaign.sender import Claimed, Outcome, claim, record
from bot.campaign.store import ensure_campaign


def invite_by_sms(
    engine: Engine,
    campaign: str,
    link_secret: str,
    at: dt.datetime,
    *,
    gateway_ref: str | None = None,
) -> list[Claimed]:
    """Every eligible target of ``campaign`` invited by SMS, as ``campaign send`` leaves
    them once the gateway took the messages: claimed with the link key, recorded sent."""
    items, _ = claim(
        engine,
        ensure_campaign(engine, campaign),
        campaign,
        "sms",
        after=0,
        size=1000,
        link_key=lambda e164: outreach.subscriber_key(link_secret, e164),
    )
    record(engine, [Outcome(i, "sent", 1, at, gateway_ref=gateway_ref) for i in items], "sms")
    return items

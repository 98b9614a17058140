"""Which invitation a personal link belongs to, for the web page that opens it.

The link's token carries only the subscriber key (``bot.outreach.subscriber_key``: a
keyed hash of the number), an expiry and a signature. The sender keeps that key on the
send row (``campaign_sends.link_key``), so when the page exchanges a valid token it can
find the subscriber, the campaign and the channel that brought them — and start their
conversation with the phone number already known. No number is ever in the URL.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot import outreach
from bot.campaign.schema import campaign_sends, campaign_targets, campaigns


@dataclass(frozen=True)
class Invitation:
    """The invitation behind a link: who, which campaign, on which channel."""

    campaign: str
    channel: str
    e164: str
    answered: bool  # the subscriber already answered Yes or opened a link before
    send_id: int

    @property
    def national(self) -> str:
        return "0" + self.e164.removeprefix("+84")


def key_of(sender_id: str) -> str | None:
    """The subscriber key inside a link conversation's sender id."""
    if not sender_id.startswith(outreach.SENDER_PREFIX):
        return None
    return sender_id[len(outreach.SENDER_PREFIX) :] or None


def find_invitation(engine: Engine, sender_id: str) -> Invitation | None:
    """The latest invitation sent with this conversation's link, if any."""
    key = key_of(sender_id)
    if key is None:
        return None
    s, t, c = campaign_sends, campaign_targets, campaigns
    stmt = (
        select(c.c.name, s.c.channel, t.c.phone_e164, t.c.answered_at, s.c.id)
        .select_from(s.join(t, t.c.id == s.c.target_id).join(c, c.c.id == s.c.campaign_id))
        .where(s.c.link_key == key, s.c.status != "skipped")
        .order_by(s.c.claimed_at.desc(), s.c.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        return None
    return Invitation(row[0], row[1], row[2], row[3] is not None, int(row[4]))


def campaign_of_session(
    engine: Engine, secret: str, sender_id: str, e164: str
) -> tuple[str, str] | None:
    """(campaign, origin channel) of a web form sent from a link conversation.

    An SMS invitation's link is found by its key; a Liveinfo Yes conversation (its link
    was texted by the connector) is recognised when the typed number is the one the
    conversation was opened for, and takes the campaign of that subscriber's last Yes.
    """
    found = find_invitation(engine, sender_id)
    if found is not None:
        return found.campaign, found.channel
    if not secret or outreach.sender_id_for(secret, e164) != sender_id:
        return None
    answers = outreach.liveinfo_answers
    stmt = (
        select(answers.c.campaign)
        .where(answers.c.msisdn == e164, answers.c.answer == "YES")
        .order_by(answers.c.answered_at.desc(), answers.c.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        campaign = conn.scalar(stmt)
    return (str(campaign), "liveinfo") if campaign else None

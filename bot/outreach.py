"""Outbound campaigns: who answered a Liveinfo prompt, and links back into a conversation.

Plan §2b: a subscriber who answers *No* to a Liveinfo prompt must not be prompted again
for that campaign, so every answer is kept (``liveinfo_answers``, in the request store's
database) and :func:`has_refused` is what campaign tooling asks before prompting.
A *Yes* is followed by an SMS whose link reopens the same conversation on the web page;
the link carries a short signed token, never the phone number, and the conversation's
sender id is derived from the number with a keyed hash so neither the browser, the URL nor
Rasa's logs ever see the number in clear.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.engine import Engine

ANSWERS = ("YES", "NO")
SENDER_PREFIX = "liveinfo-"
LINK_TTL_SECONDS = 48 * 3600
_KEY_CHARS = 16  # 96 bits of the keyed hash: unguessable, short enough for an SMS

metadata = MetaData()

liveinfo_answers = Table(
    "liveinfo_answers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(128), nullable=False),
    Column("msisdn", String(16), nullable=False),
    Column("campaign", String(64), nullable=False),
    Column("answer", String(3), nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("request_id", name="uq_liveinfo_answers_request_id"),
    Index("ix_liveinfo_answers_msisdn_campaign", "msisdn", "campaign"),
)


@dataclass(frozen=True)
class Answer:
    """One Liveinfo answer as the gateway reported it (msisdn in E.164)."""

    request_id: str
    msisdn: str
    campaign: str
    answer: str
    answered_at: dt.datetime


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class OutreachStore:
    """The ``liveinfo_answers`` table; one short transaction per batch of answers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str, *, migrate: bool = True) -> OutreachStore:
        """Store on the request store's database, schema brought up to date.

        The table comes with the request store's Alembic revisions (``0002_liveinfo``),
        so the engine is the store's own and the caller builds it at start-up.
        """
        from bot.requests import db

        if migrate:
            db.migrate(url)
        return cls(db.create_store_engine(url))

    def record(self, answers: Sequence[Answer]) -> list[Answer]:
        """Store the answers not seen before; return those, so retries do nothing twice."""
        if not answers:
            return []
        unique = {a.request_id: a for a in answers}
        received = _now()
        with self.engine.begin() as conn:
            seen = set(
                conn.scalars(
                    select(liveinfo_answers.c.request_id).where(
                        liveinfo_answers.c.request_id.in_(list(unique))
                    )
                )
            )
            fresh = [a for rid, a in unique.items() if rid not in seen]
            if fresh:
                conn.execute(
                    liveinfo_answers.insert(),
                    [
                        {
                            "request_id": a.request_id,
                            "msisdn": a.msisdn,
                            "campaign": a.campaign,
                            "answer": a.answer,
                            "answered_at": a.answered_at,
                            "received_at": received,
                        }
                        for a in fresh
                    ],
                )
        return fresh

    def mark_processed(self, request_ids: Iterable[str]) -> None:
        """Note that the answer's follow-up (conversation, SMS) was done."""
        ids = list(request_ids)
        if not ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                update(liveinfo_answers)
                .where(liveinfo_answers.c.request_id.in_(ids))
                .values(processed_at=_now())
            )

    def has_refused(self, msisdn: str, campaign: str) -> bool:
        """True when the subscriber's latest answer to this campaign is No."""
        stmt = (
            select(liveinfo_answers.c.answer)
            .where(
                liveinfo_answers.c.msisdn == msisdn,
                liveinfo_answers.c.campaign == campaign,
            )
            .order_by(liveinfo_answers.c.answered_at.desc(), liveinfo_answers.c.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.scalar(stmt) == "NO"

    def count(self, answer: str | None = None, *, processed: bool | None = None) -> int:
        """How many answers are stored (for reports and the benchmark)."""
        stmt = select(func.count()).select_from(liveinfo_answers)
        if answer:
            stmt = stmt.where(liveinfo_answers.c.answer == answer)
        if processed is not None:
            col = liveinfo_answers.c.processed_at
            stmt = stmt.where(col.is_not(None) if processed else col.is_(None))
        with self.engine.connect() as conn:
            return int(conn.scalar(stmt) or 0)


@functools.lru_cache(maxsize=1)
def _default_store() -> OutreachStore:
    from bot.settings import Settings

    return OutreachStore.from_url(Settings.from_env().database_url)


def has_refused(msisdn: str, campaign: str, *, store: OutreachStore | None = None) -> bool:
    """Whether campaign tooling must skip this subscriber: they answered No to it.

    ``msisdn`` in any form :func:`bot.phone.parse` accepts; unparseable numbers have
    never answered, so False.
    """
    from bot.phone import InvalidPhoneError, parse

    try:
        e164 = parse(msisdn).e164
    except InvalidPhoneError:
        return False
    return (store or _default_store()).has_refused(e164, campaign)


# --- links back into the conversation -------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mac(secret: str, message: str) -> str:
    return _b64(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest())


def subscriber_key(secret: str, e164: str) -> str:
    """Stable, opaque key of one subscriber: same number, same key, no number inside."""
    return _mac(secret, "subscriber:" + e164)[:_KEY_CHARS]


def sender_id_for(secret: str, e164: str) -> str:
    """The Rasa sender id of a subscriber reached by Liveinfo (and its SMS link)."""
    return SENDER_PREFIX + subscriber_key(secret, e164)


def sign_link(
    secret: str, sender_id: str, *, ttl: int = LINK_TTL_SECONDS, now: float | None = None
) -> str:
    """A short token that reopens ``sender_id``'s conversation until it expires."""
    if not sender_id.startswith(SENDER_PREFIX):
        raise ValueError("only Liveinfo conversations get links")
    key = sender_id[len(SENDER_PREFIX) :]
    expires = int((time.time() if now is None else now) + ttl)
    body = f"{key}.{_base36(expires)}"
    return f"{body}.{_mac(secret, 'link:' + body)[:_KEY_CHARS]}"


def verify_link(secret: str, token: str, *, now: float | None = None) -> str | None:
    """The sender id a token points to, or None when forged, malformed or expired."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 64:
        return None
    key, expires36, sig = parts
    body = f"{key}.{expires36}"
    if not hmac.compare_digest(sig, _mac(secret, "link:" + body)[:_KEY_CHARS]):
        return None
    try:
        expires = int(expires36, 36)
    except ValueError:
        return None
    if expires < (time.time() if now is None else now):
        return None
    return SENDER_PREFIX + key


def link_status(secret: str, token: str, *, now: float | None = None) -> tuple[str, str | None]:
    """(``ok`` | ``expired`` | ``invalid``, sender id) so the page can say which."""
    sender = verify_link(secret, token, now=now)
    if sender:
        return "ok", sender
    parts = token.split(".")
    if len(parts) == 3 and len(token) <= 64:
        key, expires36, sig = parts
        if hmac.compare_digest(sig, _mac(secret, f"link:{key}.{expires36}")[:_KEY_CHARS]):
            return "expired", None
    return "invalid", None


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
        if not value:
            return out

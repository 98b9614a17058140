"""``campaign send`` against a local fake gateway, on SQLite and PostgreSQL.

Pacing is checked on the schedule with an injected clock (no timed assertion); the
rest runs for real: HTTP to the fake gateway, claims and records in the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy import insert, select, text

from bot import outreach
from bot.campaign.gateways import (
    GatewayError,
    LiveinfoPushGateway,
    Outgoing,
    SmsGateway,
    retry_after_seconds,
)
from bot.campaign.schema import campaign_sends, campaign_targets
from bot.campaign.sender import (
    Pacer,
    RetryPolicy,
    Sender,
    SendError,
    SendOptions,
    claim,
    remaining,
)
from bot.campaign.store import ensure_campaign, opt_out
from bot.outreach import Answer, OutreachStore
from bot.phone import mask
from bot.requests.schema import teams
from tests.campaign.conftest import insert_request, insert_team
from tests.campaign.fake_gateway import FakeGateway

ROOT = Path(__file__).resolve().parents[2]
LINK_SECRET = "link-secret"
PAGE = "https://yeucauthaysim4g.example.vn"
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
FAST = RetryPolicy(max_attempts=4, base=0.01, cap=0.05)


def phone(i: int) -> str:
    return f"+8490{2000000 + i:07d}"


def add_targets(engine, campaign: str, count: int, start: int = 0) -> list[str]:
    cid = ensure_campaign(engine, campaign)
    phones = [phone(start + i) for i in range(count)]
    with engine.begin() as conn:
        conn.execute(
            insert(campaign_targets),
            [
                {"campaign_id": cid, "phone_e164": p, "imported_at": T0, "province_code": "48"}
                for p in phones
            ],
        )
    return phones


def add_request(engine, rid: int, e164: str, status: str) -> None:
    with engine.begin() as conn:
        if conn.scalar(select(teams.c.id).where(teams.c.id == "p48")) is None:
            insert_team(conn, "48", "MobiFone Đà Nẵng", T0)
        insert_request(conn, rid, e164, status, created_at=T0, updated_at=T0)


def sends(engine, channel: str = "sms") -> dict[str, dict]:
    """Send rows by phone."""
    s, t = campaign_sends, campaign_targets
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.phone_e164, s).join(t, t.c.id == s.c.target_id).where(s.c.channel == channel)
        ).all()
    return {r._mapping["phone_e164"]: dict(r._mapping) for r in rows}


def targets(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(campaign_targets)).all()
    return {r._mapping["phone_e164"]: dict(r._mapping) for r in rows}


@pytest.fixture
async def gateway():
    fake = await FakeGateway().start()
    yield fake
    await fake.close()


def options(**over) -> SendOptions:
    base = {
        "campaign": "c1",
        "channel": "sms",
        "rate": 500.0,
        "link_secret": LINK_SECRET,
        "page_url": PAGE,
        "retry": FAST,
        "max_in_flight": 8,
        "batch_size": 7,
    }
    base.update(over)
    return SendOptions(**base)


async def run_send(engine, fake: FakeGateway, **over) -> Sender:
    opts = options(**over)
    gw = (
        SmsGateway(fake.sms_url, fake.token, timeout=5)
        if opts.channel == "sms"
        else LiveinfoPushGateway(fake.push_url, fake.secret, timeout=5)
    )
    sender = Sender(engine, gw, opts, sleep=asyncio.sleep)
    try:
        await sender.run()
    finally:
        await gw.aclose()
    return sender


# -- pacing and retry policy (no network, no clock) ------------------------------------


class FakeClock:
    """A clock that only moves when slept on; ``late`` adds a late wake-up."""

    def __init__(self, late=lambda: 0.0) -> None:
        self.now = 1000.0
        self.late = late
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds + self.late()


async def test_pacer_spaces_grants_by_the_interval_on_an_injected_clock():
    clock = FakeClock()
    pacer = Pacer(50, clock=clock, sleep=clock.sleep)
    grants = [await pacer.wait() for _ in range(101)]
    gaps = [b - a for a, b in itertools.pairwise(grants)]
    assert all(gap == pytest.approx(0.02) for gap in gaps)
    assert grants[-1] - grants[0] == pytest.approx(2.0)  # 100 intervals of 1/50 s
    assert len(clock.slept) == 100  # the first grant is immediate


def busiest_second(grants: list[float]) -> int:
    """The most grants within any one-second window [g, g + 1)."""
    grants = sorted(grants)
    return max(sum(1 for g in grants[i:] if g < start + 1.0) for i, start in enumerate(grants))


async def test_late_wakeups_keep_the_schedule_without_exceeding_the_rate():
    rng = random.Random(7)
    clock = FakeClock(late=lambda: rng.choice([0.0, 0.001, 0.004]))  # under one slot late
    pacer = Pacer(100, clock=clock, sleep=clock.sleep)
    grants = sorted(await asyncio.gather(*(pacer.wait() for _ in range(301))))
    assert busiest_second(grants) <= 100
    achieved = 300 / (grants[-1] - grants[0])
    assert 99 <= achieved <= 100  # the schedule absorbs the lateness: no drift


async def test_very_late_wakeups_and_stalls_never_burst_past_the_rate():
    rng = random.Random(11)
    clock = FakeClock(late=lambda: rng.choice([0.0, 0.0, 0.011, 0.03, 0.2]))
    pacer = Pacer(100, clock=clock, sleep=clock.sleep)
    grants = []
    for i in range(400):
        if i == 200:
            clock.now += 0.5  # the event loop stalled half a second between two calls
        grants.append(await pacer.wait())
    assert busiest_second(grants) <= 100
    after_stall = [g for g in grants[200:] if g < grants[200] + 0.05]
    assert len(after_stall) <= 6  # restarted on schedule, not caught up in a burst


async def test_the_window_caps_a_rate_whatever_the_schedule_says():
    clock = FakeClock()
    pacer = Pacer(5, clock=clock, sleep=clock.sleep)
    pacer.interval = 0.0  # a broken schedule: the one-second window still holds
    grants = [await pacer.wait() for _ in range(23)]
    assert busiest_second(grants) == 5
    slow = Pacer(0.5, clock=clock, sleep=clock.sleep)  # 30/min: one per two seconds
    first, second = await slow.wait(), await slow.wait()
    assert second - first == pytest.approx(2.0)


async def test_pacer_after_idle_time_does_not_burst():
    clock = FakeClock()
    pacer = Pacer(10, clock=clock, sleep=clock.sleep)
    first = await pacer.wait()
    clock.now += 60  # idle for a minute: no saved-up credit
    a, b = await pacer.wait(), await pacer.wait()
    assert a == first + 60 and b - a == pytest.approx(0.1)


def test_pacer_refuses_a_zero_rate():
    with pytest.raises(ValueError):
        Pacer(0)


def test_backoff_grows_is_jittered_capped_and_honours_retry_after():
    policy = RetryPolicy(base=1.0, cap=8.0)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)):
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1
    assert policy.delay(1, retry_after=3) == 3
    assert policy.delay(1, retry_after=600) == 8.0
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None


# -- the send, for real, on both databases --------------------------------------------


async def test_sms_invites_each_eligible_subscriber_once_with_a_personal_link(engine, gateway):
    phones = add_targets(engine, "c1", 8)
    OutreachStore(engine).record(
        [
            Answer("a1", phones[1], "c1", "NO", T0),  # answered No → excluded
            Answer("a2", phones[2], "c1", "NO", T0),  # No then Yes → invited
            Answer("a3", phones[2], "c1", "YES", T0 + dt.timedelta(minutes=1)),
        ]
    )
    opt_out(engine, phones[3], "sms")  # opted out → excluded
    add_request(engine, 1, phones[4], "accepted")  # open request → excluded
    add_request(engine, 2, phones[5], "done")  # done → excluded
    add_request(engine, 3, phones[6], "cancelled")  # cancelled → invited

    sender = await run_send(engine, gateway)

    expected = {phones[0], phones[2], phones[6], phones[7]}
    assert sorted(gateway.delivered_to()) == sorted(expected)
    report = sender.report
    assert (report.sent, report.failed, report.remaining) == (4, 0, 0)
    rows = sends(engine)
    assert set(rows) == expected
    stamped = targets(engine)
    for e164 in expected:
        row = rows[e164]
        assert row["status"] == "sent" and row["attempts"] == 1
        assert (
            row["gateway_ref"]
            == gateway.seen[f"inv-{row['id']}-{int(_utc(row['claimed_at']).timestamp()):x}"]
        )
        assert row["sent_at"] is not None and row["error"] is None
        assert row["link_key"] == outreach.subscriber_key(LINK_SECRET, e164)
        assert stamped[e164]["invited_at"] is not None and stamped[e164]["channel"] == "sms"
    for e164 in set(phones) - expected:
        assert stamped[e164]["invited_at"] is None

    for call in gateway.calls:
        body = call.payload
        assert call.headers["Authorization"] == f"Bearer {gateway.token}"
        assert call.headers["Idempotency-Key"] == body["reference"] == call.key
        assert "9090" in body["text"]
        link = body["text"].split(" ")[-1]
        assert link.startswith(PAGE + "/#t=")
        assert body["to"][3:] not in link and body["to"][-9:] not in link  # no number in it
        token = link.split("#t=", 1)[1]
        # The link opens that subscriber's own conversation, and expires.
        assert outreach.verify_link(LINK_SECRET, token) == outreach.sender_id_for(
            LINK_SECRET, body["to"]
        )
        week = dt.datetime.now(UTC).timestamp() + 7 * 24 * 3600
        assert outreach.verify_link(LINK_SECRET, token, now=week + 60) is None

    # A second run finds nobody left and calls nobody.
    again = await run_send(engine, gateway)
    assert again.report.sent == 0 and len(gateway.calls) == 4


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def test_every_gateway_call_respects_the_rate(engine, gateway):
    add_targets(engine, "c1", 12)
    gateway.script[phone(3)] = [503, 503]  # retries take slots too

    class Recording(Pacer):
        grants: ClassVar[list[float]] = []

        async def wait(self) -> float:
            granted = await super().wait()
            self.grants.append(granted)
            return granted

    pacer = Recording(40)
    gw = SmsGateway(gateway.sms_url, gateway.token)
    sender = Sender(engine, gw, options(rate=40, max_in_flight=6), pacer=pacer)
    await sender.run()
    await gw.aclose()
    grants = pacer.grants
    assert len(grants) == len(gateway.calls) == 14
    assert busiest_second(grants) <= 40
    gaps = [b - a for a, b in itertools.pairwise(grants)]
    assert sum(gaps) >= 13 / 40 - 1e-9  # 14 calls at 40/s take at least 13 slots
    assert sender.report.attempts == 14


async def test_5xx_and_429_are_retried_and_4xx_is_recorded_as_failed(engine, gateway):
    phones = add_targets(engine, "c1", 4)
    gateway.script[phones[0]] = [503, 502]
    gateway.script[phones[1]] = [429]
    gateway.retry_after = "0"
    gateway.script[phones[2]] = [400]
    gateway.script[phones[3]] = [503, 503, 503, 503]  # more than max_attempts (4)

    sender = await run_send(engine, gateway)

    rows = sends(engine)
    assert rows[phones[0]]["status"] == "sent" and rows[phones[0]]["attempts"] == 3
    assert rows[phones[1]]["status"] == "sent" and rows[phones[1]]["attempts"] == 2
    refused = rows[phones[2]]
    assert refused["status"] == "failed" and refused["attempts"] == 1
    assert refused["error"].startswith("HTTP 400")
    assert phones[2][3:] not in refused["error"]  # the gateway quoted it: masked
    assert mask(phones[2]) in refused["error"]
    given_up = rows[phones[3]]
    assert given_up["status"] == "failed" and given_up["attempts"] == 4
    assert given_up["error"].startswith("gave up after 4: HTTP 503")
    assert sender.report.failed == 2 and sender.report.errors["HTTP 400"] == 1
    stamped = targets(engine)
    assert stamped[phones[2]]["invited_at"] is None

    # --retry-failed: the same rows (same keys) go out once the gateway is well again.
    failed_ids = {rows[p]["id"] for p in phones[2:]}
    again = await run_send(engine, gateway, retry_failed=True)
    assert again.report.sent == 2
    rows = sends(engine)
    assert {rows[p]["id"] for p in phones[2:]} == failed_ids
    assert all(r["status"] == "sent" for r in rows.values())
    assert sorted(gateway.delivered_to()) == sorted(phones)


async def test_a_crash_mid_run_then_resume_sends_nobody_twice(engine, gateway):
    phones = add_targets(engine, "c1", 30)
    gateway.hang_after = 6  # then every delivery hangs: taken, never acknowledged
    opts = options(rate=1000, max_in_flight=4, batch_size=10)
    gw = SmsGateway(gateway.sms_url, gateway.token, timeout=30)
    task = asyncio.create_task(Sender(engine, gw, opts).run())
    await gateway.wait_for_calls(9)
    task.cancel()  # the process dies: nothing more is recorded
    with pytest.raises(asyncio.CancelledError):
        await task
    await gw.aclose()

    rows = sends(engine)
    claimed = [r for r in rows.values() if r["status"] == "claimed"]
    assert claimed, "the crash must leave claimed rows behind"
    assert len(gateway.delivered) >= 9

    gateway.hang_after = None
    resumed = await run_send(engine, gateway)

    delivered = gateway.delivered_to()
    assert sorted(delivered) == sorted(phones)  # everyone, once
    assert len(set(delivered)) == len(delivered)
    # What the gateway took before the crash came back as duplicates of the same key.
    assert resumed.report.duplicates >= 3
    for row in sends(engine).values():
        assert row["status"] == "sent"
        key = f"inv-{row['id']}-{int(_utc(row['claimed_at']).timestamp()):x}"
        calls = gateway.calls_with(key)
        assert 1 <= len(calls) <= 2
        assert len({c.payload["text"] for c in calls}) == 1  # the same message, byte for byte
        assert row["gateway_ref"] == gateway.seen[key]


async def test_claimed_rows_of_subscribers_excluded_meanwhile_are_skipped(engine, gateway):
    phones = add_targets(engine, "c1", 3)
    cid = ensure_campaign(engine, "c1")
    items, _ = claim(engine, cid, "c1", "sms", after=0, size=10, link_key=lambda _: None)
    assert len(items) == 3  # claimed, then the process died before sending
    opt_out(engine, phones[0], "cskh")

    sender = await run_send(engine, gateway)

    assert sender.report.skipped == 1 and sender.report.sent == 2
    assert sorted(gateway.delivered_to()) == sorted(phones[1:])
    assert sends(engine)[phones[0]]["status"] == "skipped"


async def test_limit_sends_at_most_that_many_and_reports_the_rest(engine, gateway):
    add_targets(engine, "c1", 9)
    sender = await run_send(engine, gateway, limit=4)
    assert sender.report.sent == 4 and len(gateway.delivered) == 4
    assert sender.report.remaining == 5
    assert "still to invite on sms: 5" in sender.report.summary()
    assert remaining(engine, "c1", "sms") == 5


async def test_liveinfo_prompts_are_signed_and_carry_the_campaign(engine, gateway):
    phones = add_targets(engine, "sim4g-2026-01", 3)
    sender = await run_send(engine, gateway, campaign="sim4g-2026-01", channel="liveinfo")
    assert sender.report.sent == 3
    for call in gateway.calls:
        assert call.path == "/liveinfo/push"
        body = call.payload
        assert body["campaign"] == "sim4g-2026-01" and body["answers"] == ["YES", "NO"]
        assert body["push_id"] == call.key and "9090" in body["text"]
        assert "#t=" not in body["text"]
    rows = sends(engine, "liveinfo")
    assert set(rows) == set(phones)
    assert all(r["link_key"] is None and r["status"] == "sent" for r in rows.values())
    assert all(t["channel"] == "liveinfo" for t in targets(engine).values())
    # The same subscribers may still get the SMS: one send per target and channel.
    sms = await run_send(engine, gateway, campaign="sim4g-2026-01")
    assert sms.report.sent == 3


async def test_a_wrong_push_secret_stops_the_run_not_a_crash(engine, gateway):
    add_targets(engine, "c1", 2)
    gw = LiveinfoPushGateway(gateway.push_url, "not-the-secret")
    sender = Sender(engine, gw, options(channel="liveinfo"))
    report = await sender.run()
    await gw.aclose()
    assert report.refused and report.refused.startswith("HTTP 403")
    assert report.failed == 0 and report.interrupted and not report.errors


async def test_bad_setups_are_refused_before_anything_is_claimed(engine, gateway):
    add_targets(engine, "c1", 2)
    gw = SmsGateway(gateway.sms_url, gateway.token)
    long_page = "https://yeucauthaysim4g.mobifone.vn/" + "chien-dich/" * 8
    with pytest.raises(SendError, match="SMS segments"):
        await Sender(engine, gw, options(page_url=long_page)).run()
    with pytest.raises(SendError, match="no template"):
        await Sender(engine, gw, options(template="fax")).run()
    push = LiveinfoPushGateway(gateway.push_url, gateway.secret)
    with pytest.raises(SendError, match="Liveinfo campaign name"):
        Sender(engine, push, options(channel="liveinfo", campaign="chiến dịch"))
    await push.aclose()
    with pytest.raises(SendError, match="cannot send on"):
        Sender(engine, gw, options(channel="liveinfo"))
    await gw.aclose()
    assert sends(engine) == {} and gateway.calls == []


@pytest.mark.postgres
async def test_a_second_sender_on_the_same_campaign_is_refused_on_postgresql(
    campaign_pg_url, gateway
):
    from bot.campaign.sender import _lock_key
    from bot.requests.db import create_store_engine
    from tests.campaign.conftest import TABLES

    engine = create_store_engine(campaign_pg_url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(TABLES) + " RESTART IDENTITY CASCADE"))

    add_targets(engine, "c1", 2)
    cid = ensure_campaign(engine, "c1")
    with engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _lock_key(cid, "sms")})
        gw = SmsGateway(gateway.sms_url, gateway.token)
        with pytest.raises(SendError, match="already running"):
            await Sender(engine, gw, options()).run()
        await gw.aclose()
        holder.execute(text("SELECT pg_advisory_unlock_all()"))
    assert gateway.calls == []
    engine.dispose()


async def test_gateway_client_classifies_answers(gateway):
    gw = SmsGateway(gateway.sms_url, "wrong-token")
    with pytest.raises(GatewayError) as refused:
        await gw.send(Outgoing("k1", "+84901234567", "x", "c1"))
    assert refused.value.status == 401 and not refused.value.retryable
    await gw.aclose()
    dead = SmsGateway("http://127.0.0.1:9/sms", "t", timeout=2)  # nothing listens on 9
    with pytest.raises(GatewayError) as down:
        await dead.send(Outgoing("k2", "+84901234567", "x", "c1"))
    assert down.value.retryable and down.value.status is None
    await dead.aclose()


# -- the command, killed for real -----------------------------------------------------


async def test_the_command_killed_mid_run_resumes_without_sending_twice(tmp_path, gateway):
    url = f"sqlite:///{tmp_path / 'send.db'}"
    from bot.requests.db import create_store_engine, migrate

    migrate(url)
    engine = create_store_engine(url)
    phones = add_targets(engine, "c1", 25)
    env = {
        **os.environ,
        "SMS_GATEWAY_URL": gateway.sms_url,
        "SMS_GATEWAY_TOKEN": gateway.token,
        "WEBCHAT_LINK_SECRET": LINK_SECRET,
        "REQUEST_PAGE_URL": PAGE,
        "VAR_DIR": str(tmp_path),
    }
    command = [
        sys.executable,
        "-m",
        "bot",
        "campaign",
        "send",
        "--campaign",
        "c1",
        "--channel",
        "sms",
        "--rate",
        "50/s",
        "--no-progress",
        "--url",
        url,
    ]
    proc = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    await gateway.wait_for_calls(8, timeout=60)
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    assert len(gateway.delivered) < 25

    proc = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    summary = out.decode()
    assert "resumed from an earlier run" in summary and "still to invite on sms: 0" in summary
    delivered = gateway.delivered_to()
    assert sorted(delivered) == sorted(phones) and len(set(delivered)) == 25
    assert all(r["status"] == "sent" for r in sends(engine).values())
    output = (err + out).decode()
    assert not [p for p in phones if p[3:] in output]  # no number in clear in any output
    engine.dispose()


# -- the command's arguments and errors ----------------------------------------------


def test_rates_are_read_per_second_or_per_minute():
    from bot.campaign.cli import _rate

    assert _rate("50") == _rate("50/s") == _rate("3000/min") == 50.0
    assert _rate("0.5/s") == 0.5
    for bad in ("fast", "0/s", "-3"):
        with pytest.raises(Exception, match="rate"):
            _rate(bad)


def test_the_command_refuses_clearly_without_gateway_or_campaign(tmp_path, monkeypatch, capsys):
    from bot.campaign.cli import main

    url = f"sqlite:///{tmp_path / 'c.db'}"
    monkeypatch.delenv("SMS_GATEWAY_URL", raising=False)
    monkeypatch.delenv("LIVEINFO_PUSH_URL", raising=False)
    monkeypatch.setenv("WEBCHAT_LINK_SECRET", LINK_SECRET)
    base = ["campaign", "send", "--campaign", "nope", "--rate", "5/s", "--url", url]
    assert main([*base, "--channel", "sms"]) == 1
    assert "set SMS_GATEWAY_URL" in capsys.readouterr().err
    assert main([*base, "--channel", "liveinfo"]) == 1
    assert "LIVEINFO_PUSH_URL" in capsys.readouterr().err
    monkeypatch.setenv("SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
    assert main([*base, "--channel", "sms", "--no-progress"]) == 1
    assert "unknown campaign 'nope'" in capsys.readouterr().err


async def test_refused_credentials_stop_the_run_without_failing_anyone(engine, gateway):
    phones = add_targets(engine, "c1", 12)
    wrong = SmsGateway(gateway.sms_url, "not-the-token", timeout=5)
    sender = Sender(engine, wrong, options(max_in_flight=3, batch_size=5), sleep=asyncio.sleep)
    try:
        await sender.run()
    finally:
        await wrong.aclose()

    report = sender.report
    assert report.refused and report.refused.startswith("HTTP 401")
    assert report.interrupted and report.failed == 0 and report.sent == 0
    assert "refused the credentials" in report.summary()
    assert len(gateway.calls) <= 3  # the workers in flight, not one call per target
    assert not [r for r in sends(engine).values() if r["status"] == "failed"]

    resumed = await run_send(engine, gateway)  # the right token: everyone, once
    assert resumed.report.refused is None
    assert sorted(gateway.delivered_to()) == sorted(phones)
    assert all(r["status"] == "sent" for r in sends(engine).values())

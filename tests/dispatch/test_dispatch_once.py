"""Dispatchers racing on one database, a stop mid-post, a database hiccup after a post:
each escalation is raised once, each post made once (against the local fake Bot API)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine

from bot.dispatch.store import Store, open_store
from bot.dispatch.telegram import TelegramClient
from bot.dispatch.worker import ESCALATION_REASON, DispatchConfig, Dispatcher, RunReport
from bot.requests.schema import outbox, request_events, sim_requests, team_messages
from tests_support.databases import empty_store

HANOI_CHAT = -1001000000001
HANOI_ESCALATION = -1001000000999
SLA = DispatchConfig(sla_minutes=60, poll_updates=False)


def rows(store: Store, table):
    with store.sessions() as session:
        return session.execute(select(table).order_by(table.c.id)).all()


@contextlib.contextmanager
def writes_held_until_all_arrive(engines: list[Engine]) -> Iterator[None]:
    """Hold each engine's first write until every engine has reached its own.

    Each dispatcher has then read the same state (the request not escalated yet) before
    any of them writes: the race two replicas run into by chance, made certain."""
    barrier = threading.Barrier(len(engines), timeout=5)
    held: set[int] = set()

    def hold(engine: Engine):
        def before(conn, cursor, statement, parameters, context, executemany) -> None:
            first_word = statement.lstrip().split(None, 1)[0].upper()
            if first_word in {"UPDATE", "INSERT", "DELETE"} and id(engine) not in held:
                held.add(id(engine))
                barrier.wait()

        return before

    listeners = [(engine, hold(engine)) for engine in engines]
    for engine, listener in listeners:
        event.listen(engine, "before_cursor_execute", listener)
    try:
        yield
    finally:
        for engine, listener in listeners:
            event.remove(engine, "before_cursor_execute", listener)
    assert len(held) == len(engines), "a dispatcher never wrote"


@pytest.fixture
def second_store(store) -> Iterator[Store]:
    """Another process's view of the same database: its own engine and connections."""
    url = store.engine.url.render_as_string(hide_password=False)
    other = open_store(url, directory=store.service.directory, migrate_first=False)
    yield other
    other.close()


@pytest.fixture
def pg_store(pg_url, directory) -> Iterator[Store]:
    """The store on PostgreSQL only (for a failure only a database server has)."""
    empty_store(pg_url)
    opened = open_store(pg_url, directory=directory, migrate_first=False)
    yield opened
    opened.close()


@pytest.fixture
async def second_telegram(fake_tg) -> AsyncIterator[TelegramClient]:
    client = TelegramClient(fake_tg.token, base_url=fake_tg.base_url, poll_timeout=1)
    yield client
    await client.close()


async def test_two_dispatchers_racing_escalate_each_request_once(
    store, second_store, telegram, second_telegram, fake_tg, clock, make_draft
):
    references = [
        store.service.submit(make_draft(phone=f"09031234{n:02d}")).reference for n in range(6)
    ]
    first = Dispatcher(store.service, store.sessions, telegram, SLA, clock=clock)
    second = Dispatcher(
        second_store.service, second_store.sessions, second_telegram, SLA, clock=clock
    )
    assert (await first.run_once()).delivered == 6
    clock.advance(minutes=61)

    with writes_held_until_all_arrive([store.engine, second_store.engine]):
        reports = await asyncio.gather(first.run_once(), second.run_once())

    assert sum(r.escalated for r in reports) == 6
    assert sum(r.delivered for r in reports) == 6
    posts = fake_tg.calls_of("sendMessage")
    escalation_posts = [p for p in posts if p["chat_id"] == HANOI_ESCALATION]
    assert len(escalation_posts) == 6
    for reference in references:
        assert sum(reference in p["text"] for p in escalation_posts) == 1
    requests = rows(store, sim_requests)
    assert all(r.escalated_at is not None for r in requests)
    escalations = [r for r in rows(store, outbox) if r.kind == "escalation"]
    assert sorted(r.request_id for r in escalations) == [r.id for r in requests]
    events = [r for r in rows(store, request_events) if r.reason.startswith(ESCALATION_REASON)]
    assert sorted(e.request_id for e in events) == [r.id for r in requests]
    assert all(e.actor == "dispatch" and e.from_status == e.to_status for e in events)
    posted = [m for m in rows(store, team_messages) if m.purpose == "escalation"]
    assert len(posted) == 6

    # Later passes of either find nothing left to escalate.
    clock.advance(minutes=120)
    later = await asyncio.gather(first.run_once(), second.run_once())
    assert sum(r.escalated for r in later) == 0
    assert len(fake_tg.chat_messages(HANOI_ESCALATION)) == 6


async def test_a_request_accepted_after_the_sla_scan_is_not_escalated(
    store, telegram, fake_tg, clock, make_draft
):
    outcome = store.service.submit(make_draft())
    dispatcher = Dispatcher(store.service, store.sessions, telegram, SLA, clock=clock)
    await dispatcher.run_once()
    clock.advance(minutes=61)
    with store.sessions() as session:
        scanned = session.execute(select(sim_requests)).one()  # what the scan read

    store.service.transition(outcome.reference, "accepted", "console:lan")

    assert dispatcher._escalate(scanned, clock()) is False
    assert (await dispatcher.run_once()).escalated == 0
    assert fake_tg.chat_messages(HANOI_ESCALATION) == []
    assert [r.kind for r in rows(store, outbox)] == ["new_request"]


async def test_a_batch_that_outlived_its_lease_does_not_post_again(
    store, second_store, telegram, second_telegram, fake_tg, clock, make_draft
):
    store.service.submit(make_draft())
    slow = Dispatcher(store.service, store.sessions, telegram, SLA, clock=clock)
    other = Dispatcher(
        second_store.service, second_store.sessions, second_telegram, SLA, clock=clock
    )
    jobs = await asyncio.to_thread(slow.claim_due)
    # The slow dispatcher is still busy with earlier rows when its lease runs out ...
    clock.advance(seconds=SLA.lease_seconds + 1)
    assert (await other.deliver_due()).delivered == 1

    # ... and reaches this row afterwards: it sees the claim is no longer its own.
    report = RunReport()
    await slow.deliver_jobs(jobs, report)

    assert report.delivered == 0 and report.failed == 0
    assert len(fake_tg.calls_of("sendMessage")) == 1
    assert len(rows(store, team_messages)) == 1


async def test_stopping_during_a_post_finishes_and_records_it(store, telegram, fake_tg, make_draft):
    first = store.service.submit(make_draft())
    store.service.submit(make_draft(phone="0903999888"))
    fake_tg.slow("sendMessage", 1.0)
    worker = Dispatcher(
        store.service,
        store.sessions,
        telegram,
        DispatchConfig(idle_seconds=0.05, poll_updates=False),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop))
    for _ in range(200):  # the first post has reached Telegram
        if fake_tg.calls_of("sendMessage"):
            break
        await asyncio.sleep(0.01)

    stop.set()  # SIGTERM while Telegram is answering
    await asyncio.wait_for(task, timeout=10)

    assert len(fake_tg.chat_messages(HANOI_CHAT)) == 1
    done, handed_back = rows(store, outbox)
    assert done.delivered_at is not None
    assert [(m.outbox_id, m.chat_id) for m in rows(store, team_messages)] == [(done.id, HANOI_CHAT)]
    assert store.service.get(first.reference).status == "assigned"
    # The row not started is due again at once, not held for the lease.
    assert handed_back.delivered_at is None
    with store.sessions() as session:
        due = session.execute(
            select(outbox.c.id).where(outbox.c.next_attempt_at <= worker.clock())
        ).all()
    assert [r.id for r in due] == [handed_back.id]
    # The next worker posts only what was left.
    assert (await Dispatcher(store.service, store.sessions, telegram).deliver_due()).delivered == 1
    assert len(fake_tg.chat_messages(HANOI_CHAT)) == 2


@pytest.mark.postgres
async def test_a_connection_lost_after_the_post_is_retried_not_reposted(
    pg_store, telegram, fake_tg, make_draft, caplog
):
    store = pg_store
    store.service.submit(make_draft())
    admin = create_engine(store.engine.url, isolation_level="AUTOCOMMIT")
    killed: list[int] = []

    def kill_before_recording(conn, cursor, statement, parameters, context, executemany) -> None:
        # The real failure: the server ends this session as the record is written.
        if statement.startswith("UPDATE outbox SET") and "payload" in statement and not killed:
            pid = cursor.connection.get_backend_pid()
            killed.append(pid)
            with admin.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    event.listen(store.engine, "before_cursor_execute", kill_before_recording)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.dispatch.worker"):
            report = await Dispatcher(store.service, store.sessions, telegram).run_once()
    finally:
        event.remove(store.engine, "before_cursor_execute", kill_before_recording)
        admin.dispose()

    assert killed
    assert any("retrying" in r.getMessage() for r in caplog.records)
    assert report.delivered == 1 and report.failed == 0
    assert len(fake_tg.calls_of("sendMessage")) == 1
    [row] = rows(store, outbox)
    assert row.delivered_at is not None
    assert len(rows(store, team_messages)) == 1

from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError

from bot.requests import RequestDraft, RequestService
from bot.requests.db import create_store_engine, session_factory
from bot.requests.schema import outbox, sim_requests

DRAFT = RequestDraft("sim_swap", "0771234567", "facebook", "psid-1", units={"province_code": "48"})


def _row(reference: str, status: str = "new") -> dict:
    now = datetime.now(timezone.utc)
    return {
        "reference": reference,
        "request_type": "sim_swap",
        "status": status,
        "phone_e164": "+84771234567",
        "province_code": "48",
        "channel": "rest",
        "sender_id": "x",
        "team_id": "p48",
        "route_rule": "province:48",
        "created_by": "test",
        "created_at": now,
        "updated_at": now,
    }


def test_database_itself_refuses_a_second_open_request(service, sessions):
    # The rule holds even for code that bypasses the service.
    with sessions.begin() as session:
        session.execute(insert(sim_requests).values(_row("4G-AAAA-AAAA")))
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.execute(insert(sim_requests).values(_row("4G-BBBB-BBBB")))
    # Closed requests do not count.
    with sessions.begin() as session:
        session.execute(insert(sim_requests).values(_row("4G-CCCC-CCCC", status="done")))
        session.execute(insert(sim_requests).values(_row("4G-DDDD-DDDD", status="cancelled")))


@pytest.mark.postgres
def test_concurrent_confirmations_on_two_replicas_make_one_request(pg_service, pg_url, directory):
    # pg_service empties the tables first.
    # Two "replicas": separate engines (connection pools) and services.
    engines = [create_store_engine(pg_url) for _ in range(2)]
    services = [RequestService(session_factory(e), directory) for e in engines]
    try:
        for round_no in range(5):
            phone = f"07712345{round_no:02d}"
            draft = RequestDraft("sim_swap", phone, "zalo", "z", units={"province_code": "48"})
            barrier = threading.Barrier(8)
            outcomes = []

            def confirm(n: int, draft=draft, barrier=barrier, outcomes=outcomes) -> None:
                barrier.wait()
                outcomes.append(services[n % 2].submit(draft))

            threads = [threading.Thread(target=confirm, args=(n,)) for n in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(outcomes) == 8
            assert len({o.reference for o in outcomes}) == 1
            assert sum(o.created for o in outcomes) == 1

        with services[0]._sessions() as session:
            assert session.execute(select(func.count()).select_from(sim_requests)).scalar() == 5
            assert session.execute(select(func.count()).select_from(outbox)).scalar() == 5
    finally:
        for e in engines:
            e.dispose()


def test_sequential_duplicates_on_both_backends(service, sessions):
    outcomes = [service.submit(DRAFT) for _ in range(3)]
    assert [o.created for o in outcomes] == [True, False, False]
    with sessions() as session:
        assert session.execute(select(func.count()).select_from(sim_requests)).scalar() == 1


def test_enqueue_once_holds_when_two_replicas_race(store_url, directory):
    # Two "replicas" each queue the same once-only notification; both have checked
    # for an existing row before either inserts (held at the insert until both arrive,
    # or until the database makes one wait for the other).
    engines = [create_store_engine(store_url) for _ in range(2)]
    services = [RequestService(session_factory(e), directory) for e in engines]
    reference = services[0].submit(DRAFT).reference
    barrier = threading.Barrier(2, timeout=2)

    def hold(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()

    results: list[int | None] = []

    def enqueue(service: RequestService) -> None:
        payload = {"reference": reference}
        results.append(service.outbox.enqueue(reference, "p48", "reminder", payload, once=True))

    for engine in engines:
        event.listen(engine, "before_cursor_execute", hold)
    try:
        threads = [threading.Thread(target=enqueue, args=(s,)) for s in services]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with services[0]._sessions() as session:
            queued = session.execute(select(outbox.c.id).where(outbox.c.kind == "reminder")).all()
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", hold)
            engine.dispose()
    assert len(results) == 2
    assert [r.id for r in queued] == [r for r in results if r is not None]
    assert results.count(None) == 1

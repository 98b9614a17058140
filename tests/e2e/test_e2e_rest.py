"""A whole customer conversation over the REST channel, through the real servers.

Runs the launcher as ``make run`` does, once on the embedded defaults (SQLite tracker,
in-memory locks) and once on PostgreSQL + Redis, and checks that the conversation
ends with exactly one stored, routed request.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import create_engine, text

from bot.requests import RequestService
from bot.requests.db import create_store_engine, session_factory
from bot.routing import load_directory
from tests_support.databases import REDIS_URL, temporary_postgres
from tests_support.servers import Stack, running_stack

pytestmark = pytest.mark.servers


@pytest.fixture(
    scope="module",
    params=["embedded", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.redis])],
)
def stack(request, tmp_path_factory) -> Iterator[Stack]:
    var_dir: Path = tmp_path_factory.mktemp(f"stack-{request.param}")
    if request.param == "embedded":
        with running_stack(var_dir) as started:
            yield started
    else:
        with (
            temporary_postgres("e2e") as url,
            running_stack(var_dir, database_url=url, redis_url=REDIS_URL) as started,
        ):
            yield started


def _command_lines(group: int) -> list[str]:
    """The command line of every live process in process group ``group`` (Linux /proc)."""
    lines = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:  # the process ended meanwhile
            continue
        # Fields after the command name (which may hold spaces): state, ppid, pgrp, ...
        if int(stat.rsplit(")", 1)[1].split()[2]) == group:
            lines.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return lines


def test_the_api_token_is_on_no_command_line(stack: Stack) -> None:
    """Any user of the machine reads command lines (``ps``); the token opens the HTTP API
    with every conversation in it, so it reaches Rasa through the environment only."""
    lines = _command_lines(stack.pid)
    assert any("bot.rasa_server run" in line for line in lines), lines
    assert not [line for line in lines if stack.token in line]
    status = httpx.get(f"{stack.rasa_url}/status", params={"token": stack.token}, timeout=10)
    assert status.status_code == 200
    assert httpx.get(f"{stack.rasa_url}/status", timeout=10).status_code == 401


def _texts(replies: list[dict[str, object]]) -> str:
    return "\n".join(str(r.get("text", "")) for r in replies)


def _service(stack: Stack) -> RequestService:
    engine = create_store_engine(stack.env["DATABASE_URL"])
    return RequestService(session_factory(engine), load_directory())


def test_sim_swap_conversation_ends_with_one_routed_request(stack: Stack) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    greeting = stack.rest(sender, "chào shop")
    assert "SIM 4G" in _texts(greeting)
    assert any(r.get("buttons") for r in greeting)

    assert "số điện thoại" in _texts(stack.rest(sender, "mình muốn đổi sim 4g")).lower()
    assert "địa chỉ" in _texts(stack.rest(sender, "090 123 4567")).lower()
    assert "tên" in _texts(stack.rest(sender, "12/3 Le Van Sy P13 Q3 tphcm")).lower()
    read_back = _texts(stack.rest(sender, "bỏ qua"))
    assert "0901234567" in read_back
    assert "Thành phố Hồ Chí Minh" in read_back

    result = _texts(stack.rest(sender, "đúng rồi"))
    service = _service(stack)
    stored = service.find_open("0901234567", "sim_swap")
    assert len(stored) == 1
    assert stored[0].reference in result
    assert stored[0].province_name == "Thành phố Hồ Chí Minh"
    assert stored[0].sender_id == sender
    assert stored[0].channel == "rest"

    # Asking again for the number just sent: the question says the request was sent and
    # takes another number; the same one typed leads to the open request, not a second.
    repeat = _texts(stack.rest(sender, "doi sim 4g"))
    assert "đã được chuyển" in repeat and "0901234567" in repeat
    assert "địa chỉ" in _texts(stack.rest(sender, "0901234567")).lower()
    stack.rest(sender, "12/3 Le Van Sy, P13, Q3, TP HCM")
    stack.rest(sender, "bo qua")
    again = _texts(stack.rest(sender, "dung roi"))
    assert stored[0].reference in again
    assert len(service.find_open("0901234567", "sim_swap")) == 1
    # "không ạ" there: nothing more; the request stands (the phone's text mapping took the
    # words, and the number was asked again).
    assert "đã được chuyển" in _texts(stack.rest(sender, "doi sim 4g"))
    kept = _texts(stack.rest(sender, "không ạ"))
    assert "vẫn được giữ" in kept and stored[0].reference in kept
    tracker = httpx.get(
        f"{stack.rasa_url}/conversations/{sender}/tracker",
        params={"token": stack.token},
        timeout=10,
    ).json()
    assert tracker["slots"]["phone_number"] in (None, "0901234567")
    assert tracker["active_loop"] in ({}, None)


def test_a_one_line_request_goes_straight_to_the_name(stack: Stack) -> None:
    # The request, the phone and the address in one message, mostly data: whether the NLU
    # reads it as the request or as data (its request words then give the type), the
    # form has all three and asks only the name; "bỏ qua" there brings the read-back.
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    reply = _texts(stack.rest(sender, "doi sim 0987654322 thon 5 xa Cu Ne Krong Buk Dak Lak"))
    assert "tên" in reply.lower()
    read_back = _texts(stack.rest(sender, "bo qua"))
    assert "ĐỔI SIM" in read_back and "0987654322" in read_back


def test_the_need_said_for_advice_reaches_the_team(stack: Stack) -> None:
    # Said at the phone question, read by the NLU as small talk: noted, not the fallback;
    # read back, and stored as the request's note, which the team's message shows.
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    stack.rest(sender, "tu van goi cuoc cho em")
    noted = _texts(stack.rest(sender, "em dung nhieu data lam, hay xem youtube"))
    assert "nhu cầu" in noted and "số điện thoại" in noted
    stack.rest(sender, "0905333445")
    stack.rest(sender, "Hai Chau, Da Nang")
    read_back = _texts(stack.rest(sender, "bo qua"))
    assert "em dung nhieu data lam, hay xem youtube" in read_back
    stack.rest(sender, "dung roi")
    stored = _service(stack).find_open("0905333445", "advice")
    assert len(stored) == 1
    assert stored[0].note == "em dung nhieu data lam, hay xem youtube"


def test_conversation_is_kept_in_the_configured_tracker_store(stack: Stack) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    stack.rest(sender, "xin chào")
    tracker = stack.tracker(sender)
    assert any(e.get("event") == "user" for e in tracker["events"])
    url = stack.env["TRACKER_STORE_URL"]
    engine = create_engine(url, future=True)
    with engine.connect() as conn:
        count = conn.execute(
            text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": sender}
        ).scalar_one()
    engine.dispose()
    assert count > 0


@pytest.mark.parametrize("stack", ["postgres"], indirect=True)
def test_locks_go_through_redis_when_configured(stack: Stack) -> None:
    assert stack.env["REDIS_URL"] == REDIS_URL
    client = redis.Redis.from_url(REDIS_URL.rsplit("/", 1)[0] + "/1")
    seen: list[str] = []
    monitor = client.monitor()
    stop = threading.Event()

    def watch() -> None:
        with monitor as m:
            for command in m.listen():
                seen.append(str(command.get("command", "")))
                if stop.is_set():
                    break

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    stack.rest(sender, "xin chào")
    stop.set()
    client.ping()  # wake the monitor so it sees the stop flag
    thread.join(timeout=10)
    assert any(f"sim4g:lock:{sender}" in cmd or "sim4g" in cmd for cmd in seen), seen[:20]

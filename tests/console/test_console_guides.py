"""CSKH's staff guides beside a request and the intake form, edited without a restart."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from bot.guides import ROOT


@pytest.fixture
def guides(tmp_path, monkeypatch):
    """A copy of the shipped guides the test may edit."""
    folder = tmp_path / "guides"
    shutil.copytree(ROOT / "guides", folder)
    monkeypatch.setenv("GUIDES_DIR", str(folder))
    return folder


def first_guide(body: str) -> str:
    return body.split('<details class="card guide" id="guide-')[1].split('"')[0]


async def test_request_page_shows_the_call_script_first(make_client, login, submit, guides):
    outcome = submit()
    client = await make_client()
    await login(client, "op")
    body = await (await client.get(f"/requests/{outcome.reference}")).text()
    assert "Hướng dẫn của CSKH" in body
    assert first_guide(body) == "outbound_call"
    assert "Kịch bản gọi ra" in body and "Tổng đài 9090" in body
    assert "Khách còn băn khoăn" in body  # objections and answers


async def test_intake_page_shows_the_operator_guide_first(make_client, login, guides):
    client = await make_client()
    await login(client, "op")
    body = await (await client.get("/intake")).text()
    assert first_guide(body) == "operator_guide"
    assert "Nhập trên bảng điều phối" in body


async def test_an_edited_guide_shows_without_restart(make_client, login, guides):
    client = await make_client()
    await login(client, "op")
    await client.get("/intake")
    path = guides / "operator_guide.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("Khi nào nhập yêu cầu", "Khi nào tạo phiếu"),
        encoding="utf-8",
    )
    later = time.time() + 5
    os.utime(path, (later, later))  # a new mtime even on a coarse clock
    body = await (await client.get("/intake")).text()
    assert "Khi nào tạo phiếu" in body


async def test_a_broken_guide_is_reported_not_a_server_error(make_client, login, guides):
    (guides / "operator_guide.yml").write_text("title: [\n", encoding="utf-8")
    client = await make_client()
    await login(client, "op")
    response = await client.get("/intake")
    assert response.status == 200
    body = await response.text()
    assert "lỗi định dạng" in body and "make check-script" in body
    assert "Kịch bản gọi ra" in body  # the other guide still shows


async def test_guide_text_is_escaped(make_client, login, guides):
    path = guides / "outbound_call.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("1. Mở đầu", "1. Mở đầu <script>x</script>"),
        encoding="utf-8",
    )
    client = await make_client()
    await login(client, "op")
    body = await (await client.get("/intake")).text()
    assert "<script>x</script>" not in body and "&lt;script&gt;" in body

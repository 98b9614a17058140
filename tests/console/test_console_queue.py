"""Queue filters, status changes, CSV export and the 4xx answers for bad input."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from bot.requests.schema import outbox


async def test_filters_narrow_the_queue(make_client, login, submit, store):
    swap = submit(phone="0903123456")
    advice = submit(phone="0903999888", request_type="advice")
    store.service.transition(advice.reference, "accepted", "test")
    client = await make_client()
    await login(client, "hanoi")

    async def refs(query: str) -> list[str]:
        response = await client.get(f"/api/requests?{query}")
        assert response.status == 200, await response.text()
        return [r["reference"] for r in (await response.json())["requests"]]

    assert await refs("") == [swap.reference, advice.reference]
    assert await refs("status=accepted") == [advice.reference]
    assert await refs("type=sim_swap") == [swap.reference]
    assert await refs("age=1") == []  # nothing has waited an hour
    assert await refs("ward=00256") == []
    page = await (await client.get("/queue?status=new")).text()
    assert swap.reference in page
    assert advice.reference not in page


async def test_malformed_filters_are_400(make_client, login):
    client = await make_client()
    await login(client, "op")
    for query in ("status=lost", "type=pizza", "ward=abc", "age=-1", "page=0", "province=xx"):
        response = await client.get(f"/api/requests?{query}")
        assert response.status == 400, query
        assert "error" in await response.json()
    assert (await client.get("/queue?status=lost")).status == 400


async def test_team_sees_phone_only_after_accepting(make_client, login, submit):
    outcome = submit()
    client = await make_client()
    csrf = await login(client, "hanoi")
    detail = await (await client.get(f"/api/requests/{outcome.reference}")).json()
    assert detail["phone"] == "090****456"

    response = await client.post(
        f"/api/requests/{outcome.reference}/status",
        json={"to_status": "accepted", "reason": "gọi khách"},
        headers={"X-CSRF-Token": csrf},
    )

    assert response.status == 200
    body = await response.json()
    assert body["status"] == "accepted"
    assert body["phone"] == "0903123456"
    detail = await (await client.get(f"/api/requests/{outcome.reference}")).json()
    assert detail["events"][-1]["actor"] == "console:hanoi"
    assert detail["events"][-1]["reason"] == "gọi khách"


async def test_status_form_changes_status_and_redirects(make_client, login, submit, store):
    outcome = submit()
    client = await make_client()
    csrf = await login(client, "hanoi")
    page = await (await client.get(f"/requests/{outcome.reference}")).text()
    assert 'name="to_status"' in page

    response = await client.post(
        f"/requests/{outcome.reference}/status",
        data={"to_status": "accepted", "csrf_token": csrf},
        allow_redirects=False,
    )

    assert response.status == 303
    assert response.headers["Location"] == f"/requests/{outcome.reference}"
    assert store.service.get(outcome.reference).status == "accepted"


async def test_bad_status_changes_are_4xx_and_change_nothing(make_client, login, submit, store):
    outcome = submit()
    client = await make_client()
    csrf = await login(client, "hanoi")
    headers = {"X-CSRF-Token": csrf}
    url = f"/api/requests/{outcome.reference}/status"
    before = store.service.history(outcome.reference)

    illegal = await client.post(url, json={"to_status": "done"}, headers=headers)
    assert illegal.status == 409
    assert "Không thể chuyển" in (await illegal.json())["error"]
    assert (await client.post(url, json={"to_status": "flying"}, headers=headers)).status == 400
    assert (await client.post(url, json={"reason": "x"}, headers=headers)).status == 400
    assert (await client.post(url, json=["accepted"], headers=headers)).status == 400
    broken = await client.post(
        url, data="{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert broken.status == 400
    no_csrf = await client.post(url, json={"to_status": "accepted"})
    assert no_csrf.status == 403
    unknown = await client.post(
        "/api/requests/4G-2222-2222/status", json={"to_status": "accepted"}, headers=headers
    )
    assert unknown.status == 404
    assert (await client.get("/api/requests/not-a-reference")).status == 404
    assert (await client.get("/requests/4G-2222-2222")).status == 404
    form = await client.post(
        f"/requests/{outcome.reference}/status", data={"to_status": "done", "csrf_token": csrf}
    )
    assert form.status == 409
    assert "Không thể chuyển" in await form.text()

    assert store.service.get(outcome.reference).status == "new"
    assert store.service.history(outcome.reference) == before


async def test_status_change_asks_dispatcher_to_edit_posted_messages(
    make_client, login, submit, store
):
    outcome = submit()
    client = await make_client()
    csrf = await login(client, "hanoi")
    headers = {"X-CSRF-Token": csrf}
    await client.post(
        f"/api/requests/{outcome.reference}/status",
        json={"to_status": "accepted"},
        headers=headers,
    )
    with store.sessions() as session:
        kinds = [r.kind for r in session.execute(select(outbox.c.kind)).all()]
    # Never posted to a chat yet: nothing to edit.
    assert kinds == ["new_request"]


async def test_csv_export_is_excel_friendly(make_client, login, submit):
    submit(contact_name='=HYPERLINK("http://evil")', address_text="Số 5, ngõ Huế")
    submit(phone="0903999888", province="79")
    client = await make_client()
    await login(client, "op")

    response = await client.get("/export.csv?province=01")

    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    raw = await response.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Mã yêu cầu", "Tạo lúc", "Loại", "Trạng thái"]
    assert len(rows) == 2
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["Số điện thoại"] == "0903123456"
    assert record["Địa chỉ"] == "Số 5, ngõ Huế"
    assert record["Tên khách"].startswith("'=")
    assert record["Loại"] == "Đổi SIM 4G"
    assert b"\r\n" in raw
    bad = await client.get("/export.csv?status=nope")
    assert bad.status == 400


async def test_the_request_page_shows_its_history(make_client, login, submit):
    # A repeat confirmation with another address (typed in another conversation) is
    # written to the request's history, which the page did not show: the team could not
    # see it.
    outcome = submit()
    submit(sender_id="other-conversation", address_text="45 Hàng Bông")
    client = await make_client()
    await login(client, "hanoi")
    page = await (await client.get(f"/requests/{outcome.reference}")).text()
    assert "Lịch sử" in page
    assert "Khách xác nhận lại qua rest, từ một cuộc trò chuyện khác: địa chỉ" in page
    assert "45 Hàng Bông" in page

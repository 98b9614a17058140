"""Sign-in, sessions, CSRF and the province isolation of team accounts."""

from __future__ import annotations

import os
import stat

import pytest

from bot.console.auth import (
    ADMIN_PASSWORD_FILE,
    SessionCodec,
    UsersFileError,
    UserStore,
    add_user,
    bootstrap_admin,
    hash_password,
    verify_password,
)


async def test_anonymous_is_sent_to_sign_in(make_client):
    client = await make_client()
    page = await client.get("/queue", allow_redirects=False)
    assert page.status == 303
    assert page.headers["Location"] == "/login"
    api = await client.get("/api/requests")
    assert api.status == 401
    assert "error" in await api.json()


async def test_wrong_password_and_missing_csrf_are_refused(make_client, login):
    client = await make_client()
    page = await client.get("/login")
    assert "Đăng nhập" in await page.text()
    no_csrf = await client.post("/login", data={"username": "hanoi", "password": "x"})
    assert no_csrf.status == 403
    with pytest.raises(AssertionError):
        await login(client, "hanoi", "wrong password")
    assert (await client.get("/api/me")).status == 401


async def test_forged_cookie_is_anonymous(make_client):
    session = {"u": "admin", "csrf": "x", "iat": 0}
    genuine = await make_client()
    genuine.session.cookie_jar.update_cookies(
        {"sim4g_console": SessionCodec("test-secret").dump(session)}
    )
    assert (await genuine.get("/api/me")).status == 200  # the cookie does reach the app
    client = await make_client()
    forged = SessionCodec("another-secret").dump(session)
    client.session.cookie_jar.update_cookies({"sim4g_console": forged})
    assert (await client.get("/api/me")).status == 401


async def test_logout_ends_the_session(make_client, login):
    client = await make_client()
    csrf = await login(client, "op")
    response = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 303
    assert (await client.get("/api/me")).status == 401


async def test_team_sees_only_its_province(make_client, login, submit, store):
    hanoi_request = submit(phone="0903123456", province="01")
    hcm_request = submit(phone="0903999888", province="79")
    client = await make_client()
    csrf = await login(client, "hanoi")

    listing = await (await client.get("/api/requests")).json()
    assert [r["reference"] for r in listing["requests"]] == [hanoi_request.reference]
    page = await (await client.get("/queue")).text()
    assert hanoi_request.reference in page
    assert hcm_request.reference not in page
    csv_text = (await (await client.get("/export.csv")).read()).decode("utf-8-sig")
    assert hanoi_request.reference in csv_text
    assert hcm_request.reference not in csv_text

    assert (await client.get("/api/requests?province=79")).status == 403
    assert (await client.get(f"/api/requests/{hcm_request.reference}")).status == 403
    assert (await client.get(f"/requests/{hcm_request.reference}")).status == 403
    before = store.service.history(hcm_request.reference)
    changed = await client.post(
        f"/api/requests/{hcm_request.reference}/status",
        json={"to_status": "accepted"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status == 403
    form = await client.post(
        f"/requests/{hcm_request.reference}/status",
        data={"to_status": "cancelled", "csrf_token": csrf},
    )
    assert form.status == 403
    assert store.service.get(hcm_request.reference).status == "new"
    assert store.service.history(hcm_request.reference) == before
    # Operators' intake is not for teams.
    assert (await client.get("/intake")).status == 403
    intake = await client.post(
        "/api/requests",
        json={"request_type": "sim_swap", "phone": "0903777666", "province_code": "01"},
        headers={"X-CSRF-Token": csrf},
    )
    assert intake.status == 403


async def test_operator_and_admin_see_every_province(make_client, login, submit):
    first = submit(phone="0903123456", province="01")
    second = submit(phone="0903999888", province="79")
    for username in ("op", "admin"):
        client = await make_client()
        await login(client, username)
        listing = await (await client.get("/api/requests")).json()
        assert {r["reference"] for r in listing["requests"]} == {
            first.reference,
            second.reference,
        }
        only_hcm = await (await client.get("/api/requests?province=79")).json()
        assert [r["reference"] for r in only_hcm["requests"]] == [second.reference]


def test_password_hashes():
    stored = hash_password("s3cret-enough")
    assert stored.startswith("scrypt$")
    assert verify_password("s3cret-enough", stored)
    assert not verify_password("s3cret-enougH", stored)
    assert not verify_password("x", "plain-text")
    assert hash_password("same") != hash_password("same")  # salted


def test_users_file_add_and_validation(tmp_path):
    path = tmp_path / "console_users.yml"
    add_user(path, "hanoi", "team", "a long password", province_code="01")
    add_user(path, "op", "operator", "another password")
    store = UserStore.load(path, province_codes={"01", "79"})
    assert store.authenticate("hanoi", "a long password").province_code == "01"
    assert store.authenticate("hanoi", "nope") is None
    assert store.authenticate("ghost", "a long password") is None
    with pytest.raises(UsersFileError, match="needs a province_code"):
        add_user(path, "broken", "team", "a long password")
    assert UserStore.load(path).get("broken") is None  # the file was not changed

    duplicate = tmp_path / "dup.yml"
    entry = f"  - {{username: a, role: operator, password_hash: '{hash_password('x')}'}}\n"
    duplicate.write_text("users:\n" + entry + entry)
    with pytest.raises(UsersFileError, match=r"user #2 \(a\): duplicate"):
        UserStore.load(duplicate)
    unknown = tmp_path / "unknown.yml"
    unknown.write_text(
        "users:\n  - {username: t, role: team, province_code: '99', "
        f"password_hash: '{hash_password('x')}'}}\n"
    )
    with pytest.raises(UsersFileError, match="unknown province_code"):
        UserStore.load(unknown, province_codes={"01"})


def test_empty_config_bootstraps_an_admin_with_a_private_password(tmp_path):
    store = bootstrap_admin(UserStore.load(tmp_path / "missing.yml"), tmp_path)
    secret_file = tmp_path / ADMIN_PASSWORD_FILE
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
    password = secret_file.read_text().strip()
    assert store.authenticate("admin", password).role == "admin"
    # Stable across restarts.
    again = bootstrap_admin(UserStore([]), tmp_path)
    assert again.authenticate("admin", password) is not None


def test_add_user_command(tmp_path, monkeypatch, capsys):
    import io

    from bot.console.__main__ import add_user_command

    path = tmp_path / "users.yml"
    monkeypatch.setattr("sys.stdin", io.StringIO("mật khẩu đủ dài\n"))
    args = ["hanoi", "--role", "team", "--province", "01", "--password-stdin", "--file", str(path)]
    assert add_user_command(args) == 0
    assert UserStore.load(path).authenticate("hanoi", "mật khẩu đủ dài").province_code == "01"
    monkeypatch.setattr("sys.stdin", io.StringIO("mật khẩu đủ dài\n"))
    bad = ["x", "--role", "team", "--province", "99", "--password-stdin", "--file", str(path)]
    assert add_user_command(bad) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert (
        add_user_command(["y", "--role", "operator", "--password-stdin", "--file", str(path)]) == 2
    )
    assert set(UserStore.load(path).users) == {"hanoi"}
    assert "mật khẩu đủ dài" not in path.read_text()

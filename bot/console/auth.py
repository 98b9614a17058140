"""Console users, password hashes and signed session cookies.

Users live in ``config/console_users.yml`` (operations edit it with
``python -m bot.console add-user``); passwords are stored as scrypt hashes. When the
file has no user, a one-off admin password is generated into ``var/`` (mode 600) so a
fresh ``make run`` still lets a person in. Sessions are Fernet tokens (authenticated
encryption with a timestamp) in an HttpOnly cookie, and carry the CSRF token the forms
echo back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger(__name__)

ROLES = ("team", "operator", "admin")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
SESSION_TTL_SECONDS = 12 * 3600
ADMIN_PASSWORD_FILE = "console-admin-password"  # noqa: S105 - a file name


class UsersFileError(ValueError):
    """``console_users.yml`` is malformed; the message names the entry."""


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64); a fresh salt each time."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return "$".join(
        [
            "scrypt",
            str(_SCRYPT_N),
            str(_SCRYPT_R),
            str(_SCRYPT_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a :func:`hash_password` string."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest_b64)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt_b64),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class User:
    """A console account: a province team, a 9090 operator or an admin."""

    username: str
    role: str
    password_hash: str
    province_code: str | None = None
    display_name: str = ""

    @property
    def sees_all(self) -> bool:
        """Operators and admins work every province; a team only its own."""
        return self.role in {"operator", "admin"}

    @property
    def can_intake(self) -> bool:
        return self.role in {"operator", "admin"}

    def may_see(self, province_code: str | None) -> bool:
        return self.sees_all or (province_code is not None and province_code == self.province_code)


class UserStore:
    """The accounts, keyed by username."""

    def __init__(self, users: list[User]) -> None:
        self.users = {u.username: u for u in users}

    def get(self, username: str) -> User | None:
        return self.users.get(username)

    def authenticate(self, username: str, password: str) -> User | None:
        user = self.users.get(username)
        if user is None:
            # Same cost as a real check, so timing does not reveal which names exist.
            verify_password(password, _DUMMY_HASH)
            return None
        return user if verify_password(password, user.password_hash) else None

    @classmethod
    def load(cls, path: Path, province_codes: set[str] | None = None) -> UserStore:
        """Read and validate the users file; a missing file is an empty store."""
        if not path.exists():
            return cls([])
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        entries = data.get("users") or [] if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise UsersFileError(f"{path}: expected a mapping with a 'users' list")
        users: list[User] = []
        seen: set[str] = set()
        for index, entry in enumerate(entries, start=1):
            users.append(_parse_user(path, index, entry, seen, province_codes))
        return cls(users)


def _parse_user(
    path: Path, index: int, entry: Any, seen: set[str], province_codes: set[str] | None
) -> User:
    where = f"{path}: user #{index}"
    if not isinstance(entry, dict):
        raise UsersFileError(f"{where}: expected a mapping")
    username = str(entry.get("username") or "").strip()
    role = str(entry.get("role") or "").strip()
    password_hash = str(entry.get("password_hash") or "")
    province = entry.get("province_code")
    province_code = str(province).strip() if province is not None else None
    if not username:
        raise UsersFileError(f"{where}: missing username")
    where = f"{where} ({username})"
    if username in seen:
        raise UsersFileError(f"{where}: duplicate username")
    seen.add(username)
    if role not in ROLES:
        raise UsersFileError(f"{where}: role must be one of {', '.join(ROLES)}")
    if not password_hash.startswith("scrypt$"):
        raise UsersFileError(f"{where}: password_hash must be a scrypt hash (use add-user)")
    if role == "team":
        if not province_code:
            raise UsersFileError(f"{where}: a team needs a province_code")
        if province_codes is not None and province_code not in province_codes:
            raise UsersFileError(f"{where}: unknown province_code {province_code!r}")
    return User(
        username=username,
        role=role,
        password_hash=password_hash,
        province_code=province_code if role == "team" else None,
        display_name=str(entry.get("display_name") or username),
    )


def add_user(
    path: Path,
    username: str,
    role: str,
    password: str,
    province_code: str | None = None,
    display_name: str | None = None,
) -> None:
    """Add or replace one account in the users file (validated before writing)."""
    data: dict[str, Any] = {}
    if path.exists():
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = [e for e in data.get("users") or [] if e.get("username") != username]
    entry: dict[str, Any] = {
        "username": username,
        "role": role,
        "display_name": display_name or username,
        "password_hash": hash_password(password),
    }
    if province_code:
        entry["province_code"] = province_code
    entries.append(entry)
    data["users"] = entries
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    # Validate the result before it replaces the file: never a half-valid users file.
    tmp = path.with_suffix(".yml.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(text, encoding="utf-8")
    try:
        UserStore.load(tmp)
    except UsersFileError:
        tmp.unlink()
        raise
    tmp.replace(path)


def bootstrap_admin(store: UserStore, var_dir: Path) -> UserStore:
    """With no account configured, an ``admin`` whose password is kept in ``var/``."""
    if store.users:
        return store
    path = var_dir / ADMIN_PASSWORD_FILE
    if path.exists():
        password = path.read_text(encoding="utf-8").strip()
    else:
        var_dir.mkdir(parents=True, exist_ok=True)
        password = secrets.token_urlsafe(12)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
    log.warning(
        "console: no users configured; sign in as 'admin' with the password in %s "
        "(add real accounts with: python -m bot.console add-user)",
        path,
    )
    admin = User("admin", "admin", hash_password(password), display_name="Quản trị")
    return UserStore([admin])


_DUMMY_HASH = hash_password(secrets.token_urlsafe(8))


class SessionCodec:
    """Encrypts and authenticates the session cookie's content."""

    def __init__(self, secret: str, ttl: int = SESSION_TTL_SECONDS) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
        self._fernet = Fernet(key)
        self.ttl = ttl

    def dump(self, data: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(data).encode()).decode()

    def load(self, token: str | None) -> dict[str, Any] | None:
        """The session, or ``None`` when absent, forged or older than the TTL."""
        if not token:
            return None
        try:
            raw = self._fernet.decrypt(token.encode(), ttl=self.ttl)
        except (InvalidToken, ValueError):
            return None
        data = json.loads(raw)
        return data if isinstance(data, dict) else None


def new_session(username: str | None = None) -> dict[str, Any]:
    """A fresh session: a new CSRF token on every sign-in (no fixation)."""
    return {"u": username, "csrf": secrets.token_urlsafe(24), "iat": int(time.time())}

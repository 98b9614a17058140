"""The team console's aiohttp application: sessions, CSRF, start-up and routes.

Built by :func:`create_app`; the store's engine is opened in a cleanup context when the
app starts (one session per unit of work inside the service), never at import. Views
live in :mod:`bot.console.views`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.console.auth import SessionCodec, User, UserStore, new_session
from bot.dispatch.render import labels
from bot.dispatch.store import Store, open_store
from bot.dispatch.telegram import TelegramClient
from bot.dispatch.worker import DispatchConfig, Dispatcher

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COOKIE = "sim4g_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
WEBHOOK_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ROLE_LABELS = {"team": "Đội tỉnh", "operator": "Tổng đài 9090", "admin": "Quản trị"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Console:
    """Everything the views need, kept on the application."""

    users: UserStore
    codec: SessionCodec
    database_url: str | None = None
    store: Store | None = None
    telegram: TelegramClient | None = None
    webhook_secret: str | None = None
    cookie_secure: bool = False
    dispatcher: Dispatcher | None = None
    owns_store: bool = False
    province_names: dict[str, str] = field(default_factory=dict)

    @property
    def ready_store(self) -> Store:
        if self.store is None:
            raise web.HTTPServiceUnavailable(text="store not open")
        return self.store


CONSOLE_KEY = web.AppKey("console", Console)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE_KEY]


def current_user(request: web.Request) -> User | None:
    user = request.get("user")
    return user if isinstance(user, User) else None


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/telegram/")


# -- middleware ----------------------------------------------------------------------


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the signed session; write it back when it is new or changed."""
    console = console_of(request)
    loaded = console.codec.load(request.cookies.get(COOKIE))
    session = dict(loaded) if loaded else new_session()
    request["session"] = session
    request["user"] = console.users.get(session["u"]) if session.get("u") else None
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _write_session(request, exc, loaded)
        raise
    _write_session(request, response, loaded)
    return response


def _write_session(
    request: web.Request, response: web.StreamResponse, loaded: dict[str, Any] | None
) -> None:
    session = request["session"]
    if request.get("clear_session"):
        response.del_cookie(COOKIE, path="/")
        return
    if session == loaded or response.prepared:
        return
    response.set_cookie(
        COOKIE,
        console_of(request).codec.dump(session),
        httponly=True,
        samesite="Lax",
        secure=console_of(request).cookie_secure,
        path="/",
        max_age=console_of(request).codec.ttl,
    )


@web.middleware
async def security_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CSRF on every unsafe method (the webhook has its own secret); strict headers."""
    if request.method not in {"GET", "HEAD", "OPTIONS"} and request.path != "/telegram/webhook":
        expected = request["session"].get("csrf", "")
        supplied = request.headers.get(CSRF_HEADER, "")
        if not supplied and request.content_type in {
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        }:
            form = await request.post()
            value = form.get(CSRF_FIELD)
            supplied = value if isinstance(value, str) else ""
        if not expected or not hmac.compare_digest(supplied.encode(), expected.encode()):
            raise error(request, 403, "Phiên làm việc không hợp lệ (CSRF). Hãy tải lại trang.")
    response = await handler(request)
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path != "/static/console.css":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def error(request: web.Request, status: int, message: str) -> web.HTTPException:
    """A 4xx/5xx as JSON for the API, as a page for people."""
    classes: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest,
        401: web.HTTPUnauthorized,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
        413: web.HTTPRequestEntityTooLarge,
        503: web.HTTPServiceUnavailable,
    }
    cls = classes.get(status, web.HTTPBadRequest)
    if wants_json(request):
        body = '{"error": ' + _json_str(message) + "}"
        return cls(text=body, content_type="application/json")
    html = aiohttp_jinja2.render_string(
        "error.html", request, {"status": status, "message": message}
    )
    return cls(text=html, content_type="text/html")


def _json_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def require(role_check: Callable[[User], bool] | None = None) -> Callable[[Handler], Handler]:
    """Signed-in users only (optionally of some roles); pages redirect to the sign-in."""

    def decorate(handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            user = current_user(request)
            if user is None:
                if wants_json(request):
                    raise error(request, 401, "Chưa đăng nhập.")
                raise web.HTTPSeeOther("/login")
            if role_check is not None and not role_check(user):
                raise error(request, 403, "Tài khoản không có quyền này.")
            return await handler(request)

        wrapped.__name__ = handler.__name__
        wrapped.__doc__ = handler.__doc__
        return wrapped

    return decorate


# -- template context ----------------------------------------------------------------


async def _template_context(request: web.Request) -> dict[str, Any]:
    names = labels()
    return {
        "user": current_user(request),
        "csrf_token": request["session"].get("csrf", "") if "session" in request else "",
        "role_labels": ROLE_LABELS,
        "status_labels": names["statuses"],
        "type_labels": names["request_types"],
        "province_names": console_of(request).province_names,
    }


# -- start-up ------------------------------------------------------------------------


async def _store_context(app: web.Application) -> AsyncIterator[None]:
    console = app[CONSOLE_KEY]
    if console.store is None:
        if not console.database_url:
            raise RuntimeError("console: no store and no database URL")
        console.store = await asyncio.to_thread(open_store, console.database_url)
        console.owns_store = True
    store = console.store
    directory = store.service.directory
    console.province_names = {
        code: entry.name for code, entry in sorted(directory.provinces.items())
    }
    console.dispatcher = Dispatcher(
        store.service,
        store.sessions,
        console.telegram,
        DispatchConfig(poll_updates=False),
    )
    yield
    if console.telegram is not None:
        await console.telegram.close()
    if console.owns_store:
        store.close()
        console.store = None


def create_app(
    *,
    users: UserStore,
    secret: str,
    database_url: str | None = None,
    store: Store | None = None,
    telegram: TelegramClient | None = None,
    webhook_secret: str | None = None,
    cookie_secure: bool = False,
) -> web.Application:
    """The console; give it an open ``store`` (tests) or a ``database_url`` to open."""
    from bot.console import views

    app = web.Application(
        middlewares=[session_middleware, security_middleware], client_max_size=256 * 1024
    )
    app[CONSOLE_KEY] = Console(
        users=users,
        codec=SessionCodec(secret),
        database_url=database_url,
        store=store,
        telegram=telegram,
        webhook_secret=webhook_secret or None,
        cookie_secure=cookie_secure,
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=jinja2.select_autoescape(["html"]),
        context_processors=[_template_context],
    )
    app.cleanup_ctx.append(_store_context)
    views.add_routes(app)
    app.router.add_static("/static", HERE / "static", append_version=False)
    return app

"""The web request page of plan §2a (``yeucauthaysim4G``), served by the bot itself.

One Rasa input channel serves the page (``GET /webhooks/webchat/``), its bundled assets
(``/webhooks/webchat/static/...``, no CDN), a plain form for customers who would rather not
chat (``POST /webhooks/webchat/request``) and the exchange of a Liveinfo/SMS link token for
its conversation (``POST /webhooks/webchat/link``); the first opening of a campaign
invitation's link starts that subscriber's request with the number known
(docs/campaign.md). The chat itself speaks Rasa's own socket.io protocol to the
``socketio`` channel (``session_persistence: true``), so the session id the page keeps
in ``localStorage`` *is* the Rasa sender id.

The form goes through the same validation, dedupe and routing as the bot: ``bot.phone``,
``bot.address`` and ``bot.requests``. Texts live in ``static/webchat/texts.yml`` (CSKH's).
Both POSTs are CSRF-safe: JSON only, same origin, and a signed token from the page.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import inspect
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import yaml
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot import outreach
from bot.campaign import hooks, links
from bot.phone import InvalidPhoneError, mask
from connectors.common import MessageDispatcher, install_lifecycle, offload_dialogue

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static" / "webchat"
TEXTS_FILE = STATIC / "texts.yml"
CSRF_TTL_SECONDS = 12 * 3600
MAX_BODY = 8 * 1024
MAX_ADDRESS = 300
MAX_NAME = 100
MAX_MESSAGE = 1000
# A socket.io session id Rasa may have issued (uuid4 hex) or a Liveinfo conversation's id.
_SESSION_ID = re.compile(r"[0-9a-f]{32}|" + re.escape(outreach.SENDER_PREFIX) + r"[\w-]{16}")


@functools.lru_cache(maxsize=4)
def load_texts(path: Path = TEXTS_FILE) -> dict[str, Any]:
    """The page's customer-facing texts (CSKH edits the YAML, not this module)."""
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path} must be a mapping of text names to texts")
    return data


@functools.lru_cache(maxsize=1)
def provinces() -> list[tuple[str, str]]:
    """(code, name) of the 34 provinces in force, alphabetical, for the form's select."""
    from bot.address import list_provinces
    from bot.text import fold

    def key(item: tuple[str, str]) -> str:
        return fold(re.sub(r"^(Thành phố|Tỉnh)\s+", "", item[1]))

    return sorted(list_provinces(), key=key)


def _mac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


def csrf_token(secret: str, now: float | None = None) -> str:
    """A token the page echoes back in ``X-CSRF-Token``; valid for a working day."""
    issued = str(int(time.time() if now is None else now))
    return f"{issued}.{_mac(secret, 'csrf:' + issued)}"


def csrf_ok(secret: str, token: str, now: float | None = None) -> bool:
    """Signed by us and not older than :data:`CSRF_TTL_SECONDS`."""
    issued, _, sig = token.partition(".")
    if not issued.isdigit() or not hmac.compare_digest(sig, _mac(secret, "csrf:" + issued)):
        return False
    age = (time.time() if now is None else now) - int(issued)
    return -60 <= age <= CSRF_TTL_SECONDS


def same_origin(request: Request, allowed: tuple[str, ...] = ()) -> bool:
    """The browser's ``Origin`` (or ``Referer``) names this host or an allowed origin."""
    origin = request.headers.get("origin") or request.headers.get("referer") or ""
    parts = urlsplit(origin)
    if not parts.scheme or not parts.netloc:
        return False
    if f"{parts.scheme}://{parts.netloc}" in allowed:
        return True
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or ""
    return bool(host) and parts.netloc.lower() == host.split(",")[0].strip().lower()


class WebChatInput(InputChannel):
    """The request page, its form and its link exchange (the chat is Rasa's socketio)."""

    @classmethod
    def name(cls) -> str:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        origins = credentials.get("allowed_origins") or ()
        if isinstance(origins, str):
            origins = tuple(o.strip() for o in origins.split(",") if o.strip())
        return cls(
            link_secret=str(credentials.get("link_secret") or "") or None,
            socketio_path=str(credentials.get("socketio_path") or "/socket.io"),
            allowed_origins=tuple(origins),
            hotline=str(credentials.get("hotline") or "") or None,
        )

    def __init__(
        self,
        link_secret: str | None = None,
        socketio_path: str = "/socket.io",
        allowed_origins: tuple[str, ...] = (),
        hotline: str | None = None,
        texts_file: Path = TEXTS_FILE,
        database_url: str | None = None,
    ) -> None:
        from bot.settings import Settings, _secret

        settings = Settings.from_env()
        self.link_secret = link_secret or _secret("WEBCHAT_LINK_SECRET", "webchat-link-secret")
        self.database_url = database_url or settings.database_url
        self.socketio_path = socketio_path
        self.allowed_origins = allowed_origins
        self.hotline = hotline or settings.hotline
        self.texts_file = texts_file
        self._templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(STATIC)),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    # -- texts -------------------------------------------------------------------------

    def text(self, key: str, **values: str) -> str:
        """One customer-facing text with ``{hotline}`` and the given values filled in."""
        return str(load_texts(self.texts_file)[key]).format(hotline=self.hotline, **values)

    def _client_texts(self) -> dict[str, Any]:
        texts = load_texts(self.texts_file)
        out: dict[str, Any] = {}
        for key, value in texts.items():
            out[key] = value.replace("{hotline}", self.hotline) if isinstance(value, str) else value
        return out

    # -- the blueprint -----------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        on_new_message = offload_dialogue(on_new_message)  # Rasa off the serving loop
        bp = Blueprint("webchat_webhook", __name__)
        bp.static("/static", str(STATIC), name="webchat_static")

        @bp.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            texts = self._client_texts()
            html = self._templates.get_template("index.html").render(
                texts=texts,
                client_texts=texts,
                csrf=csrf_token(self.link_secret),
                socketio_path=self.socketio_path,
                provinces=provinces(),
                request_types=list(texts["form_request_types"].items()),
            )
            return response.html(
                html,
                headers={
                    "Cache-Control": "no-store",
                    "Referrer-Policy": "no-referrer",
                    "X-Content-Type-Options": "nosniff",
                    "X-Frame-Options": "DENY",
                    "Content-Security-Policy": (
                        "default-src 'self'; img-src 'self' data: https:; "
                        "style-src 'self'; script-src 'self'; connect-src 'self' ws: wss:; "
                        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
                    ),
                },
            )

        @bp.route("/link", methods=["POST"])
        async def link(request: Request) -> HTTPResponse:
            body, failure = self._guarded_json(request)
            if failure:
                return failure
            token = body.get("token")
            if not isinstance(token, str):
                return response.json({"errors": {"token": "missing"}}, status=400)
            status, sender = outreach.link_status(self.link_secret, token.strip())
            payload: dict[str, Any] = {"status": status}
            if sender:
                payload["session_id"] = sender
                messages = await self._open_invitation(sender, on_new_message)
                if messages:
                    payload["messages"] = messages
            else:
                payload["message"] = self.text("chat_link_expired")
            return response.json(payload)

        @bp.route("/request", methods=["POST"])
        async def submit(request: Request) -> HTTPResponse:
            body, failure = self._guarded_json(request)
            if failure:
                return failure
            try:
                return await self._submit(body)
            except Exception:
                logger.exception("webchat.request.failed")
                return response.json({"message": self.text("error_server")}, status=503)

        return bp

    # -- invitation links --------------------------------------------------------------

    def _engine(self) -> Any:
        return hooks.engine_for(self.database_url)

    async def _open_invitation(
        self, sender: str, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> list[dict[str, Any]]:
        """First opening of an invitation link: start the subscriber's conversation.

        The link's key names the invitation (``campaign_sends.link_key``), so the bot
        starts the request with the number and the campaign already known — as a Liveinfo
        Yes does — and the page shows its replies. The injected message carries the
        origin (the invitation's channel). A link opened again, or one whose subscriber
        already answered Yes, just continues the conversation. Lookup or dialogue
        failures leave the plain link behaviour (a session id), never a 500.
        """
        try:
            invitation = await asyncio.to_thread(links.find_invitation, self._engine(), sender)
        except Exception as exc:
            logger.warning("webchat.link.lookup_failed error=%s", type(exc).__name__)
            return []
        if invitation is None or invitation.answered:
            return []
        entities = json.dumps(
            {"phone_number": invitation.national, "campaign": invitation.campaign},
            ensure_ascii=False,
        )
        collector = CollectingOutputChannel()
        message = UserMessage(
            f"/request_sim_swap{entities}",
            collector,
            sender,
            input_channel=self.name(),
            message_id=f"link:{invitation.send_id}",
            metadata=hooks.origin_metadata(invitation.channel, invitation.campaign, via="link"),
        )
        try:
            await on_new_message(message)
        except Exception:
            logger.exception("webchat.link.start_failed send=%s", invitation.send_id)
            return []
        await asyncio.to_thread(
            hooks.step,
            invitation.campaign,
            invitation.e164,
            "answered_at",
            engine=self._engine(),
            channel=invitation.channel,
        )
        logger.info(
            "webchat.link.opened send=%s phone=%s campaign=%s",
            invitation.send_id,
            mask(invitation.e164),
            invitation.campaign,
        )
        return [_bubble(m) for m in collector.messages]

    def _campaign_of(self, session: str, e164: str) -> tuple[str, str] | None:
        try:
            return links.campaign_of_session(self._engine(), self.link_secret, session, e164)
        except Exception as exc:
            logger.warning("webchat.request.campaign_lookup_failed error=%s", type(exc).__name__)
            return None

    # -- guards ------------------------------------------------------------------------

    def _guarded_json(self, request: Request) -> tuple[dict[str, Any], HTTPResponse | None]:
        """JSON body of a same-origin request carrying our CSRF token, or the error."""
        forbidden = response.json({"message": self.text("error_forbidden")}, status=403)
        if not same_origin(request, self.allowed_origins):
            return {}, forbidden
        if not csrf_ok(self.link_secret, request.headers.get("x-csrf-token", "")):
            return {}, forbidden
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return {}, response.json({"message": "expected application/json"}, status=415)
        if len(request.body or b"") > MAX_BODY:
            return {}, response.json({"message": "too large"}, status=413)
        try:
            body = request.json
        except Exception:  # Sanic raises InvalidUsage on malformed JSON
            body = None
        if not isinstance(body, dict):
            return {}, response.json({"message": self.text("error_form")}, status=400)
        return body, None

    # -- the form ----------------------------------------------------------------------

    async def _submit(self, body: dict[str, Any]) -> HTTPResponse:
        from bot import address, phone
        from bot.requests import RequestDraft, get_service

        def field(name: str) -> str:
            value = body.get(name)
            return value.strip() if isinstance(value, str) else ""

        errors: dict[str, str] = {}
        request_type = field("request_type")
        if request_type not in load_texts(self.texts_file)["form_request_types"]:
            errors["request_type"] = self.text("error_request_type")
        parsed = None
        if not field("phone"):
            errors["phone"] = self.text("error_phone_missing")
        else:
            try:
                parsed = phone.parse(field("phone"))
            except InvalidPhoneError:
                errors["phone"] = self.text("error_phone_invalid")
        address_text = field("address")
        if not address_text:
            errors["address"] = self.text("error_address_missing")
        elif len(address_text) > MAX_ADDRESS:
            errors["address"] = self.text("error_address_too_long")
        name = field("name")
        if len(name) > MAX_NAME:
            errors["name"] = self.text("error_name_too_long")
        province = field("province")
        if province and province not in dict(provinces()):
            errors["province"] = self.text("error_province_invalid")
        if errors:
            return self._invalid(errors)

        resolution = await asyncio.to_thread(
            address.resolve_in_province if province else address.resolve,
            *((address_text, province) if province else (address_text,)),
        )
        if resolution.status not in ("resolved", "province_only"):
            return self._invalid(
                {"address": self.text("error_address_unresolved")}, need_province=True
            )

        session = field("session_id")
        assert parsed is not None
        channel, last_channel, campaign = "webform", None, None
        if session.startswith(outreach.SENDER_PREFIX) and _SESSION_ID.fullmatch(session):
            # Sent from an invitation link's conversation: the campaign and the channel
            # that brought the customer, as in the chat.
            found = await asyncio.to_thread(self._campaign_of, session, parsed.e164)
            if found:
                campaign, channel = found
                last_channel = "webform"
                await asyncio.to_thread(
                    hooks.step, campaign, parsed.e164, "address_at", engine=self._engine()
                )
        draft = RequestDraft(
            request_type=request_type,
            phone=parsed.e164,
            channel=channel,
            last_channel=last_channel,
            campaign=campaign,
            # The chat's session when the page has one, so the team sees one customer.
            sender_id=session if _SESSION_ID.fullmatch(session) else f"webform-{uuid.uuid4().hex}",
            contact_name=name or None,
            address_text=address_text,
            units=resolution.to_dict(),
        )
        service = get_service()
        if inspect.iscoroutinefunction(service.submit):
            outcome = await service.submit(draft)
        else:  # a synchronous store: keep its database work off the event loop
            outcome = await asyncio.to_thread(service.submit, draft)
        logger.info(
            "webchat.request.submitted phone=%s reference=%s created=%s",
            mask(parsed.national),
            outcome.reference,
            outcome.created,
        )
        key = "result_created" if outcome.created else "result_existing"
        return response.json(
            {
                "reference": outcome.reference,
                "created": bool(outcome.created),
                "message": self.text(key, reference=str(outcome.reference)),
            },
            status=201 if outcome.created else 200,
        )

    def _invalid(self, errors: dict[str, str], *, need_province: bool = False) -> HTTPResponse:
        return response.json(
            {"message": self.text("error_form"), "errors": errors, "need_province": need_province},
            status=400,
        )


def _bubble(message: dict[str, Any]) -> dict[str, Any]:
    """A collected bot reply as the page's ``bot_uttered`` handler reads it."""
    out: dict[str, Any] = {"text": message.get("text") or ""}
    buttons = message.get("buttons") or message.get("quick_replies")
    if buttons:
        out["buttons"] = [
            {"title": b.get("title", ""), "payload": b.get("payload", "")} for b in buttons
        ]
    if message.get("image"):
        out["attachment"] = {"type": "image", "payload": {"src": message["image"]}}
    return out


class WebChatSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel, fixed for the pinned python-socketio and made safe.

    Rasa 3.6.21 calls ``AsyncServer.enter_room`` without awaiting it; since python-socketio
    5.10 that is a coroutine, so with ``session_persistence`` no reply ever reaches the
    browser. And the stock channel takes any ``session_id`` a browser sends, so a page
    could write into another channel's conversation (``telegram:…``). Here a socket may
    only use the session it was confirmed for, and only ids the page can legitimately
    hold: a fresh uuid4 hex or a Liveinfo conversation opened by its signed link.
    Client-sent metadata is dropped: nothing a browser says about itself is trusted.
    """

    @classmethod
    def name(cls) -> str:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            namespace=credentials.get("namespace"),
            session_persistence=True,
            socketio_path=credentials.get("socketio_path", "/socket.io"),
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[])
        bp = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        # Chat turns share the process's turn queue (in order per session, a few at
        # once) and run on the dialogue thread; the page waits, so none is refused.
        turns = MessageDispatcher(self.name(), offload_dialogue(on_new_message))
        # On stop, finish the turns already taken: the page shows their replies.
        install_lifecycle(bp, turns)
        self.sio = sio
        sessions: dict[str, str] = {}

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: str) -> None:
            sessions.pop(sid, None)

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any) -> None:
            wanted = data.get("session_id") if isinstance(data, dict) else None
            session_id = (
                wanted
                if isinstance(wanted, str) and _SESSION_ID.fullmatch(wanted)
                else uuid.uuid4().hex
            )
            previous = sessions.get(sid)
            if previous and previous != session_id:
                await sio.leave_room(sid, previous, namespace=self.namespace)
            sessions[sid] = session_id
            await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any) -> None:
            session_id = sessions.get(sid)
            if not session_id or not isinstance(data, dict):
                logger.warning("webchat.message.without_session sid=%s", sid)
                return
            if data.get("session_id") not in (None, session_id):
                logger.warning("webchat.message.foreign_session sid=%s", sid)
                return
            text = data.get("message")
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE:
                return
            output = SocketIOOutput(sio, self.bot_message_evt)
            await turns.submit(
                UserMessage(text, output, session_id, input_channel=self.name(), metadata={})
            )

        return bp

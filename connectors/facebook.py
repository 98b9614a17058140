"""Facebook Messenger channel: the fan page's inbox talks to the bot.

Replaces Rasa's built-in connector, which checks only SHA-1, compares with ``==``,
answers 200 to a forged request, handles the first event of a batch only and sends
with blocking calls. Here: ``X-Hub-Signature-256`` checked in constant time on the raw
body, every entry and every event handled, duplicates dropped by ``mid``, the webhook
answered before the turn runs, replies through the Send API with retries.

credentials.yml::

    connectors.facebook.FacebookInput:
      verify: ${FACEBOOK_VERIFY_TOKEN}
      secret: ${FACEBOOK_APP_SECRET}
      page-access-token: ${FACEBOOK_PAGE_ACCESS_TOKEN}
      graph-version: v21.0            # optional, pinned
      graph-url: https://graph.facebook.com   # optional; tests point it at a fake
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.common import (
    Busy,
    Deduplicator,
    OnNewMessage,
    Pipeline,
    PlatformClient,
    PlatformError,
    Rejected,
    TurnQueue,
    as_object,
    health,
    hmac_sha256_hex,
    parse_json,
    redact,
    required_credentials,
    signatures_match,
    split_text,
    truncate,
)

logger = logging.getLogger(__name__)

CHANNEL = "facebook"
GRAPH_URL = "https://graph.facebook.com"
GRAPH_VERSION = "v21.0"
TEXT_LIMIT = 2000  # Send API: message.text
QUICK_REPLY_MAX = 13
QUICK_REPLY_TITLE = 20
QUICK_REPLY_PAYLOAD = 1000
BUTTON_TEMPLATE_MAX = 3
BUTTON_TITLE = 20
SIGNATURE_HEADER = "X-Hub-Signature-256"


def sender_id_for(psid: str) -> str:
    """The conversation id Rasa keeps for a page-scoped user id."""
    return f"{CHANNEL}:{psid}"


def psid_of(sender_id: str) -> str:
    """The page-scoped id to send to, from a conversation id (prefixed or not)."""
    prefix = f"{CHANNEL}:"
    return sender_id[len(prefix) :] if sender_id.startswith(prefix) else sender_id


def verify_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """``sha256=<hex HMAC-SHA256(app secret, raw body)>``, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    return signatures_match(
        hmac_sha256_hex(app_secret, body), header[len("sha256=") :], hex_digest=True
    )


def _location(message: dict[str, Any]) -> dict[str, float] | None:
    attachments = message.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        if isinstance(attachment, dict) and attachment.get("type") == "location":
            coordinates = as_object(as_object(attachment.get("payload")).get("coordinates"))
            try:
                return {"lat": float(coordinates["lat"]), "long": float(coordinates["long"])}
            except (KeyError, TypeError, ValueError):
                return None
    return None


def parse_event(
    event: dict[str, Any], page_id: str | None
) -> tuple[str, str, str | None, dict[str, Any]] | None:
    """One ``messaging`` event → (dedupe key, psid, text, metadata), or None to ignore.

    Echoes of the page's own messages, deliveries, reads, reactions and anything
    without a sender are ignored.
    """
    sender = as_object(event.get("sender")).get("id")
    if not isinstance(sender, (str, int)) or not str(sender):
        return None
    psid = str(sender)
    metadata: dict[str, Any] = {
        "facebook": {
            "psid": psid,
            "page_id": as_object(event.get("recipient")).get("id") or page_id,
            "timestamp": event.get("timestamp"),
        }
    }
    message = event.get("message")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None
        mid = message.get("mid")
        metadata["facebook"]["mid"] = mid
        text = _text(as_object(message.get("quick_reply")).get("payload")) or _text(
            message.get("text")
        )
        location = _location(message)
        if location is not None:
            metadata["location"] = location
        if text is None and location is None:
            return None  # stickers, images, files: nothing the dialogue can use
        key = str(mid) if mid else _hash_key(psid, event.get("timestamp"), text or "")
        return key, psid, text or "", metadata
    postback = event.get("postback")
    if isinstance(postback, dict):
        payload = _text(postback.get("payload")) or _text(postback.get("title"))
        if not payload:
            return None
        mid = postback.get("mid")
        metadata["facebook"]["mid"] = mid
        metadata["facebook"]["postback_title"] = postback.get("title")
        key = str(mid) if mid else _hash_key(psid, event.get("timestamp"), payload)
        return key, psid, payload, metadata
    return None  # delivery, read, reaction, optin, referral, handover...


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _hash_key(psid: str, timestamp: Any, payload: str) -> str:
    return "h:" + hashlib.sha256(f"{psid}|{timestamp}|{payload}".encode()).hexdigest()[:32]


class MessengerOutput(OutputChannel):
    """Replies through the Graph Send API.

    Send failures are logged at ERROR and swallowed: raising would abort the Rasa
    turn before the tracker is saved, losing the customer's message as well.
    """

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    def __init__(self, client: PlatformClient, messages_url: str, access_token: str) -> None:
        self.client = client
        self.messages_url = messages_url
        self._auth = {"Authorization": f"Bearer {access_token}"}
        self.failures = 0

    async def _send(self, recipient_id: str, message: dict[str, Any]) -> None:
        body = {
            "recipient": {"id": psid_of(recipient_id)},
            "messaging_type": "RESPONSE",
            "message": message,
        }
        try:
            result = await self.client.request(
                "POST", self.messages_url, json_body=body, headers=self._auth
            )
        except PlatformError as exc:
            self.failures += 1
            logger.error(
                "facebook: send to %s failed after retries: HTTP %s",
                redact(recipient_id),
                exc.status,
            )
            return
        if result.status != 200:
            self.failures += 1
            error = as_object(result.body).get("error", {})
            logger.error(
                "facebook: send to %s refused: HTTP %s code=%s subcode=%s",
                redact(recipient_id),
                result.status,
                error.get("code"),
                error.get("error_subcode"),
            )

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Text, split at 2000 characters on sentence or word boundaries."""
        for chunk in split_text(text, TEXT_LIMIT):
            await self._send(recipient_id, {"text": chunk})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Payload buttons → quick replies; URL buttons → a button template."""
        chunks = split_text(text, TEXT_LIMIT) or [" "]
        url_buttons = [b for b in buttons if b.get("url")]
        payload_buttons = [b for b in buttons if not b.get("url")]
        for chunk in chunks[:-1]:
            await self._send(recipient_id, {"text": chunk})
        last = chunks[-1]
        if url_buttons and len(buttons) <= BUTTON_TEMPLATE_MAX and len(last) <= 640:
            await self._send(recipient_id, _button_template(last, buttons))
            return
        last, payload_buttons = listed_in_full(last, payload_buttons)
        message: dict[str, Any] = {"text": last}
        quick_replies = quick_replies_from(payload_buttons)
        if quick_replies:
            message["quick_replies"] = quick_replies
        await self._send(recipient_id, message)
        if url_buttons:
            for start in range(0, len(url_buttons), BUTTON_TEMPLATE_MAX):
                group = url_buttons[start : start + BUTTON_TEMPLATE_MAX]
                await self._send(recipient_id, _button_template("🔗", group))

    async def send_quick_replies(
        self, recipient_id: str, text: str, quick_replies: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Rasa ``quick_replies`` take the same path as buttons."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        """An image attachment by URL."""
        await self._send(
            recipient_id,
            {"attachment": {"type": "image", "payload": {"url": image, "is_reusable": True}}},
        )

    async def send_elements(
        self, recipient_id: str, elements: Iterable[dict[str, Any]], **kwargs: Any
    ) -> None:
        """A generic template (carousel)."""
        items = []
        for element in elements:
            item = dict(element)
            if "buttons" in item:
                item["buttons"] = [_template_button(b) for b in item["buttons"]][:3]
            items.append(item)
        await self._send(
            recipient_id,
            {
                "attachment": {
                    "type": "template",
                    "payload": {"template_type": "generic", "elements": items[:10]},
                }
            },
        )

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        """A ``custom`` response is sent as the Send API ``message`` object."""
        messages = json_message if isinstance(json_message, list) else [json_message]
        for message in messages:
            await self._send(recipient_id, message)


def quick_replies_from(buttons: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Rasa buttons → at most 13 text quick replies with titles of ≤ 20 characters."""
    kept = [
        (str(button.get("title") or button.get("payload") or ""), button)
        for button in buttons[:QUICK_REPLY_MAX]
    ]
    kept = [(title, button) for title, button in kept if title]
    titles = _without_common_parts([title for title, _ in kept], QUICK_REPLY_TITLE)
    replies = []
    for (title, button), shown in zip(kept, titles, strict=True):
        payload = str(button.get("payload") or title)
        replies.append(
            {
                "content_type": "text",
                "title": truncate(shown, QUICK_REPLY_TITLE),
                "payload": payload[:QUICK_REPLY_PAYLOAD],
            }
        )
    if len(buttons) > QUICK_REPLY_MAX:
        logger.warning("facebook: %d buttons, only %d sent", len(buttons), QUICK_REPLY_MAX)
    return replies


def listed_in_full(text: str, buttons: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """``text`` and ``buttons`` as they are, unless a choice's title would be cut at 20
    characters ("Phường Trà Vinh (TP Trà Vinh)"): the choices are then listed in full below
    the text, numbered, and each title starts with its number, so the customer reads
    what they pick. Buttons that send an intent ("Không rõ") are left out of the list;
    the form takes a typed number as its choice."""
    choices = [
        button
        for button in buttons[:QUICK_REPLY_MAX]
        if button.get("title") and not str(button.get("payload") or "").startswith("/")
    ]
    titles = _without_common_parts([str(button["title"]) for button in choices], QUICK_REPLY_TITLE)
    if len(choices) < 2 or all(len(title) <= QUICK_REPLY_TITLE for title in titles):
        return text, buttons
    numbered = {
        id(button): f"{number}. {title}"
        for number, (button, title) in enumerate(zip(choices, titles, strict=True), start=1)
    }
    listed = "\n".join(numbered.values())
    return f"{text}\n\n{listed}"[:TEXT_LIMIT], [
        {**button, "title": numbered[id(button)]} if id(button) in numbered else button
        for button in buttons
    ]


def _without_common_parts(titles: list[str], limit: int) -> list[str]:
    """Titles that would be cut, without the ", "-separated part they all share at their
    end or at their start: the ward question's buttons all end in their province
    ("Phường Mỹ Phước Tây, Tỉnh Đồng Tháp"), the province question's may all start with the
    ward typed ("Phường 1, Tỉnh Đồng Tháp", "Phường 1, Tỉnh Cà Mau"), and the cut would hide
    the part that tells them apart. The payload keeps the whole label."""
    if len(titles) < 2 or all(len(title) <= limit for title in titles):
        return titles
    parts = [title.split(", ") for title in titles]
    while all(len(p) > 1 for p in parts) and len({p[-1] for p in parts}) == 1:
        parts = [p[:-1] for p in parts]
    while all(len(p) > 1 for p in parts) and len({p[0] for p in parts}) == 1:
        parts = [p[1:] for p in parts]
    return [", ".join(p) for p in parts]


def _template_button(button: dict[str, Any]) -> dict[str, Any]:
    title = truncate(str(button.get("title") or ""), BUTTON_TITLE)
    if button.get("url"):
        return {"type": "web_url", "url": button["url"], "title": title}
    if button.get("type") and button.get("type") not in ("postback", "web_url"):
        return dict(button)
    return {"type": "postback", "title": title, "payload": str(button.get("payload") or title)}


def _button_template(text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "attachment": {
            "type": "template",
            "payload": {
                "template_type": "button",
                "text": text,
                "buttons": [_template_button(b) for b in buttons[:BUTTON_TEMPLATE_MAX]],
            },
        }
    }


class FacebookInput(InputChannel):
    """Messenger webhook: ``/webhooks/facebook/webhook``."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = required_credentials(cls, credentials)
        return cls(
            verify_token=str(credentials.get("verify") or ""),
            app_secret=str(credentials.get("secret") or ""),
            page_access_token=str(credentials.get("page-access-token") or ""),
            graph_url=str(credentials.get("graph-url") or GRAPH_URL),
            graph_version=str(credentials.get("graph-version") or GRAPH_VERSION),
        )

    def __init__(
        self,
        verify_token: str,
        app_secret: str,
        page_access_token: str,
        graph_url: str = GRAPH_URL,
        graph_version: str = GRAPH_VERSION,
        deduplicator: Deduplicator | None = None,
        client: PlatformClient | None = None,
        turns: TurnQueue | None = None,
    ) -> None:
        if not (verify_token and app_secret and page_access_token):
            raise ValueError("facebook: verify, secret and page-access-token are required")
        self.verify_token = verify_token
        self.app_secret = app_secret
        self.page_access_token = page_access_token
        self.messages_url = f"{graph_url.rstrip('/')}/{graph_version}/me/messages"
        self.deduplicator = deduplicator
        self.client = client or PlatformClient(CHANNEL)
        self.turns = turns
        self.pipeline: Pipeline | None = None

    def get_output_channel(self) -> OutputChannel:
        """Used by Rasa's HTTP API (``trigger_intent`` with ``output_channel=facebook``)."""
        return MessengerOutput(self.client, self.messages_url, self.page_access_token)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """GET ``/`` health, GET ``/webhook`` verification, POST ``/webhook`` events."""
        bp = Blueprint("facebook_webhook", __name__)
        pipeline = Pipeline(CHANNEL, on_new_message, self.deduplicator, turns=self.turns)
        self.pipeline = pipeline
        pipeline.install(bp, self.client)

        @bp.route("/", methods=["GET"])
        async def _health(request: Request) -> HTTPResponse:
            return health(CHANNEL)

        @bp.route("/webhook", methods=["GET"])
        async def _verify(request: Request) -> HTTPResponse:
            mode = request.args.get("hub.mode")
            token = request.args.get("hub.verify_token")
            challenge = request.args.get("hub.challenge")
            if mode == "subscribe" and challenge and signatures_match(self.verify_token, token):
                return response.text(challenge)
            logger.warning("facebook: webhook verification refused")
            return response.text("forbidden", status=403)

        @bp.route("/webhook", methods=["POST"])
        async def _webhook(request: Request) -> HTTPResponse:
            try:
                if not verify_signature(
                    self.app_secret, request.body, request.headers.get(SIGNATURE_HEADER)
                ):
                    raise Rejected(403, "bad signature")
                data = parse_json(request.body)
                if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
                    raise Rejected(400, "not a Messenger event")
            except Rejected as exc:
                if exc.status == 403:
                    logger.warning("facebook: request with a bad signature refused")
                return exc.response()
            if data.get("object") == "page":
                try:
                    await pipeline.accept_all(self._messages(data["entry"]))
                except Busy as busy:  # nothing kept: Meta redelivers the whole batch
                    return busy.response()
            return response.text("EVENT_RECEIVED")

        return bp

    def _messages(self, entries: list[Any]) -> list[tuple[str | None, UserMessage]]:
        """Every usable event of a batch, in order, as (dedupe key, message)."""
        output = self.get_output_channel()
        messages: list[tuple[str | None, UserMessage]] = []
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            page_id = entry.get("id")
            events = entry.get("messaging")
            for event in events if isinstance(events, list) else []:
                if not isinstance(event, dict):
                    continue
                parsed = parse_event(event, page_id)
                if parsed is None:
                    continue
                key, psid, text, metadata = parsed
                message = UserMessage(
                    text=text,
                    output_channel=output,
                    sender_id=sender_id_for(psid),
                    input_channel=CHANNEL,
                    message_id=key,
                    metadata=metadata,
                )
                messages.append((key, message))
        return messages

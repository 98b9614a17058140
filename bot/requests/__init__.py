"""The request store: one open request per subscriber and type, every status change an
event, an outbox for team notifications. Callers use :class:`RequestService`."""

from bot.requests.errors import (
    ForbiddenProvince,
    IllegalTransition,
    InvalidDraft,
    RequestError,
    UnknownRequest,
)
from bot.requests.lifecycle import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    REQUEST_TYPES,
    STATUSES,
    TRANSITIONS,
)
from bot.requests.outbox import (
    KIND_DETAILS_ADDED,
    KIND_ESCALATION,
    KIND_NEW_REQUEST,
    KIND_STATUS_CHANGED,
    Outbox,
    OutboxItem,
    TeamMessage,
    queue_in,
    retry_delay,
)
from bot.requests.service import (
    EventView,
    RequestDraft,
    RequestService,
    RequestView,
    SubmitOutcome,
    get_service,
)

__all__ = [
    "CLOSED_STATUSES",
    "KIND_DETAILS_ADDED",
    "KIND_ESCALATION",
    "KIND_NEW_REQUEST",
    "KIND_STATUS_CHANGED",
    "OPEN_STATUSES",
    "REQUEST_TYPES",
    "STATUSES",
    "TRANSITIONS",
    "EventView",
    "ForbiddenProvince",
    "IllegalTransition",
    "InvalidDraft",
    "Outbox",
    "OutboxItem",
    "RequestDraft",
    "RequestError",
    "RequestService",
    "RequestView",
    "SubmitOutcome",
    "TeamMessage",
    "UnknownRequest",
    "get_service",
    "queue_in",
    "retry_delay",
]

"""Errors of the request store, each with a machine-readable ``reason``.

Callers (the Rasa action, the console's 4xx answers, the Telegram dispatcher) branch
on the class and ``reason``, never on the message text, which is for logs and staff.
"""

from __future__ import annotations


class RequestError(Exception):
    """Base class: something about a request the caller must handle."""

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class InvalidDraft(RequestError):
    """The draft cannot become a request: ``reason`` is one of
    ``invalid_type``, ``invalid_phone``, ``no_province``, ``unknown_province``,
    ``invalid_channel``, ``too_long``."""

    reason = "invalid"


class UnknownRequest(RequestError):
    """No request has that reference."""

    reason = "unknown_request"


class IllegalTransition(RequestError):
    """The lifecycle does not allow that status change; nothing was changed."""

    reason = "illegal_transition"

    def __init__(self, reference: str, from_status: str, to_status: str) -> None:
        super().__init__(f"{reference}: {from_status} -> {to_status} is not allowed")
        self.reference = reference
        self.from_status = from_status
        self.to_status = to_status


class ForbiddenProvince(RequestError):
    """A team asked for a request of another province (the console answers 403)."""

    reason = "forbidden_province"

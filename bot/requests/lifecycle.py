"""Request types, statuses and the transitions the lifecycle allows.

One table, so the service, the console's buttons and the Telegram dispatcher all
agree on what may follow what; anything else is an :class:`IllegalTransition`.
"""

from __future__ import annotations

from typing import Final

REQUEST_TYPES: Final = frozenset({"sim_swap", "new_subscription", "advice", "callback"})

NEW: Final = "new"
ASSIGNED: Final = "assigned"
ACCEPTED: Final = "accepted"
VISITED: Final = "visited"
DONE: Final = "done"
UNREACHABLE: Final = "unreachable"
CANCELLED: Final = "cancelled"

STATUSES: Final = (NEW, ASSIGNED, ACCEPTED, VISITED, DONE, UNREACHABLE, CANCELLED)
CLOSED_STATUSES: Final = frozenset({DONE, UNREACHABLE, CANCELLED})
OPEN_STATUSES: Final = frozenset(STATUSES) - CLOSED_STATUSES

# new → assigned (delivered to the team) → accepted (someone owns it) → visited → closed.
# A team may accept straight from "new" (console before Telegram delivery); "done"
# needs an owner, so it only follows accepted/visited.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    NEW: frozenset({ASSIGNED, ACCEPTED, CANCELLED}),
    ASSIGNED: frozenset({ACCEPTED, UNREACHABLE, CANCELLED}),
    ACCEPTED: frozenset({VISITED, DONE, UNREACHABLE, CANCELLED}),
    VISITED: frozenset({DONE, UNREACHABLE, CANCELLED}),
    DONE: frozenset(),
    UNREACHABLE: frozenset(),
    CANCELLED: frozenset(),
}


def allowed(from_status: str, to_status: str) -> bool:
    """Whether the lifecycle lets ``from_status`` become ``to_status``."""
    return to_status in TRANSITIONS.get(from_status, frozenset())

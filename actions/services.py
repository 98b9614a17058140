"""The action server's door into the domain core.

The request store uses blocking SQLAlchemy; these helpers run it in a worker thread
so one slow database call never stalls the action server's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from bot import address
from bot.address import Resolution
from bot.requests import RequestDraft, RequestView, SubmitOutcome, get_service

log = logging.getLogger(__name__)

# The address tables take about 2 s to build: built when the action server starts, on a
# thread of its own, rather than on the first customer's address (a request that comes
# meanwhile waits for the one build, see bot.address.data.load).
threading.Thread(target=address.warm_up, name="address-warm-up", daemon=True).start()


async def resolve_address(text: str, province_code: str | None = None) -> Resolution:
    """Resolve a free-text address, restricted to a province when one was chosen."""
    if province_code:
        return await asyncio.to_thread(address.resolve_in_province, text, province_code)
    return await asyncio.to_thread(address.resolve, text)


async def names_a_unit(text: str) -> bool:
    """Whether the text names a unit with its type word (see ``bot.address.names_a_unit``)."""
    return await asyncio.to_thread(address.names_a_unit, text)


async def names_a_province(text: str) -> bool:
    """Whether the text names a province plainly (see ``bot.address.names_a_province``)."""
    return await asyncio.to_thread(address.names_a_province, text)


async def address_in_message(text: str) -> str | None:
    """The address part after an address cue (see ``bot.address.address_in_message``)."""
    return await asyncio.to_thread(address.address_in_message, text)


async def address_answer(text: str) -> str:
    """The address in an answer to the address question, fillers and particles left out
    (see ``bot.address.address_answer``)."""
    return await asyncio.to_thread(address.address_answer, text)


async def address_beside_phone(text: str) -> str | None:
    """The text without its phone numbers, when it names a unit (see
    ``bot.address.address_beside_phone``)."""
    return await asyncio.to_thread(address.address_beside_phone, text)


async def submit(draft: RequestDraft) -> SubmitOutcome:
    """Store (or find) the request through the one service every channel uses."""
    return await asyncio.to_thread(lambda: get_service().submit(draft, actor="bot"))


async def cancel_request(reference: str, sender_id: str) -> str:
    """Cancel a request the conversation sent (see ``RequestService.cancel_by_sender``)."""
    return await asyncio.to_thread(lambda: get_service().cancel_by_sender(reference, sender_id))


async def add_customer_note(sender_id: str, note: str) -> RequestView | None:
    """A note for the team on the open request this conversation sent
    (``RequestService.add_customer_note``)."""
    return await asyncio.to_thread(lambda: get_service().add_customer_note(sender_id, note))


async def sent_requests(sender_id: str) -> list[RequestView]:
    """The requests this conversation sent, latest first (``RequestService.by_sender``)."""
    return await asyncio.to_thread(lambda: get_service().by_sender(sender_id))

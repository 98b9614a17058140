"""The team console: province teams' queue, status changes, CSV export and the 9090
operators' intake form, as pages and a JSON API (aiohttp).

``python -m bot.console`` serves it; ``python -m bot.console add-user`` manages accounts.
"""

from bot.console.app import create_app

__all__ = ["create_app"]

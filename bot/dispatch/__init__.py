"""Delivers new requests to team chats on Telegram and takes the teams' answers back.

``python -m bot.dispatch`` runs the worker; :class:`Dispatcher.run_once` is one pass.
"""

from bot.dispatch.worker import DispatchConfig, Dispatcher, RunReport, WorkingHours

__all__ = ["DispatchConfig", "Dispatcher", "RunReport", "WorkingHours"]

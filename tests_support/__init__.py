"""Reusable test doubles for external platforms (local servers that speak their protocol).

A normal package rather than a pytest plugin, so any test folder can import it under
``--import-mode=importlib``.
"""

"""Rasa input/output channels, one module per platform, sharing ``connectors.common``."""

"""Rasa SDK custom actions: thin adapters from the dialogue onto ``bot/``."""

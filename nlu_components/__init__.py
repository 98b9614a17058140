"""Custom Rasa NLU components; thin adapters onto ``bot.text``."""

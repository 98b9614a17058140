"""Domain core of the 4G SIM swap chatbot: addresses, phones, requests, routing, dispatch.

Nothing in this package imports Rasa, so it is tested and reused (console, CLI,
connectors) without the dialogue engine.
"""

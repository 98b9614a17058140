"""Campaign outreach (plan §1–§2): target lists, segmentation, invitations, the funnel.

No Rasa here: the CLI (``python -m bot campaign ...``), the console and the actions call
these modules. Tables live in the request store's database (``schema.py``), so exclusions
and the funnel join ``sim_requests`` and ``liveinfo_answers`` in SQL.
"""

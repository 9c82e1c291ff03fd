"""Whether a subagent call stays on Claude, and where it goes if not.

The pure engine (:func:`~omcm.routing.engine.decide`), agent tiers and roles, the
session modes and the keywords that set them, and Claude's usage limits and the
fallback state machine, with the files that record them (gauges, session modes).
"""

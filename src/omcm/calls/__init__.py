"""One routed call, whoever asks: the pipeline every door goes through.

A :class:`~omcm.calls.call.RoutedCall` is decided once (:mod:`~omcm.calls.pipeline`,
with the engine's inputs from :mod:`~omcm.calls.inputs`), run through the provider
chain (:mod:`~omcm.calls.chain`, worker slots in :mod:`~omcm.calls.slots`) with the
session's handoff context (:mod:`~omcm.calls.handoff`), and booked: its routing-log
line (:mod:`~omcm.calls.routing_log`), the counters and the Claude tokens avoided
(:mod:`~omcm.calls.counters`, :mod:`~omcm.calls.ledger`). Answers are framed, kept
and reused in :mod:`~omcm.calls.answers`.
"""

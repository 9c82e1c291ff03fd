"""``fusion-state.json``: routing counters in total and per session, read and written here only.

Each booked call (:func:`omcm.calls.pipeline.book`) adds to them: calls, routed,
the same per door it came through (subagent calls, ``omcm run``, batches, MCP
tools), answers reused, fallbacks, each provider's calls, failures and tokens,
and the Claude tokens routed calls avoided (estimated from the subagent ledger,
:mod:`omcm.calls.ledger`). The status line and ``omcm status`` read them.
"""

from __future__ import annotations

from omcm.core import paths, state
from omcm.core.records import Record
from omcm.core.state import StateRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from omcm.calls.routing_log import CallEntry


class ProviderCounters(Record):
    mark: str = ""  # the provider's status-line mark (its module's ``hud``), kept for the HUD
    calls: int = 0
    failures: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


class DoorCounters(Record):
    """The calls one door booked (``CallEntry.source``), and how many were routed."""

    calls: int = 0
    routed: int = 0


class Counters(Record):
    calls: int = 0
    routed: int = 0
    #: per door (hook, cli, batch, mcp): counters written before doors were kept have none
    doors: dict[str, DoorCounters] = {}
    cache_hits: int = 0
    fell_back: int = 0
    providers: dict[str, ProviderCounters] = {}
    #: Claude tokens routed calls avoided, estimated when each was counted (omcm.calls.ledger)
    avoided: int = 0
    avoided_unknown: int = 0  # routed calls with no observation to estimate from
    updated_at: float = 0.0


class FusionState(StateRecord):
    """``fusion-state.json``: routing counters in total and per session."""

    total: Counters = Counters()
    sessions: dict[str, Counters] = {}


FILE = "fusion-state.json"


def count(session_id: str, now: float, entry: CallEntry) -> None:
    """Add one call's log line to the totals and, when it came from a Claude session, to
    that session's counters."""

    avoided = None
    if entry.outcome in ("routed", "cache"):
        from omcm.calls import ledger

        found = ledger.estimate(ledger.load(), entry.agent, entry.tier)
        avoided = found.tokens if found else -1

    def mutate(fusion: FusionState) -> None:
        sets = [fusion.total]
        if session_id:
            sets.append(fusion.sessions.setdefault(session_id, Counters()))
        for counters in sets:
            add_call(counters, entry)
            if avoided is not None and avoided >= 0:
                counters.avoided += avoided
            elif avoided is not None:
                counters.avoided_unknown += 1
            counters.updated_at = now
        if len(fusion.sessions) > 200:  # keep the file small: drop the oldest sessions
            oldest = sorted(fusion.sessions, key=lambda s: fusion.sessions[s].updated_at)
            for stale in oldest[: len(fusion.sessions) - 200]:
                del fusion.sessions[stale]

    state.update(paths.state_file(FILE), FusionState, mutate)


def add_call(counters: Counters, entry: CallEntry) -> None:
    """What one call adds to a set of counters."""
    counters.calls += 1
    door = counters.doors.setdefault(entry.source or "hook", DoorCounters())
    door.calls += 1
    if entry.outcome in ("routed", "cache"):
        counters.routed += 1
        door.routed += 1
    if entry.outcome == "cache":
        counters.cache_hits += 1
    if entry.outcome == "fell-back" or entry.reason == "no-provider-available":
        counters.fell_back += 1
    for attempt in entry.attempts:
        from omcm.providers import PROVIDERS  # only a routed call has attempts

        seen = counters.providers.setdefault(attempt.provider, ProviderCounters())
        known = PROVIDERS.get(attempt.provider)
        seen.mark = known.hud if known else seen.mark
        seen.calls += 1
        if attempt.outcome != "ok":
            seen.failures += 1
        seen.input_tokens += attempt.tokens.input
        seen.cached_tokens += attempt.tokens.cached
        seen.output_tokens += attempt.tokens.output
        seen.reasoning_tokens += attempt.tokens.reasoning


def load() -> FusionState:
    """The counters, in total and per session."""
    return state.load(paths.state_file(FILE), FusionState)

"""The figures of a period of the routing log, and of a whole report: tallies.

Per period and in total:

- subagent calls, routed (a provider answered, or a stored answer was reused), the
  success rate of routed calls, fallbacks (a rule routed it but every provider failed
  or none was available), cache hits, latency (p50, p95, max, a histogram) of the
  routed calls as OMCM ran them;
- tokens per provider (input with cached, cached, output with reasoning, reasoning)
  and their cost (:mod:`omcm.stats.prices`; tokens of models without a price are
  counted apart, never priced by guess);
- Claude tokens avoided (:mod:`omcm.stats.observations`), and the subagents that ran
  on Claude, with their cost.

A :class:`Tally` holds plain sums, so the tallies of several files (or worker
processes) merge; figures that need prices are worked out only when it is dumped.
Its stored form (:meth:`Tally.stored`) is plain data: each rotated file keeps its
days' tallies so (:mod:`omcm.stats.index`).
"""

from __future__ import annotations

from omcm.stats.observations import DAY, add_sums, claude_cost
from omcm.stats.periods import Buckets
from omcm.stats.rows import ROUTED, CallRow

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.stats.filters import Filters
    from omcm.stats.observations import Observations
    from omcm.stats.prices import Prices
    from omcm.stats.rows import AttemptRow, Row, SubagentRow

#: Upper edges (seconds) of the latency histogram's bins; the last is open.
LATENCY_BINS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


class Tally:
    """The figures of one period (or the total): plain sums, so tallies merge, and tokens
    kept per (provider, model, day) so that each sum is priced once when dumped."""

    #: Its attributes, in the order of its stored form (:meth:`stored`).
    FIELDS = (
        "label",
        "start",
        "calls",
        "routed",
        "decided_routed",
        "fell_back",
        "cache_hits",
        "cancelled",
        "background",
        "latencies",
        "tokens",
        "providers",
        "usage",
        "agents",
        "sources",
        "answered",
        "routed_by",
        "claude_subagents",
        "claude_tokens",
        "claude_usage",
    )

    def __init__(self, label: str = "total", start: float = 0.0) -> None:
        self.label, self.start = label, start
        self.calls = self.routed = self.decided_routed = self.fell_back = 0
        self.cache_hits = self.cancelled = self.background = 0
        self.latencies: list[float] = []
        self.tokens = [0, 0, 0, 0]  # input, cached, output, reasoning
        # name -> [runs, ok, warm, input, cached, output, reasoning]
        self.providers: dict[str, list[int]] = {}
        # (provider, model, day) -> [input, cached, output]
        self.usage: dict[tuple[str, str, int], list[int]] = {}
        self.agents: dict[str, list[int]] = {}  # name -> [calls, routed]
        self.sources: dict[str, list[int]] = {}  # door -> [calls, routed]
        self.answered: dict[str, int] = {}  # who answered each call: a provider, or claude
        self.routed_by: dict[tuple[str, str], int] = {}  # (agent, tier) -> routed calls
        self.claude_subagents = 0
        self.claude_tokens = 0
        # (model, day) -> [input, cache write, cache read, output, total]
        self.claude_usage: dict[tuple[str, int], list[int]] = {}

    def stored(self) -> tuple[Any, ...]:
        """Its figures as plain data (:mod:`marshal` stores them), in :data:`FIELDS` order."""
        return tuple(getattr(self, name) for name in self.FIELDS)

    @classmethod
    def restored(cls, stored: tuple[Any, ...]) -> Tally:
        """The tally :meth:`stored` gave (it takes ``stored``'s lists and dicts as its own)."""
        found = cls.__new__(cls)
        for name, value in zip(cls.FIELDS, stored, strict=True):
            setattr(found, name, value)
        return found

    def add_call(self, row: CallRow) -> None:
        outcome, agent = row.outcome, row.agent
        self.calls += 1
        routed = outcome in ROUTED
        if routed:
            self.routed += 1
            self.latencies.append(row.duration)
            key = (agent, row.tier)
            self.routed_by[key] = self.routed_by.get(key, 0) + 1
        if row.cache_hit:
            self.cache_hits += 1
        if row.job:
            self.background += 1
        attempts = row.attempts
        if attempts or routed or outcome in ("fell-back", "cancelled", "timed-out"):
            self.decided_routed += 1
        if outcome == "fell-back" or row.reason == "no-provider-available":
            self.fell_back += 1
        if outcome == "cancelled":
            self.cancelled += 1
        for table, name in ((self.agents, agent), (self.sources, row.source)):
            mine = table.get(name)
            if mine is None:
                mine = table[name] = [0, 0]
            mine[0] += 1
            mine[1] += routed
        who = (row.provider or "cache") if routed else "claude"
        self.answered[who] = self.answered.get(who, 0) + 1
        if attempts:
            self._attempts(attempts, int(row.time // DAY))

    def _attempts(self, attempts: tuple[AttemptRow, ...], day: int) -> None:
        tokens = self.tokens
        for attempt in attempts:
            provider = attempt.provider
            tin, tcached = attempt.input, attempt.cached
            tout, treason = attempt.output, attempt.reasoning
            used = self.providers.get(provider)
            if used is None:
                used = self.providers[provider] = [0, 0, 0, 0, 0, 0, 0]
            used[0] += 1
            used[1] += attempt.outcome == "ok"
            used[2] += bool(attempt.warm)
            used[3] += tin
            used[4] += tcached
            used[5] += tout
            used[6] += treason
            tokens[0] += tin
            tokens[1] += tcached
            tokens[2] += tout
            tokens[3] += treason
            if tin or tout:
                key3 = (provider, attempt.model, day)
                sums = self.usage.get(key3)
                if sums is None:
                    sums = self.usage[key3] = [0, 0, 0]
                sums[0] += tin
                sums[1] += tcached
                sums[2] += tout

    def add_subagent(self, row: SubagentRow) -> None:
        self.claude_subagents += 1
        self.claude_tokens += row.total
        key = (row.model, int(row.time // DAY))
        sums = self.claude_usage.get(key)
        if sums is None:
            sums = self.claude_usage[key] = [0, 0, 0, 0, 0]
        sums[0] += row.input
        sums[1] += row.cache_creation
        sums[2] += row.cache_read
        sums[3] += row.output
        sums[4] += row.total

    def merge(self, other: Tally) -> None:
        """Add ``other``'s figures to these."""
        for name in (
            "calls",
            "routed",
            "decided_routed",
            "fell_back",
            "cache_hits",
            "cancelled",
            "background",
            "claude_subagents",
            "claude_tokens",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latencies += other.latencies
        self.tokens = [a + b for a, b in zip(self.tokens, other.tokens, strict=True)]
        add_sums(self.providers, other.providers)
        add_sums(self.usage, other.usage)
        add_sums(self.agents, other.agents)
        add_sums(self.sources, other.sources)
        add_sums(self.claude_usage, other.claude_usage)
        for key, n in other.answered.items():
            self.answered[key] = self.answered.get(key, 0) + n
        for pair, n in other.routed_by.items():
            self.routed_by[pair] = self.routed_by.get(pair, 0) + n

    def avoided(self, seen: Observations) -> tuple[int, int, int]:
        """(Claude tokens avoided, routed calls with an estimate, routed calls without)."""
        tokens = known = unknown = 0
        for (agent, tier), n in self.routed_by.items():
            found = seen.estimate(agent, tier)
            if found is None:
                unknown += n
            else:
                tokens += found[0] * n
                known += n
        return tokens, known, unknown

    def dump(self, prices: Prices, seen: Observations) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        decided = self.decided_routed
        cost = {name: 0.0 for name in self.providers}
        unpriced = dict.fromkeys(self.providers, 0)
        sources: dict[str, dict[str, str]] = {name: {} for name in self.providers}
        for (provider, model, day), (tin, tcached, tout) in self.usage.items():
            usd, source = prices.usd(provider, model, day * DAY, (tin, tcached, 0, tout))
            if usd is None:
                unpriced[provider] += tin + tout
            else:
                cost[provider] += usd
            sources[provider][model or "(default)"] = source
        claude_usd, claude_unpriced = 0.0, 0
        for (model, day), sums in self.claude_usage.items():
            usd = claude_cost(prices, model, day, sums)
            if usd is None:
                claude_unpriced += sums[4]
            else:
                claude_usd += usd
        avoided, known, unknown = self.avoided(seen)
        names = ("input", "cached", "output", "reasoning")
        return {
            "period": self.label,
            "start": self.start,
            "calls": self.calls,
            "routed": self.routed,
            "routed_share": round(self.routed / self.calls, 4) if self.calls else None,
            "success_rate": round(self.routed / decided, 4) if decided else None,
            "fell_back": self.fell_back,
            "cancelled": self.cancelled,
            "cache_hits": self.cache_hits,
            "background": self.background,
            "latency": {
                "p50": _quantile(ordered, 0.5),
                "p95": _quantile(ordered, 0.95),
                "max": ordered[-1] if ordered else None,
                "histogram": _histogram(ordered),
            },
            "answered_by": dict(sorted(self.answered.items())),
            "tokens": dict(zip(names, self.tokens, strict=True)),
            "cost_usd": round(sum(cost.values()), 6),
            "unpriced_tokens": sum(unpriced.values()),
            "providers": {
                name: {
                    "runs": used[0],
                    "ok": used[1],
                    "warm": used[2],
                    "success_rate": round(used[1] / used[0], 4) if used[0] else None,
                    "tokens": dict(zip(names, used[3:7], strict=True)),
                    "cost_usd": round(cost[name], 6),
                    "unpriced_tokens": unpriced[name],
                    "prices": dict(sorted(sources[name].items())),
                }
                for name, used in sorted(self.providers.items())
            },
            "agents": {
                name: {"calls": calls, "routed": routed}
                for name, (calls, routed) in sorted(self.agents.items())
            },
            "sources": {
                name: {"calls": calls, "routed": routed}
                for name, (calls, routed) in sorted(self.sources.items())
            },
            "claude_tokens_avoided": avoided,
            "avoided_estimated_calls": known,
            "avoided_unknown_calls": unknown,
            "claude_subagents": self.claude_subagents,
            "claude_subagent_tokens": self.claude_tokens,
            "claude_subagent_cost_usd": round(claude_usd, 6),
            "claude_unpriced_tokens": claude_unpriced,
        }


def tally(rows: list[Row], by: str, filters: Filters) -> dict[str, Tally]:
    """The rows in the window, tallied per period."""
    buckets = Buckets(by)
    periods: dict[str, Tally] = {}
    keeps = filters.keeps
    step = buckets.step
    last_key, period = None, Tally()
    for row in rows:
        if not keeps(row):
            continue
        when = row.time
        key = int(when // step)
        if key != last_key:
            label, start = buckets.label(when)
            found = periods.get(label)
            if found is None:
                found = periods[label] = Tally(label, start)
            period, last_key = found, key
        if isinstance(row, CallRow):
            period.add_call(row)
        else:
            period.add_subagent(row)
    return periods


def merge_periods(into: dict[str, Tally], more: dict[str, Tally]) -> None:
    """Merge the tallies of ``more`` into those of the same period in ``into``."""
    for label, period in more.items():
        mine = into.get(label)
        if mine is None:
            into[label] = period
        else:
            mine.merge(period)


def _histogram(ordered: list[float]) -> list[int]:
    """Counts per :data:`LATENCY_BINS` bin (and one more for longer) of sorted values."""
    import bisect

    # ``ordered`` is sorted: a bin ends where the values past its upper edge begin.
    ends = [bisect.bisect_right(ordered, edge) for edge in LATENCY_BINS] + [len(ordered)]
    return [end - begin for begin, end in zip([0, *ends], ends, strict=False)]


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 3)

"""What subagents cost Claude, as the routing log's ``subagent`` lines say.

Every "Claude tokens avoided" figure rests on these: a routed call is credited with
the mean Claude cost of the same agent observed on Claude, else of its tier. The
observations are kept as sums per (model, day), so that each sum is priced once, at
the day's rates, when a figure is asked for (pricing every line would cost more than
reading it). Each rotated file's ``.rows`` header holds its own (:mod:`omcm.stats.index`),
so a report counts every file's observations without reading every file's rows.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.stats.prices import Prices
    from omcm.stats.rows import SubagentRow

    #: (per agent, per tier): name -> [n, total, {(model, day): [n, in, write, read, out]}]
    Observed = tuple[dict[str, list[Any]], dict[str, list[Any]]]

DAY = 86400


def observe(observed: Observed, row: SubagentRow) -> None:
    """Count a subagent in ``(agents, tiers)``: per name ``[n, total tokens,
    {(model, day): [n, input, cache write, cache read, output]}]``."""
    key = (row.model, int(row.time // DAY))
    for table, name in ((observed[0], row.agent), (observed[1], row.tier)):
        seen = table.get(name)
        if seen is None:
            seen = table[name] = [0, 0, {}]
        seen[0] += 1
        seen[1] += row.total
        sums = seen[2].get(key)
        if sums is None:
            sums = seen[2][key] = [0, 0, 0, 0, 0]
        sums[0] += 1
        sums[1] += row.input
        sums[2] += row.cache_creation
        sums[3] += row.cache_read
        sums[4] += row.output


class Observations:
    """The subagents observed on Claude, per agent and tier, and the estimates they give."""

    def __init__(self, prices: Prices | None = None) -> None:
        self.prices = prices
        # name -> [n, total tokens, {(model, day): [n, input, cache write, cache read, output]}]
        self.agents: dict[str, list[Any]] = {}
        self.tiers: dict[str, list[Any]] = {}
        self._usd: dict[str, tuple[float, int]] = {}
        self._estimates: dict[tuple[str, str], tuple[int, str, int] | None] = {}

    def add(self, row: SubagentRow) -> None:
        observe((self.agents, self.tiers), row)

    def merge(self, observed: Observed) -> None:
        """Add a file's observations (:attr:`omcm.stats.index.Rows.observed`)."""
        for mine, theirs in zip((self.agents, self.tiers), observed, strict=True):
            for name, (n, total, sums) in theirs.items():
                seen = mine.get(name)
                if seen is None:
                    seen = mine[name] = [0, 0, {}]
                seen[0] += n
                seen[1] += total
                add_sums(seen[2], sums)

    def estimate(self, agent: str, tier: str) -> tuple[int, str, int] | None:
        """(tokens, basis, observations) for a routed call of ``agent``."""
        memo = (agent, tier)
        if memo not in self._estimates:
            found = self._seen(agent, tier)
            self._estimates[memo] = (
                None
                if found is None
                else (round(found[1][1] / found[1][0]), found[0], int(found[1][0]))
            )
        return self._estimates[memo]

    def estimate_usd(self, agent: str, tier: str) -> float | None:
        """The mean Claude cost in USD of the same observations (None if none was priced)."""
        found = self._seen(agent, tier)
        if found is None or self.prices is None:
            return None
        usd, priced = self._priced(found[0], found[1])
        return usd / priced if priced else None

    def _priced(self, basis: str, seen: list[Any]) -> tuple[float, int]:
        """(USD of the priced observations, how many were priced)."""
        done = self._usd.get(basis)
        if done is None:
            usd, priced = 0.0, 0
            for (model, day), sums in seen[2].items():
                cost = claude_cost(self.prices, model, day, sums[1:])  # type: ignore[arg-type]
                if cost is not None:
                    usd += cost
                    priced += sums[0]
            done = self._usd[basis] = (usd, priced)
        return done

    def _seen(self, agent: str, tier: str) -> tuple[str, list[Any]] | None:
        for basis, table, key in (("agent", self.agents, agent), ("tier", self.tiers, tier)):
            seen = table.get(key)
            if seen and seen[0]:
                return f"{basis} {key}", seen
        return None

    def dump(self) -> dict[str, Any]:
        def table(found: dict[str, list[Any]]) -> dict[str, Any]:
            return {
                k: {"n": int(s[0]), "mean_tokens": round(s[1] / s[0])}
                for k, s in found.items()
                if s[0]
            }

        return {"agents": table(self.agents), "tiers": table(self.tiers)}


def claude_cost(prices: Prices, model: str, day: int, sums: list[int]) -> float | None:
    """USD of Claude usage sums (input, cache write, cache read, output), at the day's rates."""
    tin, write, read, out = sums[:4]
    return prices.usd("claude", model, day * DAY, (tin + write + read, read, write, out))[0]


def add_sums(mine: dict[Any, list[int]], theirs: dict[Any, list[int]]) -> None:
    """Add each list of sums of ``theirs`` to the one of the same key in ``mine``."""
    for key, values in theirs.items():
        found = mine.get(key)
        if found is None:
            mine[key] = list(values)
        else:
            for i, value in enumerate(values):
                found[i] += value

"""``omcm stats``: what OMCM did, per period and in total, read from the routing log.

Rows come from :mod:`omcm.stats.index` (rotated files from their saved rows, the
live file parsed). Periods are local calendar periods (``minute``, ``hour``,
``day``, ISO ``week``); an hour label carries its UTC offset, so the hour that
repeats when daylight saving time ends is two periods, and a day is a calendar
day whatever its length. Per period and in total:

- subagent calls, routed (a provider answered, or a stored answer was reused),
  the success rate of routed calls, fallbacks (a rule routed it but every
  provider failed or none was available), cache hits, latency (p50, p95, max) of
  the routed calls as OMCM ran them;
- tokens per provider (input with cached, cached, output with reasoning,
  reasoning) and their cost (:mod:`omcm.stats.prices`; tokens of models without a
  price are counted apart, never priced by guess);
- Claude tokens avoided: each routed call is credited with the mean Claude cost
  of the same agent observed on Claude in this log (``subagent`` lines), else of
  its tier; with no observation it is counted as unknown.
"""

from __future__ import annotations

import os
import time

from omcm.calls import routing_log
from omcm.stats.index import CALL, SUBAGENT, Rows, cached, observe, parse, saved

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.config import Config
    from omcm.stats.index import Observed, Row
    from omcm.stats.prices import Prices

PERIODS = ("minute", "hour", "day", "week")
ROUTED = ("routed", "cache")
#: Upper edges (seconds) of the latency histogram's bins; the last is open.
LATENCY_BINS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


class Filters:
    """Which calls count: a time window and exact matches."""

    def __init__(
        self,
        since: float | None = None,
        until: float | None = None,
        *,
        session: str = "",
        provider: str = "",
        agent: str = "",
        mode: str = "",
        source: str = "",
    ) -> None:
        self.since, self.until = since, until
        self.session, self.provider, self.agent, self.mode = session, provider, agent, mode
        self.source = source  # the door: hook (subagent calls), cli, batch, mcp

    def dump(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v not in (None, "")}

    def keeps(self, row: Row) -> bool:
        when = row[1]
        if (self.since is not None and when < self.since) or (
            self.until is not None and when >= self.until
        ):
            return False
        if (self.session and row[2] != self.session) or (self.agent and row[3] != self.agent):
            return False
        if self.mode and row[5] != ("" if self.mode == "none" else self.mode):
            return False
        if self.source and (row[0] == SUBAGENT or row[14] != self.source):
            return False
        if self.provider:
            if row[0] == SUBAGENT:
                return self.provider == "claude"
            return any(a[0] == self.provider for a in row[13])
        return True


# --- reading ----------------------------------------------------------------------------


class Log:
    """The routing log's files, for one report.

    A report tallies only the files whose rows can fall in its window (each ``.rows``
    header names its first and last row), on every core when there are many; the
    subagents observed on Claude, which every estimate rests on, come from every
    file's header.
    """

    #: Files to tally before it pays to start worker processes.
    PARALLEL_FROM = 4

    def __init__(self, path: str | None = None) -> None:
        self.path = path

    def files(self) -> tuple[list[str], str | None]:
        """(rotated files oldest first, the live file)."""
        names = routing_log.files(self.path)
        live = names[-1] if names and not _rotated_name(names[-1]) else None
        return [n for n in names if n != live], live

    def headers(self, rotated: list[str]) -> dict[str, Rows]:
        """Each rotated file's ``.rows`` header (its rows not loaded); a file without
        current saved rows is parsed and saved first, on every core when several are."""
        heads: dict[str, Rows] = {}
        stale = []
        for name in rotated:
            head = saved(name, rows=False)
            if head is None:
                stale.append(name)
            else:
                heads[name] = head
        heads.update(zip(stale, _on_every_core(_index, stale), strict=True))
        return {name: heads[name] for name in rotated}  # oldest first

    def read(self) -> tuple[list[Row], int, int, int]:
        """(every row oldest first, damaged lines, lines, files)."""
        rotated, live = self.files()
        self.headers(rotated)  # stale files parsed and saved on every core first
        parts = [cached(name) for name in rotated]
        if live:
            parts.append(parse(live))
        rows: list[Row] = []
        for part in parts:
            rows += part.rows or []
        damaged = sum(p.damaged for p in parts)
        lines = sum(p.lines for p in parts)
        return rows, damaged, lines, len(parts)

    def window(self, filters: Filters, seen: Observations) -> list[Row]:
        """The rows of the files the window needs; every file's observations go into
        ``seen``."""
        rotated, live = self.files()
        rows: list[Row] = []
        for name, head in self.headers(rotated).items():
            seen.merge(head.observed)
            if head.within(filters.since, filters.until):
                rows += cached(name).rows or []
        if live:
            found = parse(live)
            seen.merge(found.observed)
            rows += found.rows or []
        return rows

    def gather(self, by: str, filters: Filters, seen: Observations) -> Gathered:
        """The window's periods, tallied; every file's observations go into ``seen``.

        Rotated files go to worker processes in runs of consecutive files, and each
        worker also writes out its periods but the first and last (a neighbour may
        have rows of those too), so the slow part of a report runs on every core.
        """
        rotated, live = self.files()
        found = Gathered(files=len(rotated) + bool(live))
        chosen: dict[str, Rows] = {}
        for name, head in self.headers(rotated).items():
            found.count(head, seen)
            if head.within(filters.since, filters.until):
                chosen[name] = head
        rows = parse(live) if live else Rows([])
        found.count(rows, seen)
        _check_periods(by, filters, [*chosen.values(), rows])
        names = list(chosen)
        workers = min(len(names), os.cpu_count() or 1) if len(names) >= self.PARALLEL_FROM else 1
        size = -(-len(names) // workers) if names else 0
        runs = [names[i : i + size] for i in range(0, len(names), size)] if names else []
        for run in _on_every_core(_tally_run, runs, by, filters, seen):
            found.add(run)
        live_periods = tally(rows.rows or [], by, filters)
        _merge_periods(found.periods, live_periods)
        return found


class Gathered:
    """What :meth:`Log.gather` found: periods written out by the workers, periods still
    to write (``periods``: those a run of files shares with its neighbours), the total
    of the written ones, and the lines read."""

    def __init__(self, files: int) -> None:
        self.periods: dict[str, Tally] = {}
        self.dumped: list[dict[str, Any]] = []
        self.total = Tally()
        self.damaged = self.lines = 0
        self.files = files

    def count(self, rows: Rows, seen: Observations) -> None:
        self.damaged += rows.damaged
        self.lines += rows.lines
        seen.merge(rows.observed)

    def add(self, run: Run) -> None:
        self.dumped += run.dumped
        self.total.merge(run.total)
        _merge_periods(self.periods, run.edges)


class Run:
    """A worker's share: the periods it wrote out, their total, and its first and last
    periods as tallies."""

    def __init__(self) -> None:
        self.dumped: list[dict[str, Any]] = []
        self.total = Tally()
        self.edges: dict[str, Tally] = {}


#: More periods than this in one report is a mistake (a year by minute): say so.
MAX_PERIODS = 20_000


def _check_periods(by: str, filters: Filters, parts: list[Rows]) -> None:
    firsts = [p.first for p in parts if p.first is not None]
    lasts = [p.last for p in parts if p.last is not None]
    if not firsts:
        return
    begin = max(min(firsts), filters.since or 0.0)
    end = min(max(lasts), filters.until or float("inf"))
    length = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}[by]
    periods = int((end - begin) // length) + 1
    if periods > MAX_PERIODS:
        from omcm.core.errors import OmcmError

        days = (end - begin) / 86400
        raise OmcmError(
            f"--by {by} over {days:,.0f} days of log is {periods:,} periods (at most "
            f"{MAX_PERIODS:,}): narrow the window (--since 2h, --since 7d) or choose a longer "
            "period (--by hour, --by day)"
        )


def _on_every_core(work: Any, jobs: list[Any], *args: Any) -> list[Any]:
    """``work(job, *args)`` for each job, in worker processes when there are several."""
    if len(jobs) > 1 and (os.cpu_count() or 1) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
            return list(pool.map(work, jobs, *[[a] * len(jobs) for a in args]))
    return [work(job, *args) for job in jobs]


def _index(name: str) -> Rows:
    """Parse and save a rotated file's rows; its header (without the rows) goes back."""
    found = cached(name)
    found.rows = None
    return found


def _tally_run(names: list[str], by: str, filters: Filters, seen: Observations) -> Run:
    """Tally a run of consecutive files and write out all its periods but the edges."""
    periods: dict[str, Tally] = {}
    for name in names:
        _merge_periods(periods, tally(cached(name).rows or [], by, filters))
    ordered = sorted(periods.values(), key=lambda t: (t.start, t.label))
    run = Run()
    prices = seen.prices
    assert prices is not None
    for n, period in enumerate(ordered):
        if n in (0, len(ordered) - 1):
            run.edges[period.label] = period
        else:
            run.dumped.append(period.dump(prices, seen))
            run.total.merge(period)
    return run


def _merge_periods(into: dict[str, Tally], more: dict[str, Tally]) -> None:
    for label, period in more.items():
        mine = into.get(label)
        if mine is None:
            into[label] = period
        else:
            mine.merge(period)


def _rotated_name(name: str) -> bool:
    return not name.endswith(".jsonl")


# --- periods ------------------------------------------------------------------------------


class Buckets:
    """Local-time period labels, computed once per quarter hour (every UTC offset is a
    multiple of 15 minutes) or per minute."""

    def __init__(self, by: str) -> None:
        if by not in PERIODS:
            raise ValueError(f"--by must be one of {', '.join(PERIODS)}")
        self.by = by
        self.step = 60 if by == "minute" else 900
        self._labels: dict[int, tuple[str, float]] = {}

    def label(self, when: float) -> tuple[str, float]:
        """(label, start of the period) for a unix time."""
        key = int(when // self.step)
        found = self._labels.get(key)
        if found is None:
            found = self._labels[key] = self._compute(key * self.step)
        return found

    def _compute(self, when: float) -> tuple[str, float]:
        local = time.localtime(when)
        if self.by == "minute":
            start = when - local.tm_sec
            return time.strftime("%Y-%m-%d %H:%M%z", local), start
        if self.by == "hour":
            start = when - local.tm_min * 60 - local.tm_sec
            return time.strftime("%Y-%m-%d %H:00%z", local), start
        midnight = time.mktime((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1))
        if self.by == "day":
            return time.strftime("%Y-%m-%d", local), midnight
        monday = time.mktime(
            (local.tm_year, local.tm_mon, local.tm_mday - local.tm_wday, 0, 0, 0, 0, 0, -1)
        )
        return time.strftime("%G-W%V", local), monday


# --- aggregation --------------------------------------------------------------------------


_DAY = 86400


class Observations:
    """What subagents cost Claude, per agent and tier, as the log's ``subagent`` lines say.

    Kept as sums per (model, day) so that each sum is priced once, at the day's rates,
    when a figure is asked for (pricing every line would cost more than reading it).
    """

    def __init__(self, prices: Prices | None = None) -> None:
        self.prices = prices
        # name -> [n, total tokens, {(model, day): [n, input, cache write, cache read, output]}]
        self.agents: dict[str, list[Any]] = {}
        self.tiers: dict[str, list[Any]] = {}
        self._usd: dict[str, tuple[float, int]] = {}
        self._estimates: dict[tuple[str, str], tuple[int, str, int] | None] = {}

    def add(self, row: Row) -> None:
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
                _add_sums(seen[2], sums)

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
                cost = _claude_cost(self.prices, model, day, sums[1:])  # type: ignore[arg-type]
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


def _claude_cost(prices: Prices, model: str, day: int, sums: list[int]) -> float | None:
    """USD of Claude usage sums (input, cache write, cache read, output), at the day's rates."""
    tin, write, read, out = sums[:4]
    return prices.usd("claude", model, day * _DAY, (tin + write + read, read, write, out))[0]


class Tally:
    """The figures of one period (or the total): plain sums, so tallies merge, and tokens
    kept per (provider, model, day) so that each sum is priced once when dumped."""

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

    def add_call(self, row: Row) -> None:
        outcome, reason = row[6], row[7]
        self.calls += 1
        routed = outcome in ROUTED
        if routed:
            self.routed += 1
            self.latencies.append(row[10])
            key = (row[3], row[4])
            self.routed_by[key] = self.routed_by.get(key, 0) + 1
        if row[11]:
            self.cache_hits += 1
        if row[12]:
            self.background += 1
        attempts = row[13]
        if attempts or routed or outcome in ("fell-back", "cancelled", "timed-out"):
            self.decided_routed += 1
        if outcome == "fell-back" or reason == "no-provider-available":
            self.fell_back += 1
        if outcome == "cancelled":
            self.cancelled += 1
        for table, key in ((self.agents, row[3]), (self.sources, row[14])):
            mine = table.get(key)
            if mine is None:
                mine = table[key] = [0, 0]
            mine[0] += 1
            mine[1] += routed
        who = (row[8] or "cache") if routed else "claude"
        self.answered[who] = self.answered.get(who, 0) + 1
        if attempts:
            self._attempts(attempts, int(row[1] // _DAY))

    def _attempts(self, attempts: tuple[Any, ...], day: int) -> None:
        tokens = self.tokens
        for provider, model, result, tin, tcached, tout, treason, _d, warm in attempts:
            used = self.providers.get(provider)
            if used is None:
                used = self.providers[provider] = [0, 0, 0, 0, 0, 0, 0]
            used[0] += 1
            used[1] += result == "ok"
            used[2] += bool(warm)
            used[3] += tin
            used[4] += tcached
            used[5] += tout
            used[6] += treason
            tokens[0] += tin
            tokens[1] += tcached
            tokens[2] += tout
            tokens[3] += treason
            if tin or tout:
                key3 = (provider, model, day)
                sums = self.usage.get(key3)
                if sums is None:
                    sums = self.usage[key3] = [0, 0, 0]
                sums[0] += tin
                sums[1] += tcached
                sums[2] += tout

    def add_subagent(self, row: Row) -> None:
        self.claude_subagents += 1
        self.claude_tokens += row[11]
        key = (row[6], int(row[1] // _DAY))
        sums = self.claude_usage.get(key)
        if sums is None:
            sums = self.claude_usage[key] = [0, 0, 0, 0, 0]
        for i in range(5):
            sums[i] += row[7 + i]

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
        _add_sums(self.providers, other.providers)
        _add_sums(self.usage, other.usage)
        _add_sums(self.agents, other.agents)
        _add_sums(self.sources, other.sources)
        _add_sums(self.claude_usage, other.claude_usage)
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
            usd, source = prices.usd(provider, model, day * _DAY, (tin, tcached, 0, tout))
            if usd is None:
                unpriced[provider] += tin + tout
            else:
                cost[provider] += usd
            sources[provider][model or "(default)"] = source
        claude_cost, claude_unpriced = 0.0, 0
        for (model, day), sums in self.claude_usage.items():
            usd = _claude_cost(prices, model, day, sums)
            if usd is None:
                claude_unpriced += sums[4]
            else:
                claude_cost += usd
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
            "claude_subagent_cost_usd": round(claude_cost, 6),
            "claude_unpriced_tokens": claude_unpriced,
        }


def _add_sums(mine: dict[Any, list[int]], theirs: dict[Any, list[int]]) -> None:
    for key, values in theirs.items():
        found = mine.get(key)
        if found is None:
            mine[key] = list(values)
        else:
            for i, value in enumerate(values):
                found[i] += value


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
        key = int(row[1] // step)
        if key != last_key:
            label, start = buckets.label(row[1])
            found = periods.get(label)
            if found is None:
                found = periods[label] = Tally(label, start)
            period, last_key = found, key
        if row[0] == CALL:
            period.add_call(row)
        else:
            period.add_subagent(row)
    return periods


def report(
    rows: list[Row],
    config: Config,
    *,
    by: str = "day",
    filters: Filters | None = None,
    damaged: int = 0,
    lines: int = 0,
    files: int = 0,
) -> dict[str, Any]:
    """The report over ``rows`` (as :meth:`Log.read` gives them)."""
    from omcm.stats.prices import Prices

    filters = filters or Filters()
    seen = Observations(Prices(config))
    for row in rows:
        if row[0] == SUBAGENT:
            seen.add(row)
    found = Gathered(files)
    found.periods, found.damaged, found.lines = tally(rows, by, filters), damaged, lines
    return _report(found, seen, by, filters)


def report_log(
    log: Log, config: Config, *, by: str = "day", filters: Filters | None = None
) -> dict[str, Any]:
    """The report over the routing log, reading only what the window needs."""
    from omcm.stats.prices import Prices

    filters = filters or Filters()
    prices = Prices(config)
    seen = Observations(prices)
    found = _report(log.gather(by, filters, seen), seen, by, filters)
    prices.save()
    return found


def _report(found: Gathered, seen: Observations, by: str, filters: Filters) -> dict[str, Any]:
    prices = seen.prices
    assert prices is not None
    total = found.total
    periods = list(found.dumped)
    for period in found.periods.values():
        total.merge(period)
        periods.append(period.dump(prices, seen))
    periods.sort(key=lambda p: (p["start"], p["period"]))
    return {
        "by": by,
        "filters": filters.dump(),
        "periods": periods,
        "total": total.dump(prices, seen),
        "observed_on_claude": seen.dump(),
        "lines": found.lines,
        "damaged_lines": found.damaged,
        "files": found.files,
    }


# --- text -------------------------------------------------------------------------------


def short(value: float) -> str:
    """``1.2k``, ``3.4M``: token counts as the status line shows them."""
    from omcm.core.humanize import abbreviate

    return abbreviate(int(value))


def money(value: float, unpriced: int) -> str:
    shown = f"${value:,.2f}" if value >= 0.01 or not value else f"${value:.4f}"
    return shown + (f" (+{short(unpriced)} tok no price)" if unpriced else "")


def render(found: dict[str, Any]) -> str:
    """The report as text: one row per period, then the totals per provider and agent."""
    header = (
        f"{'period':20} {'calls':>6} {'routed':>7} {'ok':>5} {'fallbk':>6} {'cache':>5} "
        f"{'p50':>6} {'p95':>6} {'max':>6} {'tok in':>7} {'tok out':>7} {'cost':>9} "
        f"{'Claude avoided':>15}"
    )
    lines = [header, "-" * len(header)]
    for period in [*found["periods"], found["total"]]:
        if period is found["total"]:
            lines.append("-" * len(header))
        lines.append(_period_line(period))
    total = found["total"]
    lines.append("")
    if total["providers"]:
        lines.append("providers:")
        for name, used in total["providers"].items():
            tokens = used["tokens"]
            rate = f"{used['success_rate']:.0%}" if used["success_rate"] is not None else "-"
            lines.append(
                f"  {name:10} {used['runs']:>6} runs  {rate:>4} ok  {used['warm']:>5} warm  "
                f"{short(tokens['input']):>7} in ({short(tokens['cached'])} cached)  "
                f"{short(tokens['output']):>6} out  "
                f"{money(used['cost_usd'], used['unpriced_tokens'])}"
            )
            for model, source in sorted(used["prices"].items()):
                lines.append(f"      {model}: {source}")
    if set(total["sources"]) - {"hook"}:  # only subagent calls: nothing to tell apart
        lines.append("sources (hook: subagent calls; cli: omcm run; batch; mcp: the ask tools):")
        for name, counts in total["sources"].items():
            lines.append(f"  {name:24} {counts['calls']:>6} calls  {counts['routed']:>6} routed")
    if total["agents"]:
        lines.append("agents:")
        for name, counts in total["agents"].items():
            lines.append(f"  {name:24} {counts['calls']:>6} calls  {counts['routed']:>6} routed")
    lines.append(_avoided_line(total))
    if total["claude_subagents"]:
        lines.append(
            f"subagents on Claude: {total['claude_subagents']:,}, "
            f"{short(total['claude_subagent_tokens'])} tokens, "
            f"{money(total['claude_subagent_cost_usd'], total['claude_unpriced_tokens'])}"
        )
    lines.append(
        f"lines read: {found['lines']:,} in {found['files']} files"
        + (f"; {found['damaged_lines']:,} damaged lines skipped" if found["damaged_lines"] else "")
    )
    return "\n".join(lines)


def _period_line(period: dict[str, Any]) -> str:
    latency = period["latency"]

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}s"

    rate = "-" if period["success_rate"] is None else f"{period['success_rate']:.0%}"
    routed = f"{period['routed']}" + (
        f" {period['routed_share']:.0%}" if period["routed_share"] is not None else ""
    )
    avoided = short(period["claude_tokens_avoided"])
    if period["avoided_unknown_calls"]:
        avoided += f" +{period['avoided_unknown_calls']}?"
    return (
        f"{period['period']:20} {period['calls']:>6} {routed:>7} {rate:>5} "
        f"{period['fell_back']:>6} {period['cache_hits']:>5} {seconds(latency['p50']):>6} "
        f"{seconds(latency['p95']):>6} {seconds(latency['max']):>6} "
        f"{short(period['tokens']['input']):>7} {short(period['tokens']['output']):>7} "
        f"{money(period['cost_usd'], 0):>9} {avoided:>15}"
    )


def _avoided_line(total: dict[str, Any]) -> str:
    known, unknown = total["avoided_estimated_calls"], total["avoided_unknown_calls"]
    if not known and not unknown:
        return "Claude tokens avoided: no routed calls"
    text = (
        f"Claude tokens avoided: ~{short(total['claude_tokens_avoided'])} over {known} routed calls"
    )
    if unknown:
        text += f", unknown for {unknown} (no subagent of their agent or tier seen on Claude yet)"
    return text


# --- the command --------------------------------------------------------------------------


def parse_when(text: str, now: float, *, end: bool = False) -> float:
    """``2h``, ``7d``, ``30m``, ``1w`` (ago), or a local date/time (``2026-11-29``,
    ``2026-11-29T14:00``); ``end`` makes a bare date mean the end of that day."""
    from omcm.core.errors import OmcmError

    text = text.strip()
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    if text[:-1].isdigit() and text[-1:] in units:
        return now - int(text[:-1]) * units[text[-1]]
    for form in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            parsed = time.strptime(text, form)
        except ValueError:
            continue
        fields = [*list(parsed[:8]), -1]
        if end and form == "%Y-%m-%d":
            fields[2] += 1  # the next midnight (a day is not always 24 h)
        return time.mktime(tuple(fields))  # type: ignore[arg-type]
    raise OmcmError(
        f"{text!r}: not a duration (30m, 2h, 7d, 1w) or a date (2026-11-29, 2026-11-29T14:00)"
    )


# --- savings ------------------------------------------------------------------------------


def savings(
    rows: list[Row],
    config: Config,
    filters: Filters | None = None,
    seen: Observations | None = None,
) -> dict[str, Any]:
    """The routed calls in the window, the Claude tokens they avoided (with the basis of
    each figure) and the provider tokens and cost they used instead. ``seen``: the
    observations (:meth:`Log.window`), else those of ``rows``."""
    from omcm.stats.prices import Prices

    filters = filters or Filters()
    prices = Prices(config)
    if seen is None:
        seen = Observations()
        for row in rows:
            if row[0] == SUBAGENT:
                seen.add(row)
    seen.prices = prices
    agents: dict[str, dict[str, Any]] = {}
    total = Tally()
    avoided_usd = 0.0
    for row in rows:
        if row[0] != CALL or row[6] not in ROUTED or not filters.keeps(row):
            continue
        total.add_call(row)
        agent, tier = row[3], row[4]
        mine = agents.get(agent)
        if mine is None:
            found = seen.estimate(agent, tier)
            mine = agents[agent] = {
                "tier": tier,
                "calls": 0,
                "avoided_tokens": 0,
                "per_call": found[0] if found else None,
                "basis": f"mean of {found[2]} observed on Claude ({found[1]})"
                if found
                else "unknown: no subagent of this agent or tier seen on Claude",
                "avoided_usd": 0.0,
            }
        mine["calls"] += 1
        if mine["per_call"] is not None:
            mine["avoided_tokens"] += mine["per_call"]
        usd = seen.estimate_usd(agent, tier)
        if usd is not None:
            mine["avoided_usd"] += usd
            avoided_usd += usd
    used = total.dump(prices, seen)
    prices.save()
    return {
        "filters": filters.dump(),
        "routed_calls": total.routed,
        "claude_tokens_avoided": used["claude_tokens_avoided"],
        "avoided_estimated_calls": used["avoided_estimated_calls"],
        "avoided_unknown_calls": used["avoided_unknown_calls"],
        "claude_cost_avoided_usd": round(avoided_usd, 6),
        "agents": agents,
        "providers": used["providers"],
        "provider_tokens": used["tokens"],
        "provider_cost_usd": used["cost_usd"],
        "unpriced_tokens": used["unpriced_tokens"],
        "observed_on_claude": seen.dump(),
    }


def render_savings(found: dict[str, Any]) -> str:
    lines = [
        f"routed calls: {found['routed_calls']:,}",
        _avoided_line(
            {
                "avoided_estimated_calls": found["avoided_estimated_calls"],
                "avoided_unknown_calls": found["avoided_unknown_calls"],
                "claude_tokens_avoided": found["claude_tokens_avoided"],
            }
        ),
        f"Claude cost avoided: ~{money(found['claude_cost_avoided_usd'], 0)} (the same observed "
        "subagents, priced)",
        f"used instead: {short(found['provider_tokens']['input'])} in / "
        f"{short(found['provider_tokens']['output'])} out provider tokens, "
        f"{money(found['provider_cost_usd'], found['unpriced_tokens'])}",
    ]
    if found["agents"]:
        lines.append("per agent:")
        for name, a in sorted(found["agents"].items()):
            per = "unknown" if a["per_call"] is None else f"~{short(a['per_call'])}/call"
            lines.append(f"  {name:22} {a['calls']:>5} calls  {per:>14}  {a['basis']}")
    if found["providers"]:
        lines.append("per provider:")
        for name, used in found["providers"].items():
            tokens = used["tokens"]
            lines.append(
                f"  {name:10} {used['runs']:>5} runs  {short(tokens['input']):>7} in  "
                f"{short(tokens['output']):>6} out  "
                f"{money(used['cost_usd'], used['unpriced_tokens'])}"
            )
    return "\n".join(lines)

"""``omcm stats``: what OMCM did, per period and in total, read from the routing log.

Rows come from :mod:`omcm.stats_index` (rotated files from their saved rows, the
live file parsed). Periods are local calendar periods (``minute``, ``hour``,
``day``, ISO ``week``); an hour label carries its UTC offset, so the hour that
repeats when daylight saving time ends is two periods, and a day is a calendar
day whatever its length. Per period and in total:

- subagent calls, routed (a provider answered, or a stored answer was reused),
  the success rate of routed calls, fallbacks (a rule routed it but every
  provider failed or none was available), cache hits, latency (p50, p95, max) of
  the routed calls as OMCM ran them;
- tokens per provider (input with cached, cached, output with reasoning,
  reasoning) and their cost (:mod:`omcm.prices`; tokens of models without a
  price are counted apart, never priced by guess);
- Claude tokens avoided: each routed call is credited with the mean Claude cost
  of the same agent observed on Claude in this log (``subagent`` lines), else of
  its tier; with no observation it is counted as unknown.
"""

from __future__ import annotations

import os
import time

from omcm import routing_log
from omcm.stats_index import CALL, SUBAGENT, Rows, cached, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.config import Config
    from omcm.prices import Prices
    from omcm.stats_index import Row

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
    ) -> None:
        self.since, self.until = since, until
        self.session, self.provider, self.agent, self.mode = session, provider, agent, mode

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
        if self.provider:
            if row[0] == SUBAGENT:
                return self.provider == "claude"
            return any(a[0] == self.provider for a in row[13])
        return True


# --- reading ----------------------------------------------------------------------------


class Log:
    """Every row of the routing log; rotated files' rows are kept between reads (``--watch``)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._rotated: dict[str, Rows] = {}

    def read(self) -> tuple[list[Row], int, int, int]:
        """(rows oldest first, damaged lines, lines, files)."""
        names = routing_log.files(self.path)
        live = names[-1] if names and not _rotated_name(names[-1]) else None
        rotated = [n for n in names if n != live]
        missing = [n for n in rotated if n not in self._rotated]
        if missing:
            self._rotated.update(_load_many(missing))
        parts = [self._rotated[n] for n in rotated]
        if live:
            parts.append(parse(live))
        rows: list[Row] = []
        for part in parts:
            rows += part.rows
        damaged = sum(p.damaged for p in parts)
        lines = sum(p.lines for p in parts)
        return rows, damaged, lines, len(parts)


def _rotated_name(name: str) -> bool:
    return not name.endswith(".jsonl")


def _load_many(names: list[str]) -> dict[str, Rows]:
    """Rows of rotated files; files without current saved rows are parsed on every core."""
    stale = [n for n in names if not _fresh(n)]
    if len(stale) > 1 and (os.cpu_count() or 1) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(len(stale), os.cpu_count() or 1)) as pool:
            list(pool.map(cached, stale))  # each worker saves its file's rows
    return {n: cached(n) for n in names}


def _fresh(name: str) -> bool:
    import marshal

    try:
        st = os.stat(name)
        with open(name + ".rows", "rb") as handle:
            head = marshal.loads(handle.read())
        return bool(tuple(head["stamp"]) == (st.st_size, st.st_mtime_ns))
    except (OSError, ValueError, EOFError, TypeError, KeyError):
        return False


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


class Observations:
    """What subagents cost Claude, per agent and tier, as the log's ``subagent`` lines say."""

    def __init__(self, prices: Prices | None = None) -> None:
        self.prices = prices
        # name -> [n, total tokens, USD of the priced ones, priced n]
        self.agents: dict[str, list[float]] = {}
        self.tiers: dict[str, list[float]] = {}

    def add(self, row: Row) -> None:
        usd = None
        if self.prices is not None:
            tin, write, read, out = row[7:11]
            usd = self.prices.cost(
                "claude",
                row[6],
                row[1],
                input=tin + write + read,
                cached=read,
                cache_write=write,
                output=out,
            ).usd
        for table, key in ((self.agents, row[3]), (self.tiers, row[4])):
            seen = table.setdefault(key, [0, 0, 0.0, 0])
            seen[0] += 1
            seen[1] += row[11]
            if usd is not None:
                seen[2] += usd
                seen[3] += 1

    def estimate(self, agent: str, tier: str) -> tuple[int, str, int] | None:
        """(tokens, basis, observations) for a routed call of ``agent``."""
        found = self._seen(agent, tier)
        if found is None:
            return None
        basis, seen = found
        return round(seen[1] / seen[0]), basis, int(seen[0])

    def estimate_usd(self, agent: str, tier: str) -> float | None:
        """The mean Claude cost in USD of the same observations (None if none was priced)."""
        found = self._seen(agent, tier)
        if found is None or not found[1][3]:
            return None
        return found[1][2] / found[1][3]

    def _seen(self, agent: str, tier: str) -> tuple[str, list[float]] | None:
        for basis, table, key in (("agent", self.agents, agent), ("tier", self.tiers, tier)):
            seen = table.get(key)
            if seen and seen[0]:
                return f"{basis} {key}", seen
        return None

    def dump(self) -> dict[str, Any]:
        def table(found: dict[str, list[float]]) -> dict[str, Any]:
            return {
                k: {"n": int(s[0]), "mean_tokens": round(s[1] / s[0])}
                for k, s in found.items()
                if s[0]
            }

        return {"agents": table(self.agents), "tiers": table(self.tiers)}


class Tally:
    """The figures of one period (or the total)."""

    def __init__(self, label: str = "total", start: float = 0.0) -> None:
        self.label, self.start = label, start
        self.calls = self.routed = self.decided_routed = self.fell_back = 0
        self.cache_hits = self.cancelled = self.background = 0
        self.latencies: list[float] = []
        self.tokens = [0, 0, 0, 0]  # input, cached, output, reasoning
        self.cost = 0.0
        self.unpriced = 0  # tokens of models without a price
        self.providers: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, list[int]] = {}  # name -> [calls, routed]
        self.answered: dict[str, int] = {}  # who answered each call: a provider, or claude
        self.avoided = 0
        self.avoided_calls = 0
        self.avoided_unknown = 0
        self.claude_subagents = 0
        self.claude_tokens = 0
        self.claude_cost = 0.0
        self.claude_unpriced = 0

    def add_call(self, row: Row, prices: Prices, seen: Observations) -> None:
        (_k, when, _s, agent, tier, _m, outcome, reason, _p, _model, duration) = row[:11]
        self.calls += 1
        routed = outcome in ROUTED
        if routed:
            self.routed += 1
            self.latencies.append(duration)
            found = seen.estimate(agent, tier)
            if found is None:
                self.avoided_unknown += 1
            else:
                self.avoided += found[0]
                self.avoided_calls += 1
        if row[11]:
            self.cache_hits += 1
        if row[12]:
            self.background += 1
        if row[13] or outcome in ("fell-back", "cancelled", "timed-out") or routed:
            self.decided_routed += 1
        if outcome == "fell-back" or reason == "no-provider-available":
            self.fell_back += 1
        if outcome == "cancelled":
            self.cancelled += 1
        mine = self.agents.setdefault(agent, [0, 0])
        mine[0] += 1
        mine[1] += routed
        who = (row[8] or "cache") if routed else "claude"
        self.answered[who] = self.answered.get(who, 0) + 1
        for attempt in row[13]:
            self._attempt(attempt, when, prices)

    def _attempt(self, attempt: tuple[Any, ...], when: float, prices: Prices) -> None:
        provider, model, outcome, tin, tcached, tout, treason = attempt[:7]
        used = self.providers.get(provider)
        if used is None:
            used = self.providers[provider] = {
                "runs": 0,
                "ok": 0,
                "warm": 0,
                "tokens": [0, 0, 0, 0],
                "cost": 0.0,
                "unpriced": 0,
                "models": {},
            }
        used["runs"] += 1
        used["ok"] += outcome == "ok"
        used["warm"] += bool(attempt[8])
        for i, value in enumerate((tin, tcached, tout, treason)):
            used["tokens"][i] += value
            self.tokens[i] += value
        if tin or tout:
            priced = prices.cost(provider, model, when, input=tin, cached=tcached, output=tout)
            if priced.usd is None:
                used["unpriced"] += tin + tout
                self.unpriced += tin + tout
            else:
                used["cost"] += priced.usd
                self.cost += priced.usd
            used["models"][model or "(default)"] = priced.source

    def add_subagent(self, row: Row, prices: Prices) -> None:
        self.claude_subagents += 1
        self.claude_tokens += row[11]
        tin, write, read, out = row[7:11]
        priced = prices.cost(
            "claude",
            row[6],
            row[1],
            input=tin + write + read,
            cached=read,
            cache_write=write,
            output=out,
        )
        if priced.usd is None:
            self.claude_unpriced += row[11]
        else:
            self.claude_cost += priced.usd

    def dump(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        decided = self.decided_routed
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
            "tokens": dict(
                zip(("input", "cached", "output", "reasoning"), self.tokens, strict=True)
            ),
            "cost_usd": round(self.cost, 6),
            "unpriced_tokens": self.unpriced,
            "providers": {
                name: {
                    "runs": used["runs"],
                    "ok": used["ok"],
                    "warm": used["warm"],
                    "success_rate": round(used["ok"] / used["runs"], 4) if used["runs"] else None,
                    "tokens": dict(
                        zip(("input", "cached", "output", "reasoning"), used["tokens"], strict=True)
                    ),
                    "cost_usd": round(used["cost"], 6),
                    "unpriced_tokens": used["unpriced"],
                    "prices": used["models"],
                }
                for name, used in sorted(self.providers.items())
            },
            "agents": {
                name: {"calls": calls, "routed": routed}
                for name, (calls, routed) in sorted(self.agents.items())
            },
            "claude_tokens_avoided": self.avoided,
            "avoided_estimated_calls": self.avoided_calls,
            "avoided_unknown_calls": self.avoided_unknown,
            "claude_subagents": self.claude_subagents,
            "claude_subagent_tokens": self.claude_tokens,
            "claude_subagent_cost_usd": round(self.claude_cost, 6),
            "claude_unpriced_tokens": self.claude_unpriced,
        }


def _histogram(ordered: list[float]) -> list[int]:
    """Counts per :data:`LATENCY_BINS` bin (and one more for longer)."""
    import bisect

    counts = [0] * (len(LATENCY_BINS) + 1)
    for value in ordered:
        counts[bisect.bisect_left(LATENCY_BINS, value)] += 1
    return counts


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 3)


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
    from omcm.prices import Prices

    filters = filters or Filters()
    prices = Prices(config)
    seen = Observations(prices)
    for row in rows:
        if row[0] == SUBAGENT:
            seen.add(row)
    buckets = Buckets(by)
    periods: dict[str, Tally] = {}
    total = Tally()
    keeps = filters.keeps
    for row in rows:
        if not keeps(row):
            continue
        label, start = buckets.label(row[1])
        period = periods.get(label)
        if period is None:
            period = periods[label] = Tally(label, start)
        for tally in (period, total):
            if row[0] == CALL:
                tally.add_call(row, prices, seen)
            else:
                tally.add_subagent(row, prices)
    ordered = sorted(periods.values(), key=lambda t: (t.start, t.label))
    return {
        "by": by,
        "filters": filters.dump(),
        "periods": [t.dump() for t in ordered],
        "total": total.dump(),
        "observed_on_claude": seen.dump(),
        "lines": lines,
        "damaged_lines": damaged,
        "files": files,
    }


# --- text -------------------------------------------------------------------------------


def short(value: float) -> str:
    """``1.2k``, ``3.4M``: token counts as the status line shows them."""
    from omcm.hud import abbreviate

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
    from omcm.errors import OmcmError

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


def savings(rows: list[Row], config: Config, filters: Filters | None = None) -> dict[str, Any]:
    """The routed calls in the window, the Claude tokens they avoided (with the basis of
    each figure) and the provider tokens and cost they used instead."""
    from omcm.prices import Prices

    filters = filters or Filters()
    prices = Prices(config)
    seen = Observations(prices)
    for row in rows:
        if row[0] == SUBAGENT:
            seen.add(row)
    agents: dict[str, dict[str, Any]] = {}
    total = Tally()
    avoided_usd = 0.0
    for row in rows:
        if row[0] != CALL or row[6] not in ROUTED or not filters.keeps(row):
            continue
        total.add_call(row, prices, seen)
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
    used = total.dump()
    return {
        "filters": filters.dump(),
        "routed_calls": total.routed,
        "claude_tokens_avoided": total.avoided,
        "avoided_estimated_calls": total.avoided_calls,
        "avoided_unknown_calls": total.avoided_unknown,
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

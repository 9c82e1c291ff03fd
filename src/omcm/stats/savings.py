"""``omcm savings``: the Claude tokens routed calls avoided, and what they used instead.

Each routed call in the window is credited with the mean Claude cost of its agent (else
its tier) as observed on Claude (:mod:`omcm.stats.observations`), with the basis of
each figure, next to the provider tokens and cost it used (:mod:`omcm.stats.tally`).
"""

from __future__ import annotations

from omcm.stats.filters import Filters
from omcm.stats.observations import Observations
from omcm.stats.render import avoided_line, money, short
from omcm.stats.rows import ROUTED, CallRow, SubagentRow, gc_paused
from omcm.stats.tally import Tally

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.config import Config
    from omcm.stats.reading import Log
    from omcm.stats.rows import Row


@gc_paused
def savings_log(log: Log, config: Config, filters: Filters | None = None) -> dict[str, Any]:
    """:func:`savings` over the routing log: the rows of the files the window needs, and
    every file's observations (from their headers)."""
    filters = filters or Filters()
    seen = Observations()
    return savings(log.window(filters, seen), config, filters, seen)


def savings(
    rows: list[Row],
    config: Config,
    filters: Filters | None = None,
    seen: Observations | None = None,
) -> dict[str, Any]:
    """The routed calls in the window, the Claude tokens they avoided (with the basis of
    each figure) and the provider tokens and cost they used instead. ``seen``: the
    observations (:meth:`omcm.stats.reading.Log.window`), else those of ``rows``."""
    from omcm.stats.prices import Prices

    filters = filters or Filters()
    prices = Prices(config)
    if seen is None:
        seen = Observations()
        for row in rows:
            if isinstance(row, SubagentRow):
                seen.add(row)
    seen.prices = prices
    agents: dict[str, dict[str, Any]] = {}
    total = Tally()
    avoided_usd = 0.0
    for row in rows:
        if not isinstance(row, CallRow) or row.outcome not in ROUTED or not filters.keeps(row):
            continue
        total.add_call(row)
        agent, tier = row.agent, row.tier
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
    """The savings as text: the totals, then per agent and per provider."""
    lines = [
        f"routed calls: {found['routed_calls']:,}",
        avoided_line(
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

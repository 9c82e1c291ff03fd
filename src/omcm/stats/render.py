"""The ``omcm stats`` report as text: a line per period, then totals per provider and agent.

Also the figures' formats shared by the other views (``omcm savings``, the HTML page):
token counts as the status line shows them, and money.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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
        lines.append("sources (hook: subagent calls; cli: omcm run; mcp: the ask tools; …):")
        for name, counts in total["sources"].items():
            lines.append(f"  {name:24} {counts['calls']:>6} calls  {counts['routed']:>6} routed")
    if total["agents"]:
        lines.append("agents:")
        for name, counts in total["agents"].items():
            lines.append(f"  {name:24} {counts['calls']:>6} calls  {counts['routed']:>6} routed")
    lines.append(avoided_line(total))
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


def avoided_line(total: dict[str, Any]) -> str:
    """The Claude tokens avoided by routed calls, and for how many there is no estimate."""
    known, unknown = total["avoided_estimated_calls"], total["avoided_unknown_calls"]
    if not known and not unknown:
        return "Claude tokens avoided: no routed calls"
    text = (
        f"Claude tokens avoided: ~{short(total['claude_tokens_avoided'])} over {known} routed calls"
    )
    if unknown:
        text += f", unknown for {unknown} (no subagent of their agent or tier seen on Claude yet)"
    return text

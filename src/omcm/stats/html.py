"""``omcm stats --html FILE``: the report as one self-contained page with charts.

No network and no external file: the charts are inline SVG drawn here (each bar
and point has a ``<title>``, so hovering shows its figures without any script),
the style is inline, and one small inline script makes the tables sortable by a
click on a column head. Charts: calls per period stacked by who answered them
(each provider, or Claude), tokens per provider, the latency distribution of
routed calls, and Claude tokens avoided over time (cumulative).
"""

from __future__ import annotations

from html import escape

from omcm.stats.render import money, short
from omcm.stats.tally import LATENCY_BINS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: One colour per series, in order (Claude always the first, providers after).
PALETTE = ("#8a8a8a", "#2f7ed8", "#e4572e", "#17a589", "#f2a541", "#8e44ad", "#c0392b", "#34495e")
W, H, PAD = 760, 260, 46

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;
max-width:1100px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.meta{color:#666;margin-bottom:16px} .cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:20px} .card span{color:#666;font-size:12px}
svg{background:#fafafa;border:1px solid #eee;border-radius:6px}
svg text{font-size:11px;fill:#444} .legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border-bottom:1px solid #eee;padding:4px 10px;text-align:right}
th{cursor:pointer;background:#f4f4f4;user-select:none}
td:first-child,th:first-child{text-align:left}
"""

SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (head, column) {
  head.addEventListener("click", function () {
    var body = head.closest("table").tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var down = head.dataset.sorted !== "down";
    rows.sort(function (a, b) {
      var x = a.cells[column].dataset.v || a.cells[column].textContent;
      var y = b.cells[column].dataset.v || b.cells[column].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
      return down ? -c : c;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    head.dataset.sorted = down ? "down" : "up";
  });
});
document.body.dataset.ready = "1";
"""


def page(found: dict[str, Any], title: str = "OMCM stats") -> str:
    total = found["total"]
    series = ["claude", *sorted(p for p in total["answered_by"] if p != "claude")]
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<div class='meta'>by {escape(found['by'])}; {found['lines']:,} log lines in "
        f"{found['files']} files"
        + _filters(found)
        + (f"; {found['damaged_lines']:,} damaged lines skipped" if found["damaged_lines"] else "")
        + "</div>",
        _cards(total),
        "<h2>Calls per period, by who answered</h2>",
        _legend(series, colours),
        _stacked(found["periods"], series, colours),
        "<h2>Tokens per provider</h2>",
        _tokens(total),
        "<h2>Latency of routed calls</h2>",
        _histogram(total["latency"]["histogram"]),
        "<h2>Claude tokens avoided over time</h2>",
        _savings(found["periods"]),
        "<h2>Periods</h2>",
        _periods_table(found["periods"]),
        "<h2>Providers</h2>",
        _providers_table(total["providers"]),
        "<h2>Agents</h2>",
        _agents_table(total["agents"]),
        f"<script>{SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts)


def _filters(found: dict[str, Any]) -> str:
    """``; filtered: since 2026-11-02 14:05, provider codex`` (times as local dates)."""
    import time

    def value(key: str, v: Any) -> str:
        if key in ("since", "until") and isinstance(v, (int, float)):
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(v))
        return str(v)

    shown = ", ".join(f"{k} {value(k, v)}" for k, v in found["filters"].items())
    return f"; filtered: {escape(shown)}" if shown else ""


def _cards(total: dict[str, Any]) -> str:
    share = total["routed_share"]
    cards = [
        (f"{total['calls']:,}", "subagent calls"),
        (f"{total['routed']:,}" + (f" ({share:.0%})" if share is not None else ""), "routed"),
        ("-" if total["success_rate"] is None else f"{total['success_rate']:.0%}", "success"),
        (f"{total['fell_back']:,}", "fell back to Claude"),
        (money(total["cost_usd"], total["unpriced_tokens"]), "provider cost"),
        (
            f"~{short(total['claude_tokens_avoided'])}"
            + (
                f" +{total['avoided_unknown_calls']} unknown"
                if total["avoided_unknown_calls"]
                else ""
            ),
            "Claude tokens avoided",
        ),
    ]
    inner = "".join(
        f"<div class='card'><b>{escape(v)}</b><span>{escape(k)}</span></div>" for v, k in cards
    )
    return f"<div class='cards'>{inner}</div>"


def _legend(series: list[str], colours: dict[str, str]) -> str:
    spans = "".join(
        f"<span><i style='background:{colours[name]}'></i>{escape(name)}</span>" for name in series
    )
    return f"<div class='legend'>{spans}</div>"


def _frame(inner: str, label: str, width: int = W, height: int = H) -> str:
    return (
        f"<svg class='chart' role='img' aria-label='{escape(label)}' width='{width}' "
        f"height='{height}' viewBox='0 0 {width} {height}' xmlns='http://www.w3.org/2000/svg'>"
        f"{inner}</svg>"
    )


def _axis(top: float, height: int = H) -> str:
    base = height - PAD
    ticks = []
    for i in range(5):
        value = top * i / 4
        y = base - (base - 14) * i / 4
        ticks.append(
            f"<line x1='{PAD}' x2='{W - 10}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e5e5e5'/>"
            f"<text x='{PAD - 6}' y='{y + 4:.1f}' text-anchor='end'>{escape(short(value))}</text>"
        )
    return "".join(ticks)


def _stacked(periods: list[dict[str, Any]], series: list[str], colours: dict[str, str]) -> str:
    if not periods:
        return "<p>No calls in this window.</p>"
    top = max(sum(p["answered_by"].values()) for p in periods) or 1
    base, span = H - PAD, H - PAD - 14
    step = (W - PAD - 10) / len(periods)
    bar = max(2.0, step * 0.7)
    shapes = [_axis(top)]
    every = max(1, len(periods) // 8)
    for i, period in enumerate(periods):
        x = PAD + i * step + (step - bar) / 2
        y = float(base)
        for name in series:
            count = period["answered_by"].get(name, 0)
            if not count:
                continue
            height = span * count / top
            y -= height
            tip = f"{period['period']}: {name} {count}"
            shapes.append(
                f"<rect class='bar' x='{x:.1f}' y='{y:.1f}' width='{bar:.1f}' "
                f"height='{height:.1f}' fill='{colours[name]}'><title>{escape(tip)}</title></rect>"
            )
        if i % every == 0:
            shapes.append(
                f"<text x='{x + bar / 2:.1f}' y='{base + 16}' text-anchor='middle'>"
                f"{escape(period['period'][-11:])}</text>"
            )
    return _frame("".join(shapes), "calls per period")


def _tokens(total: dict[str, Any]) -> str:
    providers = total["providers"]
    if not providers:
        return "<p>No provider ran in this window.</p>"
    top = max(max(u["tokens"]["input"], u["tokens"]["output"]) for u in providers.values()) or 1
    height = 40 + 34 * len(providers)
    shapes = []
    for i, (name, used) in enumerate(providers.items()):
        y = 20 + i * 34
        shapes.append(f"<text x='10' y='{y + 14}'>{escape(name)}</text>")
        for j, (kind, colour) in enumerate((("input", "#2f7ed8"), ("output", "#e4572e"))):
            value = used["tokens"][kind]
            width = (W - 220) * value / top
            tip = f"{name} {kind}: {value:,} tokens"
            shapes.append(
                f"<rect class='bar' x='110' y='{y + j * 13}' width='{max(width, 1):.1f}' "
                f"height='11' fill='{colour}'><title>{escape(tip)}</title></rect>"
                f"<text x='{116 + width:.1f}' y='{y + j * 13 + 10}'>{escape(short(value))} "
                f"{kind}</text>"
            )
    return _frame("".join(shapes), "tokens per provider", height=height)


def _histogram(counts: list[int]) -> str:
    if not any(counts):
        return "<p>No routed calls in this window.</p>"
    labels = [f"≤{edge:g}s" for edge in LATENCY_BINS] + [f">{LATENCY_BINS[-1]:g}s"]
    top = max(counts) or 1
    base, span = H - PAD, H - PAD - 14
    step = (W - PAD - 10) / len(counts)
    shapes = [_axis(top)]
    for i, (count, label) in enumerate(zip(counts, labels, strict=True)):
        x = PAD + i * step + step * 0.15
        height = span * count / top
        shapes.append(
            f"<rect class='bar' x='{x:.1f}' y='{base - height:.1f}' width='{step * 0.7:.1f}' "
            f"height='{height:.1f}' fill='#17a589'><title>{escape(label)}: {count}</title></rect>"
            f"<text x='{x + step * 0.35:.1f}' y='{base + 16}' text-anchor='middle'>"
            f"{escape(label)}</text>"
        )
    return _frame("".join(shapes), "latency distribution")


def _savings(periods: list[dict[str, Any]]) -> str:
    if not periods:
        return "<p>No calls in this window.</p>"
    running, points = 0, []
    for period in periods:
        running += period["claude_tokens_avoided"]
        points.append((period["period"], running))
    top = running or 1
    base, span = H - PAD, H - PAD - 14
    step = (W - PAD - 10) / max(1, len(points) - 1)
    coords = [
        (PAD + i * step if len(points) > 1 else PAD + (W - PAD - 10) / 2, base - span * v / top)
        for i, (_label, v) in enumerate(points)
    ]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(coords))
    shapes = [_axis(top), f"<path d='{path}' fill='none' stroke='#8e44ad' stroke-width='2'/>"]
    for (x, y), (label, value) in zip(coords, points, strict=True):
        shapes.append(
            f"<circle class='point' cx='{x:.1f}' cy='{y:.1f}' r='3' fill='#8e44ad'>"
            f"<title>{escape(label)}: ~{value:,} tokens avoided so far</title></circle>"
        )
    return _frame("".join(shapes), "Claude tokens avoided over time")


def _table(head: list[str], rows: list[list[tuple[str, float | str]]]) -> str:
    heads = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(f"<td data-v='{escape(str(v))}'>{escape(t)}</td>" for t, v in row)
        + "</tr>"
        for row in rows
    )
    return f"<table class='sortable'><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


def _periods_table(periods: list[dict[str, Any]]) -> str:
    rows = []
    for p in periods:
        p50 = p["latency"]["p50"]
        rows.append(
            [
                (p["period"], p["start"]),
                (f"{p['calls']:,}", p["calls"]),
                (f"{p['routed']:,}", p["routed"]),
                (f"{p['fell_back']:,}", p["fell_back"]),
                (f"{p['cache_hits']:,}", p["cache_hits"]),
                ("-" if p50 is None else f"{p50:.1f}s", p50 or 0),
                (short(p["tokens"]["input"]), p["tokens"]["input"]),
                (short(p["tokens"]["output"]), p["tokens"]["output"]),
                (money(p["cost_usd"], p["unpriced_tokens"]), p["cost_usd"]),
                (short(p["claude_tokens_avoided"]), p["claude_tokens_avoided"]),
            ]
        )
    head = [
        "period",
        "calls",
        "routed",
        "fell back",
        "cache",
        "p50",
        "tokens in",
        "tokens out",
        "cost",
        "Claude avoided",
    ]
    return _table(head, rows)


def _providers_table(providers: dict[str, Any]) -> str:
    rows = [
        [
            (name, name),
            (f"{u['runs']:,}", u["runs"]),
            (
                "-" if u["success_rate"] is None else f"{u['success_rate']:.0%}",
                u["success_rate"] or 0,
            ),
            (f"{u['warm']:,}", u["warm"]),
            (short(u["tokens"]["input"]), u["tokens"]["input"]),
            (short(u["tokens"]["cached"]), u["tokens"]["cached"]),
            (short(u["tokens"]["output"]), u["tokens"]["output"]),
            (money(u["cost_usd"], u["unpriced_tokens"]), u["cost_usd"]),
            ("; ".join(f"{m}: {s}" for m, s in u["prices"].items()), ""),
        ]
        for name, u in providers.items()
    ]
    head = ["provider", "runs", "ok", "warm", "in", "cached", "out", "cost", "prices"]
    return _table(head, rows)


def _agents_table(agents: dict[str, Any]) -> str:
    rows = [
        [(name, name), (f"{a['calls']:,}", a["calls"]), (f"{a['routed']:,}", a["routed"])]
        for name, a in agents.items()
    ]
    return _table(["agent", "calls", "routed"], rows)

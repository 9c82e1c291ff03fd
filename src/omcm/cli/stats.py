"""``omcm stats`` and ``omcm savings``: reports over the routing log (:mod:`omcm.stats.report`)."""

from __future__ import annotations

import json
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from omcm.stats.report import Filters


def add_parsers(sub: Any) -> None:
    from omcm.stats.report import PERIODS

    stats = sub.add_parser(
        "stats",
        help="calls, routed share, success, latency, tokens, cost and Claude tokens avoided, "
        "per period",
    )
    stats.add_argument("--by", choices=PERIODS, default="day", help="period (default: day)")
    _window(stats)
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.add_argument(
        "--watch",
        type=float,
        nargs="?",
        const=5.0,
        metavar="SECONDS",
        help="refresh in place every SECONDS (default 5) until Ctrl-C",
    )
    stats.add_argument("--html", metavar="FILE", help="write a self-contained page with charts")
    stats.set_defaults(handler=cmd_stats)

    savings = sub.add_parser(
        "savings",
        help="the Claude tokens routed calls avoided, and what they used instead; "
        "--what-if: what each mode would have moved, from your own transcripts",
    )
    _window(savings)
    savings.add_argument("--json", action="store_true", help="machine-readable output")
    savings.add_argument(
        "--what-if",
        action="store_true",
        help="read Claude Code's transcripts ($CLAUDE_CONFIG_DIR or ~/.claude) and say what "
        "fusion_default, hulw, ulw and save-tokens would have moved to providers",
    )
    savings.add_argument(
        "--days", type=float, default=7.0, help="with --what-if: sessions of the last N days"
    )
    savings.set_defaults(handler=cmd_savings)


def _window(parser: Any) -> None:
    parser.add_argument(
        "--since", default="7d", help="start: a duration ago (30m, 2h, 7d, 1w), a date, or all"
    )
    parser.add_argument("--until", help="end: a duration ago or a date (default: now)")
    parser.add_argument("--session", default="", help="one Claude Code session id")
    parser.add_argument("--provider", default="", help="calls one provider ran (claude: subagents)")
    parser.add_argument("--agent", default="", help="one agent, as normalised (explore, executor)")
    parser.add_argument(
        "--mode", default="", help="the session's mode (hulw, ulw, …; none: no mode)"
    )
    parser.add_argument(
        "--source",
        default="",
        choices=["", "hook", "cli", "batch", "mcp"],
        help="calls of one door: hook (subagent calls), cli (omcm run), batch, mcp (ask tools)",
    )


def filters_of(args: argparse.Namespace, now: float) -> Filters:
    from omcm.stats.report import Filters, parse_when

    since = None if args.since in ("all", "") else parse_when(args.since, now)
    until = parse_when(args.until, now, end=True) if args.until else None
    return Filters(
        since=since,
        until=until,
        session=args.session,
        provider=args.provider,
        agent=args.agent.strip().lower(),
        mode=args.mode,
        source=args.source,
    )


def cmd_stats(args: argparse.Namespace) -> int:
    from omcm import config
    from omcm.stats import report

    conf = config.load()
    log = report.Log()

    def build() -> dict[str, Any]:
        return report.report_log(log, conf, by=args.by, filters=filters_of(args, time.time()))

    if args.html:
        from omcm.core import state
        from omcm.stats import html

        found = build()
        state.atomic_write(args.html, html.page(found))
        calls, periods = found["total"]["calls"], len(found["periods"])
        print(f"wrote {args.html}: {calls:,} calls in {periods} periods")
        return 0
    if args.watch:
        try:
            while True:
                text = report.render(build())
                stamp = time.strftime("%H:%M:%S")
                sys.stdout.write(f"\x1b[H\x1b[2J{text}\n\nrefreshed {stamp}; Ctrl-C to stop\n")
                sys.stdout.flush()
                time.sleep(max(0.5, args.watch))
        except KeyboardInterrupt:
            return 0
    found = build()
    print(json.dumps(found, indent=2, ensure_ascii=False) if args.json else report.render(found))
    return 0


def cmd_savings(args: argparse.Namespace) -> int:
    from omcm import config
    from omcm.stats import report

    conf = config.load()
    if args.what_if:
        from omcm.calls import inputs
        from omcm.routing import gauges
        from omcm.stats import whatif

        limits = gauges.load()
        usage = inputs.claude_usage(limits, time.time())
        found = whatif.what_if(conf, args.days, usage)
        print(json.dumps(found, indent=2) if args.json else whatif.render(found))
        return 0
    filters, seen = filters_of(args, time.time()), report.Observations()
    rows = report.Log().window(filters, seen)
    found = report.savings(rows, conf, filters, seen)
    print(
        json.dumps(found, indent=2, ensure_ascii=False)
        if args.json
        else report.render_savings(found)
    )
    return 0

"""``omcm stats`` and ``omcm savings``: reports over the routing log (:mod:`omcm.stats`)."""

from __future__ import annotations

import json
import sys
import time

from omcm.core import paths
from omcm.core.errors import OmcmError, cut
from omcm.core.humanize import plural

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any, TypeVar

    from omcm.stats.filters import Filters

    T = TypeVar("T")


def add_parsers(sub: Any) -> None:
    from omcm.stats.periods import PERIODS

    stats = sub.add_parser(
        "stats",
        help="calls, routed share, success, latency, tokens, cost and Claude tokens avoided, "
        "per period",
        epilog="examples:\n"
        "  omcm stats --since 30d --by week\n"
        "  omcm stats --since 2h --by hour --provider codex\n"
        "  omcm stats --since 30d --html stats.html",
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
    stats.add_argument(
        "--html", metavar="FILE", help="write a self-contained page with charts to FILE"
    )
    stats.set_defaults(handler=cmd_stats)

    savings = sub.add_parser(
        "savings",
        help="the Claude tokens routed calls avoided, and what they used instead; "
        "--what-if: what each mode would have moved, from your own transcripts",
        epilog="examples:\n  omcm savings --since 7d\n  omcm savings --what-if --days 7",
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
        "--days",
        type=float,
        default=7.0,
        metavar="DAYS",
        help="with --what-if: sessions of the last DAYS days (default 7)",
    )
    savings.set_defaults(handler=cmd_savings)


def _window(parser: Any) -> None:
    from omcm.calls.call import DOORS
    from omcm.providers import REGISTERED
    from omcm.routing.modes import MODES

    parser.add_argument(
        "--since",
        default="7d",
        metavar="WHEN",
        help="start: a duration ago (30m, 2h, 7d, 1w), a date, or all (default: 7d)",
    )
    parser.add_argument(
        "--until", metavar="WHEN", help="end: a duration ago or a date (default: now)"
    )
    parser.add_argument("--session", default="", metavar="ID", help="one Claude Code session id")
    parser.add_argument(
        "--provider",
        default="",
        choices=[*REGISTERED, "claude"],
        help="calls this provider ran (claude: subagents that ran on Claude)",
    )
    parser.add_argument(
        "--agent", default="", metavar="AGENT", help="one agent, as normalised (explore, executor)"
    )
    parser.add_argument(
        "--mode",
        default="",
        choices=[*MODES, "none"],
        help="the session's mode (none: no mode)",
    )
    parser.add_argument(
        "--source",
        default="",
        choices=list(DOORS),
        help="calls of one door: hook (subagent calls), cli (omcm run), batch, mcp (the ask "
        "tools), review, schedule",
    )


def filters_of(args: argparse.Namespace, now: float) -> Filters:
    from omcm.stats.filters import Filters

    since = None if args.since in ("all", "") else _when("--since", args.since, now)
    until = _when("--until", args.until, now, end=True) if args.until else None
    if since is not None and until is not None and until <= since:
        raise OmcmError(
            f"--until {cut(args.until)} is not after --since {cut(args.since)}: "
            "the window would be empty"
        )
    return Filters(
        since=since,
        until=until,
        session=args.session,
        provider=args.provider,
        agent=args.agent.strip().lower(),
        mode=args.mode,
        source=args.source,
    )


def _when(option: str, text: str, now: float, *, end: bool = False) -> float:
    """``--since``/``--until``'s time; an error names the option and quotes its value cut."""
    from omcm.stats.filters import parse_when

    try:
        return parse_when(text, now, end=end)
    except OmcmError:
        raise OmcmError(
            f"{option} {cut(text)!r}: not a duration ago (30m, 2h, 7d, 1w), a date "
            "(2026-11-29, 2026-11-29T14:00) or all"
        ) from None


def _reading(work: Callable[[], T]) -> T:
    """``work()``, with a routing log that cannot be read said as an error naming it."""
    try:
        return work()
    except OSError as exc:
        raise OmcmError(
            f"the routing log {exc.filename or paths.routing_log()} cannot be read "
            f"({exc.strerror or exc}); check its owner and permissions"
        ) from None


def cmd_stats(args: argparse.Namespace) -> int:
    from omcm import config
    from omcm.stats.reading import Log
    from omcm.stats.render import render
    from omcm.stats.report import report_log

    conf = config.load()
    log = Log()
    filters_of(args, time.time())  # a bad --since is said before anything is read

    def build() -> dict[str, Any]:
        return _reading(
            lambda: report_log(log, conf, by=args.by, filters=filters_of(args, time.time()))
        )

    if args.html is not None:
        from omcm.core.userfile import write_text
        from omcm.stats import html

        found = build()
        written = write_text(args.html, html.page(found), "--html")
        periods = found["periods"]
        print(
            f"wrote {written}: {plural(found['total']['calls'], 'call')} in "
            f"{plural(len(periods), 'period')}"
        )
        return 0
    if args.watch is not None:
        return _watch(build, render, max(0.5, args.watch))
    found = build()
    print(json.dumps(found, indent=2, ensure_ascii=False) if args.json else render(found))
    return 0


def _watch(
    build: Callable[[], dict[str, Any]], render: Callable[[dict[str, Any]], str], every: float
) -> int:
    """The report again every ``every`` seconds until Ctrl-C: redrawn in place on a
    terminal; into a pipe or a file, one report after the other with no escape codes."""
    live = sys.stdout.isatty()
    try:
        while True:
            text = render(build())
            stamp = time.strftime("%H:%M:%S")
            if live:
                sys.stdout.write(f"\x1b[H\x1b[2J{text}\n\nrefreshed {stamp}; Ctrl-C to stop\n")
            else:
                sys.stdout.write(f"{text}\n\n--- {stamp}; next in {every:g}s ---\n\n")
            sys.stdout.flush()
            time.sleep(every)
    except KeyboardInterrupt:
        return 0


def cmd_savings(args: argparse.Namespace) -> int:
    from omcm import config

    conf = config.load()
    if args.what_if:
        from omcm.calls import inputs
        from omcm.routing import gauges
        from omcm.stats import whatif

        if not args.days > 0:
            raise OmcmError(f"--days {args.days:g}: give a number of days above 0")
        limits = gauges.load()
        usage = inputs.claude_usage(limits, time.time())
        found = whatif.what_if(conf, args.days, usage)
        print(json.dumps(found, indent=2) if args.json else whatif.render(found))
        return 0
    from omcm.stats.reading import Log
    from omcm.stats.savings import render_savings, savings_log

    filters = filters_of(args, time.time())
    found = _reading(lambda: savings_log(Log(), conf, filters))
    print(json.dumps(found, indent=2, ensure_ascii=False) if args.json else render_savings(found))
    return 0

"""``omcm route`` and ``omcm log``: how a subagent call would be routed, and how calls were."""

from __future__ import annotations

import json
import time

from omcm import config as cfg
from omcm.core import paths
from omcm.core.errors import cut

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def add_parser(sub: Any) -> None:
    from omcm.calls.routing_log import KINDS, OUTCOMES
    from omcm.providers import REGISTERED
    from omcm.routing.agents import MODEL_TIERS

    route = sub.add_parser(
        "route",
        help="show how a subagent call would be routed (--explain: and why)",
        epilog="examples:\n"
        "  omcm route --agent explore\n"
        "  omcm route --explain --agent oh-my-claudecode:executor --session ID",
    )
    route.add_argument(
        "--explain",
        action="store_true",
        help="also the rule's reason, each provider tried or skipped and why, and the inputs "
        "(mode, Claude usage, fallback)",
    )
    route.add_argument(
        "--agent",
        required=True,
        metavar="AGENT",
        help="subagent_type, e.g. explore or oh-my-claudecode:executor",
    )
    route.add_argument(
        "--model",
        choices=sorted(MODEL_TIERS),
        help="the call's model input, as Claude Code's subagent tool takes it",
    )
    route.add_argument(
        "--prompt", default="", metavar="TEXT", help="the subagent prompt (only its size matters)"
    )
    route.add_argument("--session", default="", metavar="ID", help="read this session's mode")
    route.add_argument("--json", action="store_true", help="machine-readable output")
    route.set_defaults(handler=cmd_route)

    log = sub.add_parser(
        "log",
        help="recent routing decisions",
        epilog="examples:\n  omcm log -n 50\n  omcm log --outcome routed --provider codex --json",
    )
    log.add_argument(
        "-n", "--limit", type=_positive, default=20, metavar="N", help="how many (default 20)"
    )
    log.add_argument("--session", metavar="ID", help="only this session id")
    log.add_argument(
        "--provider", choices=list(REGISTERED), help="only calls that tried this provider"
    )
    log.add_argument("--outcome", choices=list(OUTCOMES), help="only calls with this outcome")
    log.add_argument("--event", choices=list(KINDS), help="only lines of this kind")
    log.add_argument("--json", action="store_true", help="the raw JSON lines")
    log.set_defaults(handler=cmd_log)


def _positive(text: str) -> int:
    """A whole number above 0 (argparse names the option when this raises)."""
    import argparse

    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number above 0")
    return number


def cmd_route(args: argparse.Namespace) -> int:
    from omcm.calls import inputs
    from omcm.routing import engine

    conf = cfg.load()
    now = time.time()
    session = paths.safe_name(args.session, "session id") if args.session else "cli"
    call = engine.Call(agent_raw=args.agent, model=args.model)
    decision, st = inputs.probed(conf, session, now, lambda st: engine.decide(call, conf, st))
    if args.json:
        print(json.dumps({"decision": decision.dump(), "state": st.dump()}, indent=2))
        return 0
    if not args.explain:
        print(_verdict(decision))
        return 0
    usage = "unknown" if st.usage is None else f"{st.usage:.0f}%"
    print(
        f"agent:    {cut(decision.agent_raw)} → {cut(decision.agent)} "
        f"(tier {decision.tier.upper()}, "
        f"from {decision.tier_source}; role {decision.role})"
    )
    print(f"decision: {decision.target.upper()}  [{decision.reason}] {decision.explain()}")
    for index, route in enumerate(decision.routes, 1):
        print(
            f"  {index}. {route.provider}  model={route.model or '(CLI default)'}  "
            f"sandbox={route.sandbox}"
        )
    for provider, why in decision.skipped.items():
        print(f"  skipped {provider}: {why}")
    print(
        f"inputs:   mode={st.mode or 'none'}{' +fusion' if st.mode_fusion else ''}, "
        f"claude usage={usage}, fallback={'ACTIVE' if st.fallback_active else 'off'}, "
        f"claude limited={'yes' if st.claude_limited else 'no'}, "
        f"fusion_default={str(conf.fusion_default).lower()}, "
        f"routing={'on' if conf.routing.enabled else 'off'}"
    )
    if args.prompt:
        print(f"prompt:   {len(args.prompt)} characters")
    return 0


def _verdict(decision: Any) -> str:
    """One line: where the call goes, in the order tried, and the rule's reason code."""
    head = f"{cut(decision.agent)} ({decision.tier.upper()}) → "
    if not decision.routes:
        skipped = f"; {len(decision.skipped)} skipped" if decision.skipped else ""
        return f"{head}Claude  [{decision.reason}{skipped}]  (--explain says why)"
    tried = ", ".join(f"{r.provider}/{r.model}" if r.model else r.provider for r in decision.routes)
    return f"{head}{tried}, then Claude  [{decision.reason}]  (--explain says why)"


def cmd_log(args: argparse.Namespace) -> int:
    from omcm.calls import routing_log

    filtering = bool(args.event or args.session or args.outcome or args.provider)
    total, shown = 0, []
    for found in routing_log.entries_and_damage():
        total += 1
        damaged = isinstance(found, routing_log.Damaged)
        if (damaged and not filtering) or (not damaged and _log_matches(found, args)):
            shown.append(found)
    for found in shown[-args.limit :]:
        if isinstance(found, routing_log.Damaged):
            damage = {"damaged": {"file": found.file, "line": found.line, "why": found.why}}
            print(json.dumps(damage) if args.json else str(found))
        elif args.json:
            print(json.dumps(found.dump(), ensure_ascii=False))
        else:
            print(_log_line(found))
    if not shown and not args.json:
        if total:
            print(f"no line of the {total} in the log matches (omcm log shows them all)")
        else:
            print(f"no routing decisions logged yet ({paths.routing_log()})")
    return 0


def _log_matches(entry: Any, args: argparse.Namespace) -> bool:
    from omcm.calls.routing_log import CallEntry, LimitEntry

    if args.event and entry.event != args.event:
        return False
    filters = args.session or args.outcome or args.provider
    if not filters:
        return True
    if args.session and not (
        isinstance(entry, (CallEntry, LimitEntry)) and entry.session_id == args.session
    ):
        return False
    if not isinstance(entry, CallEntry):
        return not (args.outcome or args.provider)
    if args.outcome and entry.outcome != args.outcome:
        return False
    return not args.provider or args.provider in {a.provider for a in entry.attempts}


def _log_line(entry: Any) -> str:
    """One line of ``omcm log`` for any kind of routing-log line."""
    from omcm.calls.routing_log import CallEntry, FallbackEntry

    when = time.strftime("%m-%d %H:%M:%S", time.localtime(entry.time))
    if isinstance(entry, FallbackEntry):
        state_word = "ON" if entry.active else "OFF"
        usage = "unknown" if entry.usage is None else f"{entry.usage:.0f}%"
        return (
            f"{when} fallback {state_word}: {entry.reason or 'no reason recorded'} "
            f"(Claude usage {usage}; on at {entry.threshold}%, off below "
            f"{entry.recovery_threshold}%)"
        )
    if not isinstance(entry, CallEntry):  # a limit line
        until = (
            "unknown"
            if entry.until is None
            else time.strftime("%m-%d %H:%M", time.localtime(entry.until))
        )
        return (
            f"{when} {entry.session_id[:8] or '-'} Claude rejected a request for its usage "
            f"limit (seen by {entry.source or 'a hook'}); every tier goes to providers until "
            f"about {until}"
        )
    head = (
        f"{when} {entry.session_id[:8] or '-'} {entry.agent or entry.agent_raw or '?'}"
        f" ({entry.tier.upper() or '?'}) → {entry.outcome} [{entry.reason or '-'}]"
    )
    if entry.provider:
        tokens = entry.tokens
        head += f" {entry.provider}/{entry.model or '?'} {tokens.input:,}↓ {tokens.output:,}↑"
    tried = [
        f"{a.provider}:{a.outcome}({a.duration:.1f}s{', ' + a.error if a.error else ''})"
        for a in entry.attempts
    ]
    if tried:
        head += "  " + " ".join(tried)
    if entry.error:
        head += f"  {entry.error}"
    return head

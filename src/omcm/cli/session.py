"""``omcm mode`` and ``omcm handoff``: a session's mode, and carrying its work elsewhere."""

from __future__ import annotations

import json
import os
import time

from omcm import config as cfg
from omcm.core import paths, sessions
from omcm.core.errors import OmcmError
from omcm.routing import gauges, session_mode

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def add_parser(sub: Any) -> None:
    from omcm.routing.modes import MODES

    mode = sub.add_parser("mode", help="a Claude Code session's mode (hulw, ulw, autopilot, ...)")
    msub = mode.add_subparsers(title="mode commands", metavar="ACTION", required=True)
    mset = msub.add_parser("set", help="set the mode (the slash commands run this)")
    mset.add_argument("mode", choices=list(MODES))
    mset.add_argument("--fusion", action="store_true", help="autopilot with fusion routing")
    mset.add_argument("--task", default="", help="the task, kept for autopilot")
    mset.add_argument("--session", help="session id (default: $CLAUDE_CODE_SESSION_ID)")
    mset.set_defaults(handler=cmd_mode_set)
    mcancel = msub.add_parser("cancel", help="end the mode")
    mcancel.add_argument("mode", nargs="?", default="", help="only if this mode is active")
    mcancel.add_argument("--session", help="session id (default: $CLAUDE_CODE_SESSION_ID)")
    mcancel.set_defaults(handler=cmd_mode_cancel)
    mshow = msub.add_parser("show", help="the session's mode and what it routes now")
    mshow.add_argument("--session", help="session id (default: $CLAUDE_CODE_SESSION_ID)")
    mshow.add_argument("--json", action="store_true", help="machine-readable output")
    mshow.set_defaults(handler=cmd_mode_show)
    mref = msub.add_parser("reference", help="the modes as a Markdown table (for the README)")
    mref.set_defaults(handler=cmd_mode_reference)

    handoff = sub.add_parser(
        "handoff", help="write the handoff context and print how to continue in OpenCode or Codex"
    )
    handoff.add_argument("--session", help="session id (default: $CLAUDE_CODE_SESSION_ID)")
    handoff.add_argument("--project", help="project dir (default: the session's, else .)")
    handoff.add_argument("--to", choices=["opencode", "codex", "both"], default="both")
    handoff.set_defaults(handler=cmd_handoff)


def session_of(args: argparse.Namespace) -> str:
    session = args.session or os.environ.get("CLAUDE_CODE_SESSION_ID", "")
    if not session and os.environ.get("CLAUDECODE") == "1":
        # A slash command's `!` line on Claude Code 2.1.62 gets no session id.
        from omcm.core import sessions

        session = sessions.newest_in(os.getcwd())
    if not session:
        raise OmcmError(
            "no session: run this from Claude Code (e.g. /omcm:hulw), or pass "
            "--session ID (see `omcm status`)"
        )
    return paths.safe_name(session, "session id")


def cmd_mode_set(args: argparse.Namespace) -> int:
    from omcm.routing import modes, session_mode

    session = session_of(args)
    fusion = args.fusion or (modes.MODES[args.mode].needs_fusion and cfg.load().fusion_default)
    record = session_mode.set_mode(
        session, args.mode, fusion=fusion, task=args.task, keyword="command"
    )
    report = _mode_report(record)
    # What is printed here is what Claude is told (a slash command's `!` line): remember
    # it, so the next prompt does not tell it again.
    session_mode.set_mode(session, args.mode, keyword="command", band=report["band"])
    print(report["description"])
    return 0


def cmd_mode_cancel(args: argparse.Namespace) -> int:
    from omcm.routing import session_mode

    session = session_of(args)
    ended = session_mode.cancel(session, args.mode)
    if ended:
        print(
            f"OMCM: {ended} mode ended for this session; subagents follow the normal "
            "routing rules again."
        )
    else:
        active = session_mode.current(session).mode
        print(
            f"OMCM: no {args.mode or 'mode'} to cancel"
            + (f" ({active} is active)" if active else " (no mode is active)")
        )
    return 0


def cmd_mode_show(args: argparse.Namespace) -> int:
    from omcm.routing import session_mode

    session = session_of(args)
    report = _mode_report(session_mode.current(session))
    if args.json:
        print(json.dumps(report | {"session": session}, indent=2, ensure_ascii=False))
        return 0
    print(report["description"])
    if report["mode"]:
        routed = report["routed_agents"]
        print(f"Routed to providers now: {', '.join(routed) if routed else 'none'}")
    return 0


def cmd_mode_reference(_args: argparse.Namespace) -> int:
    from omcm.routing import modes

    here = os.path.abspath(__file__)  # <root>/src/omcm/cli/session.py
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(here))))
    print(modes.reference_table(os.path.join(root, "commands")), end="")
    return 0


def _mode_report(record: session_mode.SessionMode) -> dict[str, Any]:
    """What ``omcm mode show`` says: the mode, what it routes now, and Claude's note.

    ``routed_agents`` is the engine's answer for each agent of the tier table (pins,
    fallback and provider health included); the tiers and roles are the mode table's.
    """
    from omcm.calls import inputs
    from omcm.routing import agents, engine, modes

    conf = cfg.load()
    limits = gauges.load()
    fallback = gauges.load_fallback()
    usage = inputs.claude_usage(limits, time.time())
    tiers, roles = modes.routing_now(record, usage, conf)
    health = inputs.health(conf, limits, time.time())
    engine_state = engine.EngineState(
        fallback_active=fallback.active,
        claude_limited=(limits.claude_limited_until or 0) > time.time(),
        usage=usage,
        mode=record.mode,
        mode_fusion=record.fusion,
        health=health,
    )
    routed = [
        agent
        for agent in agents.tier_table()
        if engine.decide(engine.Call(agent_raw=agent), conf, engine_state).routed
    ]
    return {
        "mode": record.mode,
        "fusion": record.fusion,
        "usage": usage,
        "fallback": fallback.active,
        "routed_tiers": [t for t in modes.TIER_ORDER if t in tiers],
        "routed_roles": sorted(roles),
        "routed_agents": routed,
        "band": "fallback" if fallback.active else modes.band(record, usage, conf),
        "description": modes.describe(record, usage, conf, fallback=fallback.active)
        if record.mode
        else "OMCM: no mode is active in this session.",
    }


def cmd_handoff(args: argparse.Namespace) -> int:
    from omcm.calls import handoff

    session = args.session or os.environ.get("CLAUDE_CODE_SESSION_ID", "")
    info = (
        sessions.info(paths.safe_name(session, "session id")) if session else sessions.SessionInfo()
    )
    project = os.path.abspath(args.project or info.cwd or ".")
    conf = cfg.load()
    limits = gauges.load()
    target = {"opencode": "OpenCode", "codex": "Codex"}.get(args.to, "OpenCode or Codex")
    context = handoff.build(
        project=project,
        session_id=session or "(none)",
        transcript_path=info.transcript_path,
        task="Continue the work of this Claude Code session",
        target=target,
        usage=handoff.usage_text(limits),
        settings=conf.context,
    )
    md_path, _ = handoff.write(context, conf.context.max_context_length)
    print(f"Handoff context written to {md_path} (and context.json).")
    for name, command in handoff.continue_commands(project).items():
        if args.to in (name, "both"):
            print(f"Continue in {name}:  {command}")
    return 0

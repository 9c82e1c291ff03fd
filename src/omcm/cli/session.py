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

    mode = sub.add_parser(
        "mode",
        help="a Claude Code session's mode (hulw, ulw, autopilot, ...)",
        epilog="examples:\n  omcm mode list\n  omcm mode show --session ID",
    )
    msub = mode.add_subparsers(title="mode commands", metavar="COMMAND", required=True)
    mset = msub.add_parser(
        "set",
        help="set the mode (the slash commands run this)",
        epilog="example:\n  omcm mode set hulw --session ID",
    )
    mset.add_argument("mode", choices=list(MODES))
    mset.add_argument("--fusion", action="store_true", help="autopilot with fusion routing")
    mset.add_argument("--task", default="", metavar="TEXT", help="the task, kept for autopilot")
    _session_option(mset)
    mset.set_defaults(handler=cmd_mode_set)
    mcancel = msub.add_parser(
        "cancel", help="end the mode", epilog="example:\n  omcm mode cancel hulw --session ID"
    )
    mcancel.add_argument(
        "mode", nargs="?", default="", choices=["", *MODES], help="only if this mode is active"
    )
    _session_option(mcancel)
    mcancel.set_defaults(handler=cmd_mode_cancel)
    mshow = msub.add_parser(
        "show",
        help="the session's mode and what it routes now",
        epilog="examples:\n  omcm mode show --session ID\n  omcm mode show --session ID --json",
    )
    _session_option(mshow)
    mshow.add_argument("--json", action="store_true", help="machine-readable output")
    mshow.set_defaults(handler=cmd_mode_show)
    mlist = msub.add_parser(
        "list",
        help="the sessions OMCM has seen: id, mode, project, last seen",
        epilog="example:\n  omcm mode list --json",
    )
    mlist.add_argument("--json", action="store_true", help="machine-readable output")
    mlist.set_defaults(handler=cmd_mode_list)
    mref = msub.add_parser(
        "reference",
        help="the modes as a Markdown table (for the README)",
        epilog="example:\n  omcm mode reference",
    )
    mref.set_defaults(handler=cmd_mode_reference)

    handoff = sub.add_parser(
        "handoff",
        help="write the handoff context and print how to continue in OpenCode or Codex",
        epilog="examples:\n  omcm handoff --to codex\n  omcm handoff --session ID --project DIR",
    )
    _session_option(handoff)
    handoff.add_argument(
        "--project", metavar="DIR", help="project dir (default: the session's, else .)"
    )
    handoff.add_argument(
        "--to",
        choices=["opencode", "codex", "both"],
        default="both",
        help="which CLI's command to print for carrying on (default: both)",
    )
    handoff.set_defaults(handler=cmd_handoff)


def _session_option(parser: Any) -> None:
    parser.add_argument(
        "--session",
        metavar="ID",
        help="session id (default: $CLAUDE_CODE_SESSION_ID; omcm mode list shows them)",
    )


#: Where the no-session and unknown-session errors send the user.
LIST_HINT = "omcm mode list shows the sessions OMCM has seen"


def session_of(args: argparse.Namespace) -> str:
    """The session a command acts on: ``--session`` (one OMCM has seen), else Claude Code's."""
    if args.session is not None:
        return known_session(args.session)
    session = os.environ.get("CLAUDE_CODE_SESSION_ID", "")
    if not session and os.environ.get("CLAUDECODE") == "1":
        # A slash command's `!` line on Claude Code 2.1.62 gets no session id.
        session = sessions.newest_in(os.getcwd())
    if not session:
        raise OmcmError(
            "no session: run this from Claude Code (e.g. /omcm:hulw), or pass "
            f"--session ID ({LIST_HINT})"
        )
    return paths.safe_name(session, "session id")


def known_session(session: str) -> str:
    """``--session``'s id, checked: one OMCM has a folder for."""
    from omcm.core.errors import cut

    if not session:
        raise OmcmError(f"--session: the id is empty ({LIST_HINT})")
    safe = paths.safe_name(session, "session id")
    if not sessions.known(safe):
        raise OmcmError(
            f"--session {cut(session)}: OMCM has seen no such session in "
            f"{os.path.dirname(paths.session_dir(safe))} ({LIST_HINT})"
        )
    return safe


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
    record = session_mode.current(session)
    report = _mode_report(record)
    if args.json:
        print(json.dumps(report | {"session": session}, indent=2, ensure_ascii=False))
        return 0
    print(_for_the_user(session, record, report))
    return 0


def _for_the_user(session: str, record: session_mode.SessionMode, report: dict[str, Any]) -> str:
    """``omcm mode show`` in words for the person at the terminal (``description`` is the
    note Claude gets)."""
    from omcm.core.humanize import age
    from omcm.routing.modes import MODES

    usage = "unknown" if report["usage"] is None else f"{report['usage']:.0f}%"
    if not record.mode:
        lines = [f"Session {session}: no mode is set."]
    else:
        how = "a slash command" if record.keyword == "command" else "a keyword"
        fusion = " with fusion" if record.fusion and not MODES[record.mode].fusion else ""
        lines = [
            f"Session {session}: {MODES[record.mode].title}{fusion}, set by {how} "
            f"{age(record.set_at)}."
        ]
        if record.task:
            lines.append(f"Task: {record.task[:200]}")
    tiers = " and ".join(t.upper() for t in report["routed_tiers"])
    if report["fallback"]:
        lines.append(f"Fallback is active (Claude usage {usage}): every tier goes to providers.")
    elif tiers:
        roles = (
            f" ({', '.join(report['routed_roles'])} agents only)" if report["routed_roles"] else ""
        )
        why = "" if record.mode else " (fusion_default is on)"
        lines.append(f"At Claude usage {usage}, {tiers} agents{roles} go to providers{why}.")
    else:
        lines.append(f"At Claude usage {usage}, every subagent stays on Claude.")
    routed = report["routed_agents"]
    lines.append(f"Routed to providers now: {', '.join(routed) if routed else 'none'}")
    if record.mode:
        lines.append(
            f"To end it: type cancel {record.mode} in Claude Code, or "
            f"omcm mode cancel --session {session}"
        )
    return "\n".join(lines)


def cmd_mode_list(args: argparse.Namespace) -> int:
    from omcm.core.humanize import age
    from omcm.routing import session_mode

    rows: list[dict[str, Any]] = [
        {
            "session": name,
            "mode": session_mode.current(name).mode,
            "project": info.cwd,
            "last_seen": info.last_event_at,
        }
        for name, info in sessions.seen()
    ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print(f"no session seen yet ({os.path.join(paths.state_dir(), 'sessions')} is empty)")
        return 0
    width = max(len("SESSION"), *(len(r["session"]) for r in rows))
    print(f"{'SESSION':<{width}}  {'MODE':<11}  {'LAST SEEN':<10}  PROJECT")
    for r in rows:
        seen = age(r["last_seen"]) if r["last_seen"] else "-"
        print(f"{r['session']:<{width}}  {r['mode'] or '-':<11}  {seen:<10}  {r['project'] or '-'}")
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

    if args.session is not None:
        session = known_session(args.session)
    else:
        session = os.environ.get("CLAUDE_CODE_SESSION_ID", "")
    info = (
        sessions.info(paths.safe_name(session, "session id")) if session else sessions.SessionInfo()
    )
    from omcm.core.userfile import folder

    project = (
        folder(args.project, "--project")
        if args.project is not None
        else os.path.abspath(info.cwd or ".")
    )
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

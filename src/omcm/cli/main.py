"""The ``omcm`` command: argument parsing and one handler per subcommand."""

from __future__ import annotations

import json
import os
import sys
import time

from omcm import __version__
from omcm import config as cfg
from omcm.core import paths, sessions
from omcm.core.errors import OmcmError
from omcm.routing import gauges, session_mode

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any

    Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words == ["hud"]:  # the status line: runs every few hundred ms, skip argparse
        from omcm.hud.statusline import main as statusline

        return statusline()
    parser = build_parser()
    args = parser.parse_args(words)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except OmcmError as exc:
        print(f"omcm: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `omcm log | head`
        sys.stderr.close()
        return 0


DESCRIPTION = (
    "OMCM hands Claude Code's subagent work to Codex, Gemini and OpenCode by rule, by "
    "keyword or as Claude's usage limit nears. These commands check the setup, explain "
    "and review routing, and manage modes, the status line and the configuration."
)


def _parser_class() -> type[argparse.ArgumentParser]:
    """Every parser, subcommands included, refuses abbreviated options.

    argparse accepts any unique prefix by default, so a mistyped ``--mode`` would
    silently become ``--model``; ``allow_abbrev`` is per parser, hence the class.
    """
    import argparse

    class Parser(argparse.ArgumentParser):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["allow_abbrev"] = False
            super().__init__(*args, **kwargs)

    return Parser


def build_parser() -> argparse.ArgumentParser:

    parser = _parser_class()(prog="omcm", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"omcm {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    doctor = sub.add_parser("doctor", help="check the installation and say what is missing")
    doctor.add_argument("--plugin-root", help="the plugin directory (slash commands pass it)")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.set_defaults(handler=cmd_doctor)

    status = sub.add_parser("status", help="config, routing counters, fallback and usage state")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)

    for add in (_add_routing, _add_jobs, _add_session, _add_hud, _add_config):
        add(sub)
    return parser


def _add_routing(sub: Any) -> None:
    from omcm.calls.routing_log import KINDS, OUTCOMES
    from omcm.routing.agents import MODEL_TIERS

    route = sub.add_parser("route", help="show how a subagent call would be routed, and why")
    route.add_argument("--explain", action="store_true", help="(default) print the reasons")
    route.add_argument(
        "--agent", required=True, help="subagent_type, e.g. explore or oh-my-claudecode:executor"
    )
    route.add_argument(
        "--model",
        choices=sorted(MODEL_TIERS),
        help="the call's model input, as Claude Code's subagent tool takes it",
    )
    route.add_argument("--prompt", default="", help="the subagent prompt (only its size matters)")
    route.add_argument("--session", default="", help="read this session's mode")
    route.add_argument("--json", action="store_true", help="machine-readable output")
    route.set_defaults(handler=cmd_route)

    log = sub.add_parser("log", help="recent routing decisions")
    log.add_argument("-n", "--limit", type=int, default=20, help="how many (default 20)")
    log.add_argument("--session", help="only this session id")
    log.add_argument("--provider", help="only calls that tried this provider")
    log.add_argument("--outcome", choices=list(OUTCOMES), help="only calls with this outcome")
    log.add_argument("--event", choices=list(KINDS), help="only lines of this kind")
    log.add_argument("--json", action="store_true", help="the raw JSON lines")
    log.set_defaults(handler=cmd_log)


def _add_jobs(sub: Any) -> None:
    run = sub.add_parser("run", help="route a task to a provider and run it, outside Claude Code")
    run.add_argument("prompt", nargs="?", help="the task (default: --file, else stdin)")
    run.add_argument("--file", help="read the task from this file")
    run.add_argument(
        "--agent", default="general-purpose", help="the agent it is for (decides tier and chain)"
    )
    run.add_argument("--provider", help="this provider only (codex, gemini, opencode)")
    run.add_argument("--model", dest="run_model", metavar="MODEL", help="the provider's model")
    run.add_argument("--cwd", help="the project directory (default: the current one)")
    run.add_argument(
        "--background", action="store_true", help="start it as a job and print the job id"
    )
    run.set_defaults(handler=cmd_run)

    listing = sub.add_parser("jobs", help="background jobs: running ones and recent ones")
    listing.add_argument("--all", action="store_true", help="every job kept, not only recent ones")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=cmd_jobs)

    result = sub.add_parser("result", help="a job's answer (or why it has none)")
    result.add_argument("job", help="the job id (or the start of its random tail)")
    result.add_argument("--wait", action="store_true", help="wait until the job has ended")
    result.add_argument("--timeout", type=float, help="with --wait: give up after this many s")
    result.set_defaults(handler=cmd_result)

    cancel = sub.add_parser("cancel", help="stop a job and its provider")
    cancel.add_argument("job", help="the job id (or the start of its random tail)")
    cancel.set_defaults(handler=cmd_cancel)

    from omcm.cli.batch import add_parser
    from omcm.cli.pool import add_parser as add_pool
    from omcm.cli.stats import add_parsers as add_stats

    add_parser(sub)
    add_pool(sub)
    add_stats(sub)


def _add_session(sub: Any) -> None:
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

    setup_all = sub.add_parser("setup", help="doctor, default config, and what to do next")
    setup_all.add_argument("--plugin-root", help="the plugin directory (slash commands pass it)")
    setup_all.set_defaults(handler=cmd_setup)


def _add_hud(sub: Any) -> None:
    hud = sub.add_parser("hud", help="print the status line (what Claude Code runs)")
    hsub = hud.add_subparsers(title="hud commands", metavar="ACTION")
    setup = hsub.add_parser("setup", help="make omcm hud Claude Code's status line")
    setup.add_argument("--remove", action="store_true", help="restore the previous status line")
    setup.add_argument(
        "--settings", help="settings.json to edit (default: ~/.claude/settings.json)"
    )
    setup.add_argument(
        "--refresh", type=float, help="refreshInterval in seconds (re-run on a timer)"
    )
    setup.set_defaults(handler=cmd_hud_setup)
    hud.set_defaults(handler=cmd_hud)


def _add_config(sub: Any) -> None:
    config = sub.add_parser("config", help="show, read, change or check config.toml")
    csub = config.add_subparsers(title="config commands", metavar="ACTION", required=True)
    csub.add_parser("path", help="print the config file's path").set_defaults(handler=cfg_path)
    show = csub.add_parser("show", help="print the effective config as TOML")
    show.set_defaults(handler=cfg_show)
    get = csub.add_parser("get", help="print one key's value, e.g. inputs.max_workers")
    get.add_argument("key")
    get.set_defaults(handler=cfg_get)
    setp = csub.add_parser("set", help="set one key, keeping the file's comments")
    setp.add_argument("key")
    setp.add_argument(
        "value", help='a TOML value: true, 3, "text", ["a", "b"]; bare text is a string'
    )
    setp.set_defaults(handler=cfg_set)
    csub.add_parser("validate", help="check config.toml").set_defaults(handler=cfg_validate)
    csub.add_parser("init", help="write a commented config.toml with every default").set_defaults(
        handler=cfg_init
    )
    csub.add_parser(
        "reference", help="every key, default and meaning as a Markdown table"
    ).set_defaults(handler=cfg_reference)


def cmd_doctor(args: argparse.Namespace) -> int:
    from omcm.cli import doctor

    checks = doctor.run_checks(args.plugin_root)
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2, ensure_ascii=False))
    else:
        print(doctor.render(checks))
    return 1 if any(c.status == doctor.FAIL for c in checks) else 0


def cmd_run(args: argparse.Namespace) -> int:
    from omcm.calls import pipeline
    from omcm.calls.call import Source, Task
    from omcm.jobs import store, worker
    from omcm.routing import engine

    prompt = _task_text(args)
    conf = cfg.load()
    cwd = os.path.abspath(args.cwd or os.getcwd())
    if not os.path.isdir(cwd):
        raise OmcmError(f"--cwd {cwd}: no such directory")
    provider, model = args.provider or "", args.run_model or ""

    def requested(call: engine.Call, conf: cfg.Config, st: engine.EngineState) -> engine.Decision:
        return engine.direct(call, conf, st, provider, model)

    task = Task(prompt=prompt, agent=args.agent)
    task.description = task.title
    source = Source(door="cli", tool_name="omcm run", cwd=cwd)
    call = pipeline.decide(source, task, conf, requested)
    if not call.routed:
        skipped = "; ".join(f"{p}: {why}" for p, why in call.decision.skipped.items())
        raise OmcmError(f"no provider can run it ({skipped or 'none set'}); see omcm doctor")
    job = worker.start(
        call,
        reason="started with omcm run",
        notify=conf.jobs.notify and args.background,
        spawn_now=args.background,
    )
    if args.background:
        print(job.id)
        return 0
    ended = worker.run(job.id) or store.load(job.id)
    return _print_result(ended)


def _task_text(args: argparse.Namespace) -> str:
    if args.prompt and args.prompt != "-":
        text: str = args.prompt
    elif args.file:
        try:
            with open(args.file, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise OmcmError(f"--file {args.file}: {exc.strerror}") from exc
    elif not sys.stdin.isatty() or args.prompt == "-":
        text = sys.stdin.read()
    else:
        raise OmcmError("give the task as an argument, with --file, or on stdin")
    if not text.strip():
        raise OmcmError("the task is empty")
    return text


def _print_result(record: Any, why_to: Any = None) -> int:
    """A finished job's answer on stdout (its whole text), why not on ``why_to`` (stderr);
    0 if it was answered, else 1."""
    from omcm.jobs import store

    store.mark_read(record.id)
    if record.state == "done":
        with open(store.output_file(record.id), encoding="utf-8") as handle:
            sys.stdout.write(handle.read())
        tokens = record.tokens
        print(
            f"— {record.provider}/{record.model} · {tokens.input:,} in / {tokens.output:,} out "
            f"tokens · {record.elapsed(time.time()):.1f}s · job {record.id}",
            file=sys.stderr,
        )
        return 0
    print(f"omcm: job {record.id} {record.state}: {record.reason}", file=why_to or sys.stderr)
    return 1


def cmd_jobs(args: argparse.Namespace) -> int:
    from omcm.jobs import store

    now = time.time()
    shown = [
        r
        for r in store.all_jobs()
        if args.all or not r.finished or (r.ended_at or r.created_at) > now - 86400
    ]
    if args.json:
        rows = [r.dump() | {"elapsed": round(r.elapsed(now), 3)} for r in shown]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not shown:
        print("no jobs" + ("" if args.all else " in the last day (omcm jobs --all)"))
        return 0
    print(
        f"{'JOB':<24} {'STATE':<9} {'PROVIDER/MODEL':<28} {'AGENT':<16} {'AGE':>6} "
        f"{'TIME':>6} {'TOKENS':>13}  TASK"
    )
    for r in shown:
        route = (
            f"{r.provider}/{r.model}"
            if r.provider
            else (f"{r.routes[0].provider}/{r.routes[0].model or '-'}" if r.routes else "-")
        )
        tokens = f"{r.tokens.input:,}↓ {r.tokens.output:,}↑" if r.provider else "-"
        flag = " *" if r.unread else ""
        print(
            f"{r.id:<24} {r.state:<9} {route[:28]:<28} {r.agent[:16]:<16} "
            f"{_span(now - r.created_at):>6} {_span(r.elapsed(now)):>6} {tokens:>13}  "
            f"{r.title[:60]}{flag}"
        )
    if any(r.unread for r in shown):
        print("* finished, answer not yet read: omcm result JOB")
    return 0


def _span(seconds: float) -> str:
    from omcm.core.humanize import duration

    return duration(seconds)


def cmd_result(args: argparse.Namespace) -> int:
    from omcm.jobs import store

    job_id = store.find(args.job)
    record = store.load(job_id)
    if args.wait:
        deadline = None if args.timeout is None else time.monotonic() + args.timeout
        while not record.finished:
            if deadline is not None and time.monotonic() >= deadline:
                print(
                    f"omcm: job {job_id} is still {record.state} after {args.timeout:g}s",
                    file=sys.stderr,
                )
                return 124
            time.sleep(0.25)
            record = store.load(job_id)
    if not record.finished:
        print(
            f"omcm: job {job_id} is {record.state} ({_span(record.elapsed(time.time()))} so far); "
            "omcm result --wait waits for it"
        )
        return 0
    # Exit 0 for any ending: a slash command's `!` line that fails shows nothing at all.
    _print_result(record, why_to=sys.stdout)
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from omcm.jobs import store, worker

    job_id = store.find(args.job)
    before = store.load(job_id)
    if before.finished:
        print(f"omcm: job {job_id} had already ended ({before.state}: {before.reason})")
        return 0
    after = worker.cancel(job_id)
    print(f"omcm: job {job_id} {after.state}: {after.reason}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from omcm.cli.status import collect, render

    report = collect()
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render(report))
    return 0


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
    usage = "unknown" if st.usage is None else f"{st.usage:.0f}%"
    print(
        f"agent:    {decision.agent_raw} → {decision.agent} (tier {decision.tier.upper()}, "
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


def cmd_log(args: argparse.Namespace) -> int:
    from omcm.calls import routing_log

    shown = [e for e in routing_log.entries() if _log_matches(e, args)][-args.limit :]
    for entry in shown:
        if args.json:
            print(json.dumps(entry.dump(), ensure_ascii=False))
        else:
            print(_log_line(entry))
    if not shown and not args.json:
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

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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


def cmd_setup(args: argparse.Namespace) -> int:
    from omcm.cli import doctor
    from omcm.config.edit import ensure_file

    path = paths.config_file()
    if ensure_file(path):
        print(f"Wrote a commented default config: {path}")
    checks = doctor.run_checks(args.plugin_root)
    print(doctor.render(checks))
    settings = claude_settings_file()
    try:
        with open(settings, encoding="utf-8") as handle:
            has_hud = "omcm" in handle.read()
    except OSError:
        has_hud = False
    if not has_hud:
        print(
            "! status line: OMCM's HUD is not installed; it is also how OMCM learns Claude's "
            "usage %.\n    fix: /omcm:hud-setup  (or: omcm hud setup)"
        )
    from omcm.providers import REGISTERED

    ready = [c.name for c in checks if c.name in REGISTERED and c.status == doctor.OK]
    print(f"Providers ready: {', '.join(ready) or 'none yet'}.")
    return 0


def cmd_hud(_args: argparse.Namespace) -> int:
    from omcm.hud.statusline import main as statusline

    return statusline()


def claude_settings_file() -> str:
    base = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
    return os.path.join(base, "settings.json")


def hud_command() -> str:
    """The command settings.json runs as the status line: ``omcm hud`` in its fast form.

    It runs every few hundred milliseconds, so it calls the status line directly
    with this interpreter: a console script would first import ``re`` and the
    CLI, about half the status line's whole budget. The trailing comment keeps
    it recognisable as OMCM's.
    """
    import shlex

    from omcm.hud.statusline import FAST_ENTRY

    return f"{shlex.quote(sys.executable)} -c {shlex.quote(FAST_ENTRY)}  # omcm hud"


def cmd_hud_setup(args: argparse.Namespace) -> int:
    from omcm.hud import claude_settings
    from omcm.hud.statusline import CHAIN_FILE

    settings = args.settings or claude_settings_file()
    chain = paths.state_file(CHAIN_FILE)
    if args.remove:
        result = claude_settings.remove(settings, chain, hud_command())
    else:
        result = claude_settings.install(settings, hud_command(), chain, args.refresh)
    print(result.message)
    return 0


def cfg_path(_args: argparse.Namespace) -> int:
    print(paths.config_file())
    return 0


def cfg_show(_args: argparse.Namespace) -> int:
    from omcm.config.edit import render_defaults
    from omcm.config.validate import validate_file

    path = paths.config_file()
    config = validate_file(path)
    origin = path if os.path.exists(path) else f"{path} (missing: defaults)"
    print(f"# effective configuration from {origin}\n")
    print(render_defaults(config, cfg.Config, []))
    return 0


def cfg_get(args: argparse.Namespace) -> int:
    from omcm.config.edit import get_value, toml_value
    from omcm.config.validate import validate_file

    value = get_value(validate_file(paths.config_file()), args.key)
    print(value if isinstance(value, str) else toml_value(value))
    return 0


def cfg_set(args: argparse.Namespace) -> int:
    from omcm.config.edit import set_value, toml_value

    path = paths.config_file()
    value, kept = set_value(path, args.key, args.value)
    print(f"{args.key} = {toml_value(value)}  ({path})")
    if not kept:
        print(
            "note: the file had to be rewritten whole; its comments were not kept", file=sys.stderr
        )
    return 0


def cfg_validate(_args: argparse.Namespace) -> int:
    from omcm.config.validate import validate_file

    path = paths.config_file()
    validate_file(path)
    print(f"{path}: valid" if os.path.exists(path) else f"{path}: missing (defaults in use)")
    return 0


def cfg_init(_args: argparse.Namespace) -> int:
    from omcm.config.edit import ensure_file

    path = paths.config_file()
    print(f"wrote {path}" if ensure_file(path) else f"{path} exists; left as it is")
    return 0


def cfg_reference(_args: argparse.Namespace) -> int:
    from omcm.config.edit import reference_rows

    print("| key | default | meaning |\n|---|---|---|")
    for key, default, meaning in reference_rows():
        escaped = meaning.replace("|", "\\|")
        print(f"| `{key}` | `{default}` | {escaped} |")
    return 0


__all__ = ["main"]

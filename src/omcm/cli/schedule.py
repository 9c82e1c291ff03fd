"""``omcm schedule add|list|remove|run``: routed tasks run by the system's scheduler."""

from __future__ import annotations

import os
import time

from omcm import config as cfg
from omcm.core.errors import OmcmError
from omcm.providers import REGISTERED

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

DOOR = "schedule"


def add_parser(sub: Any) -> None:
    from omcm.schedules.manager import TARGETS
    from omcm.schedules.spec import EVERY_HELP

    schedule = sub.add_parser(
        "schedule",
        help="run a task on a schedule (systemd, launchd, cron)",
        epilog="examples:\n  omcm schedule list\n  omcm schedule run docs-sync",
    )
    ssub = schedule.add_subparsers(title="schedule commands", metavar="COMMAND", required=True)
    add = ssub.add_parser(
        "add",
        help="write (and enable) a timer that runs a task",
        epilog="example:\n  omcm schedule add docs-sync --every 1d --at 03:00 --provider "
        "opencode --file docs-sync.md",
    )
    add.add_argument("name", help="the schedule's name (letters, digits, - and _)")
    add.add_argument("prompt", nargs="?", help="the task (or --file)")
    add.add_argument("--every", required=True, help=f"how often: {EVERY_HELP}")
    add.add_argument("--at", default="", help="time of day for 1d (03:00) or 1w (Mon 03:00)")
    who = add.add_mutually_exclusive_group(required=True)
    who.add_argument("--provider", choices=list(REGISTERED), help="this provider runs it")
    who.add_argument("--agent", help="route it as this agent (its tier's chain)")
    add.add_argument("--model", default="", help="the provider's model")
    add.add_argument("--file", metavar="FILE", help="a task file, read at each run")
    add.add_argument(
        "--cwd", metavar="DIR", help="the project directory (default: the current one)"
    )
    add.add_argument("--target", choices=TARGETS, help="the scheduler (default: this system's)")
    add.add_argument("--replace", action="store_true", help="replace a schedule of that name")
    add.set_defaults(handler=cmd_add, trailing="prompt")
    listing = ssub.add_parser(
        "list", help="the schedules and their last run", epilog="example:\n  omcm schedule list"
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=cmd_list)
    remove = ssub.add_parser(
        "remove",
        help="disable a schedule and delete its files",
        epilog="example:\n  omcm schedule remove docs-sync",
    )
    remove.add_argument("name")
    remove.set_defaults(handler=cmd_remove)
    run = ssub.add_parser(
        "run",
        help="run a schedule's task now, in the foreground",
        epilog="example:\n  omcm schedule run docs-sync",
    )
    run.add_argument("name")
    run.add_argument("--quiet", action="store_true", help="no progress while it runs")
    run.set_defaults(handler=cmd_run)


def cmd_add(args: argparse.Namespace) -> int:
    from omcm.core.userfile import folder, read_text, shown
    from omcm.schedules import manager, spec

    name = spec.check_name(args.name)
    spec.period(args.every, args.at)  # refused before anything is written
    cwd = folder(args.cwd, "--cwd") if args.cwd is not None else os.getcwd()
    task_file = ""
    if args.file is not None:
        task_file = os.path.abspath(args.file) if args.file else ""
        if not read_text(args.file, "--file").strip():
            raise OmcmError(f"--file {shown(args.file)}: the task is empty")
    if bool(args.prompt) == bool(args.file):
        raise OmcmError("give the task as PROMPT or with --file (one of them)")
    record = spec.Schedule(
        name=name,
        every=args.every.strip().lower(),
        at=args.at.strip(),
        provider=args.provider or "",
        agent=args.agent or "general-purpose",
        model=args.model,
        prompt=args.prompt or "",
        file=task_file,
        cwd=cwd,
        target=args.target or manager.default_target(),
    )
    for line in manager.add(record, replace=args.replace):
        print(line if line.startswith("    ") else f"omcm: {line}")  # a crontab line: as is
    print(f"omcm: `omcm schedule run {name}` runs it now; each run is a job (omcm jobs)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    import json

    from omcm.schedules import spec

    records = spec.every()
    last = _last_runs()
    if args.json:
        rows = [r.dump() | {"last_run": last.get(r.name)} for r in records]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not records:
        print("no schedules (omcm schedule add NAME --every 1d --provider P PROMPT)")
        return 0
    print(f"{'NAME':<20} {'WHEN':<22} {'WHO':<24} {'SCHEDULER':<18} LAST RUN")
    for r in records:
        who = r.provider or f"agent {r.agent}"
        where = f"{r.target}{' (enabled)' if r.enabled else ''}"
        seen = last.get(r.name)
        ran = f"{seen['state']} {seen['id']}" if seen else "never"
        print(f"{r.name:<20} {spec.described(r):<22} {who[:24]:<24} {where:<18} {ran}")
    return 0


def _last_runs() -> dict[str, dict[str, str]]:
    """Each schedule's newest job (state and id), from the jobs kept."""
    from omcm.jobs import store

    found: dict[str, dict[str, str]] = {}
    for record in store.all_jobs(check=False):
        if record.source == DOOR and record.title.startswith("schedule "):
            name = record.title.split(":", 1)[0][len("schedule ") :]
            found[name] = {"id": record.id, "state": record.state}
    return found


def cmd_remove(args: argparse.Namespace) -> int:
    from omcm.schedules import manager

    for line in manager.remove(args.name):
        print(f"omcm: {line}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from omcm.calls.call import Source, Task
    from omcm.cli.jobs import run_routed
    from omcm.core.userfile import read_text
    from omcm.schedules import spec

    record = spec.load(args.name)
    prompt = read_text(record.file, "the task file") if record.file else record.prompt
    if not prompt.strip():
        raise OmcmError(f"schedule {record.name}: the task is empty ({record.file or 'PROMPT'})")
    if not os.path.isdir(record.cwd):
        raise OmcmError(f"schedule {record.name}: its directory {record.cwd} is gone")
    task = Task(prompt=prompt, agent=record.agent)
    task.description = f"schedule {record.name}: {task.title}"[:120]
    source = Source(door=DOOR, tool_name=f"schedule {record.name}", cwd=record.cwd)
    started = time.strftime("%Y-%m-%d %H:%M")
    return run_routed(
        source,
        task,
        cfg.load(),
        provider=record.provider,
        model=record.model,
        reason=f"schedule {record.name} ({spec.described(record)}), run {started}",
        quiet=args.quiet,
    )

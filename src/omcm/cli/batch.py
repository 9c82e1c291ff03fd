"""``omcm batch``: check a plan, run it in the foreground with live progress, or start it as a job.

Kept apart from :mod:`omcm.cli.main` so that only this command imports the executor
and ``rich`` (the live display in a terminal).
"""

from __future__ import annotations

import json
import os
import sys

from omcm import config as cfg
from omcm.core.humanize import plural
from omcm.providers import REGISTERED

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from omcm.batch import executor
    from omcm.jobs import store


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "batch",
        help="run a plan of tasks in parallel (hulw's executor)",
        epilog="examples:\n  omcm batch --check plan.toml\n  omcm batch plan.toml --wait",
    )
    parser.add_argument(
        "plan", metavar="PLAN", help="the plan: a TOML or JSON file (- reads it from stdin)"
    )
    parser.add_argument("--check", action="store_true", help="print the analysis; run nothing")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    how = parser.add_mutually_exclusive_group()
    how.add_argument(
        "--wait",
        action="store_true",
        help="run in the foreground (the default outside Claude Code)",
    )
    how.add_argument(
        "--background",
        action="store_true",
        help="start it as a job and print its id (the default inside Claude Code)",
    )
    parser.add_argument(
        "--cwd", metavar="DIR", help="the project directory (default: the current one)"
    )
    parser.set_defaults(handler=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    from omcm.batch import plan, runner
    from omcm.calls.call import Source

    conf = cfg.load()
    from omcm.core.userfile import folder

    project = folder(args.cwd, "--cwd") if args.cwd is not None else os.getcwd()
    raw, name = plan.read(args.plan)
    the_plan = plan.parse(raw, name, conf.routing.max_workers, REGISTERED)
    if args.check:
        from omcm.batch.check import check

        report = check(the_plan, conf, project)
        print(
            json.dumps(report, indent=2, ensure_ascii=False) if args.json else render_check(report)
        )
        return 0
    session = os.environ.get("CLAUDE_CODE_SESSION_ID", "")
    inside = os.environ.get("CLAUDECODE") == "1"
    background = args.background or (inside and not args.wait)
    source = Source(door="cli", session_id=session, tool_name="omcm batch", cwd=project)
    record = runner.create(
        raw,
        name,
        the_plan,
        conf,
        source,
        deliver=inside and bool(session),
        notify=background and not inside and conf.jobs.notify,
    )
    if background:
        runner.spawn(record.id)
        if args.json:
            print(json.dumps({"job": record.id}))
        else:
            print(
                f"{record.id}\nbatch of {plural(len(the_plan.tasks), 'task')} started as job "
                f"{record.id}; omcm result {record.id} --wait shows its summary"
            )
        return 0
    return _foreground(record, conf, args.json)


def _foreground(record: store.JobRecord, conf: cfg.Config, as_json: bool) -> int:
    from omcm.batch import executor, runner
    from omcm.jobs import store

    display = _Display() if sys.stdout.isatty() and not as_json else _Lines(as_json)
    try:
        ended = runner.run(record.id, conf, on_progress=display.update)
    finally:
        display.close()
    if ended is None or ended.state != "done":
        reason = ended.reason if ended else "another worker runs it"
        print(f"omcm: batch {record.id} did not run: {reason}", file=sys.stderr)
        return 1
    with open(executor.summary_file(record.id), encoding="utf-8") as handle:
        summary = json.load(handle)
    store.mark_read(record.id)
    shown = json.dumps(summary, indent=2, ensure_ascii=False) if as_json else None
    print(shown or executor.render(summary))
    unfinished = sum(n for status, n in summary["counts"].items() if status in executor.UNDONE)
    return 1 if unfinished else 0


class _Lines:
    """Progress as plain lines (output is not a terminal): one when a task starts or ends."""

    def __init__(self, quiet: bool) -> None:
        self.seen: dict[str, str] = {}
        self.quiet = quiet

    def update(self, progress: executor.Progress) -> None:
        for result in progress.results:
            if self.seen.get(result.id) == result.status or result.status == "pending":
                continue
            self.seen[result.id] = result.status
            if not self.quiet:
                where = f" on {result.provider}/{result.model}" if result.provider else ""
                why = f": {result.reason}" if result.status not in ("running", "done") else ""
                print(
                    f"[{progress.finished}/{progress.total}] {result.id} {result.status}"
                    f"{where}{why}",
                    file=sys.stderr,
                    flush=True,
                )

    def close(self) -> None:
        pass


class _Display:
    """Live progress in a terminal (rich): a bar for the batch, a line per running task."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.live = Live(console=self.console, refresh_per_second=4, transient=True)
        self.live.start()
        self.lines = _Lines(quiet=False)

    def update(self, progress: executor.Progress) -> None:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.text import Text

        from omcm.core.humanize import duration

        rows: list[Any] = [
            Text(f"batch: {progress.finished} of {plural(progress.total, 'task')} ended"),
            ProgressBar(total=progress.total, completed=progress.finished, width=40),
        ]
        for result in progress.running:
            rows.append(
                Text(
                    f"  ▸ {result.id}  {result.provider}/{result.model}  "
                    f"{duration(result.duration)}"
                )
            )
        self.live.update(Group(*rows))

    def close(self) -> None:
        self.live.stop()


# --- the analysis (--check) ------------------------------------------------------------------


def render_check(report: dict[str, Any]) -> str:
    lines = [
        f"plan {report['plan']}: {plural(report['tasks'], 'task')}, at most "
        f"{report['max_concurrent']} at once, strategy {report['strategy']}, on failure "
        f"{report['on_failure']}",
        f"canParallel: {str(report['canParallel']).lower()} ({report['reason']})",
        "waves (what can run together):",
    ]
    for n, wave in enumerate(report["waves"], 1):
        lines.append(f"  {n}. {', '.join(wave)}")
    if report["conflicts"]:
        lines.append("file conflicts (never run together):")
        for c in report["conflicts"]:
            a, b = c["patterns"]
            lines.append(f"  {c['first']} ({a}) before {c['then']} ({b})")
    else:
        lines.append("file conflicts: none")
    lines.append("routes:")
    for task_id, route in report["routes"].items():
        where = " → ".join(route["runs_on"])
        model = f" (model {route['model']})" if route["model"] else ""
        left = " — left for Claude" if route["runs_on"] == ["claude"] else ""
        iso = ", in its own worktree" if route["isolated"] else ""
        lines.append(
            f"  {task_id}: {route['agent']} ({route['tier'].upper()}) → {where}{model}"
            f"{left}{iso}  [{route['reason']}] {route['why']}"
        )
        for provider, why in route["skipped"].items():
            lines.append(f"      skipped {provider}: {why}")
    return "\n".join(lines)


# --- a batch handed over as a subagent call (hulw) -------------------------------------------

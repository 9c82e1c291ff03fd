"""``omcm batch``: check a plan, run it in the foreground with live progress, or start it as a job.

Kept apart from :mod:`omcm.cli.main` so that only this command imports the executor
and ``rich`` (the live display in a terminal).
"""

from __future__ import annotations

import json
import os
import sys
import time

from omcm import config as cfg
from omcm.core.errors import OmcmError
from omcm.providers import REGISTERED

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from omcm.batch import executor, plan
    from omcm.jobs import store


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("batch", help="run a plan of tasks in parallel (hulw's executor)")
    parser.add_argument("plan", help="the plan: a TOML or JSON file (- reads it from stdin)")
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
    parser.add_argument("--cwd", help="the project directory (default: the current one)")
    parser.set_defaults(handler=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    from omcm.batch import plan

    conf = cfg.load()
    project = os.path.abspath(args.cwd or os.getcwd())
    raw, name = _read(args.plan)
    the_plan = plan.parse(raw, name, conf.routing.max_workers, REGISTERED)
    if args.check:
        report = check(the_plan, conf, project)
        print(
            json.dumps(report, indent=2, ensure_ascii=False) if args.json else render_check(report)
        )
        return 0
    session = os.environ.get("CLAUDE_CODE_SESSION_ID", "")
    inside = os.environ.get("CLAUDECODE") == "1"
    background = args.background or (inside and not args.wait)
    record = start(
        raw,
        name,
        the_plan,
        conf,
        project,
        session=session,
        deliver=inside and bool(session),
        notify=background and not inside and conf.jobs.notify,
    )
    if background:
        from omcm.jobs import worker

        worker.spawn(record.id)
        if args.json:
            print(json.dumps({"job": record.id}))
        else:
            print(
                f"{record.id}\nbatch of {len(the_plan.tasks)} tasks started as job {record.id}; "
                f"omcm result {record.id} --wait shows its summary"
            )
        return 0
    return _foreground(record, conf, args.json)


def _read(source: str) -> tuple[bytes, str]:
    if source == "-":
        return sys.stdin.buffer.read(), "plan from stdin"
    try:
        with open(source, "rb") as handle:
            return handle.read(), source
    except OSError as exc:
        raise OmcmError(f"{source}: cannot read the plan ({exc.strerror})") from exc


def start(
    raw: bytes,
    name: str,
    the_plan: plan.Plan,
    conf: cfg.Config,
    project: str,
    *,
    session: str = "",
    deliver: bool = False,
    notify: bool = False,
    tool_use_id: str = "",
) -> store.JobRecord:
    """Create the batch's job (the plan copied beside it); its worker runs it."""
    from omcm.core import state
    from omcm.jobs import store

    record = store.JobRecord(
        kind="batch",
        source="hook" if tool_use_id else "cli",
        deliver=deliver,
        session_id=session,
        tool_use_id=tool_use_id,
        cwd=project,
        agent="batch",
        title=f"{os.path.basename(name)}: {len(the_plan.tasks)} tasks",
        timeout=conf.jobs.timeout,
        notify=notify,
        reason="a batch",
    )
    job = store.create(record, {"prompt": name, "subagent_type": "omcm:batch"}, conf)
    suffix = ".json" if raw.lstrip().startswith(b"{") else ".toml"
    state.atomic_write(
        os.path.join(store.job_dir(job.id), "plan" + suffix), raw.decode("utf-8", errors="replace")
    )
    return job


def _foreground(record: store.JobRecord, conf: cfg.Config, as_json: bool) -> int:
    from omcm.batch import executor
    from omcm.jobs import store, worker

    display = _Display() if sys.stdout.isatty() and not as_json else _Lines(as_json)
    try:
        ended = worker.run_batch(store.load(record.id), conf, on_progress=display.update)
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
            Text(f"batch: {progress.finished}/{progress.total} tasks ended"),
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


def check(the_plan: plan.Plan, conf: cfg.Config, project: str) -> dict[str, Any]:
    """What running the plan would do, without running anything."""
    from omcm.batch import executor, plan

    analysis = plan.analyse(the_plan, project)
    session = os.environ.get("CLAUDE_CODE_SESSION_ID", "")
    routes = {}
    for task in the_plan.tasks:
        decision = executor.route(task, conf, session)
        routes[task.id] = {
            "agent": decision.agent,
            "tier": decision.tier,
            "runs_on": [r.provider for r in decision.routes] or ["claude"],
            "model": decision.routes[0].model if decision.routes else "",
            "reason": decision.reason,
            "why": decision.explain(),
            "skipped": decision.skipped,
            "isolated": the_plan.isolated(task),
        }
    return {
        "plan": the_plan.source,
        "tasks": len(the_plan.tasks),
        "max_concurrent": the_plan.max_concurrent,
        "strategy": the_plan.strategy,
        "on_failure": the_plan.on_failure,
        "waves": analysis.waves,
        "conflicts": [
            {"first": c.first, "then": c.then, "patterns": list(c.patterns)}
            for c in analysis.conflicts
        ],
        "routes": routes,
        "canParallel": analysis.can_parallel,
        "reason": analysis.reason,
        "checked_at": time.time(),
    }


def render_check(report: dict[str, Any]) -> str:
    lines = [
        f"plan {report['plan']}: {report['tasks']} tasks, at most {report['max_concurrent']} at "
        f"once, strategy {report['strategy']}, on failure {report['on_failure']}",
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


def from_subagent_call(payload: Any, task: Any, conf: cfg.Config) -> dict[str, Any]:
    """The PreToolUse answer to a call of the ``omcm:batch`` agent: OMCM runs the plan
    (its prompt: a plan file or the plan itself) as a job, in the background when the call is
    a background one, and Claude gets the job's start or, blocking, its summary."""
    from omcm.batch import plan
    from omcm.core import sessions
    from omcm.jobs import background, delivery, store, worker

    text = task.prompt.strip()
    path = os.path.join(payload.cwd, text) if text and "\n" not in text else ""
    raw, name = _read(path) if path and os.path.isfile(path) else (text.encode(), "the plan")
    try:
        the_plan = plan.parse(raw, name, conf.routing.max_workers, REGISTERED)
    except plan.PlanError as exc:
        return _deny(
            f"[OMCM] The batch plan is invalid, so nothing ran: {exc}. Fix the plan and "
            "call the omcm:batch agent again."
        )
    record = start(
        raw,
        name,
        the_plan,
        conf,
        payload.cwd,
        session=payload.session_id,
        deliver=True,
        tool_use_id=payload.tool_use_id,
    )
    if background.wanted(payload, task, conf):
        sessions.note_job(payload.session_id)
        sessions.mark_call(payload.session_id, payload.tool_use_id, record.id)
        worker.spawn(record.id)
        return _deny(
            f"[OMCM] The batch of {len(the_plan.tasks)} tasks was started as background job "
            f"{record.id}; nothing went wrong. Its summary will arrive by itself as a separate "
            "notification when the batch ends: carry on meanwhile, and do not do its tasks "
            "yourself (the summary names any left for you)."
        )
    sessions.mark_call(payload.session_id, payload.tool_use_id, "")
    from omcm.core import proc

    with proc.cancel_on_signals():
        ended = worker.run_batch(store.load(record.id), conf)
    taken = store.claim_delivery(record.id, "hook") if ended else None
    return _deny(delivery.answer_text(taken or store.load(record.id), conf))


def _deny(reason: str) -> dict[str, Any]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }
    }

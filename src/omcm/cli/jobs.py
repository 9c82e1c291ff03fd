"""``omcm run``, ``jobs``, ``result`` and ``cancel``: routed work as jobs, from a terminal."""

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

    from omcm.calls.call import Source, Task

#: ``omcm result ID``'s exit status for a job that has not ended yet (no --wait).
STILL_RUNNING = 3


def add_parser(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="route a task to a provider and run it, outside Claude Code",
        epilog="examples:\n"
        '  omcm run "Summarise the open TODOs in src/"\n'
        "  omcm run --background --provider codex --file task.md",
    )
    run.add_argument("prompt", nargs="?", help="the task (default: --file, else stdin)")
    run.add_argument("--file", metavar="FILE", help="read the task from this file")
    run.add_argument(
        "--agent",
        default="general-purpose",
        metavar="AGENT",
        help="the agent it is for (decides tier and chain; default: general-purpose)",
    )
    run.add_argument(
        "--provider",
        choices=list(REGISTERED),
        help=f"this provider only (one of {', '.join(REGISTERED)})",
    )
    run.add_argument("--model", dest="run_model", metavar="MODEL", help="the provider's model")
    run.add_argument(
        "--cwd", metavar="DIR", help="the project directory (default: the current one)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress while it runs (for scripts)")
    run.add_argument(
        "--background", action="store_true", help="start it as a job and print the job id"
    )
    run.set_defaults(handler=cmd_run)

    listing = sub.add_parser(
        "jobs",
        help="background jobs: running ones and recent ones",
        epilog="examples:\n  omcm jobs\n  omcm jobs --all --json",
    )
    listing.add_argument("--all", action="store_true", help="every job kept, not only recent ones")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=cmd_jobs)

    result = sub.add_parser(
        "result",
        help="a job's answer (or why it has none)",
        epilog="examples:\n  omcm result 441d92\n  omcm result 441d92 --wait --timeout 600\n\n"
        "exit status: 0 the job has ended (its answer, or why it has none, is printed);\n"
        f"{STILL_RUNNING} the job is still running (--wait waits for it; inside Claude Code: 0, "
        "so a slash command shows it);\n"
        "124 --wait --timeout ran out; 1 no such job, or it cannot be read",
    )
    result.add_argument("job", metavar="ID", help="the job id (or the start of its random tail)")
    result.add_argument("--wait", action="store_true", help="wait until the job has ended")
    result.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="with --wait: give up after SECONDS"
    )
    result.set_defaults(handler=cmd_result)

    cancel = sub.add_parser(
        "cancel", help="stop a job and its provider", epilog="example:\n  omcm cancel 441d92"
    )
    cancel.add_argument("job", metavar="ID", help="the job id (or the start of its random tail)")
    cancel.set_defaults(handler=cmd_cancel)


def cmd_run(args: argparse.Namespace) -> int:
    from omcm.calls.call import Source, Task
    from omcm.core.userfile import folder

    prompt = _task_text(args)
    conf = cfg.load()
    cwd = folder(args.cwd, "--cwd") if args.cwd is not None else os.getcwd()
    task = Task(prompt=prompt, agent=args.agent)
    task.description = task.title
    source = Source(door="cli", tool_name="omcm run", cwd=cwd)
    return run_routed(
        source,
        task,
        conf,
        provider=args.provider or "",
        model=args.run_model or "",
        reason="started with omcm run",
        quiet=args.quiet,
        background=args.background,
    )


def run_routed(
    source: Source,
    task: Task,
    conf: cfg.Config,
    *,
    provider: str,
    model: str,
    reason: str,
    quiet: bool = False,
    background: bool = False,
) -> int:
    """A task OMCM was asked to run (``omcm run``, a scheduled run) as a job: in the
    foreground with its answer on stdout, or started in the background (its id printed).
    Exit 0 when it was answered (or started)."""
    from omcm.calls import pipeline
    from omcm.jobs import store, worker
    from omcm.routing import engine

    def requested(call: engine.Call, conf: cfg.Config, st: engine.EngineState) -> engine.Decision:
        return engine.direct(call, conf, st, provider, model)

    call = pipeline.decide(source, task, conf, requested)
    if not call.routed:
        skipped = "; ".join(f"{p}: {why}" for p, why in call.decision.skipped.items())
        raise OmcmError(f"no provider can run it ({skipped or 'none set'}); see omcm doctor")
    job = worker.start(
        call,
        reason=reason,
        notify=conf.jobs.notify and background,
        spawn_now=background,
    )
    if background:
        print(job.id)
        return 0
    watching = None if quiet else Watch(call.decision.routes[0].provider)
    try:
        ended = worker.run(job.id, watch=watching.update if watching else None)
    finally:
        if watching:
            watching.close()
    return _print_result(ended or store.load(job.id))


class Watch:
    """``omcm run``'s progress on stderr: a live line on a terminal (the provider and model,
    the time so far, what the CLI says it is doing), plain lines otherwise."""

    def __init__(self, first: str) -> None:
        self.began = time.monotonic()
        self.provider, self.model, self.doing = first, "", "starting"
        self.live: Any = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.live import Live

            self.live = Live(self, console=Console(stderr=True), refresh_per_second=4)
            self.live.start()

    def __rich__(self) -> str:
        from omcm.core.humanize import duration

        where = f"{self.provider}/{self.model}" if self.model else self.provider
        return f"⠿ {where} · {duration(time.monotonic() - self.began)} · {self.doing}"

    def update(self, step: Any) -> None:
        if step.kind == "sent":
            self.provider, self.model, self.doing = step.provider, step.model, "starting"
        elif step.kind == "started":
            self.doing = "working"
        elif step.kind == "output":
            self.doing = step.text
        elif step.kind == "ended" and step.outcome != "ok":
            self.doing = f"{step.outcome.replace('_', ' ')}; trying the next"
        else:
            return
        if self.live is None:
            print(f"omcm: {self.__rich__()[2:]}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def _task_text(args: argparse.Namespace) -> str:
    if args.prompt and args.prompt != "-":
        text: str = args.prompt
    elif args.file is not None:
        from omcm.core.userfile import read_text

        text = read_text(args.file, "--file")
    elif not sys.stdin.isatty() or args.prompt == "-":
        raw = sys.stdin.buffer.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise OmcmError(f"the task on stdin is not UTF-8 text (offset {exc.start})") from None
    else:
        raise OmcmError("give the task as an argument, with --file, or on stdin")
    if not text.strip():
        raise OmcmError("the task is empty")
    return text


def _print_result(record: Any, why_to: Any = None) -> int:
    """A finished job's answer on stdout (its whole text), why not on ``why_to`` (stderr);
    0 if it was answered, else 1."""
    from omcm.jobs import store

    try:
        store.mark_read(record.id)
    except (OSError, OmcmError) as exc:  # shown all the same; only "unread" stays set
        print(f"omcm: job {record.id} not marked as read ({exc})", file=sys.stderr)
    if record.state == "done":
        from omcm.jobs import listing

        sys.stdout.write(listing.answer(record))
        print(listing.footer(record, time.time()), file=sys.stderr)
        return 0
    print(f"omcm: job {record.id} {record.state}: {record.reason}", file=why_to or sys.stderr)
    if record.kind == "batch":
        from omcm.batch import executor

        partial = executor.partial_summary(record.id)
        if partial is not None:
            print(f"\nHow far it got:\n{executor.render(partial)}", file=why_to or sys.stderr)
    return 1


def cmd_jobs(args: argparse.Namespace) -> int:
    from omcm.jobs import listing, store

    now = time.time()
    shown = listing.recent(args.all, now)
    for r in shown:
        if r.state == store.DAMAGED:
            print(f"omcm: {r.reason}", file=sys.stderr)
    if args.json:
        rows = [r.dump() | {"elapsed": round(r.elapsed(now), 3)} for r in shown]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not shown:
        print("no jobs" + ("" if args.all else " in the last day (omcm jobs --all)"))
        return 0
    print(listing.table(shown, now))
    return 0


def _span(seconds: float) -> str:
    from omcm.core.humanize import duration

    return duration(seconds)


def cmd_result(args: argparse.Namespace) -> int:
    from omcm.jobs import store

    job_id = store.find(args.job)
    record = store.load(job_id)
    if args.wait:
        from omcm.jobs import listing

        record = listing.wait(job_id, args.timeout)
        if not record.finished:
            print(
                f"omcm: job {job_id} is still {record.state} after {args.timeout:g}s",
                file=sys.stderr,
            )
            return 124
    if not record.finished:
        print(
            f"omcm: job {job_id} is {record.state} ({_span(record.elapsed(time.time()))} so far); "
            f"omcm result {job_id} --wait waits for it"
        )
        # A slash command's `!` line that fails shows nothing: inside Claude Code, say it with 0.
        return 0 if os.environ.get("CLAUDECODE") == "1" else STILL_RUNNING
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

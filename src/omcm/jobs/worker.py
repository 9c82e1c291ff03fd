"""The detached worker that runs one background job (:mod:`omcm.jobs.store`).

:func:`spawn` starts ``python -c "from omcm.jobs.worker import main; main()" JOB_ID``
forked twice and in a session of its own, so it belongs to no process tree of
Claude Code's (which kills a stopped hook's whole tree), keeps running when the
session or the terminal ends, and holds none of the hook's pipes. :func:`run`
is the job itself: it registers as the job's worker (a job never runs twice),
takes worker slots like any routed call, runs the provider chain with the usual
retries and failure handling, and finishes the job with its answer, or why not.
``omcm cancel`` and SIGTERM stop it, killing the provider's process group; if the
worker itself is killed, the provider run's watchdog kills the provider and
ends the job as failed.
"""

from __future__ import annotations

import os
import sys
import time

from omcm.core import fastjson, proc
from omcm.jobs import store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from omcm.batch.executor import Progress
    from omcm.calls.delegate import Attempt, Chain
    from omcm.config import Config
    from omcm.hooks.payloads import AgentInput

ENTRY = "from omcm.jobs.worker import main; main()"
KILLED = "its worker was killed; the watchdog stopped the provider"
#: A chain that stopped this close to the job's deadline ran out of time.
_MARGIN = 20.0


def spawn(job_id: str) -> None:
    """Start the job's worker, detached from this process and everything above it."""
    log = os.path.join(store.job_dir(job_id), "worker.log")
    proc.spawn_detached([sys.executable, "-c", ENTRY, job_id], log, dict(os.environ))


def main() -> None:
    import signal

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the terminal that started it may close
    if len(sys.argv) != 2:
        raise SystemExit("usage: worker JOB_ID")
    run(sys.argv[1])


def run(job_id: str) -> store.JobRecord | None:
    """Run the job in this process; its finished record (None if another worker has it)."""
    from omcm import config
    from omcm.core.errors import ConfigError

    record = store.register_worker(job_id, os.getpid())
    if record is None:
        return None
    try:
        conf = config.load()
    except ConfigError as exc:
        return store.finish(job_id, "failed", f"config.toml is invalid: {exc}")
    if record.kind == "batch":
        return run_batch(record, conf)
    deadline = time.monotonic() + record.timeout
    with proc.cancel_on_signals():
        chain = _run_chain(record, conf, deadline)
    return _finish(record, chain, conf, out_of_time=time.monotonic() >= deadline - _MARGIN)


def run_batch(
    record: store.JobRecord, conf: Config, on_progress: Callable[[Progress], None] | None = None
) -> store.JobRecord | None:
    """Run a batch job's plan (its tasks are jobs of their own); the batch ends done with
    its summary as the answer, or failed when the plan could not run at all."""
    from omcm.batch import executor
    from omcm.core import state
    from omcm.core.errors import OmcmError

    store.mark_running(record.id, "the batch executor", os.getpgid(0))
    try:
        with proc.cancel_on_signals():
            summary = executor.run(record.id, conf, on_progress=on_progress)
    except proc.Cancelled:
        return store.finish(record.id, "cancelled", "cancelled with omcm cancel")
    except OmcmError as exc:
        return store.finish(record.id, "failed", str(exc))
    text = executor.render(summary)
    state.atomic_write(store.output_file(record.id), text + "\n")
    counts = ", ".join(f"{n} {status}" for status, n in summary["counts"].items())
    tokens = store.Tokens()
    for task in summary["tasks"]:
        for name, value in task["tokens"].items():
            setattr(tokens, name, getattr(tokens, name) + value)
    ended = store.finish(
        record.id,
        "done",
        f"{len(summary['tasks'])} tasks: {counts}",
        tokens=tokens,
        answer_chars=len(text),
    )
    if ended is not None and ended.notify:
        notify_desktop(ended)
    return ended


def _run_chain(record: store.JobRecord, conf: Config, deadline: float) -> Chain:
    from omcm.calls import delegate
    from omcm.routing.engine import Route

    task = _task(record.id)
    context = ""
    if record.context_path:
        try:
            with open(record.context_path, encoding="utf-8") as handle:
                context = handle.read()
        except OSError:
            context = ""
    routes = [Route(provider=r.provider, model=r.model, sandbox=r.sandbox) for r in record.routes]

    def cancel() -> str:
        wanted = store.load(record.id, check=False).cancel_requested
        return "cancelled with omcm cancel" if wanted else ""

    def epitaph(_attempts: list[Attempt]) -> str:
        return fastjson.dumps({"job": record.id, "reason": KILLED})

    def sent(prompt: str) -> None:
        from omcm.core import state

        state.atomic_write(store.prompt_file(record.id), prompt)

    return delegate.run_chain(
        task,
        routes,
        cwd=record.cwd,
        context=context,
        config=conf,
        deadline=deadline,
        cancel=cancel,
        epitaph=epitaph,
        sent=sent,
        on_run=lambda provider, pgid: store.mark_running(record.id, provider, pgid),
    )


def _task(job_id: str) -> AgentInput:
    from omcm.hooks.payloads import AgentInput

    with open(os.path.join(store.job_dir(job_id), "task.json"), "rb") as handle:
        return AgentInput.parse(fastjson.loads(handle.read()), f"job {job_id} task.json")


def _finish(
    record: store.JobRecord, chain: Chain, conf: Config, *, out_of_time: bool
) -> store.JobRecord | None:
    from omcm.calls import delegate
    from omcm.core import state

    attempts = [a.log() for a in chain.attempts]
    for attempt in attempts:
        store.note(record.id, "attempt", **attempt.dump())
    if chain.cancelled:
        cancelled = store.load(record.id, check=False).cancel_requested
        why = "cancelled with omcm cancel" if cancelled else chain.cancelled
        ended = store.finish(record.id, "cancelled", why, attempts=attempts)
    elif chain.result is not None and chain.route is not None:
        text = chain.result.answer.strip()
        state.atomic_write(store.output_file(record.id), text + "\n")
        model = chain.result.model or chain.route.model
        ended = store.finish(
            record.id,
            "done",
            f"answered by {chain.route.provider}",
            provider=chain.route.provider,
            model=model,
            tokens=delegate.tokens_of(chain.result.usage),
            attempts=attempts,
            answer_chars=len(text),
        )
    elif out_of_time:
        ended = store.finish(
            record.id,
            "timed-out",
            f"the job's time ({record.timeout}s, store.timeout) ran out",
            attempts=attempts,
        )
    else:
        ended = store.finish(record.id, "failed", chain.why_not(record.skipped), attempts=attempts)
    if ended is not None and ended.notify:
        notify_desktop(ended)
    store.prune(conf)
    return ended


def notify_desktop(record: store.JobRecord) -> None:
    """Tell a user in a terminal without Claude that a job ended (notify-send, osascript)."""
    import shutil

    title = f"OMCM job {record.state}"
    body = f"{record.title[:80]} ({record.provider or 'no provider'}) · omcm result {record.id}"
    if shutil.which("notify-send"):
        proc.run(["notify-send", title, body], timeout=10)
    elif shutil.which("osascript"):
        quoted = body.replace("\\", "\\\\").replace('"', '\\"')
        proc.run(
            ["osascript", "-e", f'display notification "{quoted}" with title "{title}"'], timeout=10
        )


#: Seconds a worker has to stop by itself before it and its provider are killed.
CANCEL_GRACE = 1.5


def cancel(job_id: str) -> store.JobRecord:
    """Stop the job: its worker kills the provider's group and records ``cancelled``.

    A worker that does not end within :data:`CANCEL_GRACE` is killed with the
    provider's whole group, and the job recorded as cancelled here.
    """
    import signal

    record = store.request_cancel(job_id)
    if record.finished:
        return record
    if record.worker_pid and store.worker_alive(record):
        _signal(record.worker_pid, signal.SIGTERM, group=False)
        deadline = time.monotonic() + CANCEL_GRACE
        while time.monotonic() < deadline:
            if store.load(job_id, check=False).finished:
                break
            time.sleep(0.05)
    current = store.load(job_id, check=False)
    if not current.finished:
        if current.worker_pid and store.worker_alive(current):
            _signal(current.worker_pid, signal.SIGKILL, group=False)
        if current.provider_pgid:  # the worker did not get to it (its watchdog would)
            _signal(current.provider_pgid, signal.SIGKILL, group=True)
        store.finish(job_id, "cancelled", "cancelled with omcm cancel")
    return store.load(job_id, check=False)


def _signal(pid: int, sig: int, *, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass

"""The detached worker that runs one background job (:mod:`omcm.jobs.store`).

:func:`start` makes a routed call (:class:`~omcm.calls.call.RoutedCall`) a job and
:func:`spawn` starts its worker: ``python -c "from omcm.jobs.worker import main;
main()" JOB_ID`` forked twice and in a session of its own, so it belongs to no
process tree of Claude Code's (which kills a stopped hook's whole tree), keeps
running when the session or the terminal ends, and holds none of the hook's
pipes. :func:`run` is the job itself: it registers as the job's worker (a job
never runs twice), runs the call through the one pipeline
(:func:`omcm.calls.pipeline.run_now`: worker slots, the provider chain, retries,
failure handling) within the job's own time, and finishes the job with its
answer, or why not. ``omcm cancel`` and SIGTERM stop it, killing the provider's
process group; if the worker itself is killed, the provider run's watchdog kills
the provider and ends the job as failed.

A batch job (a plan whose tasks are jobs) has its own worker: :mod:`omcm.batch.runner`.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from omcm.core import fastjson, proc
from omcm.core.errors import OmcmError
from omcm.jobs import store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from omcm.calls.call import Outcome, RoutedCall, Step

ENTRY = "from omcm.jobs.worker import main; main()"
KILLED = "its worker was killed; the watchdog stopped the provider"


def start(
    call: RoutedCall,
    *,
    reason: str,
    timeout: int | None = None,
    title: str = "",
    deliver: bool = False,
    notify: bool = False,
    spawn_now: bool = True,
) -> store.JobRecord:
    """Make ``call`` a queued job (its handoff context written first) and, with
    ``spawn_now``, start its worker."""
    from omcm.calls import pipeline
    from omcm.jobs import notify as notifying

    pipeline.prepare(call)
    record = store.create(
        call.source,
        call=call,
        title=title or call.task.title,
        timeout=timeout or call.config.jobs.timeout,
        reason=reason,
        deliver=deliver,
        notify=notify,
        webhook=notifying.wants_webhook(call.config, call.source),
    )
    if spawn_now:
        spawn(record.id)
    return record


def spawn(job_id: str, entry: str = ENTRY) -> None:
    """Start the job's worker (``entry``: a batch's is another), detached from this process
    and everything above it."""
    log = os.path.join(store.job_dir(job_id), "worker.log")
    proc.spawn_detached([sys.executable, "-c", entry, job_id], log, dict(os.environ))


#: What stops a detached worker: TERM (``omcm cancel``) and INT. Not HUP: a worker is in a
#: session of its own, so a hangup is no terminal closing on it, and it is ignored.
DETACHED_STOPS = (signal.SIGTERM, signal.SIGINT)


def main() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    if len(sys.argv) != 2:
        raise SystemExit("usage: worker JOB_ID")
    run(sys.argv[1], stops=DETACHED_STOPS)


def run(
    job_id: str,
    watch: Callable[[Step], None] | None = None,
    *,
    stops: tuple[int, ...] = proc.CANCEL_SIGNALS,
    stop: Callable[[], str] | None = None,
) -> store.JobRecord | None:
    """Run the job in this process; its finished record (None if another worker has it).
    ``watch`` hears each step of the run too (``omcm run``'s live progress); ``stops`` are
    the signals that cancel it (in the foreground, a closing terminal's HUP too; in a thread
    other than the main one, none); ``stop`` says why to stop the run ("" to go on), as
    whoever started it sees it (an MCP client cancelling the request)."""
    from omcm import config
    from omcm.calls import pipeline
    from omcm.calls.call import Controls
    from omcm.core.errors import ConfigError

    record = store.register_worker(job_id, os.getpid())
    if record is None:
        return None
    try:
        conf = config.load()
    except ConfigError as exc:
        return store.finish(job_id, "failed", f"config.toml is invalid: {exc}")
    call = store.load_call(job_id, conf)

    def cancel() -> str:
        why = stop() if stop is not None else ""
        if why:
            return why
        if _cancel_requested(job_id):
            return "cancelled with omcm cancel"
        return _batch_gone(record.batch_id) if record.batch_id else ""

    deadline = time.monotonic() + record.timeout
    controls = Controls(
        deadline,
        cancel=cancel,
        progress=lambda step: _progress(job_id, step, watch),
        epitaph=lambda _attempts: fastjson.dumps({"job": job_id, "reason": KILLED}),
        output_path=store.output_file(job_id),
    )
    with proc.cancel_on_signals(stops):
        outcome = pipeline.run_now(call, controls)
    return _finish(record, outcome, deadline)


def _progress(job_id: str, step: Step, watch: Callable[[Step], None] | None) -> None:
    """What the job's record and event log keep of a step of its run."""
    if watch is not None:
        watch(step)
    try:
        if step.kind == "sent":
            store.write_prompt(job_id, step.prompt)
        elif step.kind == "started":
            store.mark_running(job_id, step.provider, step.pgid)
    except OSError as exc:  # the run goes on; its ending is what must be recorded
        state_log(f"job {job_id}: {step.kind} not recorded ({exc})")


def _ending(record: store.JobRecord, outcome: Outcome) -> tuple[str, str, dict[str, Any]]:
    """The state a run ends the job in, why, and the record fields it sets."""
    fields: dict[str, Any] = {"attempts": list(outcome.attempts)}
    if outcome.ended == "cancelled":
        held = store.held(record.id) or record
        wanted = held.cancel_requested or _cancel_requested(record.id)
        return "cancelled", ("cancelled with omcm cancel" if wanted else outcome.reason), fields
    if outcome.answered:
        fields |= {
            "provider": outcome.provider,
            "model": outcome.model,
            "tokens": outcome.tokens,
            "answer_chars": outcome.answer_chars,
        }
        return "done", f"answered by {outcome.provider}", fields
    if outcome.out_of_time:
        return "timed-out", f"the job's time ({record.timeout}s, jobs.timeout) ran out", fields
    return "failed", outcome.reason, fields


def _finish(record: store.JobRecord, outcome: Outcome, deadline: float) -> store.JobRecord | None:
    """Record how the job ended. A state dir that cannot be written does not lose the
    answer: it is kept aside (:mod:`omcm.jobs.rescue`) and the record is tried again
    until the job's time is up."""
    from omcm import config
    from omcm.jobs import rescue

    end, reason, fields = _ending(record, outcome)
    for attempt in outcome.attempts:
        store.note(record.id, "attempt", **attempt.dump())
    pause = 0.5
    while True:
        try:
            if outcome.answered and not outcome.output_path:
                store.write_output(record.id, outcome.text)  # the run could not keep it
            store.finish(record.id, end, reason, **fields)  # None once an earlier try did
            held = store.held(record.id)
            if held is not None and not store.log_owed(held):
                raise OSError("its routing-log line could not be written")
            ended = held
            break
        except OSError as exc:
            why = f"the state dir cannot be written ({exc.strerror or exc})"
            dump = {k: v.dump() if hasattr(v, "dump") else v for k, v in fields.items()}
            dump["attempts"] = [a.dump() for a in outcome.attempts]
            kept = rescue.keep(
                record.id, {"state": end, "reason": reason, **dump}, outcome.text, why
            )
            if time.monotonic() >= deadline:
                state_log(f"job {record.id}: {why}; gave up at its deadline; kept in {kept}")
                return None
            time.sleep(pause)
            pause = min(pause * 2, 10.0)
    rescue.forget(record.id)
    if ended is not None:
        from omcm.jobs import notify

        notify.ended(ended)
    try:
        store.prune(config.load())
    except (config.ConfigError, OSError):
        pass  # nothing is removed until the config is valid (or the dir writable) again
    return ended


def _batch_gone(batch_id: str) -> str:
    """Why a task of this batch stops: the batch ended before it (cancelled, or its worker
    died: reading it finds that out and ends it), or ""."""
    try:
        batch = store.load(batch_id)
    except (OmcmError, OSError):
        return ""  # unreadable now: the task goes on, its batch's reader will say why
    if batch.finished:
        return f"its batch {batch_id} ended ({batch.state}: {batch.reason})"
    return ""


def _cancel_requested(job_id: str) -> bool:
    try:
        return bool(store.load(job_id, check=False).cancel_requested)
    except (OmcmError, OSError):
        return False  # a damaged or unreadable record: no cancel can be seen in it


def state_log(message: str) -> None:
    from omcm.core import state

    state.log_error(message)


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
        group = store.provider_group(current)
        if group:  # the worker did not get to it (its watchdog would)
            _signal(group, signal.SIGKILL, group=True)
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

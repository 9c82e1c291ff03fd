"""A batch as a job: made from a plan, run by a worker of its own, ended with its summary.

A batch job (``kind = "batch"``) keeps its plan beside it (``plan.toml`` or
``plan.json``); its worker — ``python -c "from omcm.batch.runner import main;
main()" JOB_ID``, detached like a task job's (:func:`omcm.jobs.worker.spawn`), or
this process in the foreground — runs the plan with :mod:`omcm.batch.executor`,
whose tasks are task jobs of their own. The batch ends ``done`` with its summary
as its answer, or ``failed`` when the plan could not run at all.
"""

from __future__ import annotations

import os
import sys

from omcm.core import proc
from omcm.jobs import store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from omcm.batch.executor import Progress
    from omcm.batch.plan import Plan
    from omcm.calls.call import Source
    from omcm.config import Config

ENTRY = "from omcm.batch.runner import main; main()"


def create(
    raw: bytes,
    name: str,
    the_plan: Plan,
    conf: Config,
    source: Source,
    *,
    deliver: bool = False,
    notify: bool = False,
) -> store.JobRecord:
    """Make the batch's job, the plan copied beside it (:func:`spawn` or :func:`run` runs it)."""
    suffix = ".json" if raw.lstrip().startswith(b"{") else ".toml"
    from omcm.jobs.notify import wants_webhook

    return store.create(
        source,
        kind="batch",
        agent="batch",
        title=f"{os.path.basename(name)}: {len(the_plan.tasks)} tasks",
        timeout=conf.jobs.timeout,
        reason="a batch",
        deliver=deliver,
        notify=notify,
        webhook=wants_webhook(conf, source),
        files={"plan" + suffix: raw.decode("utf-8", errors="replace")},
    )


def spawn(job_id: str) -> None:
    """Start the batch's worker, detached (see :func:`omcm.jobs.worker.spawn`)."""
    from omcm.jobs import worker

    worker.spawn(job_id, ENTRY)


def main() -> None:
    import signal

    from omcm import config
    from omcm.jobs.worker import DETACHED_STOPS

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # in a session of its own: see DETACHED_STOPS
    if len(sys.argv) != 2:
        raise SystemExit("usage: batch runner JOB_ID")
    job_id = sys.argv[1]
    try:
        conf = config.load()
    except config.ConfigError as exc:
        if store.register_worker(job_id, os.getpid()) is not None:
            store.finish(job_id, "failed", f"config.toml is invalid: {exc}")
        return
    run(job_id, conf, stops=DETACHED_STOPS)


def run(
    job_id: str,
    conf: Config,
    on_progress: Callable[[Progress], None] | None = None,
    *,
    stops: tuple[int, ...] = proc.CANCEL_SIGNALS,
) -> store.JobRecord | None:
    """Run the batch in this process (its worker); its finished record, None if another
    worker has it. Should this worker die, each running task stops by itself (its batch
    has ended: :func:`omcm.jobs.worker.run`) and the batch's summary lists how far each
    task got (:func:`omcm.batch.executor.partial_summary`)."""
    from omcm.batch import executor
    from omcm.core.errors import OmcmError

    record = store.register_worker(job_id, os.getpid())
    if record is None:
        return None
    store.mark_running(record.id, "the batch executor", os.getpgid(0))
    try:
        with proc.cancel_on_signals(stops):
            summary = executor.run(record.id, conf, on_progress=on_progress)
    except proc.Cancelled:
        return _notified(store.finish(record.id, "cancelled", "cancelled with omcm cancel"))
    except OmcmError as exc:
        return _notified(store.finish(record.id, "failed", str(exc)))
    text = executor.render(summary)
    store.write_output(record.id, text)
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
    return _notified(ended)


def _notified(ended: store.JobRecord | None) -> store.JobRecord | None:
    """Tell whoever the batch job asked to be told that it ended (:mod:`omcm.jobs.notify`)."""
    if ended is not None:
        from omcm.jobs import notify

        notify.ended(ended)
    return ended

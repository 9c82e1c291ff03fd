"""Background jobs: a routed task that runs on after the process that started it.

A job is one run of a provider chain with its own folder, ``jobs/<id>/``:

- ``job.json``: the record (:class:`JobRecord`), every state change written
  atomically under the state lock with its time and reason;
- ``call.json``: the routed call (:class:`~omcm.calls.call.RoutedCall`: who asked, the
  task, the engine's decision), from which the worker runs it and the log line is made;
- ``prompt.md``: the prompt exactly as it was last sent to a provider;
- ``output.md``: the provider's whole answer;
- ``events.jsonl``: what happened, line by line (states, attempts, delivery).

States: ``queued`` → ``running`` → ``done`` | ``failed`` | ``cancelled`` |
``timed-out`` (a queued job can also end directly). A detached worker
(:mod:`omcm.jobs.worker`) runs the job; it survives the hook, the Claude session and
the terminal that started it. No job stays "running" after its worker died:
whatever reads a job checks the worker's pid *and* its start time (a reused pid
has another), and a job whose worker is gone is finished as failed, with the
reason, on that read. Finishing a job writes its routing-log line and counters
exactly once, whoever does it (the worker, ``omcm cancel``, a reader, or the
watchdog of a killed worker).

The answer reaches Claude once (:func:`claim_delivery`): by the delivery hook
in an interactive session, by the Stop hook under ``-p``, or at the next
SessionStart in the project; it is always in ``omcm result``.
"""

from __future__ import annotations

import os
import time

from omcm.calls.routing_log import AttemptEntry, Tokens
from omcm.core import fastjson, paths, state
from omcm.core.errors import OmcmError
from omcm.core.records import Record, RecordError
from omcm.jobs import rescue
from omcm.routing.engine import Route

__all__ = ["AttemptEntry", "JobRecord", "Tokens"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from omcm.calls.call import Outcome, RoutedCall, Source
    from omcm.config import Config

STATES = ("queued", "running", "done", "failed", "cancelled", "timed-out")
#: What a reader shows for a job whose record it cannot read (not a state a job is in).
DAMAGED = "damaged"
FINISHED = frozenset({"done", "failed", "cancelled", "timed-out"})
#: The routing-log outcome of a call that ended as a job in this state.
OUTCOME = {
    "done": "routed",
    "failed": "fell-back",
    "cancelled": "cancelled",
    "timed-out": "timed-out",
}
SUMMARY = "summary.json"
#: Seconds a new job may wait for its worker to register before it counts as failed.
SPAWN_GRACE = 60.0


class Transition(Record):
    at: float = 0.0
    state: str = ""
    reason: str = ""


class JobRecord(state.StateRecord):
    """``jobs/<id>/job.json``."""

    id: str = ""
    state: str = "queued"
    reason: str = ""  # why it is in its state (the last transition's reason)
    created_at: float = 0.0
    started_at: float | None = None  # when its first provider process started
    ended_at: float | None = None
    transitions: list[Transition] = []
    kind: str = "task"  # "task" (one provider chain) or "batch" (a plan, its tasks are jobs)
    source: str = ""  # "hook" (a subagent call), "cli" (omcm run / batch), "batch" (a task of one)
    deliver: bool = False  # its answer goes to Claude (session_id's) when it ends
    batch_id: str = ""
    session_id: str = ""
    tool_use_id: str = ""
    cwd: str = ""
    agent: str = ""
    title: str = ""  # the task's description or first line
    routes: list[Route] = []
    skipped: dict[str, str] = {}
    context_path: str = ""
    timeout: int = 0
    worker_pid: int | None = None
    worker_started: float | None = None  # the worker's process start time (liveness)
    provider_pgid: int | None = None
    provider_started: float | None = None  # its leader's start time (a reused id is not it)
    provider: str = ""
    model: str = ""
    tokens: Tokens = Tokens()
    attempts: list[AttemptEntry] = []
    answer_chars: int = 0
    cancel_requested: float | None = None
    delivered: str = ""  # how the answer reached Claude: "rewake", "stop", "session-start"
    delivered_at: float | None = None
    read_at: float | None = None  # shown by omcm result
    notify: bool = False
    webhook: bool = False  # post [jobs.webhook] when it ends (omcm.jobs.notify)
    webhook_sent_at: float | None = None  # its one message was taken for sending
    unlogged: bool = False  # finished, its routing-log line not written yet (log_owed)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def unread(self) -> bool:
        return self.finished and not self.delivered and self.read_at is None

    def elapsed(self, now: float) -> float:
        begin = self.started_at or self.created_at
        return max(0.0, (self.ended_at or now) - begin)


# --- where jobs live --------------------------------------------------------------------


def jobs_dir() -> str:
    return os.path.join(paths.state_dir(), "jobs")


def job_dir(job_id: str) -> str:
    return os.path.join(jobs_dir(), paths.safe_name(job_id, "job id"))


def job_file(job_id: str) -> str:
    return os.path.join(job_dir(job_id), "job.json")


def output_file(job_id: str) -> str:
    return os.path.join(job_dir(job_id), "output.md")


def prompt_file(job_id: str) -> str:
    return os.path.join(job_dir(job_id), "prompt.md")


def write_output(job_id: str, text: str) -> None:
    """Keep the job's whole answer (``output.md``)."""
    state.atomic_write(output_file(job_id), text + "\n")


def write_prompt(job_id: str, text: str) -> None:
    """Keep the prompt exactly as it was last sent to a provider (``prompt.md``)."""
    state.atomic_write(prompt_file(job_id), text)


def call_file(job_id: str) -> str:
    return os.path.join(job_dir(job_id), "call.json")


def new_id(now: float) -> str:
    """Sortable by time, unique across processes: ``20261129-213045-3f9a1c``."""
    return f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{os.urandom(3).hex()}"


# --- liveness ----------------------------------------------------------------------------


def process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), or None if it is not running.

    Linux reads ``/proc``; elsewhere ``ps -o lstart=``. A zombie counts as gone.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return _ps_start(pid)
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    ticks = int(fields[19])
    return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")


def _boot_time() -> float:
    with open("/proc/stat", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("btime "):
                return float(line.split()[1])
    return 0.0


def _ps_start(pid: int) -> float | None:  # pragma: no cover - macOS and other Unixes
    from omcm.core import proc

    done = proc.run(["ps", "-o", "lstart=", "-p", str(pid)], timeout=10)
    text = done.stdout.strip()
    if not done.ok or not text:
        return None
    return time.mktime(time.strptime(text, "%a %b %d %H:%M:%S %Y"))


def worker_alive(record: JobRecord) -> bool:
    """The job's worker is the process that registered, still running (not a reused pid)."""
    if record.worker_pid is None or record.worker_started is None:
        return False
    started = process_start(record.worker_pid)
    return started is not None and _same_start(started, record.worker_started)


def provider_group(record: JobRecord) -> int | None:
    """The job's provider process group, to kill; None where its id may name another group.

    A group's id is its first process's pid, and Linux hands that number to no new process
    while any member of the group lives. So the id is the job's group while a process of
    that pid is the one that started it, or none is; a process of that pid that started at
    another time means the group ended and the number went to somebody else.
    """
    pgid = record.provider_pgid
    if not pgid:
        return None
    leader = process_start(pgid)
    if leader is None or record.provider_started is None:  # or a record from before the check
        return pgid
    return pgid if _same_start(leader, record.provider_started) else None


def _same_start(seen: float, recorded: float) -> bool:
    """Two start times of one process (``ps`` reads to the second where /proc is missing)."""
    return abs(seen - recorded) < 2.0


# --- records -----------------------------------------------------------------------------


def create(
    source: Source,
    *,
    title: str,
    timeout: int,
    reason: str,
    call: RoutedCall | None = None,
    agent: str = "",
    kind: str = "task",
    deliver: bool = False,
    notify: bool = False,
    webhook: bool = False,
    files: dict[str, str] | None = None,
) -> JobRecord:
    """Write a new queued job: its folder, its record and its files; the one place a job
    record is made.

    A task job runs ``call`` (kept as ``call.json``); a batch job (``kind="batch"``) runs
    the plan among ``files``.
    """
    now = time.time()
    record = JobRecord(
        id=new_id(now),
        kind=kind,
        source=source.door,
        deliver=deliver,
        batch_id=source.batch_id,
        session_id=source.session_id,
        tool_use_id=source.tool_use_id,
        cwd=source.cwd,
        agent=agent,
        title=title,
        timeout=timeout,
        notify=notify,
        webhook=webhook,
        reason=reason,
        created_at=now,
        transitions=[Transition(at=now, state="queued", reason=reason or "created")],
    )
    if call is not None:
        record.agent = call.decision.agent
        record.routes = list(call.decision.routes)
        record.skipped = dict(call.decision.skipped)
        record.context_path = call.context_path
    folder = job_dir(record.id)
    os.makedirs(jobs_dir(), exist_ok=True)
    os.mkdir(folder, 0o700)  # fails if the id were ever taken
    if call is not None:
        state.atomic_write(call_file(record.id), fastjson.dumps(call.dump()) + "\n")
    for name, text in (files or {}).items():
        state.atomic_write(os.path.join(folder, paths.safe_name(name, "job file")), text)
    state.atomic_write(job_file(record.id), fastjson.dumps(record.dump()) + "\n")
    _event(record.id, "created", state="queued", source=record.source)
    _refresh_summary(record)
    return record


def load_call(job_id: str, config: Config) -> RoutedCall:
    """The routed call a task job runs (``call.json``), bound to ``config``."""
    from omcm.calls.call import RoutedCall

    path = call_file(job_id)
    with open(path, "rb") as handle:
        call = RoutedCall.parse(fastjson.loads(handle.read()), path)
    return call.bind(config)


class JobDamaged(OmcmError):
    """A job whose record is damaged: what is wrong, and where the damaged copy is."""

    def __init__(self, job_id: str, why: str, aside: str) -> None:
        self.job_id, self.why, self.aside = job_id, why, aside
        where = f"the damaged copy is {aside}" if aside else "it was left in place"
        super().__init__(
            f"job {job_id}: its record job.json is damaged ({why}); {where}. The job's "
            "worker, if it still runs, writes a whole record when it next changes it"
        )


def load(job_id: str, *, check: bool = True) -> JobRecord:
    """The job's record; with ``check``, a job whose worker is gone is finished as failed.

    Read without a lock (a reader needs no write access); a damaged record is
    :class:`JobDamaged`, never taken for an absent job.
    """
    record = _read(job_id)
    if check and record.unlogged and not worker_alive(record):
        log_owed(record)  # its worker ended before it could write the line
    if check and not record.finished:
        why = _dead(record)
        if why:
            try:
                return _adopt(record) or finish(job_id, "failed", why) or _read(job_id)
            except OSError as exc:  # seen, but not recorded: the state dir is read-only
                record.state, record.reason = "failed", f"{why} (not recorded: {exc.strerror})"
    return record


def _adopt(record: JobRecord) -> JobRecord | None:
    """End a job whose worker is gone with what the worker kept aside when it could not
    write the state dir (:mod:`omcm.jobs.rescue`): its answer is not lost."""
    kept = rescue.take(record.id)
    found = kept.get("ending") if kept is not None else None
    if kept is None or not isinstance(found, dict):
        return None
    ending: dict[str, Any] = dict(found)
    end = str(ending.pop("state", "failed"))
    why = str(ending.pop("reason", ""))
    known = {k: v for k, v in ending.items() if k in ("provider", "model", "answer_chars")}
    typed = JobRecord.parse({**record.dump(), **known, **_typed(ending)}, "kept ending")
    if end == "done" and kept.get("answer"):
        write_output(record.id, str(kept["answer"]))
    ended = finish(
        record.id,
        end if end in FINISHED else "failed",
        f"{why} (recorded late: {kept.get('why', 'its worker could not write it')})",
        provider=typed.provider,
        model=typed.model,
        tokens=typed.tokens,
        attempts=typed.attempts,
        answer_chars=typed.answer_chars,
    )
    rescue.forget(record.id)
    return ended


def _typed(ending: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in ending.items() if k in ("tokens", "attempts")}


def _read(job_id: str) -> JobRecord:
    try:
        record = state.read(job_file(job_id), JobRecord)
    except state.Damaged as exc:
        raise JobDamaged(job_id, exc.why, exc.aside) from None
    if not record.id:
        aside = _aside(job_id)
        if aside:
            raise JobDamaged(job_id, "moved aside earlier", aside)
        raise OmcmError(f"no job {job_id!r} (see `omcm jobs --all`)")
    return record


def _aside(job_id: str) -> str:
    """The newest damaged copy of the job's record, "" when there is none."""
    try:
        names = os.listdir(job_dir(job_id))
    except OSError:
        return ""
    found = sorted(n for n in names if n.startswith("job.json.corrupt-"))
    return os.path.join(job_dir(job_id), found[-1]) if found else ""


def _dead(record: JobRecord) -> str:
    """Why the job can make no progress (its worker is gone), or ""."""
    if record.worker_pid is None:
        if time.time() - record.created_at > SPAWN_GRACE:
            return f"no worker took it within {SPAWN_GRACE:.0f}s of its creation"
        return ""
    if worker_alive(record):
        return ""
    rescued = rescue.find(record.id)
    if rescued:
        return f"its worker (pid {record.worker_pid}) ended unable to write it; {rescued}"
    return f"its worker (pid {record.worker_pid}) is gone: killed, crashed or the machine restarted"


#: The records this process last read or wrote through :func:`update`: a worker's own copy,
#: written back whole should the file on disk be damaged.
_HELD: dict[str, JobRecord] = {}


def update(job_id: str, change: Callable[[JobRecord], Any]) -> Any:
    """Change a job's record under the state lock; the summary follows. A damaged record
    is rebuilt from the copy this process holds (a worker's), if it holds one."""
    holder: list[JobRecord] = []

    def mutate(record: JobRecord) -> Any:
        result = change(record)
        holder.append(record)
        return result

    if job_id not in _HELD and not os.path.exists(job_file(job_id)):
        aside = _aside(job_id)  # nothing to change: never write a blank record
        if aside:
            raise JobDamaged(job_id, "moved aside earlier", aside)
        raise OmcmError(f"no job {job_id!r} (see `omcm jobs --all`)")
    try:
        result = state.update(
            job_file(job_id), JobRecord, mutate, held=_HELD.get(job_id), fresh=False
        )
    except state.Damaged as exc:  # nothing to rebuild it from here: never a blank record
        raise JobDamaged(job_id, exc.why, exc.aside) from None
    if holder[0].id:
        _HELD[job_id] = JobRecord.parse(holder[0].dump(), "held job")
    _refresh_summary(holder[0])
    return result


def held(job_id: str) -> JobRecord | None:
    """This process's copy of the job's record (the worker's), if it has one."""
    return _HELD.get(job_id)


def register_worker(job_id: str, pid: int) -> JobRecord | None:
    """The worker ``pid`` takes the job; None if another live worker has it or it ended."""
    started = process_start(pid)

    def change(record: JobRecord) -> JobRecord | None:
        if record.finished or (record.worker_pid is not None and worker_alive(record)):
            return None
        record.worker_pid, record.worker_started = pid, started
        return record

    taken: JobRecord | None = update(job_id, change)
    if taken is not None:
        _event(job_id, "worker", pid=pid)
    return taken


def mark_running(job_id: str, provider: str, pgid: int) -> None:
    """A provider process of the job started (its group is what cancelling kills)."""
    now = time.time()
    started = process_start(pgid)

    def change(record: JobRecord) -> None:
        record.provider_pgid, record.provider_started = pgid, started
        if record.state == "queued":
            record.state, record.reason = "running", f"{provider} started"
            record.started_at = record.started_at or now
            record.transitions = [
                *record.transitions,
                Transition(at=now, state="running", reason=record.reason),
            ]

    update(job_id, change)
    _event(job_id, "running", provider=provider, pgid=pgid)


def finish(job_id: str, end: str, reason: str, **outcome: Any) -> JobRecord | None:
    """End the job in state ``end`` (once: None if it had ended already).

    ``outcome`` sets record fields (provider, model, tokens, attempts, answer_chars).
    The call's routing-log line and counters are written here, for every ending.
    """
    if end not in FINISHED:
        raise ValueError(f"{end!r} is not a finished state")
    now = time.time()

    def change(record: JobRecord) -> JobRecord | None:
        if record.finished:
            return None
        for name, value in outcome.items():
            setattr(record, name, value)
        record.state, record.reason, record.ended_at = end, reason, now
        record.transitions = [*record.transitions, Transition(at=now, state=end, reason=reason)]
        record.unlogged = record.kind != "batch"  # owed until the line is written
        return record

    ended: JobRecord | None = update(job_id, change)
    if ended is None:
        return None
    _event(job_id, end, reason=reason)
    log_owed(ended)
    return ended


def log_owed(record: JobRecord) -> bool:
    """Write the line a finished job still owes the routing log (and its counters), then
    clear the debt; False while the state dir cannot be written (it stays owed: its worker
    tries again, and so does whoever reads the job once its worker is gone)."""
    if not record.unlogged:
        return True
    try:
        _log(record)
        update(record.id, lambda r: setattr(r, "unlogged", False))
    except OSError as exc:
        state.log_error(f"job {record.id}: its routing-log line is owed ({exc})")
        return False
    return True


def _log(record: JobRecord) -> None:
    """Book the job's call (its routing-log line, counters) as it ended."""
    if record.kind == "batch":
        return  # its tasks are booked one by one
    from omcm.calls import pipeline

    try:
        call = load_call(record.id, _config())
    except (OSError, ValueError, RecordError) as exc:
        state.log_error(f"job {record.id}: its call.json cannot be read to log it", str(exc))
        return
    pipeline.book(call, outcome_of(record))


def outcome_of(record: JobRecord) -> Outcome:
    """What a finished job's run gave, as the pipeline books it."""
    from omcm.calls.call import Outcome

    outcome = Outcome(
        ended=OUTCOME[record.state],
        attempts=list(record.attempts),
        provider=record.provider,
        model=record.model,
        tokens=record.tokens,
        answer_chars=record.answer_chars,
        context_path=record.context_path,
        job_id=record.id,
        duration=round(record.elapsed(record.ended_at or time.time()), 3),
    )
    if record.state == "done":
        outcome.output_path = output_file(record.id)
    else:
        outcome.reason = record.reason
    return outcome


def _config() -> Config:
    """The config for booking (the defaults if the file is invalid: the line still goes)."""
    from omcm import config

    try:
        return config.load()
    except config.ConfigError:
        return config.Config()


def request_cancel(job_id: str) -> JobRecord:
    """Note that the job is to stop; the worker sees it within a poll."""
    now = time.time()

    def change(record: JobRecord) -> JobRecord:
        if not record.finished:
            record.cancel_requested = record.cancel_requested or now
        return record

    changed: JobRecord = update(job_id, change)
    return changed


def claim_delivery(job_id: str, how: str) -> JobRecord | None:
    """Take the job's finished answer for Claude, once: None if not finished or taken."""
    now = time.time()

    def change(record: JobRecord) -> JobRecord | None:
        if not record.finished or record.delivered:
            return None
        record.delivered, record.delivered_at = how, now
        return record

    taken: JobRecord | None = update(job_id, change)
    if taken is not None:
        _event(job_id, "delivered", how=how)
    return taken


def mark_read(job_id: str) -> None:
    def change(record: JobRecord) -> None:
        if record.finished and record.read_at is None:
            record.read_at = time.time()

    update(job_id, change)


def _event(job_id: str, kind: str, **fields: Any) -> None:
    line = fastjson.dumps({"at": time.time(), "event": kind, **fields}) + "\n"
    try:
        with open(os.path.join(job_dir(job_id), "events.jsonl"), "a", encoding="utf-8") as handle:
            handle.write(line)
    except OSError as exc:  # the record holds what matters; the event log is its diary
        state.log_error(f"job {job_id}: event {kind!r} not written to its log ({exc})")


def note(job_id: str, kind: str, **fields: Any) -> None:
    """Add a line to the job's event log (attempts, prompts sent)."""
    _event(job_id, kind, **fields)


# --- finding jobs ------------------------------------------------------------------------


def ids() -> list[str]:
    """Every job id, oldest first."""
    try:
        names = os.listdir(jobs_dir())
    except FileNotFoundError:
        return []
    return sorted(n for n in names if _has_record(os.path.join(jobs_dir(), n)))


def _has_record(folder: str) -> bool:
    """The folder holds a job's record, or the damaged copy of one."""
    if os.path.isfile(os.path.join(folder, "job.json")):
        return True
    try:
        return any(n.startswith("job.json.corrupt-") for n in os.listdir(folder))
    except OSError:
        return False


def all_jobs(check: bool = True, *, damaged: bool = False) -> Iterator[JobRecord]:
    """Every job's record, oldest first; with ``damaged``, a job whose record is damaged
    or unreadable as a record in state ``damaged`` whose reason says what was found."""
    for job_id in ids():
        try:
            yield load(job_id, check=check)
        except (OmcmError, OSError) as exc:
            if damaged:
                yield JobRecord(id=job_id, state=DAMAGED, reason=str(exc))


def find(prefix: str) -> str:
    """The id of the one job whose id (or its random tail) starts with ``prefix``."""
    from omcm.core.errors import OmcmError, cut

    if not prefix.strip():
        raise OmcmError("the job id is empty (omcm jobs --all lists them)")
    every = ids()
    if prefix in every:
        return prefix
    found = [i for i in every if i.startswith(prefix) or i.rsplit("-", 1)[-1].startswith(prefix)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise OmcmError(f"no job {cut(prefix)!r} in {jobs_dir()} (omcm jobs --all lists them)")
    raise OmcmError(f"{cut(prefix)!r} names {len(found)} jobs: {', '.join(found[:5])}")


def by_call(session_id: str, tool_use_id: str) -> JobRecord | None:
    """The job a subagent call of this session started, if it started one."""
    for record in reversed(list(all_jobs(check=False))):
        if record.session_id == session_id and record.tool_use_id == tool_use_id:
            return load(record.id)
    return None


# --- retention -----------------------------------------------------------------------------


def prune(config: Config, now: float | None = None) -> list[str]:
    """Remove finished jobs older than ``jobs.keep_days`` or beyond ``jobs.keep``, oldest
    first; a job that has not finished is never removed."""
    import shutil

    now = time.time() if now is None else now
    finished = sorted(
        (r for r in all_jobs(check=True) if r.finished), key=lambda r: r.ended_at or r.created_at
    )
    too_old = now - config.jobs.keep_days * 86400
    doomed = [r for r in finished if (r.ended_at or r.created_at) < too_old]
    kept = [r for r in finished if r not in doomed]
    doomed += kept[: max(0, len(kept) - config.jobs.keep)]
    for record in doomed:
        shutil.rmtree(job_dir(record.id), ignore_errors=True)
    if doomed:
        _refresh_summary(None)
    return [r.id for r in doomed]


# --- the summary the status line reads ----------------------------------------------------


class Summary(state.StateRecord):
    """``jobs/summary.json``: what the HUD shows, without reading every job."""

    running: dict[str, list[float]] = {}  # id -> [worker pid, worker start] (or [])
    undelivered: list[str] = []  # finished, answer not handed to Claude
    unread: list[str] = []  # … nor shown by omcm result


def summary_file() -> str:
    return os.path.join(jobs_dir(), SUMMARY)


def _refresh_summary(changed: JobRecord | None) -> None:
    """Bring the summary up to date for one changed job (all jobs with ``None``)."""

    def mutate(summary: Summary) -> None:
        records = [changed] if changed is not None else list(all_jobs(check=False))
        if changed is None:
            summary.running, summary.undelivered, summary.unread = {}, [], []
        for record in records:
            summary.running.pop(record.id, None)
            for listed in (summary.undelivered, summary.unread):
                if record.id in listed:
                    listed.remove(record.id)
            if not record.finished:
                pid = record.worker_pid
                alive = [float(pid), record.worker_started or 0.0] if pid else []
                summary.running[record.id] = alive
            elif not record.delivered:
                summary.undelivered.append(record.id)
                if record.unread:
                    summary.unread.append(record.id)

    try:
        os.makedirs(jobs_dir(), exist_ok=True)
        state.update(summary_file(), Summary, mutate)
    except OSError as exc:  # a cache of the records: the next change of a job mends it
        state.log_error(f"jobs/summary.json not brought up to date ({exc})")


def summary() -> Summary:
    """Which jobs run and which answers wait (kept up to date by every change of a job)."""
    return state.load(summary_file(), Summary)


def counts() -> tuple[int, int]:
    """(running, finished but unread) jobs, for the status line."""
    found = summary()
    return len(found.running), len(found.unread)

"""Background jobs: the state machine, liveness, retention, delivery claims and cancel."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omcm.calls import routing_log
from omcm.calls.call import RoutedCall, Source, Task
from omcm.config import Config
from omcm.core import paths
from omcm.core.errors import OmcmError
from omcm.jobs import delivery, store, worker
from omcm.routing.engine import Decision, Route
from tests.processes import group_members, running


def new_call(door: str = "hook") -> RoutedCall:
    decision = Decision(
        target="providers",
        reason="fusion-default",
        agent="explore",
        agent_raw="explore",
        tier="low",
        tier_source="agent table",
        role="explore",
        routes=[Route(provider="codex", model="m1", sandbox="read-only")],
    )
    source = Source(door=door, session_id="s1", tool_use_id="toolu_1", cwd="/tmp")
    task = Task(prompt="look around", description="look around", agent="explore")
    return RoutedCall(source=source, task=task, decision=decision).bind(Config())


def new_job(source: str = "hook") -> store.JobRecord:
    call = new_call(source)
    return worker.start(call, reason="created", timeout=60, spawn_now=False)


def test_a_job_goes_queued_running_done_and_ends_once() -> None:
    job = new_job()
    assert (job.state, [t.state for t in job.transitions]) == ("queued", ["queued"])
    assert store.register_worker(job.id, os.getpid()) is not None
    store.mark_running(job.id, "codex", 4242)
    ended = store.finish(job.id, "done", "answered by codex", provider="codex", model="m1")
    assert ended is not None
    assert [(t.state, t.reason) for t in ended.transitions] == [
        ("queued", "created"),
        ("running", "codex started"),
        ("done", "answered by codex"),
    ]
    assert ended.started_at is not None and ended.ended_at is not None
    assert store.finish(job.id, "failed", "too late") is None  # never ends twice
    assert store.load(job.id).state == "done"
    [line] = routing_log.read()
    assert (line["outcome"], line["job_id"], line["tool_use_id"], line["provider"]) == (
        "routed",
        job.id,
        "toolu_1",
        "codex",
    )
    lines = Path(store.job_dir(job.id), "events.jsonl").read_text().splitlines()
    events = [json.loads(x)["event"] for x in lines]
    assert events == ["created", "worker", "running", "done"]


def test_a_second_worker_is_turned_away() -> None:
    job = new_job()
    assert store.register_worker(job.id, os.getpid()) is not None
    assert store.register_worker(job.id, os.getppid()) is None


def test_only_finished_states_end_a_job() -> None:
    job = new_job()
    with pytest.raises(ValueError, match="'running' is not a finished state"):
        store.finish(job.id, "running", "no")


# --- liveness ------------------------------------------------------------------------


def set_fields(job_id: str, **values: object) -> None:
    def change(record: store.JobRecord) -> None:
        for name, value in values.items():
            setattr(record, name, value)

    store.update(job_id, change)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_job_whose_worker_is_gone_is_failed_when_read() -> None:
    job = new_job()
    pid = dead_pid()
    set_fields(job.id, worker_pid=pid, worker_started=1.0)
    seen = store.load(job.id)
    assert seen.state == "failed"
    assert seen.reason == (
        f"its worker (pid {pid}) is gone: killed, crashed or the machine restarted"
    )
    assert [line["outcome"] for line in routing_log.read()] == ["fell-back"]


def test_a_reused_pid_with_another_start_time_is_not_the_worker() -> None:
    job = new_job()
    me, started = os.getpid(), store.process_start(os.getpid())
    assert started is not None
    set_fields(job.id, worker_pid=me, worker_started=started - 3600)
    assert store.load(job.id).state == "failed"


def test_a_live_worker_keeps_its_job_running() -> None:
    job = new_job()
    assert store.register_worker(job.id, os.getpid()) is not None
    store.mark_running(job.id, "codex", os.getpid())
    assert store.load(job.id).state == "running"


def test_a_job_no_worker_took_fails_after_the_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    job = new_job()
    assert store.load(job.id).state == "queued"
    monkeypatch.setattr(store, "SPAWN_GRACE", 0.0)
    seen = store.load(job.id)
    assert (seen.state, seen.reason) == ("failed", "no worker took it within 0s of its creation")


# --- retention -----------------------------------------------------------------------


def test_prune_keeps_recent_and_unfinished_jobs_oldest_going_first() -> None:
    config = Config()
    config.jobs.keep, config.jobs.keep_days = 2, 7
    now = time.time()
    ended = []
    for n in range(4):
        job = new_job()
        store.register_worker(job.id, os.getpid())
        store.finish(job.id, "done", "ok")
        set_fields(job.id, ended_at=now - 3600 * (4 - n))
        ended.append(job.id)
    old = new_job()
    store.register_worker(old.id, os.getpid())
    store.finish(old.id, "failed", "x")
    set_fields(old.id, ended_at=now - 8 * 86400)
    alive = new_job()
    store.register_worker(alive.id, os.getpid())
    set_fields(alive.id, created_at=now - 30 * 86400)
    removed = store.prune(config, now)
    assert sorted(removed) == sorted([old.id, ended[0], ended[1]])
    assert store.ids() == sorted([ended[2], ended[3], alive.id])


# --- delivery ------------------------------------------------------------------------


def _claim(state_dir: str, job_id: str, queue: multiprocessing.Queue[bool]) -> None:
    os.environ["OMCM_STATE_DIR"] = state_dir
    queue.put(store.claim_delivery(job_id, f"pid{os.getpid()}") is not None)


def test_an_answer_is_claimed_once_across_processes() -> None:
    job = new_job()
    store.register_worker(job.id, os.getpid())
    store.finish(job.id, "done", "ok")
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[bool] = ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(paths.state_dir(), job.id, queue)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sorted(queue.get() for _ in procs) == [False] * 5 + [True]


def test_an_unfinished_job_cannot_be_claimed() -> None:
    assert store.claim_delivery(new_job().id, "stop") is None


def test_answer_text_frames_the_result_and_says_plainly_when_not_done() -> None:
    config = Config()
    done = new_job()
    store.register_worker(done.id, os.getpid())
    Path(store.output_file(done.id)).write_text("the entry is app.py\n")
    ended = store.finish(
        done.id,
        "done",
        "answered by codex",
        provider="codex",
        model="m1",
        tokens=routing_log.Tokens(input=10, output=2),
    )
    assert ended is not None
    text = delivery.answer_text(ended, config)
    assert text.startswith(
        f"[OMCM] Background job {done.id} finished: the explore subagent task “look around” "
        "(tool call toolu_1) was completed by OpenAI Codex (model m1)."
    )
    assert "\n\nthe entry is app.py\n\n— omcm: explore → codex/m1 · 10 in / 2 out tokens · " in text
    failed = new_job()
    gone = store.finish(failed.id, "failed", "codex: 429 Too Many Requests")
    assert gone is not None
    assert delivery.answer_text(gone, config) == (
        f"[OMCM] Background job {failed.id}: the explore subagent task “look around” (tool "
        "call toolu_1) was NOT done (failed: codex: 429 Too Many Requests). No answer will come "
        "from OMCM for it: run it yourself now, or issue the subagent call again."
    )


def test_the_summary_counts_running_and_unread_jobs() -> None:
    first, second = new_job(), new_job()
    store.register_worker(first.id, os.getpid())
    assert store.counts() == (2, 0)
    store.finish(first.id, "done", "ok")
    assert store.counts() == (1, 1)
    store.claim_delivery(first.id, "stop")
    assert store.counts() == (1, 0)
    store.finish(second.id, "failed", "x")
    store.mark_read(second.id)
    assert store.counts() == (0, 0)


def test_find_takes_the_id_or_a_unique_tail() -> None:
    job = new_job()
    assert store.find(job.id) == job.id
    assert store.find(job.id[-6:]) == job.id
    with pytest.raises(OmcmError, match="no job 'zzz'"):
        store.find("zzz")


# --- the worker and cancel, with a real (fake) provider ---------------------------------


@pytest.fixture
def slow_provider(tmp_path: Path) -> Path:
    script = tmp_path / "slow-codex"
    script.write_text('#!/bin/sh\ncat >/dev/null\nsleep 60 &\necho $! > "$0.child"\nwait\n')
    script.chmod(0o755)
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[providers.codex]\ncommand = "{script}"\n')
    return script


def test_cancel_stops_the_worker_and_the_provider_group(slow_provider: Path) -> None:
    """``cancel`` returns once the worker has stopped the provider (or, after its grace,
    once it killed both): nothing of the group runs on, however busy the machine."""
    job = new_job(source="cli")
    worker.spawn(job.id)
    deadline = time.monotonic() + 30
    while not store.load(job.id).provider_pgid:
        assert time.monotonic() < deadline, "the worker never started the provider"
        time.sleep(0.05)
    pgid = store.load(job.id).provider_pgid
    assert pgid is not None
    members = group_members(pgid)  # by pid and start time: the pgid may be reused soon
    assert members
    ended = worker.cancel(job.id)
    deadline = time.monotonic() + 30  # a SIGKILLed process can take a moment to be scheduled
    while running(members) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(members)
    assert (ended.state, ended.reason) == ("cancelled", "cancelled with omcm cancel")
    [attempt] = ended.attempts
    assert (attempt.provider, attempt.outcome) == ("codex", "cancelled")


def own_group(argv: list[str], members: int) -> tuple[subprocess.Popen[bytes], dict[int, str]]:
    """``argv`` as the first process of a new group, once the group's ``members`` processes
    run (by pid and start time). ``argv`` must make exactly that many: a ``sh -c`` whose last
    command is a builtin, so that the shell cannot ``exec`` it."""
    leader = subprocess.Popen(argv, start_new_session=True)
    deadline = time.monotonic() + 30
    while len(found := group_members(leader.pid)) != members:
        assert time.monotonic() < deadline, found
        time.sleep(0.02)
    return leader, found


def test_cancel_of_a_job_whose_worker_died_kills_its_provider_group() -> None:
    """No worker to stop it: ``cancel`` kills the recorded group itself."""
    job = new_job(source="cli")
    leader, members = own_group(["sh", "-c", "sleep 60 & wait"], 2)
    store.mark_running(job.id, "codex", leader.pid)
    try:
        ended = worker.cancel(job.id)
        deadline = time.monotonic() + 30
        while running(members) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(members)
        assert (ended.state, ended.reason) == ("cancelled", "cancelled with omcm cancel")
    finally:
        leader.kill()
        leader.wait()


def test_cancel_kills_a_group_whose_first_process_ended() -> None:
    """The group's first process (the id's owner) has ended and only its child runs: the
    id still names the job's group (Linux gives it to no new process while the group lives)."""
    job = new_job(source="cli")
    leader = subprocess.Popen(["sh", "-c", "sleep 60 & exit 0"], start_new_session=True)
    store.mark_running(job.id, "codex", leader.pid)
    leader.wait()  # the leader is gone (reaped); its child runs on in the group
    members = group_members(leader.pid)
    assert len(members) == 1
    worker.cancel(job.id)
    deadline = time.monotonic() + 30
    while running(members) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(members)


def test_cancel_leaves_alone_a_group_that_took_a_dead_providers_id() -> None:
    """The provider's group ended long ago and its number now leads somebody else's group
    (pids wrap): cancelling the stale job must not kill that group."""
    job = new_job(source="cli")
    stranger, _ = own_group(["sleep", "60"], 1)
    try:
        store.mark_running(job.id, "codex", stranger.pid)

        def earlier(record: store.JobRecord) -> None:  # the job's own provider, started before
            assert record.provider_started is not None
            record.provider_started -= 600

        store.update(job.id, earlier)
        ended = worker.cancel(job.id)
        assert (ended.state, ended.reason) == ("cancelled", "cancelled with omcm cancel")
        assert stranger.poll() is None
        assert store.provider_group(store.load(job.id)) is None
    finally:
        stranger.kill()
        stranger.wait()

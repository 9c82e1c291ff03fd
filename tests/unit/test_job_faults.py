"""A job never loses its answer (issue 17): faults injected while a worker runs a job.

The worker runs in this process (``worker.run``) with a provider whose CLI is a small
script that injects the fault mid-run: it damages the job's record, or makes the state
dir read-only, then answers. Real processes, real files; nothing is mocked but the CLI.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from omcm.calls.call import RoutedCall, Source, Task
from omcm.cli.main import main
from omcm.config import Config
from omcm.core import paths
from omcm.core.proc import ProcResult
from omcm.jobs import rescue, store, worker
from omcm.providers import PROVIDERS
from omcm.providers.base import Login, Provider, ProviderRequest, ProviderResult, ProviderSettings
from omcm.routing.engine import Decision, Route
from tests.conftest import read_only


class ScriptProvider(Provider):
    """Runs ``sh -c SCRIPT``; its stdout is the answer."""

    def __init__(self, script: str) -> None:
        real = PROVIDERS["codex"]
        self.name, self.label, self.hud = "codex", "Scripted", real.hud  # type: ignore[misc]
        self.defaults, self.summary = real.defaults, real.summary  # type: ignore[misc]
        self.script = script

    def login(self, settings: ProviderSettings, env: Mapping[str, str]) -> Login:
        return Login(True, "scripted")

    def argv(self, request: ProviderRequest, settings: ProviderSettings) -> list[str]:
        return ["sh", "-c", self.script]

    def parse(self, result: ProcResult, now: float) -> ProviderResult:
        if result.timed_out:
            return ProviderResult("timeout", error=result.error)
        answer = result.stdout.strip()
        if result.returncode != 0 or not answer:
            return ProviderResult("crash", error=f"exit {result.returncode}")
        return ProviderResult("ok", answer=answer, model="scripted-1")


#: ``truncate -s 50%`` of a file, in place (as a disk that lost its tail leaves it).
HALVE = (
    f'"{sys.executable}" -c "import os, sys; '
    'os.truncate(sys.argv[1], os.path.getsize(sys.argv[1]) // 2)"'
)


def job_with(monkeypatch: pytest.MonkeyPatch, script: str, timeout: int = 60) -> store.JobRecord:
    """A queued job whose provider runs ``script`` (``$JOB`` is the job's folder)."""
    monkeypatch.setitem(PROVIDERS, "codex", ScriptProvider(script))
    monkeypatch.setattr("shutil.which", lambda command: f"/usr/bin/{command}")
    decision = Decision(
        target="providers",
        reason="requested",
        agent="explore",
        agent_raw="explore",
        tier="low",
        tier_source="agent table",
        role="explore",
        routes=[Route(provider="codex", model="m", sandbox="read-only")],
    )
    call = RoutedCall(
        source=Source(door="cli", tool_name="omcm run", cwd=os.getcwd()),
        task=Task(prompt="look around", agent="explore"),
        decision=decision,
    ).bind(Config())
    job = worker.start(call, reason="a test", timeout=timeout, spawn_now=False)
    monkeypatch.setenv("JOB", store.job_dir(job.id))
    return job


def test_a_damaged_record_is_rewritten_whole_by_its_worker_and_the_answer_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Truncating a running job's job.json hid the job, and the worker died in its cancel
    check, losing the answer (defect 1)."""
    job = job_with(monkeypatch, f'{HALVE} "$JOB/job.json"; sleep 0.5; echo THE ANSWER')
    ended = worker.run(job.id)
    assert ended is not None and (ended.state, ended.reason) == ("done", "answered by codex")
    record = json.loads(Path(store.job_file(job.id)).read_text())  # whole again
    assert (record["id"], record["state"], record["answer_chars"]) == (job.id, "done", 10)
    assert Path(store.output_file(job.id)).read_text() == "THE ANSWER\n"
    assert [p.name for p in Path(store.job_dir(job.id)).glob("job.json.corrupt-*")]
    assert main(["result", job.id]) == 0
    assert capsys.readouterr().out == "THE ANSWER\n"


def test_every_reader_shows_a_damaged_record_as_damaged(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    job = job_with(monkeypatch, "echo A")
    Path(store.job_file(job.id)).write_text('{"id": "' + job.id + '", "sta')
    assert main(["jobs", "--all", "--json"]) == 0
    captured = capsys.readouterr()
    [row] = json.loads(captured.out)
    assert (row["id"], row["state"]) == (job.id, "damaged")
    aside = next(Path(store.job_dir(job.id)).glob("job.json.corrupt-*"))
    assert str(aside) in row["reason"] and str(aside) in captured.err
    assert main(["result", job.id]) == 1
    err = capsys.readouterr().err
    assert f"job {job.id}: its record job.json is damaged" in err and str(aside) in err
    assert not Path(store.job_file(job.id)).exists()  # no reader wrote a blank record


def test_a_read_only_state_dir_mid_run_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker died with an empty log and the answer was lost; after write access
    returned, the job read "its worker is gone: killed, crashed…" (defect 2)."""
    state_dir = paths.state_dir()
    started = Path(state_dir).parent / "provider-started"
    job = job_with(monkeypatch, f'touch "{started}"; sleep 0.5; echo KEPT')
    released = threading.Event()

    def lock_during_the_run() -> None:
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        with read_only(state_dir):  # from the provider's start until 2 s later
            time.sleep(2.0)
        released.set()

    runner = threading.Thread(target=lock_during_the_run)
    runner.start()
    ended = worker.run(job.id)
    runner.join()
    assert released.is_set()
    assert ended is not None and ended.state == "done"
    assert Path(store.output_file(job.id)).read_text() == "KEPT\n"
    assert rescue.take(job.id) is None


def test_an_answer_that_could_not_be_recorded_is_taken_in_by_the_next_reader(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Read-only until the job's time ran out: the answer is kept aside, the job ends with
    it when next read, and the reason names the real cause."""
    state_dir = paths.state_dir()
    started = Path(state_dir).parent / "provider-started"
    monkeypatch.setattr("omcm.calls.chain.MIN_RUN", 0.2)
    job = job_with(monkeypatch, f'touch "{started}"; sleep 0.3; echo LATE', timeout=2)
    locked = threading.Event()
    done = threading.Event()

    def lock_until_the_worker_gave_up() -> None:
        # From when the record says the provider runs (the worker writes that just after
        # starting it: wait for the record, not for the clock).
        while not done.is_set() and not (
            started.exists() and store.load(job.id, check=False).state == "running"
        ):
            time.sleep(0.01)
        with read_only(state_dir):
            locked.set()
            done.wait(30)

    runner = threading.Thread(target=lock_until_the_worker_gave_up)
    runner.start()
    try:
        assert worker.run(job.id) is None  # could not record it; gave up at its deadline
        assert locked.is_set()
        kept = rescue.take(job.id)
        assert kept is not None and kept["answer"] == "LATE"
        assert main(["jobs", "--all", "--json"]) == 0  # readers work, write access or not
        [row] = json.loads(capsys.readouterr().out)
        assert row["state"] == "running"
    finally:
        done.set()
        runner.join()
    store.update(job.id, lambda r: setattr(r, "worker_started", 1.0))  # its worker is gone
    seen = store.load(job.id)
    assert (seen.state, seen.provider) == ("done", "codex")
    assert "recorded late: the state dir cannot be written" in seen.reason
    assert Path(store.output_file(job.id)).read_text() == "LATE\n"
    assert rescue.take(job.id) is None


def test_a_short_job_timeout_is_the_jobs_whole_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook's 10 s margin was taken off background jobs too: a job with 30 s answering
    in 24 s timed out at 21 s (defect 4)."""
    job = job_with(monkeypatch, "sleep 3; echo IN TIME", timeout=9)
    ended = worker.run(job.id)
    assert ended is not None and ended.state == "done", ended

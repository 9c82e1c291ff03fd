"""Faults injected into real detached workers (issue 17): a killed batch worker, a SIGHUP.

The provider is a fake ``codex`` that sleeps before answering; each process it
starts is marked (``OMCM_TEST_MARK``) so the test can check that none is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omcm.core import paths
from omcm.jobs import store

SLOW = """#!/bin/sh
cat >/dev/null
sleep {delay}
echo '{{"type":"item.completed","item":{{"type":"agent_message","text":"done after {delay}s"}}}}'
echo '{{"type":"turn.completed","usage":{{"input_tokens":3,"output_tokens":2}}}}'
"""


@pytest.fixture
def mark(monkeypatch: pytest.MonkeyPatch) -> str:
    """A marker every process of the test carries in its environment."""
    value = f"omcm-faults-{os.getpid()}-{time.monotonic_ns()}"
    monkeypatch.setenv("OMCM_TEST_MARK", value)
    return value


def marked(value: str) -> list[int]:
    """The live processes that carry ``value`` in their environment."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if f"OMCM_TEST_MARK={value}".encode() in environ and stat.split(")")[-1].split()[0] != "Z":
            found.append(int(entry))
    return found


def provider(tmp_path: Path, delay: float) -> None:
    script = tmp_path / "codex"
    script.write_text(SLOW.format(delay=delay))
    script.chmod(0o755)
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "[routing]\nmax_workers = 8\n[routing.chains]\n"
        'low = ["codex"]\nmedium = ["codex"]\nhigh = ["codex"]\n'
        f'[providers.codex]\ncommand = "{script}"\n'
    )


def omcm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omcm", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def until(condition: Callable[[], Any], seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds}s")


def test_a_killed_batch_worker_stops_its_tasks_and_its_result_lists_every_task(
    tmp_path: Path, mark: str
) -> None:
    """The batch failed, but its two running tasks carried on unsupervised, the two not
    started were recorded nowhere and its result showed no partial summary (defect 5)."""
    provider(tmp_path, delay=30)
    plan = tmp_path / "plan.toml"
    plan.write_text(
        "max_concurrent = 2\n"
        + "".join(f"[[tasks]]\nid = 't{n}'\nprompt = 'task {n}'\n" for n in range(1, 5))
    )
    started = omcm("batch", str(plan), "--background", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    batch_id = started.stdout.split()[0]

    def running_tasks() -> list[store.JobRecord]:
        tasks = [r for r in store.all_jobs(check=False) if r.batch_id == batch_id]
        return [r for r in tasks if r.state == "running"] if len(tasks) == 2 else []

    tasks = until(running_tasks)
    batch = store.load(batch_id, check=False)
    assert batch.worker_pid is not None
    os.kill(batch.worker_pid, signal.SIGKILL)

    def stopped() -> bool:
        return all(store.load(t.id, check=False).finished for t in tasks)

    until(stopped, 60)  # they stop because the batch is gone (their reason says so)
    for task in tasks:
        ended = store.load(task.id)
        assert ended.state == "cancelled"
        assert ended.reason.startswith(f"its batch {batch_id} ended (failed: its worker")
    result = omcm("result", batch_id)
    assert result.returncode == 0  # a slash command's `!` line shows output only on success
    shown = result.stdout
    assert f"job {batch_id} failed: its worker (pid {batch.worker_pid}) is gone" in shown
    assert "How far it got:" in shown and "(2 cancelled, 2 not-started)" in shown
    rows = {line.split()[0]: line.split()[1] for line in shown.splitlines() if line[:1] == "t"}
    assert rows == {"t1": "cancelled", "t2": "cancelled", "t3": "not-started", "t4": "not-started"}
    until(lambda: not marked(mark), 5)


def test_a_hangup_does_not_stop_a_detached_worker(tmp_path: Path, mark: str) -> None:
    """The worker meant to ignore SIGHUP, but its run turned it back on (defect 6): it is
    in a session of its own, so a hangup is no terminal closing; its job goes on."""
    provider(tmp_path, delay=1.5)
    started = omcm("run", "--background", "--provider", "codex", "take your time", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    job_id = started.stdout.strip()
    running = until(lambda: (r := store.load(job_id)).state == "running" and r)
    assert running.worker_pid is not None
    os.kill(running.worker_pid, signal.SIGHUP)
    ended = until(lambda: (r := store.load(job_id)).finished and r)
    assert (ended.state, ended.reason) == ("done", "answered by codex")
    assert json.loads(omcm("jobs", "--json").stdout)[0]["state"] == "done"
    until(lambda: not marked(mark), 5)

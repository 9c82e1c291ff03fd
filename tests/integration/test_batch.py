"""The batch executor with a fake provider that logs when each task starts and ends.

``omcm batch --wait PLAN`` runs as a user would run it in a terminal (a real
process); the fake codex reads its task from stdin, notes the time, waits, and
answers (or fails, for a task whose prompt says FAIL; or writes a file, for the
worktree tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from omcm.calls import routing_log
from omcm.core import paths

FAKE = """#!/bin/sh
prompt=$(cat)
id=$(printf '%s' "$prompt" | head -n 1 | cut -d' ' -f1 | tr -d ':')
echo "$id start $(date +%s.%N)" >> "{log}"
sleep {delay}
case "$id" in
  *FAIL*) echo '{{"type":"turn.failed","error":{{"message":"boom from '"$id"'"}}}}'
          echo "$id end $(date +%s.%N)" >> "{log}"; exit 1;;
  *WRITE*) echo "$id was here" >> shared.txt;;
esac
echo '{{"type":"item.completed","item":{{"type":"agent_message","text":"answer for '"$id"'"}}}}'
echo '{{"type":"turn.completed","usage":{{"input_tokens":10,"cached_input_tokens":2,"output_tokens":5,"reasoning_output_tokens":1}}}}'
echo "$id end $(date +%s.%N)" >> "{log}"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "shared.txt").write_text("base\n")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    subprocess.run(["git", "-C", str(root), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "base"], check=True, env=env)
    return root


def fake(tmp_path: Path, delay: float = 0.6) -> Path:
    log = tmp_path / "timeline.log"
    script = tmp_path / "codex"
    script.write_text(FAKE.format(log=log, delay=delay))
    script.chmod(0o755)
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "[routing]\nmax_workers = 8\n[routing.chains]\n"
        'low = ["codex"]\nmedium = ["codex"]\nhigh = ["codex"]\n'
        f'[providers.codex]\ncommand = "{script}"\n'
    )
    return log


def timeline(log: Path) -> dict[str, tuple[float, float]]:
    spans: dict[str, dict[str, float]] = {}
    for line in log.read_text().splitlines():
        task, what, at = line.split()
        spans.setdefault(task, {})[what] = float(at)
    return {task: (s["start"], s["end"]) for task, s in spans.items()}


def run_batch(
    project: Path, text: str, *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    plan = project.parent / "plan.toml"
    plan.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "omcm", "batch", "--wait", "--json", str(plan), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "CLAUDECODE"},
    )
    summary = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done, summary


def task(summary: dict[str, Any], task_id: str) -> dict[str, Any]:
    return next(t for t in summary["tasks"] if t["id"] == task_id)


FIVE = """
max_concurrent = 3
[[tasks]]
id = "users"
prompt = "users: write src/users.py"
files = ["src/users.py"]
[[tasks]]
id = "auth"
prompt = "auth: write the auth package"
files = ["src/auth/**"]
[[tasks]]
id = "login"
prompt = "login: the login form"
files = ["src/auth/login.py"]
[[tasks]]
id = "tests"
prompt = "tests: test users and auth"
type = "test"
files = ["tests/**"]
depends_on = ["users", "auth"]
[[tasks]]
id = "readme"
prompt = "readme: document it"
type = "docs"
files = ["README.md"]
"""


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_the_schedule_keeps_dependencies_conflicts_and_the_cap(
    project: Path, tmp_path: Path
) -> None:
    log = fake(tmp_path)
    done, summary = run_batch(project, FIVE)
    assert done.returncode == 0, done.stderr
    spans = timeline(log)
    assert sorted(spans) == ["auth", "login", "readme", "tests", "users"]
    assert overlaps(spans["users"], spans["auth"])  # independent: together
    assert not overlaps(spans["auth"], spans["login"])  # their files overlap: never together
    assert spans["tests"][0] >= max(spans["users"][1], spans["auth"][1])  # after both
    starts = sorted((s, +1) for s, _ in spans.values()) + sorted((e, -1) for _, e in spans.values())
    running = peak = 0
    for _, change in sorted(starts):
        running += change
        peak = max(peak, running)
    assert peak <= 3
    assert summary["counts"] == {"done": 5}
    users = task(summary, "users")
    assert (users["status"], users["provider"], users["tokens"]) == (
        "done",
        "codex",
        {"input": 10, "cached": 2, "output": 5, "reasoning": 1},
    )
    lines = [routing_log.parse(x) for x in routing_log.read()]
    assert (
        sorted(e.batch_id for e in lines if isinstance(e, routing_log.CallEntry))
        == [summary["batch"]] * 5
    )


def test_a_failed_task_skips_its_dependents_and_the_rest_goes_on(
    project: Path, tmp_path: Path
) -> None:
    fake(tmp_path, delay=0.2)
    text = """
[[tasks]]
id = "build"
prompt = "FAILbuild: it breaks"
[[tasks]]
id = "deploy"
prompt = "deploy: after build"
depends_on = ["build"]
[[tasks]]
id = "notify"
prompt = "notify: after deploy"
depends_on = ["deploy"]
[[tasks]]
id = "docs"
prompt = "docs: independent"
"""
    done, summary = run_batch(project, text)
    assert done.returncode == 1
    assert task(summary, "build")["status"] == "failed"
    assert "boom from FAILbuild" in task(summary, "build")["reason"]
    assert (task(summary, "deploy")["status"], task(summary, "deploy")["reason"]) == (
        "skipped",
        "depends on build, which failed",
    )
    assert task(summary, "notify")["reason"] == "depends on deploy, which skipped"
    assert task(summary, "docs")["status"] == "done"


def test_stop_starts_nothing_after_a_failure_and_continue_runs_dependents(
    project: Path, tmp_path: Path
) -> None:
    fake(tmp_path, delay=0.2)
    base = """
strategy = "sequential"
on_failure = "{policy}"
[[tasks]]
id = "first"
prompt = "FAILfirst: breaks"
[[tasks]]
id = "second"
prompt = "second: after it"
depends_on = ["first"]
[[tasks]]
id = "third"
prompt = "third: independent"
"""
    _, stopped = run_batch(project, base.format(policy="stop"))
    assert [t["status"] for t in stopped["tasks"]] == ["failed", "not-started", "not-started"]
    assert task(stopped, "third")["reason"] == "the batch stopped after first failed"
    _, carried = run_batch(project, base.format(policy="continue"))
    assert [t["status"] for t in carried["tasks"]] == ["failed", "done", "done"]


def test_a_task_that_stays_on_claude_is_left_for_it_with_its_prompt(
    project: Path, tmp_path: Path
) -> None:
    fake(tmp_path, delay=0.1)
    text = """
[[tasks]]
id = "design"
prompt = "design: the architecture, carefully"
agent = "architect"
[[tasks]]
id = "impl"
prompt = "impl: build it"
depends_on = ["design"]
[[tasks]]
id = "pinned"
prompt = "pinned: stays home"
provider = "claude"
"""
    done, summary = run_batch(project, text)
    assert done.returncode == 1  # impl could not run
    assert task(summary, "design")["status"] == "left-for-claude"
    assert summary["left_for_claude"][0] == {
        "id": "design",
        "reason": "the agent is pinned to Claude (routing.prefer_claude or [agents.X])",
        "prompt": "design: the architecture, carefully",
    }
    assert task(summary, "impl")["reason"] == "depends on design, which is left for Claude"
    assert task(summary, "pinned")["status"] == "left-for-claude"


def test_worktrees_bring_changes_back_as_patches_and_keep_a_conflicting_one(
    project: Path, tmp_path: Path
) -> None:
    fake(tmp_path, delay=0.3)
    text = """
isolation = "worktree"
[[tasks]]
id = "one"
prompt = "WRITEone: edit shared.txt"
files = ["shared.txt"]
[[tasks]]
id = "two"
prompt = "WRITEtwo: edit shared.txt too"
files = ["shared.txt"]
"""
    done, summary = run_batch(project, text)
    one, two = task(summary, "one"), task(summary, "two")
    applied = [t for t in (one, two) if t["patch_applied"]]
    kept = [t for t in (one, two) if t["patch_applied"] is False]
    assert len(applied) == 1 and len(kept) == 1, summary
    assert applied[0]["files_changed"] == ["shared.txt"]
    assert Path(kept[0]["patch"]).is_file()
    assert "its patch does not apply to the project" in kept[0]["reason"]
    assert f"kept at {kept[0]['patch']}" in kept[0]["reason"]
    winner = applied[0]["id"]
    assert (project / "shared.txt").read_text() == f"base\nWRITE{winner} was here\n"
    listed = subprocess.run(
        ["git", "-C", str(project), "worktree", "list"], capture_output=True, text=True, check=True
    ).stdout
    assert len(listed.splitlines()) == 1  # the worktrees are gone
    assert done.returncode == 0


def test_an_invalid_plan_runs_nothing(project: Path, tmp_path: Path) -> None:
    log = fake(tmp_path)
    text = "[[tasks]]\nid='a'\nprompt='x'\ndepends_on=['b']\n[[tasks]]\nid='b'\nprompt='y'\ndepends_on=['a']\n"
    done, _ = run_batch(project, text)
    assert done.returncode == 1
    assert "dependency cycle a -> b -> a" in done.stderr
    time.sleep(0.3)
    assert not log.exists()
    assert not (Path(paths.state_dir()) / "jobs").exists()


def test_check_prints_waves_conflicts_routes_and_the_verdict(project: Path, tmp_path: Path) -> None:
    fake(tmp_path)
    plan = tmp_path / "plan.toml"
    plan.write_text(FIVE)
    done = subprocess.run(
        [sys.executable, "-m", "omcm", "batch", "--check", str(plan)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "canParallel: false (some tasks depend on others)" in out
    assert "  1. users, auth, readme\n  2. login, tests" in out
    assert "  auth (src/auth/**) before login (src/auth/login.py)" in out
    assert "  users: executor (MEDIUM) → codex (model gpt-5.2-codex)  [mode-hulw]" in out
    assert "  readme: writer (LOW) → codex" in out
    as_json = subprocess.run(
        [sys.executable, "-m", "omcm", "batch", "--check", "--json", str(plan)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(as_json.stdout)
    assert report["conflicts"] == [
        {"first": "auth", "then": "login", "patterns": ["src/auth/**", "src/auth/login.py"]}
    ]
    assert report["routes"]["tests"]["runs_on"] == ["codex"]

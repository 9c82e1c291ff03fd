"""An interrupted or timed-out hook never leaves a provider running, and the call is logged.

The hook runs as Claude Code runs it: ``sh hooks/omcm-hook pre-tool-use`` with the
payload on stdin, routed (fusion_default) to a fake provider that starts a
grandchild and then waits. The launcher execs Python, so the process Claude Code
started is the Python hook itself. Once the provider is running, a signal goes
to it, as Esc or the hook's timeout would send it, or its parent exits (Claude
Code quitting); the provider's whole process group must be gone within 3 s, the
worker slot free, and the routing log must hold the call.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from omcm.calls import routing_log, slots
from omcm.core import paths
from tests.processes import group_members, stat

REPO = Path(__file__).resolve().parents[2]
REPO_PYTHON = REPO / ".venv" / "bin" / "python"
LAUNCHER = REPO / "hooks" / "omcm-hook"

PROVIDER = """#!/bin/sh
cat >/dev/null
sleep 60 &
echo "$$ $PPID $!" > "{marker}.tmp" && mv "{marker}.tmp" "{marker}"
wait
"""


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped by init counts as gone)."""
    fields = stat(pid)
    return fields is not None and fields[0] != "Z"


def group(pgid: int) -> list[int]:
    return list(group_members(pgid))


@pytest.fixture
def routed(tmp_path: Path) -> Path:
    """A config that routes general-purpose to the fake provider with one worker slot."""
    if not REPO_PYTHON.exists():
        pytest.fail(f"{REPO_PYTHON} is missing: run scripts/setup", pytrace=False)
    marker = tmp_path / "provider.pids"
    fake = tmp_path / "slow-codex"
    fake.write_text(PROVIDER.format(marker=marker))
    fake.chmod(0o755)
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "fusion_default = true\n[routing]\nmax_workers = 1\n[routing.chains]\n"
        f'medium = ["codex"]\n[providers.codex]\ncommand = "{fake}"\n'
    )
    return marker


def start_hook(tmp_path: Path, *, under_a_parent: bool = False) -> subprocess.Popen[str]:
    payload = {
        "session_id": "cancel-session",
        "hook_event_name": "PreToolUse",
        "cwd": str(tmp_path),
        "tool_name": "Agent",
        "tool_use_id": "toolu_cancel",
        "tool_input": {"description": "slow", "prompt": "take your time", "subagent_type": "x"},
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE")}
    env.update(OMCM_PYTHON=str(REPO_PYTHON), CLAUDE_PLUGIN_ROOT=str(REPO), TMPDIR=str(tmp_path))
    argv = ["sh", str(LAUNCHER), "pre-tool-use"]
    if under_a_parent:  # a shell that stays (": " keeps it from exec'ing the launcher)
        argv = ["sh", "-c", 'sh "$0" pre-tool-use; :', str(LAUNCHER)]
    hook = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert hook.stdin is not None
    hook.stdin.write(json.dumps(payload))
    hook.stdin.close()
    return hook


def wait_for(marker: Path, hook: subprocess.Popen[str]) -> tuple[int, int, int]:
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert hook.poll() is None, hook.communicate()
        assert time.monotonic() < deadline, "the provider never started"
        time.sleep(0.05)
    provider, python_hook, grandchild = map(int, marker.read_text().split())
    return provider, python_hook, grandchild


def log_lines() -> list[dict[str, object]]:
    log = Path(paths.routing_log())
    return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []


SIGNALS = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL]


@pytest.mark.parametrize("sig", SIGNALS, ids=[s.name for s in SIGNALS])
def test_a_signal_stops_the_provider_frees_the_slot_and_logs_the_call(
    tmp_path: Path, routed: Path, sig: signal.Signals
) -> None:
    hook = start_hook(tmp_path)
    try:
        provider, python_hook, grandchild = wait_for(routed, hook)
        assert python_hook == hook.pid, "the launcher did not exec Python"
        assert {provider, grandchild} <= set(group(provider))
        os.kill(hook.pid, sig)
        sent = time.monotonic()
        while group(provider) and time.monotonic() - sent < 10:
            time.sleep(0.05)
        assert group(provider) == [], "the provider outlived the hook by 10 s"
        deadline = time.monotonic() + 5
        while not log_lines() and time.monotonic() < deadline:
            time.sleep(0.05)
        [line] = log_lines()
        entry = routing_log.parse(line)
        assert isinstance(entry, routing_log.CallEntry), line
        assert (entry.tool_use_id, entry.outcome, entry.decision) == (
            "toolu_cancel",
            "cancelled",
            "providers",
        )
        assert [(a.provider, a.outcome) for a in entry.attempts] == [("codex", "cancelled")]
        if sig == signal.SIGKILL:
            assert entry.error == "the hook process was killed; the watchdog stopped the provider"
        else:
            assert entry.error == f"stopped by {sig.name}"
        with slots.acquire(1, time.monotonic() + 2) as slot:  # type: ignore[union-attr]
            assert slot is not None
        if sig != signal.SIGKILL:
            assert hook.wait(timeout=10) == 0
            assert hook.stdout is not None
            out = hook.stdout.read()
            assert "was cancelled (stopped by" in json.loads(out)["systemMessage"]
        counted = Path(paths.state_file("fusion-state.json"))
        deadline = time.monotonic() + 5  # the watchdog counts the call just after logging it
        while not counted.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        counters = json.loads(counted.read_text())
        assert counters["sessions"]["cancel-session"]["calls"] == 1
    finally:
        if hook.poll() is None:
            hook.kill()
            hook.wait()


def test_the_parent_exiting_stops_the_provider_and_logs_the_call(
    tmp_path: Path, routed: Path
) -> None:
    """Claude Code quitting mid-call: the hook's parent is gone, so is the provider."""
    parent = start_hook(tmp_path, under_a_parent=True)
    python_hook = 0
    try:
        provider, python_hook, _ = wait_for(routed, parent)
        assert python_hook != parent.pid
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while (group(provider) or not log_lines()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert group(provider) == [], "the provider outlived the hook's parent by 5 s"
        [line] = log_lines()
        entry = routing_log.parse(line)
        assert isinstance(entry, routing_log.CallEntry), line
        assert (entry.outcome, entry.error) == (
            "cancelled",
            "the process that started the hook exited",
        )
        while alive(python_hook) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(python_hook)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if python_hook:
            with contextlib.suppress(ProcessLookupError):
                os.kill(python_hook, signal.SIGKILL)

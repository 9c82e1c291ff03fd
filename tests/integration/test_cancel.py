"""An interrupted or timed-out hook never leaves a provider running, and the call is logged.

The hook runs as Claude Code runs it: ``sh hooks/omcm-hook pre-tool-use`` with the
payload on stdin, routed (fusion_default) to a fake provider that starts a
grandchild and then waits. Once the provider is running, a signal goes to the
launcher or to the Python hook process, as Esc or the hook's timeout would send
it; the provider's whole process group must be gone within 3 s, the worker slot
free, and the routing log must hold the call.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from omcm.calls import routing_log, slots
from omcm.core import paths

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
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def group(pgid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid and alive(int(entry)):
                    found.append(int(entry))
            except (ProcessLookupError, PermissionError):
                continue
    return found


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


def start_hook(tmp_path: Path) -> subprocess.Popen[str]:
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
    hook = subprocess.Popen(
        ["sh", str(LAUNCHER), "pre-tool-use"],
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


CASES = [
    ("launcher", signal.SIGTERM),
    ("launcher", signal.SIGINT),
    ("launcher", signal.SIGHUP),
    ("hook", signal.SIGTERM),
    ("hook", signal.SIGINT),
    ("hook", signal.SIGHUP),
    ("hook", signal.SIGKILL),
    ("launcher", signal.SIGKILL),
]


@pytest.mark.parametrize(("target", "sig"), CASES, ids=[f"{t}-{s.name}" for t, s in CASES])
def test_a_signal_stops_the_provider_frees_the_slot_and_logs_the_call(
    tmp_path: Path, routed: Path, target: str, sig: signal.Signals
) -> None:
    hook = start_hook(tmp_path)
    try:
        provider, python_hook, grandchild = wait_for(routed, hook)
        assert {provider, grandchild} <= set(group(provider))
        os.kill(hook.pid if target == "launcher" else python_hook, sig)
        sent = time.monotonic()
        while group(provider) and time.monotonic() - sent < 3:
            time.sleep(0.05)
        assert group(provider) == [], "the provider outlived the hook by 3 s"
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
        if sig == signal.SIGKILL and target == "hook":
            assert entry.error == "the hook process was killed; the watchdog stopped the provider"
        elif sig == signal.SIGKILL:
            assert entry.error == "the hook's launcher exited"
        elif target == "launcher":  # it passes any stopping signal on as TERM
            assert entry.error == "stopped by SIGTERM"
        else:
            assert entry.error == f"stopped by {sig.name}"
        with slots.acquire(1, time.monotonic() + 2) as slot:  # type: ignore[union-attr]
            assert slot is not None
        if sig != signal.SIGKILL:
            assert hook.wait(timeout=10) == 0
            assert hook.stdout is not None
            out = hook.stdout.read()
            if target == "hook":  # the launcher printed what the hook answered
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

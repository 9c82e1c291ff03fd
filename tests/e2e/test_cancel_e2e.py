"""The real provider CLIs are stopped with the hook: Esc, the hook's timeout, or a kill.

The launcher runs the PreToolUse hook as Claude Code does, routed to the pinned
codex, gemini or opencode, whose stub model server never answers. When the CLI
has sent its model request, SIGTERM (what Claude Code sends on Esc or the
hook's timeout) or SIGKILL (nothing can be caught: the watchdog must act) goes
to the process Claude Code started, which is the Python hook (the launcher
execs it). Every process of the CLI (codex is a node wrapper around a
native binary; gemini relaunches itself) must be gone within 3 s, and the call
must be in the routing log as cancelled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w

from omcm.calls import routing_log
from tests.e2e.stub_models import SETUPS, Reply, StubModels
from tests.integration.test_cancel import LAUNCHER, REPO, REPO_PYTHON, alive

pytestmark = pytest.mark.e2e

CLIS = ("codex", "gemini", "opencode")


@pytest.fixture
def hanging() -> Iterator[StubModels]:
    with StubModels(Reply(hang=True)) as stub:
        yield stub


def processes_of(cli: str, home: Path) -> list[int]:
    marker = f"HOME={home}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if cli.encode() in cmdline and marker in environ.split(b"\0") and alive(int(entry)):
            found.append(int(entry))
    return found


@pytest.mark.parametrize("cli", CLIS)
@pytest.mark.parametrize("how", ["TERM", "KILL"])
def test_the_cli_dies_with_the_hook(
    cli: str, how: str, hanging: StubModels, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    setup = SETUPS[cli](hanging.url, home)
    state, config = tmp_path / "state", tmp_path / "config"
    config.mkdir()
    table = setup.table(cli, model=dict.fromkeys(("low", "medium", "high"), setup.model))
    (config / "config.toml").write_text(
        tomli_w.dumps(
            {
                "fusion_default": True,
                "routing": {"chains": {"medium": [cli]}},
                "providers": {cli: table},
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "OMCM_"))}
    env |= setup.env | {
        "OMCM_PYTHON": str(REPO_PYTHON),
        "CLAUDE_PLUGIN_ROOT": str(REPO),
        "OMCM_STATE_DIR": str(state),
        "OMCM_CONFIG_DIR": str(config),
    }
    project = tmp_path / "project"
    project.mkdir()
    payload = {
        "session_id": "e2e-cancel",
        "hook_event_name": "PreToolUse",
        "cwd": str(project),
        "tool_name": "Agent",
        "tool_use_id": "toolu_e2e_cancel",
        "tool_input": {"description": "d", "prompt": "never answered", "subagent_type": "x"},
    }
    hook = subprocess.Popen(
        ["sh", str(LAUNCHER), "pre-tool-use"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=project,
    )
    try:
        assert hook.stdin is not None
        hook.stdin.write(json.dumps(payload))
        hook.stdin.close()
        # opencode in a fresh home installs its model provider's package first: more than a
        # minute with both cores overloaded. The wait ends the moment the request arrives.
        deadline = time.monotonic() + 180
        while not hanging.model_requests():
            assert hook.poll() is None, "the hook ended before the CLI asked its model"
            assert time.monotonic() < deadline, "the CLI never reached its stub"
            time.sleep(0.1)
        running = processes_of(cli, home)
        assert running, "no CLI process found"
        # The launcher execs Python: the process Claude Code started is the hook itself.
        os.kill(hook.pid, signal.SIGTERM if how == "TERM" else signal.SIGKILL)
        sent = time.monotonic()
        # The watchdog kills the group the moment its pipe closes; the bound only says that
        # nothing was left behind, with room for an overloaded machine.
        while processes_of(cli, home) and time.monotonic() - sent < 10:
            time.sleep(0.05)
        assert processes_of(cli, home) == [], f"{cli} outlived the hook by 10 s"
        log = state / "routing-log.jsonl"
        while not log.exists() and time.monotonic() - sent < 60:
            time.sleep(0.05)
        [entry] = [routing_log.parse(json.loads(x)) for x in log.read_text().splitlines()]
        assert isinstance(entry, routing_log.CallEntry)
        assert (entry.outcome, [a.provider for a in entry.attempts]) == ("cancelled", [cli])
    finally:
        if hook.poll() is None:
            hook.kill()
        hook.wait()

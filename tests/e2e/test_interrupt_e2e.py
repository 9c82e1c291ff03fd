"""Claude Code itself stops a routed call: the hook's timeout (``-p``) or Esc (interactive).

Observed on the real CLIs (see the README): at a PreToolUse hook's timeout, and on
Esc, 2.1.332 sends SIGTERM to the hook's process group and SIGKILL to its whole
process tree 1.5 s later; 2.1.197 sends SIGTERM to the group and every descendant,
then SIGKILL to the group; 2.1.62 SIGKILLs every process of the tree at once.
Whatever the version, the provider CLI (codex against a stub model server that
never answers) must be gone within 3 s, and the call must be in the routing log
as cancelled: written by the hook when it gets the chance, by the watchdog when
it is killed outright.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w

from omcm.calls import routing_log
from tests.e2e.claude import (
    NEWEST,
    REPO_PYTHON,
    SUBAGENT_TOOL,
    VERSIONS,
    Sandbox,
    copy_repo,
    wait_until_ready,
)
from tests.e2e.stub_anthropic import AgentScript, StubAnthropic
from tests.e2e.stub_models import Reply, StubModels, codex_setup
from tests.e2e.test_cancel_e2e import processes_of

pytestmark = pytest.mark.e2e

TOOL_USE_ID = "toolu_e2e_interrupt"
HOOK_TIMEOUT = 5


@pytest.fixture
def hanging() -> Iterator[StubModels]:
    with StubModels(Reply(hang=True)) as stub:
        yield stub


def routed_sandbox(
    root: Path, version: str, api_url: str, models_url: str, *, jobs: bool = True
) -> Sandbox:
    """A user whose explore calls go to codex (at the hanging stub) and nowhere else
    (``jobs=False``: with background jobs turned off, so every routed call blocks)."""
    sandbox = Sandbox(root, version, api_url)
    setup = codex_setup(models_url, sandbox.home)
    sandbox.extra_env.update(setup.env | {"OMCM_PYTHON": str(REPO_PYTHON)})
    codex = setup.table("codex")
    sandbox.write_config(
        tomli_w.dumps(
            {
                "fusion_default": True,
                "delegation": {"retry": False},
                "routing": {"chains": {"low": ["codex"]}},
                "providers": {"codex": codex},
                "jobs": {"background": jobs},
            }
        )
    )
    return sandbox


def plugin_with_hook_timeout(root: Path, seconds: int) -> Path:
    plugin = copy_repo(root / "plugin")
    hooks = plugin / "hooks" / "hooks.json"
    data = json.loads(hooks.read_text())
    for group in data["hooks"]["PreToolUse"]:
        for hook in group["hooks"]:
            hook["timeout"] = seconds
    hooks.write_text(json.dumps(data, indent=2))
    return plugin


def cancelled_line(sandbox: Sandbox, within: float = 10) -> routing_log.CallEntry:
    deadline = time.monotonic() + within
    while True:
        lines = [line for line in sandbox.routing_log() if line.get("tool_use_id") == TOOL_USE_ID]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    [line] = lines
    entry = routing_log.parse(line)
    assert isinstance(entry, routing_log.CallEntry)
    return entry


EXPLORE = {
    "description": "look around",
    "prompt": "Find the entry point.",
    "subagent_type": "Explore",
}


@pytest.mark.parametrize("version", VERSIONS)
def test_the_hooks_timeout_stops_the_provider(
    version: str, hanging: StubModels, tmp_path: Path
) -> None:
    script = AgentScript(
        EXPLORE | {"run_in_background": False}, SUBAGENT_TOOL[version], TOOL_USE_ID
    )
    with StubAnthropic(script) as stub:
        sandbox = routed_sandbox(tmp_path, version, stub.url, hanging.url)
        plugin = plugin_with_hook_timeout(tmp_path, HOOK_TIMEOUT)
        run = sandbox.prompt("OMCM e2e: explore it", plugin_dir=plugin, timeout=120)
    assert hanging.model_requests(), "codex never reached its model"
    # The hook timed out, so it failed open: the subagent ran on Claude after all.
    assert run.returncode == 0, run.describe()
    assert "SUBAGENT-RAN" in run.result.get("result", ""), run.describe()
    assert processes_of("codex", sandbox.home) == []
    entry = cancelled_line(sandbox)
    assert (entry.outcome, [(a.provider, a.outcome) for a in entry.attempts]) == (
        "cancelled",
        [("codex", "cancelled")],
    )
    if version == "2.1.62":  # everything SIGKILLed at once: the watchdog wrote it
        assert entry.error == "the hook process was killed; the watchdog stopped the provider"
    else:
        assert entry.error == "stopped by SIGTERM"


def test_esc_in_an_interactive_session_stops_the_provider(
    hanging: StubModels, tmp_path: Path
) -> None:
    """Interactive 2.1.332 runs every subagent in the background (the call has no
    ``run_in_background`` to set), so a routed call blocks only with background jobs off;
    Esc then interrupts the hook. (A background job runs on: ``/omcm:cancel-job``.)"""
    script = AgentScript(EXPLORE, "Agent", TOOL_USE_ID)
    with StubAnthropic(script) as stub:
        sandbox = routed_sandbox(tmp_path, NEWEST, stub.url, hanging.url, jobs=False)
        with sandbox.interactive("--permission-mode", "default") as term:
            wait_until_ready(term)
            term.send("OMCM e2e: explore it", enter=True)
            deadline = time.monotonic() + 60
            while not hanging.model_requests():
                assert time.monotonic() < deadline, f"codex never started:\n{term.screen()}"
                time.sleep(0.1)
            assert processes_of("codex", sandbox.home)
            term.key("Escape")
            pressed = time.monotonic()
            while processes_of("codex", sandbox.home) and time.monotonic() - pressed < 10:
                time.sleep(0.05)
            assert processes_of("codex", sandbox.home) == [], term.screen()
            term.wait_for("Interrupted", timeout=30)
        entry = cancelled_line(sandbox)
    assert (entry.outcome, entry.error) == ("cancelled", "stopped by SIGTERM")

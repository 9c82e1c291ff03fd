"""The ollama provider end to end: the real agent CLIs against a stub Ollama server.

The stub (:class:`tests.e2e.stub_models.StubModels` with ``ollama=``) answers the
Ollama endpoints the CLIs and OMCM look at (``/api/tags``, ``/api/version``,
``/v1/models``) and the model calls (``/v1/chat/completions`` for OpenCode,
``/v1/responses`` for ``codex --oss``), and records a pull should anything ask
for one. Calls come through the PreToolUse hook as a real process, and once
through the newest Claude Code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from omcm.calls import routing_log
from tests.e2e.claude import NEWEST, SUBAGENT_TOOL, Sandbox
from tests.e2e.stub_anthropic import StubAnthropic, tool_result_text, tool_results
from tests.e2e.stub_models import Reply, StubModels, StubUsage, opencode_home_env, pinned_bin
from tests.e2e.test_routing_e2e import CallsScript, agent_call
from tests.integration.hookrun import run_hook

pytestmark = pytest.mark.e2e

MODEL = "qwen3:8b"
USAGE = StubUsage(input=4321, cached=21, output=87, reasoning=0)
ANSWER = "local model says: the tests pass"


def table(agent: str, host: str) -> dict[str, Any]:
    return {
        "agent": agent,
        "command": str(pinned_bin(agent)),
        "host": host,
        "model": {"low": MODEL},
    }


def write_config(root: Path, agent: str, host: str) -> dict[str, str]:
    """OMCM's config (LOW agents → ollama only) and the environment the hook runs with."""
    config = root / "omcm-config"
    config.mkdir(parents=True, exist_ok=True)
    data = {
        "fusion_default": True,
        "routing": {"chains": {"low": ["ollama"]}},
        "providers": {"ollama": table(agent, host)},
    }
    (config / "config.toml").write_text(tomli_w.dumps(data))
    env = opencode_home_env(root / "home")
    (root / "home" / ".codex").mkdir(exist_ok=True)
    env["CODEX_HOME"] = str(root / "home" / ".codex")
    env["OMCM_CONFIG_DIR"] = str(config)
    env["OMCM_STATE_DIR"] = str(root / "omcm-state")
    return env


def explore_call(project: Path, tool_use_id: str) -> dict[str, Any]:
    return {
        "session_id": "s-ollama",
        "transcript_path": "",
        "cwd": str(project),
        "hook_event_name": "PreToolUse",
        "tool_name": "Agent",
        "tool_use_id": tool_use_id,
        "tool_input": {
            "subagent_type": "Explore",
            "prompt": "Where is main?",
            "description": "find",
        },
    }


def log_lines(env: dict[str, str]) -> list[routing_log.CallEntry]:
    path = Path(env["OMCM_STATE_DIR"]) / "routing-log.jsonl"
    lines = [routing_log.parse(json.loads(raw)) for raw in path.read_text().splitlines()]
    return [line for line in lines if isinstance(line, routing_log.CallEntry)]


@pytest.mark.parametrize(("agent", "dialect"), [("opencode", "chat"), ("codex", "responses")])
def test_a_routed_call_runs_on_the_local_model(agent: str, dialect: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    with StubModels(Reply(text=ANSWER, usage=USAGE), ollama=(MODEL, "llama3.2:latest")) as stub:
        env = write_config(tmp_path, agent, stub.url)
        answer, _done = run_hook("pre-tool-use", explore_call(project, "t-1"), env=env, timeout=120)
        requests = stub.requests
    assert answer is not None, _done.stderr
    reason = answer["hookSpecificOutput"]["permissionDecisionReason"]
    assert ANSWER in reason and "completed by Ollama (local)" in reason
    model_calls = [r for r in requests if r.dialect == dialect]
    assert model_calls and all(r.body["model"] == MODEL for r in model_calls)
    assert not [r for r in requests if r.path == "/api/pull"]
    assert [r for r in requests if r.path == "/api/tags"]  # OMCM (and codex) looked first
    [line] = log_lines(env)
    assert (line.outcome, line.provider, line.model) == ("routed", "ollama", MODEL)
    assert line.tokens.input == USAGE.input and line.tokens.output == USAGE.output


def test_a_missing_model_is_skipped_with_the_pull_command(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    with StubModels(Reply(text=ANSWER), ollama=("llama3.2:latest",)) as stub:
        env = write_config(tmp_path, "codex", stub.url)
        answer, _done = run_hook("pre-tool-use", explore_call(project, "t-2"), env=env, timeout=60)
        requests = stub.requests
    assert answer is not None and "hookSpecificOutput" not in answer  # Claude runs it itself
    assert f"ollama pull {MODEL}" in answer["systemMessage"]
    assert not [r for r in requests if r.dialect != "other" or r.path == "/api/pull"]
    [line] = log_lines(env)
    assert (line.outcome, line.reason) == ("claude", "no-provider-available")
    assert line.skipped == {
        "ollama": f"model {MODEL} is not on the Ollama server at {stub.url}; OMCM never pulls "
        f"a model itself (fix: ollama pull {MODEL})"
    }


def test_a_server_that_is_down_is_skipped(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    with StubModels(ollama=()) as stub:
        url = stub.url
    env = write_config(tmp_path, "opencode", url)
    answer, _done = run_hook("pre-tool-use", explore_call(project, "t-3"), env=env, timeout=60)
    assert answer is not None and "is not answering" in answer["systemMessage"]
    [line] = log_lines(env)
    assert line.skipped["ollama"].startswith(f"the Ollama server at {url} is not answering")


def test_claude_code_hands_a_low_tier_subagent_to_the_local_model(
    tmp_path: Path, dev_python: Path
) -> None:
    calls = {"toolu_ollama_1": agent_call("Explore", "Find the entry point.")}
    with (
        StubModels(Reply(text=ANSWER, usage=USAGE), ollama=(MODEL,)) as models,
        StubAnthropic(CallsScript(SUBAGENT_TOOL[NEWEST], calls)) as anthropic,
    ):
        sandbox = Sandbox(tmp_path / "sandbox", NEWEST, anthropic.url)
        env = write_config(tmp_path, "opencode", models.url)
        sandbox.extra_env.update({k: v for k, v in env.items() if k.startswith("OPENCODE_")})
        sandbox.write_config((Path(env["OMCM_CONFIG_DIR"]) / "config.toml").read_text())
        run = sandbox.prompt("OMCM e2e: use the local model", timeout=150)
        conversation = anthropic.conversation()
    assert run.returncode == 0, run.describe()
    [result] = [b for r in conversation for b in tool_results(r, "toolu_ollama_1")]
    assert ANSWER in tool_result_text(result)
    [line] = [e for e in sandbox.routing_log() if e.get("tool_use_id") == "toolu_ollama_1"]
    assert (line["outcome"], line["provider"], line["model"]) == ("routed", "ollama", MODEL)

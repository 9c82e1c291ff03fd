"""The plugin's hooks inside the real Claude Code (2.1.197, and 2.1.62 whose tool is ``Task``).

One ``claude -p`` run per version, loaded with ``--plugin-dir <repo>``, against the
stub API scripted to call the subagent tool once; the tests below all read that
run. A second run per version has an invalid ``config.toml`` and checks that the
hooks fail open with the problem visible.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.claude import (
    LEGACY,
    PREVIOUS,
    REPO,
    REPO_PYTHON,
    SUBAGENT_TOOL,
    VERSIONS,
    ClaudeRun,
    Sandbox,
    background_by_default,
    claude_subagent_events,
    subagent_delay,
)
from tests.e2e.stub_anthropic import (
    AGENT_ID_HEADER,
    BACKGROUND_ACK,
    AgentScript,
    Reply,
    StubAnthropic,
    is_conversation,
    last_user_text,
    task_notifications,
    tool_result_text,
    tool_results,
)

pytestmark = pytest.mark.e2e

PROMPT = "OMCM e2e: please delegate the greeting"
AGENT_INPUT = {
    "description": "greet",
    "prompt": "Reply with exactly: hi from the subagent",
    "subagent_type": "general-purpose",
}


@dataclass
class ScriptedRun:
    version: str
    run: ClaudeRun
    stub: StubAnthropic
    script: AgentScript


def scripted_run(
    root: Path, version: str, config_toml: str | None = None, *, mcp: bool = False
) -> ScriptedRun:
    script = AgentScript(
        AGENT_INPUT,
        tool_name=SUBAGENT_TOOL[version],
        tool_use_id=f"toolu_e2e_{version.replace('.', '_')}",
        subagent_delay=subagent_delay(version),
    )
    with StubAnthropic(script) as stub:
        sandbox = Sandbox(root, version, stub.url)
        sandbox.mcp = mcp
        if config_toml is not None:
            sandbox.write_config(config_toml)
        run = sandbox.prompt(PROMPT)
    assert not stub.errors, stub.errors
    return ScriptedRun(version, run, stub, script)


@pytest.fixture(scope="module", params=list(VERSIONS))
def agent_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, dev_python: Path
) -> ScriptedRun:
    version = request.param
    # The whole plugin, MCP server included: the traffic test records what it adds.
    return scripted_run(tmp_path_factory.mktemp(f"claude-{version}"), version, mcp=True)


def test_run_completes_with_the_subagent_result(agent_run: ScriptedRun) -> None:
    run = agent_run.run
    assert run.returncode == 0, run.describe()
    assert run.result["is_error"] is False, run.describe()
    assert run.result["result"].startswith("DONE: SUBAGENT-RAN"), run.describe()
    # In the background the result comes back as a new one-turn exchange.
    assert run.result["num_turns"] == (1 if background_by_default(agent_run.version) else 2)


def test_hooks_reach_the_plugin_through_the_launcher(agent_run: ScriptedRun) -> None:
    payloads = agent_run.run.payloads()
    expected = claude_subagent_events(agent_run.version)
    assert [line["event"] for line in payloads] == expected, agent_run.run.describe()
    for line in payloads:
        assert line["python"] == str(REPO_PYTHON)
        assert line["plugin_root"] == str(REPO)
        assert line["payload"]["hook_event_name"] == line["event"]


def hook_count(hooks_file: Path) -> int:
    """How many hook commands a hooks file registers."""
    events = json.loads(hooks_file.read_text())["hooks"]
    return sum(len(group["hooks"]) for groups in events.values() for group in groups)


def test_hook_files_load(agent_run: ScriptedRun) -> None:
    """hooks/hooks.json loads on every supported version; newer events sit in their own file.

    One event name a Claude Code version does not know (2.1.62: ``StopFailure``)
    makes it drop every hook of that file, with only a line in the debug log.
    """
    log = agent_run.run.debug_log()
    assert "Failed to load hooks for omcm" not in log, (
        "hooks/hooks.json must only name events Claude Code 2.1.62 knows; put newer ones "
        "in the file .claude-plugin/plugin.json names under 'hooks'"
    )
    extra = json.loads((REPO / ".claude-plugin" / "plugin.json").read_text()).get("hooks", [])
    extra_files = [REPO / name for name in ([extra] if isinstance(extra, str) else extra)]
    expected = hook_count(REPO / "hooks" / "hooks.json")
    if agent_run.version != LEGACY:
        expected += sum(hook_count(path) for path in extra_files)
        assert "Failed to load hooks" not in log
    # 2.1.332 also counts its built-in plugins (which register no command hooks).
    assert re.search(rf"Registered {expected} hooks from \d+ plugins", log), log[-3000:]


def test_hook_payloads_carry_what_omcm_needs(agent_run: ScriptedRun) -> None:
    run, script = agent_run.run, agent_run.script
    project = os.path.realpath(run.sandbox.project)
    payloads: dict[str, dict[str, Any]] = {}
    for line in run.payloads():
        payloads.setdefault(line["event"], line["payload"])  # the first of each event
    assert run.session_id
    for payload in payloads.values():
        assert payload["session_id"] == run.session_id
        assert os.path.realpath(payload["cwd"]) == project
        assert payload["transcript_path"].startswith(str(run.sandbox.home / ".claude" / "projects"))
    assert payloads["SessionStart"]["source"] == "startup"
    assert payloads["UserPromptSubmit"]["prompt"] == PROMPT
    pre = payloads["PreToolUse"]
    assert pre["tool_name"] == SUBAGENT_TOOL[agent_run.version]
    assert pre["tool_use_id"] == script.tool_use_id
    for key in ("prompt", "subagent_type", "description"):
        assert pre["tool_input"][key] == AGENT_INPUT[key]
    assert payloads["Stop"]["stop_hook_active"] is False


def test_subagent_runs_in_claude_after_the_hook(agent_run: ScriptedRun) -> None:
    stub, script = agent_run.stub, agent_run.script
    [subagent] = stub.conversation(subagent=True)
    assert last_user_text(subagent) == AGENT_INPUT["prompt"]
    # 2.1.62 does not tag subagent requests; the stub recognises them by their tools.
    assert (AGENT_ID_HEADER in subagent.headers) == (agent_run.version != LEGACY)
    turns = stub.conversation()
    assert last_user_text(turns[0]) == PROMPT
    assert SUBAGENT_TOOL[agent_run.version] in turns[0].tool_names
    if background_by_default(agent_run.version):
        # The call is acknowledged at once; the result comes as a task notification.
        _first, ack, notified = turns
        [launched] = tool_results(ack, script.tool_use_id)
        assert tool_result_text(launched).startswith(BACKGROUND_ACK)
        [note] = task_notifications(notified)
        assert (note["tool-use-id"], note["status"]) == (script.tool_use_id, "completed")
        assert note["result"] == "SUBAGENT-RAN"
        return
    _first, second = turns
    [result] = tool_results(second, script.tool_use_id)
    assert tool_result_text(result).startswith("SUBAGENT-RAN")
    assert not result.get("is_error")


def test_claude_code_sends_only_the_conversation(agent_run: ScriptedRun) -> None:
    """Observed traffic, so a changed pin shows up here: no side requests offline."""
    requests = agent_run.stub.requests
    posts = [r for r in requests if r.method == "POST"]
    assert [(r.method, r.path) for r in requests if r.method != "POST"] == (
        [("HEAD", "/")] if agent_run.version == PREVIOUS else []  # only 2.1.197 probes
    )
    # 2.1.62 counts the tokens of the plugin's MCP tools (OMCM's) with count_tokens (the
    # stub answers it as the API does; refused, a one-token haiku request follows); the newer
    # do not.
    counted = [
        r
        for r in posts
        if r.path == "/v1/messages/count_tokens"
        or (r.max_tokens == 1 and r.tool_names and all(n.startswith("mcp__") for n in r.tool_names))
    ]
    posts = [r for r in posts if r not in counted]
    if agent_run.version == LEGACY:
        assert counted
        for request in counted:
            names = [tool["name"] for tool in request.body["tools"]]
            assert names and all(n.startswith("mcp__plugin_omcm_omcm__") for n in names)
    else:
        assert counted == []
    assert len(posts) == (4 if background_by_default(agent_run.version) else 3)
    for request in posts:
        assert (request.path, request.query) == ("/v1/messages", "beta=true")
        assert request.body["stream"] is True
        assert is_conversation(request)


def test_session_json_counts_the_events(agent_run: ScriptedRun) -> None:
    info = agent_run.run.session_info()
    # PostToolUse only records the subagent's usage; it does not touch session.json.
    events = [e for e in claude_subagent_events(agent_run.version) if e != "PostToolUse"]
    assert info["events"] == {event: events.count(event) for event in events}
    assert info["last_event"] == events[-1]
    assert info["source"] == "startup"
    assert os.path.realpath(info["cwd"]) == os.path.realpath(agent_run.run.sandbox.project)
    assert info["version"] == 1


# --- an invalid config.toml: the hooks fail open, the message is visible --------------

BAD_CONFIG = "[routing]\nmax_worker = 3\n"


@pytest.fixture(scope="module", params=list(VERSIONS))
def bad_config_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, dev_python: Path
) -> ScriptedRun:
    version = request.param
    return scripted_run(tmp_path_factory.mktemp(f"bad-config-{version}"), version, BAD_CONFIG)


def test_invalid_config_still_lets_the_run_finish(bad_config_run: ScriptedRun) -> None:
    run = bad_config_run.run
    assert run.returncode == 0, run.describe()
    assert run.result["result"].startswith("DONE: SUBAGENT-RAN"), run.describe()
    assert [line["event"] for line in run.payloads()] == claude_subagent_events(
        bad_config_run.version
    )


def test_invalid_config_is_named_in_a_system_message(bad_config_run: ScriptedRun) -> None:
    """``-p --output-format json`` drops hook systemMessages; the debug log keeps them."""
    run = bad_config_run.run
    config_file = run.sandbox.config_dir / "config.toml"
    log = run.sandbox.state_dir / "logs" / "errors.log"
    messages = run.system_messages()
    # SessionEnd only looks at the transcript when Claude hit its limit, and PostToolUse
    # only records the subagent's usage: neither reads the config.
    told = [
        e
        for e in claude_subagent_events(bad_config_run.version)
        if e not in ("SessionEnd", "PostToolUse")
    ]
    assert len(messages) == len(told), run.describe()
    for event, message in zip(told, messages, strict=True):
        assert f"({event} hook)" in message
        assert f"{config_file}: unknown key 'routing.max_worker'" in message
        assert "did you mean 'routing.max_workers'?" in message
        assert str(log) in message
    assert "unknown key 'routing.max_worker'" in log.read_text()


def test_system_message_reaches_the_transcript(bad_config_run: ScriptedRun) -> None:
    """2.1.197 records each as a ``hook_system_message`` (what the user is shown); 2.1.62 not."""
    run = bad_config_run.run
    shown = [
        line["attachment"]
        for line in run.transcript()
        if line.get("type") == "attachment"
        and line["attachment"].get("type") == "hook_system_message"
    ]
    if bad_config_run.version == LEGACY:
        assert shown == []
        return
    events = claude_subagent_events(bad_config_run.version)
    assert [item["hookEvent"] for item in shown] == [
        e for e in events if e not in ("SessionEnd", "PostToolUse")
    ]
    assert [item["content"] for item in shown] == run.system_messages()


# --- the stub's error replies reach Claude Code as API errors -------------------------


def test_stub_error_reply_is_an_api_error(sandbox: Sandbox, stub: StubAnthropic) -> None:
    stub.responder = lambda _request: Reply.error(400, "invalid_request_error", "stub says no")
    run = sandbox.prompt("hello", plugin_dir=None)
    assert run.returncode == 1, run.describe()
    assert run.result["is_error"] is True
    assert run.result["api_error_status"] == 400
    assert run.result["result"] == "API Error: 400 stub says no"

"""Keywords, session modes, slash commands and the autopilot Stop hook in the real Claude Code.

Claude Code 2.1.197 (and 2.1.62 for the slash commands and autopilot), loaded with
``--plugin-dir <repo>``, against the stub API. Each fixture is one fake user doing
one thing across one or two ``claude -p`` runs (the second one ``--resume``s the
session), or typing several commands in one session (``--input-format stream-json``);
the tests read those runs.

Observed on both versions: a command's `` !`…` `` line runs *before* the
UserPromptSubmit hook (the hook gets the typed ``/omcm:…`` text), and its output
replaces the line in the text the model gets; a failing line (exit status not 0,
or not allowed by ``allowed-tools``) ends the run silently with an empty result.
2.1.62 puts no plugin ``bin/`` on PATH and no ``CLAUDE_CODE_SESSION_ID`` in a `!`
line (the commands call ``"${CLAUDE_PLUGIN_ROOT}/bin/omcm"``; ``omcm`` then takes
the newest session OMCM saw in the project dir). ``/clear`` does not exist under
``-p``: the hook-process tests cover it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from omcm.hooks.session_start import RESULT_NOTE
from omcm.routing.modes import DONE_MARKER
from tests.e2e import stub_models
from tests.e2e.claude import (
    DENY_WRAPPER,
    LEGACY,
    MODERN,
    NEWEST,
    REPO,
    VERSIONS,
    ClaudeRun,
    Sandbox,
    background_by_default,
)
from tests.e2e.stub_anthropic import (
    AgentScript,
    Reply,
    Request,
    StubAnthropic,
    TurnScript,
    command_texts,
    context_text,
    is_main_conversation,
    is_subagent,
    last_user_text,
    new_text,
    tool_result_text,
    tool_results,
)

pytestmark = pytest.mark.e2e

ADDED_CONTEXT = "UserPromptSubmit hook additional context: "
HULW_TEXT = "OMCM hybrid ultrawork (hulw) mode is on for this session"


def main_turns(requests: list[Request]) -> list[Request]:
    return [r for r in requests if is_main_conversation(r)]


# --- the commands' `!` lines are allowed by their own frontmatter ----------------------

PROMPT_ONLY = {"ask", "consensus"}
"""Commands that only tell Claude which MCP tool to call: no `!` line (tests/e2e/test_mcp_e2e.py)."""
COMMANDS = sorted(p for p in (REPO / "commands").glob("*.md") if p.stem not in PROMPT_ONLY)
WITH_ARGUMENTS = {"result", "cancel-job", "batch", "review-gate"}
"""Commands whose `!` line takes the typed arguments (a job id)."""


def test_the_prompt_only_commands_run_nothing() -> None:
    for name in sorted(PROMPT_ONLY):
        text = (REPO / "commands" / f"{name}.md").read_text()
        assert "!`" not in text and "allowed-tools" not in text
        assert f"mcp__plugin_omcm_omcm__{name}" in text and "$ARGUMENTS" in text


def bang_line(text: str) -> tuple[str, str]:
    """(the command ``allowed-tools`` names, the command of the `!` line) of a command file."""
    allowed = re.search(r"^allowed-tools: Bash\((.*):\*\)$", text, re.MULTILINE)
    command = re.search(r"^!`(.*)`$", text, re.MULTILINE)
    assert allowed and command, "a command needs one `!` line and its allowed-tools"
    return allowed.group(1), command.group(1)


@pytest.mark.parametrize("path", COMMANDS, ids=[p.stem for p in COMMANDS])
def test_command_line_is_allowed_and_found_on_every_version(path: Path) -> None:
    """A `!` line its allowed-tools does not cover ends the run silently. 2.1.62 allows
    only the whole command (its ``:*`` matches no longer command) and has no ``omcm``
    on PATH in `!` lines; the plugin's own path works on both versions."""
    allowed, command = bang_line(path.read_text())
    if path.stem in WITH_ARGUMENTS:  # needs 2.1.197+: 2.1.62 allows only the exact command
        assert command == f"{allowed} $ARGUMENTS"
        return
    assert command == allowed
    assert command.startswith('"${CLAUDE_PLUGIN_ROOT}/bin/omcm" ')


@dataclass
class CommandRun:
    run: ClaudeRun
    said: str  # what the model was handed: the `!` line's output and the command text


@pytest.fixture(scope="module", params=VERSIONS)
def command_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, dev_python: Path
) -> dict[str, CommandRun]:
    """The commands the other fixtures do not run, each once, as one user: typed one after
    the other in one session, but ``/omcm:ulw`` in a second one (the tests read the mode each
    session ends with)."""
    version = request.param
    runs = {}
    with StubAnthropic(TurnScript(then=Reply.text("Command handled."))) as stub:
        sandbox = Sandbox(tmp_path_factory.mktemp(f"commands-{version}"), version, stub.url)
        for session in (
            [
                "/omcm:fusion-status",
                "/omcm:fusion-setup",
                "/omcm:hud-setup",
                "/omcm:hulw fix the flaky tests",
            ],
            ["/omcm:ulw fix the flaky tests"],
        ):
            typed = [prompt.split()[0] for prompt in session]
            done = sandbox.prompts(session)
            said = command_texts(stub.requests, typed)
            for name, run in zip(typed, done, strict=True):
                runs[name] = CommandRun(run, said[name])
            stub.clear()
    return runs


COMMAND_OUTPUT = {
    "/omcm:fusion-status": "calls:     0 subagent calls, 0 routed",
    "/omcm:fusion-setup": "✔ state dir: {state} is writable",
    "/omcm:hud-setup": "Installed OMCM's status line in {home}/.claude/settings.json",
    "/omcm:hulw": "OMCM hybrid ultrawork (hulw) mode is on for this session",
    "/omcm:ulw": "OMCM ultrawork (ulw) mode is on for this session",
}


@pytest.mark.parametrize("command", list(COMMAND_OUTPUT))
def test_command_output_reaches_the_model(
    command_runs: dict[str, CommandRun], command: str
) -> None:
    done = command_runs[command]
    run = done.run
    assert run.result["result"] == "Command handled.", run.describe()
    expected = COMMAND_OUTPUT[command].format(state=run.sandbox.state_dir, home=run.sandbox.home)
    assert expected in done.said
    if command in ("/omcm:hulw", "/omcm:ulw"):
        assert done.said.rstrip().endswith("Task: fix the flaky tests")
        assert run.session_mode()["mode"] == command.removeprefix("/omcm:")


# --- /omcm:fusion-default-on and -off ---------------------------------------------------

USER_CONFIG = "# my settings\n[routing]\nusage_threshold = 60\n"


@dataclass
class FusionToggle:
    config: Path
    runs: dict[str, ClaudeRun]
    requests: dict[str, list[Request]]
    texts: dict[str, str]  # config.toml after each command


@pytest.fixture(scope="module", params=VERSIONS)
def fusion_toggle(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, dev_python: Path
) -> FusionToggle:
    version = request.param
    with StubAnthropic(TurnScript(then=Reply.text("Fusion setting noted."))) as stub:
        sandbox = Sandbox(tmp_path_factory.mktemp(f"fusion-{version}"), version, stub.url)
        config = sandbox.write_config(USER_CONFIG)
        runs, requests, texts = {}, {}, {}
        for name in ("fusion-default-on", "fusion-default-off"):
            runs[name] = sandbox.prompt(f"/omcm:{name}")
            requests[name] = stub.requests
            texts[name] = config.read_text()
            stub.clear()
    return FusionToggle(config, runs, requests, texts)


def test_fusion_default_on_writes_config_keeping_the_rest(fusion_toggle: FusionToggle) -> None:
    run = fusion_toggle.runs["fusion-default-on"]
    assert run.returncode == 0, run.describe()
    assert fusion_toggle.texts["fusion-default-on"] == (
        "# my settings\nfusion_default = true\n\n[routing]\nusage_threshold = 60\n"
    )


def test_fusion_default_off_flips_it_back(fusion_toggle: FusionToggle) -> None:
    run = fusion_toggle.runs["fusion-default-off"]
    assert run.returncode == 0, run.describe()
    text = fusion_toggle.texts["fusion-default-off"]
    assert text == "# my settings\nfusion_default = false\n\n[routing]\nusage_threshold = 60\n"
    assert tomllib.loads(text) == {"fusion_default": False, "routing": {"usage_threshold": 60}}


@pytest.mark.parametrize(
    ("name", "value"), [("fusion-default-on", "true"), ("fusion-default-off", "false")]
)
def test_fusion_command_output_reaches_the_model(
    fusion_toggle: FusionToggle, name: str, value: str
) -> None:
    """Not the silent empty result of a refused `!` line: the model got the CLI's output."""
    run = fusion_toggle.runs[name]
    assert run.result["result"] == "Fusion setting noted.", run.describe()
    [turn] = main_turns(fusion_toggle.requests[name])
    said = last_user_text(turn)
    assert f"fusion_default = {value}  ({fusion_toggle.config})\n" in said
    assert f"OMCM saved `fusion_default = {value}` (output above)." in said
    assert "comments were not kept" not in said


# --- hulw: the mode text reaches the model, an Explore call is routed, resume keeps it ---

PROVIDER_ANSWER = "CODEX-STUB: the auth module is src/auth.py; login() checks the token."
EXPLORE = {
    "description": "find the auth code",
    "prompt": "Find the auth module and its tests",
    "subagent_type": "Explore",
}


@dataclass
class HulwSession:
    sandbox: Sandbox
    first: ClaudeRun
    resumed: ClaudeRun
    first_requests: list[Request]
    resumed_requests: list[Request]
    provider_requests: list[Any]
    script: AgentScript


def routing_config(models_url: str, home: Path) -> tuple[str, dict[str, str]]:
    """config.toml routing LOW tier to the pinned codex talking to the stub models, and
    the environment codex needs (the hook hands it on to the provider process)."""
    setup = stub_models.codex_setup(models_url, home)
    config = {
        "routing": {"chains": {"low": ["codex"]}},
        "providers": {
            "codex": {
                "command": str(stub_models.pinned_bin("codex")),
                "args": list(setup.args),
                "model": {"low": setup.model},
            }
        },
    }
    return tomli_w.dumps(config), setup.env


@pytest.fixture(scope="module", params=MODERN)
def hulw_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, dev_python: Path
) -> HulwSession:
    version = str(request.param)
    script = AgentScript(EXPLORE, tool_use_id="toolu_e2e_hulw_explore")
    with (
        stub_models.StubModels(stub_models.Reply(text=PROVIDER_ANSWER)) as models,
        StubAnthropic(script) as stub,
    ):
        sandbox = Sandbox(tmp_path_factory.mktemp(f"hulw-{version}"), version, stub.url)
        config, env = routing_config(models.url, sandbox.home)
        sandbox.write_config(config)
        sandbox.extra_env.update(env)
        first = sandbox.prompt("hulw: refactor the auth module")
        first_requests = stub.requests
        stub.clear()
        stub.responder = TurnScript(then=Reply.text("Resumed in hulw."))
        resumed = sandbox.prompt("now update its tests", extra_args=("--resume", first.session_id))
        resumed_requests = stub.requests
        provider_requests = models.model_requests()
    assert not stub.errors, stub.errors
    return HulwSession(
        sandbox, first, resumed, first_requests, resumed_requests, provider_requests, script
    )


def test_hulw_mode_text_is_the_context_of_the_next_request(hulw_session: HulwSession) -> None:
    run = hulw_session.first
    assert run.returncode == 0, run.describe()
    first = main_turns(hulw_session.first_requests)[0]
    assert last_user_text(first) == "hulw: refactor the auth module"
    assert ADDED_CONTEXT + HULW_TEXT in context_text(first)
    assert HULW_TEXT not in last_user_text(first)  # system context, not the user's turn


def test_hulw_mode_is_saved_for_the_session(hulw_session: HulwSession) -> None:
    mode = hulw_session.first.session_mode()
    assert (mode["mode"], mode["fusion"], mode["task"], mode["keyword"]) == (
        "hulw",
        True,
        "refactor the auth module",
        "hulw:",
    )


def test_explore_call_is_routed_by_the_mode(hulw_session: HulwSession) -> None:
    [entry] = hulw_session.sandbox.routing_log()
    assert entry["session_id"] == hulw_session.first.session_id
    assert entry["tool_use_id"] == hulw_session.script.tool_use_id
    assert (entry["agent"], entry["tier"], entry["decision"], entry["reason"]) == (
        "explore",
        "low",
        "providers",
        "mode-hulw",
    )
    assert (entry["outcome"], entry["provider"]) == ("routed", "codex")


def test_provider_answer_comes_back_as_the_subagent_result(hulw_session: HulwSession) -> None:
    [provider_request] = hulw_session.provider_requests
    assert EXPLORE["prompt"] in str(provider_request.body)
    turns = main_turns(hulw_session.first_requests)
    wrapper = DENY_WRAPPER[hulw_session.sandbox.version]
    [result] = tool_results(turns[1], hulw_session.script.tool_use_id)
    text = tool_result_text(result).removeprefix(wrapper)
    # Claude never ran the subagent's task itself (2.1.197: only the relay agent, below).
    subagents = [  # (the relay agent has no tools, so no request of it is a "conversation")
        r
        for r in hulw_session.first_requests
        if r.is_messages and is_subagent(r) and r.max_tokens != 1
    ]
    [note] = [m for m in hulw_session.first.system_messages() if "→" in m]
    assert note.startswith("OMCM: explore → codex")
    if background_by_default(hulw_session.sandbox.version):
        # The call runs on as a background job; its answer comes back by itself (the Stop
        # hook under -p) before the run ends.
        assert len(turns) == 3
        assert text.startswith(
            "[OMCM] This explore subagent task was handed to OpenAI Codex (model stub-model) "
            "as background job "
        )
        delivered = new_text(turns[2])
        assert "[OMCM] Background job " in delivered and PROVIDER_ANSWER in delivered
        assert hulw_session.first.result["result"].startswith("DONE: [OMCM] Background job ")
        assert subagents == []
        return
    # 2.1.197: answered in the hook, handed back through OMCM's relay agent (one small
    # haiku request whose output the PostToolUse hook replaces): an ordinary result.
    assert len(turns) == 2
    assert not result.get("is_error")
    assert text.startswith(
        "[OMCM] This explore subagent task was done by OpenAI Codex (model stub-model) "
        "instead of a Claude subagent; its result:"
    )
    assert PROVIDER_ANSWER in text
    [relay] = subagents
    assert relay.model.startswith("claude-haiku") and relay.tool_names == []
    assert "[OMCM] OpenAI Codex did this task" in str(relay.body)
    assert hulw_session.first.result["result"].startswith("DONE: [OMCM] This explore")


def test_resumed_session_keeps_hulw(hulw_session: HulwSession) -> None:
    run = hulw_session.resumed
    assert run.returncode == 0, run.describe()
    assert run.session_id == hulw_session.first.session_id
    assert run.session_mode()["mode"] == "hulw"
    [start] = [
        p["payload"] for p in run.payloads("SessionStart") if p["payload"]["source"] == "resume"
    ]
    assert start["session_id"] == run.session_id
    [turn] = main_turns(hulw_session.resumed_requests)
    assert last_user_text(turn) == "now update its tests"
    told = "SessionStart hook additional context: " + RESULT_NOTE + "\n\n" + HULW_TEXT
    assert told in context_text(turn)
    assert run.result["result"] == "Resumed in hulw."


# --- a question about a keyword changes nothing -----------------------------------------


def test_question_about_ulw_changes_nothing(sandbox: Sandbox, stub: StubAnthropic) -> None:
    run = sandbox.prompt("what does ulw do?")
    assert run.returncode == 0, run.describe()
    [hook] = run.payloads("UserPromptSubmit")
    assert hook["payload"]["prompt"] == "what does ulw do?"  # the hook did see it
    assert run.session_mode() == {}
    [turn] = main_turns(stub.requests)
    assert "UserPromptSubmit hook additional context" not in context_text(turn)
    assert [
        out["hookSpecificOutput"]["hookEventName"]
        for out in run.hook_outputs()
        if "hookSpecificOutput" in out
    ] == ["SessionStart"]  # only its note on OMCM results


# --- /omcm:autopilot, the Stop hook's continuation and cap, /omcm:cancel-autopilot ------

OPEN_TODO = "Write the todo model"
DONE_TODO = "Write the API"


def todo_steps(version: str) -> list[Reply]:
    """The model's todo list calls: the first item open, the second done (the real tools run).

    2.1.332 offers no todo tool at all (TaskCreate answers "No such tool available"):
    there the model keeps no list, and says it is done with a marker line instead.
    """
    if version == NEWEST:
        return []
    if version == LEGACY:  # TodoWrite: the whole list in one call
        return [
            Reply.tool_use(
                "TodoWrite",
                {
                    "todos": [
                        {
                            "content": OPEN_TODO,
                            "status": "pending",
                            "activeForm": "Writing the todo model",
                        },
                        {
                            "content": DONE_TODO,
                            "status": "completed",
                            "activeForm": "Writing the API",
                        },
                    ]
                },
            )
        ]
    # 2.1.197 has no TodoWrite: its task tools create and update one task per call, so the
    # list is every call together (the last call alone would name the finished task).
    return [
        Reply.tool_use("TaskCreate", {"subject": OPEN_TODO, "description": "the model"}),
        Reply.tool_use("TaskCreate", {"subject": DONE_TODO, "description": "REST API"}),
        Reply.tool_use("TaskUpdate", {"taskId": "2", "status": "completed"}),
    ]


@dataclass
class AutopilotSession:
    version: str
    run: ClaudeRun
    cancel: ClaudeRun
    requests: list[Request]
    cancel_requests: list[Request]
    mode_after_run: dict[str, Any]
    stops: list[dict[str, Any]]  # the first run's Stop hook payloads (the session id is shared)


@pytest.fixture(scope="module", params=VERSIONS)
def autopilot(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, dev_python: Path
) -> AutopilotSession:
    version = request.param
    # The pause stands for a real model's answer time: 2.1.62 writes the transcript through
    # a queue drained every 100 ms, and the Stop hook reads the todo list from it.
    script = TurnScript(
        *todo_steps(version),
        Reply.text("Pausing here.", delay=0.3),
        then=Reply.text("Still on it.", delay=0.3),
    )
    with StubAnthropic(script) as stub:
        sandbox = Sandbox(tmp_path_factory.mktemp(f"autopilot-{version}"), version, stub.url)
        sandbox.write_config("[autopilot]\nmax_continuations = 1\n")
        run = sandbox.prompt("/omcm:autopilot build a todo app", timeout=90)
        requests = stub.requests
        mode_after_run = run.session_mode()
        stops = [line["payload"] for line in run.payloads("Stop")]
        stub.clear()
        stub.responder = TurnScript(then=Reply.text("Autopilot ended."))
        cancel = sandbox.prompt(
            "/omcm:cancel-autopilot", extra_args=("--resume", run.session_id), timeout=90
        )
        cancel_requests = stub.requests
    assert not stub.errors, stub.errors
    return AutopilotSession(version, run, cancel, requests, cancel_requests, mode_after_run, stops)


def test_autopilot_command_sets_the_mode_with_the_task(autopilot: AutopilotSession) -> None:
    run = autopilot.run
    assert run.returncode == 0, run.describe()
    first = main_turns(autopilot.requests)[0]
    said = last_user_text(first)
    # The `!` line's output (from `omcm mode set autopilot`), then the command's text.
    assert "OMCM autopilot mode is on for this session" in said
    assert said.rstrip().endswith("Task: build a todo app")
    mode = autopilot.mode_after_run
    assert (mode["mode"], mode["task"]) == ("autopilot", "build a todo app")


def stop_reason_turns(requests: list[Request]) -> list[str]:
    """The Stop hook's reasons the model was handed as a new turn."""
    return [
        text
        for r in main_turns(requests)
        if "OMCM autopilot:" in (text := last_user_text(r) + context_text(r))
    ]


def test_stop_hook_continues_once_then_respects_the_cap(autopilot: AutopilotSession) -> None:
    run = autopilot.run
    assert run.result["result"] == "Still on it.", run.describe()
    [reason] = stop_reason_turns(autopilot.requests)
    if autopilot.version == NEWEST:
        assert (
            "OMCM autopilot: the task is not marked done yet.\nCarry on. When everything is "
            f"done and verified (run the tests), end your reply with the line {DONE_MARKER}."
        ) in reason
        left = "the task not marked done"
    else:
        assert (
            f"OMCM autopilot: 1 todo(s) are still open:\n- [ ] {OPEN_TODO}\nCarry on with the next one."
        ) in reason
        left = "1 todos still open"
    assert "(Continuation 1 of 1;" in reason
    # The continued turn is the last one: the cap let the next stop through.
    assert "OMCM autopilot:" in last_user_text(main_turns(autopilot.requests)[-1]) + context_text(
        main_turns(autopilot.requests)[-1]
    )
    assert [stop["stop_hook_active"] for stop in autopilot.stops] == [False, True]
    assert (
        f"OMCM autopilot: stopped after 1 continuations in a row with {left}."
        in run.system_messages()
    )


def test_cancel_autopilot_ends_it(autopilot: AutopilotSession) -> None:
    run = autopilot.cancel
    assert run.returncode == 0, run.describe()
    assert run.session_id == autopilot.run.session_id
    assert run.session_mode()["mode"] == ""
    [turn] = main_turns(autopilot.cancel_requests)  # no Stop-hook continuation any more
    said = last_user_text(turn)
    assert (
        "OMCM: autopilot mode ended for this session; subagents follow the normal "
        "routing rules again."
    ) in said
    assert said.rstrip().endswith(
        "summarise in two lines where the work stands, and wait for the user."
    )
    # The UserPromptSubmit hook, running after the `!` line, must not contradict it.
    assert "nothing to cancel" not in context_text(turn)
    assert run.result["result"] == "Autopilot ended."

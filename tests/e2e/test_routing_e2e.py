"""Fusion routing inside the real Claude Code, handing subagent work to the real CLIs.

Each scenario is one ``claude -p`` run (Claude Code 2.1.197, or 2.1.62 whose
subagent tool is ``Task``) with the plugin loaded from the checkout, against the
stub Anthropic API scripted to call the subagent tool, while the pinned codex,
gemini and opencode CLIs talk to their own stub model server
(tests/e2e/stub_models.py), one per CLI so each scenario scripts them apart.

The CLIs are reached the way a user's would be: OMCM runs them with Claude
Code's hook environment, so the variables that point them at the stubs are set
on the ``claude`` process; codex's stub model provider comes from the
provider's configured ``args`` in OMCM's config.toml.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.e2e.claude import (
    CURRENT,
    DENY_WRAPPER,
    LEGACY,
    MODERN,
    NEWEST,
    SUBAGENT_TOOL,
    ClaudeRun,
    Sandbox,
)
from tests.e2e.stub_anthropic import (
    AGENT_ID_HEADER,
    Reply,
    Request,
    StubAnthropic,
    is_main_conversation,
    is_subagent,
    issued,
    last_user_text,
    new_text,
    subagent_report,
    tool_result_text,
    tool_results,
)
from tests.e2e.stub_models import SETUPS, CliSetup, StubModels, StubUsage, pinned_bin
from tests.e2e.stub_models import Reply as ModelReply

pytestmark = pytest.mark.e2e

CLIS = ("codex", "gemini", "opencode")
LABELS = {"codex": "OpenAI Codex", "gemini": "Google Gemini", "opencode": "OpenCode"}
# Distinct counts per CLI, so a log line can only carry the one that answered.
USAGE = {
    "codex": StubUsage(input=1234, cached=100, output=56, reasoning=7),
    "gemini": StubUsage(input=2345, cached=200, output=67, reasoning=8),
    "opencode": StubUsage(input=3456, cached=300, output=78, reasoning=9),
}
PROMPT = "OMCM e2e: hand the subagent work over"
HEAD = (
    "[OMCM] This {agent} subagent task was completed by {label} (model {model}) instead of "
    "a Claude subagent."
)


def answer_of(cli: str) -> str:
    return f"{cli} stub says: the build is green"


# --- the stub Anthropic script: N subagent calls at once ------------------------------


class CallsScript:
    """The main conversation calls the subagent tool ``len(calls)`` times in one turn.

    * main conversation, no tool result yet → every ``tool_use`` block at once;
    * main conversation carrying the results → ``DONE``;
    * a subagent's request (the call ran in Claude) → ``SUBAGENT-RAN``;
    * anything else → ``ok``.
    """

    def __init__(self, tool_name: str, calls: dict[str, dict[str, Any]]) -> None:
        self.tool_name = tool_name
        self.calls = calls  # tool_use_id -> tool input

    def __call__(self, request: Request) -> Reply:
        if is_subagent(request):
            return Reply.text("SUBAGENT-RAN")
        if not is_main_conversation(request):
            return Reply.text("ok")
        if tool_results(request):
            return Reply.text("DONE")
        if any(issued(request, tool_use_id) for tool_use_id in self.calls):
            return Reply.text("DONE")  # a late answer (a background job's): the turn is over
        blocks = tuple(
            {"type": "tool_use", "id": tool_use_id, "name": self.tool_name, "input": tool_input}
            for tool_use_id, tool_input in self.calls.items()
        )
        return Reply(blocks=blocks, stop_reason="tool_use")


def agent_call(
    subagent_type: str,
    prompt: str,
    description: str = "e2e task",
    background: bool | None = False,
) -> dict[str, Any]:
    """A subagent call; ``background`` None leaves ``run_in_background`` out (2.1.198+:
    background). Most scenarios want a subagent that runs on Claude answered in-turn."""
    extra = {} if background is None else {"run_in_background": background}
    return extra | {
        "description": description,
        "prompt": prompt,
        "subagent_type": subagent_type,
    }


# --- one scenario: Claude Code + OMCM + the three CLIs against their stubs -------------


@dataclass
class Scenario:
    """A finished run and everything its tests read."""

    run: ClaudeRun
    anthropic: StubAnthropic
    models: dict[str, StubModels]
    calls: dict[str, dict[str, Any]]
    setups: dict[str, CliSetup]
    seen: dict[int, float]  # a watched CLI's processes: pid -> last time seen running

    @property
    def sandbox(self) -> Sandbox:
        return self.run.sandbox

    def result_for(self, tool_use_id: str) -> dict[str, Any]:
        """The tool_result Claude's next main-conversation request carries for ``tool_use_id``."""
        found = [
            block
            for request in self.anthropic.conversation()
            for block in tool_results(request, tool_use_id)
        ]
        assert len(found) == 1, (found, self.run.describe())
        return found[0]

    def text_for(self, tool_use_id: str) -> str:
        """The text of that tool_result, without the wrapper a version puts around a deny."""
        text = tool_result_text(self.result_for(tool_use_id))
        return text.removeprefix(DENY_WRAPPER[self.sandbox.version])

    def log_for(self, tool_use_id: str) -> dict[str, Any]:
        [line] = [line for line in self.sandbox.routing_log() if line["tool_use_id"] == tool_use_id]
        return line

    def deny_reasons(self) -> list[str]:
        return [
            out["hookSpecificOutput"]["permissionDecisionReason"]
            for out in self.run.hook_outputs()
            if out.get("hookSpecificOutput", {}).get("permissionDecision") == "deny"
        ]


def provider_table(cli: str, setup: CliSetup, **settings: Any) -> dict[str, Any]:
    """``[providers.CLI]``: the pinned program, its stub arguments, the stub's model."""
    return setup.table(cli, model=dict.fromkeys(("low", "medium", "high"), setup.model)) | settings


def run_scenario(
    root: Path,
    calls: dict[str, dict[str, Any]],
    models: dict[str, StubModels],
    *,
    config: dict[str, Any],
    providers: dict[str, dict[str, Any]] | None = None,
    version: str = CURRENT,
    watch: str = "",
) -> Scenario:
    """Run ``claude -p`` once with the subagent ``calls`` scripted and OMCM's ``config``.

    ``providers`` adds settings per CLI (e.g. a timeout); ``watch`` names a CLI whose
    processes are noted (pid, last time seen) while the run lasts.
    """
    if any(not pinned_bin(cli).exists() for cli in CLIS):
        pytest.fail("a pinned provider CLI is missing: run scripts/setup --e2e", pytrace=False)
    script = CallsScript(SUBAGENT_TOOL[version], calls)
    with StubAnthropic(script) as anthropic:
        sandbox = Sandbox(root, version, anthropic.url)
        setups = {cli: SETUPS[cli](models[cli].url, sandbox.home) for cli in CLIS}
        for setup in setups.values():
            sandbox.extra_env.update(setup.env)
        tables = {
            cli: provider_table(cli, setup, **(providers or {}).get(cli, {}))
            for cli, setup in setups.items()
        }
        # These scenarios check the answer as a hook's deny; the relay agent that Claude Code
        # 2.1.197+ allows instead (delegation.relay, on by default) has tests of its own
        # (test_relay_e2e.py).
        delegation = {"relay": False} | config.get("delegation", {})
        sandbox.write_config(
            tomli_w.dumps(config | {"delegation": delegation, "providers": tables})
        )
        seen: dict[int, float] = {}
        stop = threading.Event()
        watcher = threading.Thread(target=_watch, args=(watch, sandbox.home, seen, stop))
        if watch:
            watcher.start()
        try:
            run = sandbox.prompt(PROMPT, timeout=150)
        finally:
            stop.set()
            if watch:
                watcher.join()
    assert not anthropic.errors, anthropic.errors
    assert run.returncode == 0, run.describe()
    assert run.result.get("result") == "DONE", run.describe()  # Claude got every result
    return Scenario(run, anthropic, models, calls, setups, seen)


@pytest.fixture
def models() -> Iterator[dict[str, StubModels]]:
    """One stub model server per CLI, each answering with its own text and token counts."""
    servers = {
        cli: StubModels(ModelReply(text=answer_of(cli), usage=USAGE[cli])).start() for cli in CLIS
    }
    try:
        yield servers
    finally:
        for server in servers.values():
            server.close()


def tokens(usage: StubUsage) -> dict[str, int]:
    return {
        "input": usage.input,
        "cached": usage.cached,
        "output": usage.output,
        "reasoning": usage.reasoning,
    }


# --- 1 and 7: routed to each CLI; the answer is the subagent's result -----------------

ROUTED = {
    # cli: (subagent_type, tier); the tier's chain starts with the cli
    "codex": ("oh-my-claudecode:executor", "medium"),
    "gemini": ("Explore", "low"),
    "opencode": ("general-purpose", "medium"),
}


def routed_scenario(
    root: Path,
    cli: str,
    models: dict[str, StubModels],
    version: str = CURRENT,
    background: bool | None = False,
) -> Scenario:
    subagent_type, tier = ROUTED[cli]
    chain = [cli, *(other for other in CLIS if other != cli)]
    call = agent_call(subagent_type, f"Check the build ({cli}).", background=background)
    calls = {f"toolu_e2e_route_{cli}": call}
    config = {"fusion_default": True, "routing": {"chains": {tier: chain}}}
    return run_scenario(root, calls, models, config=config, version=version)


@pytest.fixture(params=MODERN)
def version(request: pytest.FixtureRequest) -> str:
    """Each scenario below runs on the newest Claude Code and on 2.1.197."""
    return str(request.param)


@pytest.mark.parametrize("cli", CLIS)
def test_a_routed_call_is_answered_by_the_provider(
    cli: str, version: str, models: dict[str, StubModels], tmp_path: Path, dev_python: Path
) -> None:
    scenario = routed_scenario(tmp_path, cli, models, version)
    assert_routed(scenario, cli)


def test_a_foreground_call_on_the_newest_claude_code_is_answered_in_turn(
    models: dict[str, StubModels], tmp_path: Path, dev_python: Path
) -> None:
    """``run_in_background: false`` keeps the blocking answer on 2.1.332."""
    scenario = routed_scenario(tmp_path, "codex", models, NEWEST, background=False)
    assert_routed(scenario, "codex")
    call = scenario.run.payloads("PreToolUse")[0]["payload"]["tool_input"]
    assert call["run_in_background"] is False


def test_a_call_without_run_in_background_on_the_newest_becomes_a_job(
    models: dict[str, StubModels], tmp_path: Path, dev_python: Path
) -> None:
    """Absent means background since 2.1.198: the answer still reaches Claude before -p ends
    (tests/e2e/test_background_e2e.py covers this path in depth)."""
    scenario = routed_scenario(tmp_path, "codex", models, NEWEST, background=None)
    [(tool_use_id, _call)] = scenario.calls.items()
    notice = scenario.text_for(tool_use_id)
    assert "[OMCM] This executor subagent task was handed to OpenAI Codex" in notice
    later = [r for r in scenario.anthropic.conversation() if answer_of("codex") in new_text(r)]
    assert len(later) == 1
    line = scenario.log_for(tool_use_id)
    assert (line["outcome"], line["provider"], line["tokens"]) == (
        "routed",
        "codex",
        tokens(USAGE["codex"]),
    )
    assert line["job_id"]


def test_a_routed_task_call_on_claude_code_2_1_62(
    models: dict[str, StubModels], tmp_path: Path, dev_python: Path
) -> None:
    scenario = routed_scenario(tmp_path, "codex", models, LEGACY)
    assert_routed(scenario, "codex")
    assert scenario.log_for("toolu_e2e_route_codex")["tool_name"] == "Task"


def assert_routed(scenario: Scenario, cli: str) -> None:
    [(tool_use_id, call)] = scenario.calls.items()
    subagent_type, tier = ROUTED[cli]
    agent = subagent_type.rsplit(":", 1)[-1].lower()
    model = scenario.setups[cli].model
    result = scenario.result_for(tool_use_id)
    # Claude gets the hook's deny reason as the tool result, marked as an error
    # (wrapped as "PreToolUse:Agent hook error: …" on the newest Claude Code).
    text = scenario.text_for(tool_use_id)
    assert result["is_error"] is True
    assert [text] == scenario.deny_reasons()
    assert text.startswith(HEAD.format(agent=agent, label=LABELS[cli], model=model)), text
    assert f"\n\n{answer_of(cli)}\n\n" in text
    assert f"— omcm: {agent} → {cli}/{model} · " in text
    # The model's prompt: the subagent's prompt, the handoff context, the sandbox line.
    [asked] = scenario.models[cli].model_requests()
    sent = str(asked.body)
    assert call["prompt"] in sent
    assert "Context from the Claude Code session that handed over this task" in sent
    assert PROMPT in sent  # the user's last request, read from Claude's transcript
    assert "Sandbox: " in sent
    for other in CLIS:
        if other != cli:
            assert scenario.models[other].model_requests() == []
    # The subagent never ran in Claude.
    assert scenario.anthropic.conversation(subagent=True) == []
    assert not any(AGENT_ID_HEADER in r.headers for r in scenario.anthropic.requests)
    # The log line: decision, attempt, the stub's exact token counts.
    line = scenario.log_for(tool_use_id)
    assert (line["decision"], line["reason"], line["tier"], line["agent"], line["outcome"]) == (
        "providers",
        "fusion-default",
        tier,
        agent,
        "routed",
    )
    assert (line["provider"], line["model"]) == (cli, model)
    assert line["tokens"] == tokens(USAGE[cli])
    [attempt] = line["attempts"]
    assert (attempt["provider"], attempt["outcome"], attempt["exit_code"]) == (cli, "ok", 0)
    assert attempt["tokens"] == tokens(USAGE[cli])


# --- 2: gemini rate-limited, codex answers ---------------------------------------------


def test_a_rate_limited_provider_hands_over_to_the_next(
    version: str, models: dict[str, StubModels], tmp_path: Path, dev_python: Path
) -> None:
    models["gemini"].default = ModelReply.rate_limited(90)
    calls = {"toolu_e2e_limited": agent_call("Explore", "Find the config loader.")}
    config = {"fusion_default": True, "routing": {"chains": {"low": ["gemini", "codex"]}}}
    started = time.time()
    scenario = run_scenario(tmp_path, calls, models, version=version, config=config)

    text = scenario.text_for("toolu_e2e_limited")
    assert text.startswith(
        HEAD.format(agent="explore", label="OpenAI Codex", model="stub-model")
    ), text
    assert answer_of("codex") in text
    line = scenario.log_for("toolu_e2e_limited")
    assert [(a["provider"], a["outcome"]) for a in line["attempts"]] == [
        ("gemini", "rate_limited"),
        ("codex", "ok"),
    ]
    assert (line["provider"], line["outcome"], line["tokens"]) == (
        "codex",
        "routed",
        tokens(USAGE["codex"]),
    )
    assert scenario.models["gemini"].model_requests(), "gemini never reached its stub"
    # The cooldown lasts as long as the 429 said (90 s), not the 900 s default.
    gemini = scenario.sandbox.state_json("provider-limits.json")["providers"]["gemini"]
    assert gemini["cooldown_reason"] == "rate-limited"
    assert started + 85 <= gemini["cooldown_until"] <= time.time() + 95
    # The user is told which provider answered, and why not the first.
    assert any(
        message.startswith("OMCM: explore → codex/stub-model (")
        and message.endswith(" after gemini rate limited")
        for message in scenario.run.system_messages()
    ), scenario.run.system_messages()


# --- 3: every provider fails, the subagent runs in Claude ------------------------------

# codex 0.169.0 words any HTTP 500 from the model API this way.
CODEX_500 = "We\u2019re currently experiencing high demand, which may cause temporary errors."


def test_when_every_provider_fails_claude_runs_the_subagent(
    version: str, models: dict[str, StubModels], tmp_path: Path, dev_python: Path
) -> None:
    models["codex"].default = ModelReply(status=500)
    models["gemini"].default = ModelReply(status=401)
    models["opencode"].default = ModelReply(status=401)
    prompt = "Reply with exactly: hi from the subagent"
    calls = {"toolu_e2e_failing": agent_call("general-purpose", prompt)}
    config = {
        "fusion_default": True,
        "delegation": {"retry": False},
        "routing": {"chains": {"medium": ["codex", "gemini", "opencode"]}},
    }
    scenario = run_scenario(tmp_path, calls, models, version=version, config=config)

    line = scenario.log_for("toolu_e2e_failing")
    assert [(a["provider"], a["outcome"]) for a in line["attempts"]] == [
        ("codex", "api_error"),
        ("gemini", "auth"),
        ("opencode", "auth"),
    ]
    assert line["outcome"] == "fell-back"
    # The subagent ran in Claude: its request reached the stub, its answer came back.
    [subagent] = scenario.anthropic.conversation(subagent=True)
    assert AGENT_ID_HEADER in subagent.headers
    assert last_user_text(subagent) == prompt
    result = scenario.result_for("toolu_e2e_failing")
    assert subagent_report(tool_result_text(result)).startswith("SUBAGENT-RAN")
    assert not result.get("is_error")
    # The user is told why, provider by provider, in each CLI's own words.
    assert scenario.run.system_messages() == [
        "OMCM: could not hand the general-purpose subagent to a provider "
        f"(codex: {CODEX_500}; gemini: API key not valid. Please pass a valid API key.; "
        "opencode: Incorrect API key provided: dummy.); Claude runs it instead."
    ]


# --- 4: a HIGH-tier agent stays on Claude -----------------------------------------------


def test_a_high_tier_agent_is_not_routed(
    version: str, models: dict[str, StubModels], tmp_path: Path, dev_python: Path
) -> None:
    calls = {"toolu_e2e_plan": agent_call("Plan", "Reply with exactly: a plan")}
    scenario = run_scenario(
        tmp_path, calls, models, version=version, config={"fusion_default": True}
    )

    line = scenario.log_for("toolu_e2e_plan")
    assert (line["agent"], line["tier"], line["decision"], line["reason"]) == (
        "plan",
        "high",
        "claude",
        "tier-stays-on-claude",
    )
    assert [m for cli in CLIS for m in scenario.models[cli].model_requests()] == []
    [subagent] = scenario.anthropic.conversation(subagent=True)
    assert last_user_text(subagent) == "Reply with exactly: a plan"
    plan = tool_result_text(scenario.result_for("toolu_e2e_plan"))
    assert subagent_report(plan).startswith("SUBAGENT-RAN")
    assert scenario.deny_reasons() == []


# --- 5: six parallel calls, at most max_workers provider processes ---------------------


def test_parallel_calls_share_the_worker_slots(
    version: str, models: dict[str, StubModels], tmp_path: Path, dev_python: Path
) -> None:
    models["codex"].default = ModelReply(text=answer_of("codex"), usage=USAGE["codex"], delay=1.5)
    calls = {
        f"toolu_e2e_par_{n}": agent_call("general-purpose", f"Check module {n}.", f"check {n}")
        for n in range(6)
    }
    config = {
        "fusion_default": True,
        "routing": {"max_workers": 2, "chains": {"medium": ["codex"]}},
    }
    scenario = run_scenario(tmp_path, calls, models, version=version, config=config)

    codex = scenario.models["codex"]
    assert len(codex.model_requests()) == 6
    # Claude Code ran the six hooks at once: all had started before the first answer.
    hooks_started = [line["received_at"] for line in scenario.run.payloads("PreToolUse")]
    assert len(hooks_started) == 6
    assert max(hooks_started) < min(r.finished for r in codex.model_requests())
    assert codex.max_in_flight == 2  # never more than two, and the hooks did overlap
    for n in range(6):
        assert sum(f"Check module {n}." in str(r.body) for r in codex.model_requests()) == 1
    # All six answers came back in Claude's next request.
    [second] = [r for r in scenario.anthropic.conversation() if tool_results(r)]
    assert sorted(block["tool_use_id"] for block in tool_results(second)) == sorted(calls)
    for tool_use_id in calls:
        result = scenario.result_for(tool_use_id)
        assert result["is_error"] is True
        assert answer_of("codex") in scenario.text_for(tool_use_id)
    lines = scenario.sandbox.routing_log()
    assert sorted(line["tool_use_id"] for line in lines) == sorted(calls)
    assert {(line["outcome"], line["provider"]) for line in lines} == {("routed", "codex")}
    assert scenario.anthropic.conversation(subagent=True) == []


# --- 6: a hanging provider is killed at its timeout with its process group --------------


def test_a_hanging_provider_is_killed_at_its_timeout(
    version: str, models: dict[str, StubModels], tmp_path: Path, dev_python: Path
) -> None:
    models["codex"].default = ModelReply(hang=True)
    calls = {"toolu_e2e_hang": agent_call("general-purpose", "Summarise the notes.")}
    config = {
        "fusion_default": True,
        "delegation": {"retry": False},
        # The next provider is the one cheapest to start after codex (opencode costs
        # several seconds of CPU a run; its routed answer is tested above).
        "routing": {"chains": {"medium": ["codex", "gemini"]}},
    }
    scenario = run_scenario(
        tmp_path,
        calls,
        models,
        version=version,
        config=config,
        providers={"codex": {"timeout": 5}},
        watch="codex",
    )

    line = scenario.log_for("toolu_e2e_hang")
    [hung, answered] = line["attempts"]
    assert (hung["provider"], hung["outcome"], hung["error"]) == (
        "codex",
        "timeout",
        "timed out after 5s",
    )
    assert 5 <= hung["duration"] < 60  # killed at its timeout, not left to hang
    assert (answered["provider"], answered["outcome"]) == ("gemini", "ok")
    assert answer_of("gemini") in scenario.text_for("toolu_e2e_hang")
    assert scenario.models["codex"].model_requests(), "codex never reached its stub"
    # codex is a node wrapper around a native binary: both were running, both are gone,
    # and they were gone before gemini asked its model.
    assert len(scenario.seen) >= 2, scenario.seen
    assert _processes_of("codex", scenario.sandbox.home) == []
    [asked] = scenario.models["gemini"].model_requests()
    assert max(scenario.seen.values()) < asked.started


# --- /proc (Linux) ------------------------------------------------------------------------


def _read(pid: int, name: str) -> bytes:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _processes_of(cli: str, home: Path) -> list[int]:
    """Running processes of ``cli`` started for the sandbox ``home`` (by cmdline and env)."""
    marker = f"HOME={home}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        command = _read(pid, "cmdline")
        if cli.encode() not in command or b"/claude" in command:
            continue
        if marker in _read(pid, "environ").split(b"\0") and _state(pid) not in ("", "Z"):
            found.append(pid)
    return found


def _state(pid: int) -> str:
    stat = _read(pid, "stat").decode(errors="replace")
    return stat[stat.rindex(")") + 2 :].split()[0] if ")" in stat else ""


def _watch(cli: str, home: Path, seen: dict[int, float], stop: threading.Event) -> None:
    while not stop.wait(0.05):
        for pid in _processes_of(cli, home):
            seen[pid] = time.time()

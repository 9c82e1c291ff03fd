"""A routed subagent's answer as an ordinary result: the relay agent, in the real Claude Code.

Where Claude Code honours ``updatedInput`` and ``updatedToolOutput`` for the Agent tool
(2.1.197; 2.1.332 for a call in the foreground), the PreToolUse hook answers a routed
call with ``allow``, rewriting it to the plugin's relay agent (``agents/relay.md``:
haiku, no tools), and the PostToolUse hook replaces the relay's output with the
provider's answer. Claude then gets an ordinary tool result (no ``is_error``), at the
price of one small haiku request, counted here with Claude's tokenizer. On 2.1.62
(``updatedToolOutput`` is not honoured) the deny stays.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.e2e.claude import LEGACY, NEWEST, PREVIOUS, SUBAGENT_TOOL, Sandbox
from tests.e2e.stub_anthropic import (
    AgentScript,
    Request,
    StubAnthropic,
    as_blocks,
    is_subagent,
    subagent_report,
    tool_result_text,
    tool_results,
)
from tests.e2e.stub_models import Reply as ModelReply
from tests.e2e.stub_models import StubModels, StubUsage, codex_setup

pytestmark = pytest.mark.e2e

ANSWER = "PROVIDER-ANSWER: the entry point is src/app.py"
TOOL_USE_ID = "toolu_e2e_relay"
CALL = {
    "description": "find it",
    "prompt": "Find the entry point.",
    "subagent_type": "general-purpose",
}
#: How each version is asked for a call in the foreground (2.1.332 runs it in the
#: background unless told not to, and under -p honours an explicit false).
FOREGROUND: dict[str, dict[str, Any]] = {
    NEWEST: {"run_in_background": False},
    PREVIOUS: {},
    LEGACY: {},
}
HEAD = (
    "[OMCM] This general-purpose subagent task was done by OpenAI Codex (model stub-model) "
    "instead of a Claude subagent; its result:"
)


@pytest.fixture
def model() -> Iterator[StubModels]:
    usage = StubUsage(input=2222, cached=222, output=77, reasoning=11)
    with StubModels(ModelReply(text=ANSWER, usage=usage)) as stub:
        yield stub


def routed_run(root: Path, version: str, models: StubModels) -> tuple[Sandbox, StubAnthropic, Any]:
    script = AgentScript(CALL | FOREGROUND[version], SUBAGENT_TOOL[version], TOOL_USE_ID)
    with StubAnthropic(script) as stub:
        sandbox = Sandbox(root, version, stub.url)
        setup = codex_setup(models.url, sandbox.home)
        sandbox.extra_env.update(setup.env)
        config = {
            "fusion_default": True,
            "routing": {"chains": {"medium": ["codex"]}},
            "providers": {"codex": setup.table("codex")},
        }
        sandbox.write_config(tomli_w.dumps(config))
        run = sandbox.prompt("OMCM e2e: find the entry point", timeout=180)
    assert run.returncode == 0, run.describe()
    return sandbox, stub, run


def the_result(stub: StubAnthropic) -> dict[str, Any]:
    [block] = [b for r in stub.conversation() for b in tool_results(r, TOOL_USE_ID)]
    return block


def relay_requests(stub: StubAnthropic) -> list[Request]:
    """The relay agent's model requests (it has no tools: no request of it is a "turn")."""
    return [r for r in stub.requests if r.is_messages and is_subagent(r) and r.max_tokens != 1]


def claude_tokens() -> Callable[[str], int]:
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(files("anthropic") / "tokenizer.json"))
    return lambda text: len(tokenizer.encode(text).ids)


def sent_tokens(request: Request) -> int:
    """What the request sends, counted with Claude's tokenizer: tools, system, messages."""
    count = claude_tokens()
    body = request.body
    parts = [json.dumps(body.get("tools") or [])]
    parts += [b.get("text", "") for b in as_blocks(body.get("system"))]
    for message in body.get("messages") or []:
        parts += [b.get("text", "") or json.dumps(b) for b in as_blocks(message.get("content"))]
    return sum(count(part) for part in parts if part)


@pytest.mark.parametrize("version", [NEWEST, PREVIOUS])
def test_the_answer_comes_back_as_an_ordinary_result(
    version: str, model: StubModels, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    sandbox, stub, run = routed_run(tmp_path, version, model)
    block = the_result(stub)
    assert not block.get("is_error"), block
    report = subagent_report(tool_result_text(block))  # 2.1.332 frames a subagent's report
    lines = [line.strip() for line in report.splitlines()]
    assert lines[0] == HEAD
    assert ANSWER in lines
    assert any(
        line.startswith("— omcm: general-purpose → codex/stub-model · 2,222 in") for line in lines
    )
    assert run.result["result"].startswith("DONE: "), run.describe()
    # One relay request, on haiku, with no tools, holding OMCM's own one line.
    [relay] = relay_requests(stub)
    assert relay.model.startswith("claude-haiku") and relay.tool_names == []
    assert "[OMCM] OpenAI Codex did this task" in json.dumps(relay.body)
    cost = sent_tokens(relay)
    record_property("relay_tokens_sent", cost)
    assert cost < 1500  # a small fraction of the subagent it replaces (README: the figures)
    # The call is logged once, as routed; the relay is no observation of a subagent's cost.
    [line] = sandbox.routing_log()
    assert (line["outcome"], line["provider"]) == ("routed", "codex")
    assert sandbox.routing_log("subagent") == []
    relay_dir = sandbox.state_dir / "sessions" / run.session_id / "relay"
    assert not relay_dir.exists() or not list(relay_dir.iterdir())  # the answer was taken


def test_claude_code_2_1_62_keeps_the_deny(model: StubModels, tmp_path: Path) -> None:
    _sandbox, stub, _run = routed_run(tmp_path, LEGACY, model)
    block = the_result(stub)
    assert block.get("is_error") is True
    assert tool_result_text(block).startswith(
        "[OMCM] This general-purpose subagent task was completed by"
    )
    assert relay_requests(stub) == []


def test_with_relay_off_the_deny_stays(model: StubModels, tmp_path: Path) -> None:
    script = AgentScript(CALL, "Agent", TOOL_USE_ID)
    with StubAnthropic(script) as stub:
        sandbox = Sandbox(tmp_path, PREVIOUS, stub.url)
        setup = codex_setup(model.url, sandbox.home)
        sandbox.extra_env.update(setup.env)
        config = {
            "fusion_default": True,
            "delegation": {"relay": False},
            "routing": {"chains": {"medium": ["codex"]}},
            "providers": {"codex": setup.table("codex")},
        }
        sandbox.write_config(tomli_w.dumps(config))
        run = sandbox.prompt("OMCM e2e: find the entry point", timeout=180)
    assert run.returncode == 0, run.describe()
    assert the_result(stub).get("is_error") is True
    assert relay_requests(stub) == []

"""OMCM's MCP server in the real Claude Code, with the real codex against a stub model.

Claude Code starts the server from the plugin's ``.mcp.json`` (``--plugin-dir`` here;
a marketplace install's first session, which builds the server's environment, is
tested in test_install_like_user); the scripted model calls the ``ask`` tool (on 2.1.332
it first loads the tool's schema through ToolSearch: MCP tools are deferred there),
and the provider's answer comes back as an ordinary, non-error tool result, with a
routing-log line whose source is ``mcp``. A background ask's answer reaches Claude
by itself exactly once (``-p``: the Stop hook; interactive: the rewake hook). Esc
during a long ask leaves no provider process.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.e2e.claude import MODERN, NEWEST, VERSIONS, Sandbox, wait_until_ready
from tests.e2e.stub_anthropic import (
    OMCM_DELIVERY,
    Reply,
    Request,
    StubAnthropic,
    as_blocks,
    is_main_conversation,
    issued,
    new_text,
    tool_result_text,
    tool_results,
)
from tests.e2e.stub_models import Reply as ModelReply
from tests.e2e.stub_models import StubModels, StubUsage, codex_setup
from tests.e2e.test_cancel_e2e import processes_of

pytestmark = pytest.mark.e2e

PREFIX = "mcp__plugin_omcm_omcm__"
ASK = PREFIX + "ask"
ANSWER = "PROVIDER-ANSWER: the entry point is src/app.py"
USAGE = StubUsage(input=2222, cached=222, output=77, reasoning=11)
TOOL_USE_ID = "toolu_e2e_mcp_ask"
SEARCH_ID = "toolu_e2e_tool_search"
LAUNCHED = "[OMCM] The ask went to "
TOOLS = ("ask", "consensus", "jobs", "result", "cancel")


class AskScript:
    """The main conversation calls one MCP tool once and says what came back.

    On a version that defers MCP tools (2.1.332) it first loads the tool with
    ``ToolSearch`` (``select:NAME``). After a background ask's launch it says
    ``WAITING``; when OMCM's late answer arrives, ``DELIVERED: <text>``.
    """

    def __init__(self, arguments: dict[str, Any], tool: str = ASK) -> None:
        self.arguments = arguments
        self.tool = tool
        self.results: list[dict[str, Any]] = []

    def __call__(self, request: Request) -> Reply:
        if not is_main_conversation(request):
            return Reply.text("ok")
        added = new_text(request)
        if OMCM_DELIVERY in added:
            return Reply.text("DELIVERED: " + added[added.index(OMCM_DELIVERY) :])
        found = tool_results(request, TOOL_USE_ID)
        if found:
            self.results.append(found[0])
            text = tool_result_text(found[0])
            return Reply.text("WAITING" if text.startswith(LAUNCHED) else f"DONE: {text}")
        if issued(request, TOOL_USE_ID):
            return Reply.text("WAITING")
        if self.tool in request.tool_names or issued(request, SEARCH_ID):
            return Reply.tool_use(self.tool, self.arguments, TOOL_USE_ID)
        if "ToolSearch" in request.tool_names:
            return Reply.tool_use("ToolSearch", {"query": f"select:{self.tool}"}, SEARCH_ID)
        return Reply.text("NO-MCP-TOOL: " + ", ".join(request.tool_names))


@pytest.fixture
def model() -> Iterator[StubModels]:
    with StubModels(ModelReply(text=ANSWER, usage=USAGE)) as stub:
        yield stub


def user(root: Path, version: str, api_url: str, models: StubModels) -> Sandbox:
    """A user whose codex talks to ``models`` (OMCM's hook allows its own tools: no settings)."""
    sandbox = Sandbox(root, version, api_url)
    sandbox.mcp = True
    setup = codex_setup(models.url, sandbox.home)
    sandbox.extra_env.update(setup.env)
    sandbox.write_config(tomli_w.dumps({"providers": {"codex": setup.table("codex")}}))
    return sandbox


def mcp_lines(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [line for line in sandbox.routing_log() if line.get("source") == "mcp"]


def tool_definitions(stub: StubAnthropic) -> list[dict[str, Any]]:
    """OMCM's tool definitions as Claude Code sent them to the model: in the request's tool
    list, or (where MCP tools are deferred) in the ToolSearch result that loaded them."""
    for request in stub.conversation():
        listed = [t for t in (request.body.get("tools") or []) if t["name"].startswith(PREFIX)]
        if listed:
            return listed
    return []


def claude_tokens(text: str) -> int:
    from importlib.resources import files

    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(files("anthropic") / "tokenizer.json"))
    return len(tokenizer.encode(text).ids)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_model_asks_codex_and_gets_an_ordinary_result(
    version: str, model: StubModels, tmp_path: Path
) -> None:
    script = AskScript({"prompt": "Where is the entry point?", "provider": "codex"})
    with StubAnthropic(script) as stub:
        sandbox = user(tmp_path, version, stub.url, model)
        run = sandbox.prompt("OMCM e2e: ask codex", timeout=180)
    assert run.returncode == 0, run.describe()
    [block] = script.results
    assert not block.get("is_error"), block
    text = tool_result_text(block)
    assert text.startswith(ANSWER + "\n\n— codex/stub-model · 2,222 in / 77 out tokens · "), text
    assert run.result["result"].startswith("DONE: " + ANSWER), run.describe()
    [line] = mcp_lines(sandbox)
    assert (line["session_id"], line["tool_use_id"], line["tool_name"]) == (
        run.session_id,
        TOOL_USE_ID,
        "ask",
    )
    assert (line["outcome"], line["provider"], line["reason"]) == ("routed", "codex", "requested")
    assert line["tokens"] == {"input": 2222, "cached": 222, "output": 77, "reasoning": 11}
    assert text.endswith(f"s · job {line['job_id']}")
    # The handoff context of this very session went along.
    assert line["context_path"] == str(sandbox.project / ".omcm" / "handoff" / "context.md")
    # What the tool list costs Claude, as this version sends it (2.1.332 defers MCP tools:
    # only their names until ToolSearch loads them).
    sent = tool_definitions(stub)
    if version == NEWEST:
        # Only the names are listed (a system message) until ToolSearch loads one; then
        # its definition is sent, marked deferred. (The names come once the server has
        # connected: on a busy machine that can be after the first request.)
        bodies = [json.dumps(r.body) for r in stub.conversation()]
        assert any(all(PREFIX + name in body for name in TOOLS) for body in bodies)
        assert [(t["name"], t.get("defer_loading")) for t in sent] == [(ASK, True)]
    else:
        assert sorted(t["name"] for t in sent) == sorted(PREFIX + name for name in TOOLS)
        assert claude_tokens(json.dumps(sent)) < 600


def test_a_server_slow_to_start_still_serves_the_first_turn(
    model: StubModels, tmp_path: Path
) -> None:
    """2.1.197 under -p takes the tool list about two seconds after SessionStart and never
    again: a server that takes longer to start (a busy machine's SDK imports) would leave the
    session without its tools, so SessionStart waits for it."""
    python = tmp_path / "slow-python"
    slept = tmp_path / "server-slept"  # the test's premise: the server did start late
    python.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *"from omcm.mcp import"*) sleep 4; : > "{slept}" ;; esac\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    python.chmod(0o755)
    script = AskScript({"prompt": "Where is the entry point?", "provider": "codex"})
    with StubAnthropic(script) as stub:
        sandbox = user(tmp_path, "2.1.197", stub.url, model)
        run = sandbox.prompt("OMCM e2e: ask codex", timeout=180, env={"OMCM_PYTHON": str(python)})
    assert run.returncode == 0, run.describe()
    assert len(script.results) == 1, run.describe()
    assert tool_result_text(script.results[0]).startswith(ANSWER), script.results
    assert slept.exists(), "the launcher no longer starts the server the way this test slows"
    assert run.seconds > 4  # the first turn did wait for the server
    # The mark is gone with the server's start.
    [marks] = sandbox.home.rglob("mcp-start")
    assert not list(marks.iterdir())


def test_a_background_ask_in_print_mode_is_delivered_once_by_the_stop_hook(
    tmp_path: Path,
) -> None:
    arguments = {"prompt": "Find the entry point.", "provider": "codex", "background": True}
    script = AskScript(arguments)
    with (
        StubModels(ModelReply(text=ANSWER, usage=USAGE, delay=4.0)) as slow,
        StubAnthropic(script) as stub,
    ):
        sandbox = user(tmp_path, NEWEST, stub.url, slow)
        run = sandbox.prompt("OMCM e2e: ask codex in the background", timeout=180)
    assert run.returncode == 0, run.describe()
    [launch] = script.results
    assert not launch.get("is_error")
    assert tool_result_text(launch).startswith(LAUNCHED + "OpenAI Codex (model stub-model)")
    delivered = [r for r in stub.conversation() if ANSWER in new_text(r)]
    assert len(delivered) == 1, [new_text(r)[:200] for r in stub.conversation()]
    assert OMCM_DELIVERY in new_text(delivered[0])
    assert "the ask “Find the entry point.”" in new_text(delivered[0])
    assert run.result["result"].startswith("DELIVERED: " + OMCM_DELIVERY), run.describe()
    [line] = mcp_lines(sandbox)
    jobs = json.loads(sandbox.omcm("jobs", "--all", "--json").stdout)
    [job] = jobs
    assert (job["state"], job["delivered"], job["source"]) == ("done", "stop", "mcp")
    assert line["job_id"] == job["id"]


def test_a_background_ask_in_an_interactive_session_wakes_claude_once(tmp_path: Path) -> None:
    arguments = {"prompt": "Find the entry point.", "provider": "codex", "background": True}
    script = AskScript(arguments)
    with (
        StubModels(ModelReply(text=ANSWER, usage=USAGE, delay=4.0)) as slow,
        StubAnthropic(script) as stub,
    ):
        sandbox = user(tmp_path, NEWEST, stub.url, slow)
        with sandbox.interactive("--permission-mode", "default") as term:
            wait_until_ready(term)
            term.send("OMCM e2e: ask codex in the background", enter=True)
            term.wait_for("WAITING", timeout=90)
            term.wait_for("DELIVERED:", timeout=90)
            jobs = json.loads(sandbox.omcm("jobs", "--all", "--json").stdout)
    delivered = [r for r in stub.conversation() if ANSWER in new_text(r)]
    assert len(delivered) == 1
    [job] = jobs
    assert (job["state"], job["delivered"]) == ("done", "rewake")


def test_esc_during_a_long_ask_leaves_no_provider(tmp_path: Path) -> None:
    script = AskScript({"prompt": "Think long.", "provider": "codex"})
    with StubModels(ModelReply(hang=True)) as hanging, StubAnthropic(script) as stub:
        sandbox = user(tmp_path, NEWEST, stub.url, hanging)
        with sandbox.interactive("--permission-mode", "default") as term:
            wait_until_ready(term)
            term.send("OMCM e2e: ask codex something long", enter=True)
            deadline = time.monotonic() + 90
            while not hanging.model_requests():
                assert time.monotonic() < deadline, f"codex never started:\n{term.screen()}"
                time.sleep(0.1)
            assert processes_of("codex", sandbox.home)
            term.wait_for("⎿  codex", timeout=30)  # a progress notification, on screen
            term.key("Escape")
            pressed = time.monotonic()
            while processes_of("codex", sandbox.home) and time.monotonic() - pressed < 10:
                time.sleep(0.05)
            assert processes_of("codex", sandbox.home) == [], term.screen()
            term.wait_for("Interrupted", timeout=30)
            # The run writes its line once its provider is gone and its pumps have ended;
            # wait for it while the server lives (closing the terminal SIGKILLs its tree).
            deadline = time.monotonic() + 10
            while not mcp_lines(sandbox) and time.monotonic() < deadline:
                time.sleep(0.1)
    [line] = mcp_lines(sandbox)
    assert (line["outcome"], line["error"]) == (
        "cancelled",
        "the MCP client cancelled the call (Esc in Claude Code)",
    )
    assert not [
        b
        for r in stub.conversation()
        for b in as_blocks(r.messages[-1].get("content"))
        if b.get("type") == "tool_result" and ANSWER in tool_result_text(b)
    ]


@pytest.mark.parametrize("version", MODERN)
@pytest.mark.parametrize(
    ("command", "tool", "said"),
    [
        (
            "/omcm:ask codex where is the entry point?",
            "ask",
            "Request: codex where is the entry point?",
        ),
        ("/omcm:consensus tabs or spaces?", "consensus", "Question: tabs or spaces?"),
    ],
)
def test_the_slash_commands_have_claude_call_the_tool(
    version: str, command: str, tool: str, said: str, model: StubModels, tmp_path: Path
) -> None:
    arguments: dict[str, Any] = {"prompt": "where is the entry point?", "provider": "codex"}
    if tool == "consensus":
        arguments = {"prompt": "tabs or spaces?", "providers": ["codex"]}
    script = AskScript(arguments, tool=PREFIX + tool)
    with StubAnthropic(script) as stub:
        sandbox = user(tmp_path, version, stub.url, model)
        run = sandbox.prompt(command, timeout=180)
    assert run.returncode == 0, run.describe()
    first = json.dumps(stub.conversation()[0].messages)
    assert said in first and f"mcp__plugin_omcm_omcm__{tool}" in first
    [block] = script.results
    assert not block.get("is_error"), block
    assert ANSWER in tool_result_text(block)

"""The MCP server as Claude Code meets it: a real process on stdio, spoken to by the SDK's client.

Each test starts the server through the hook launcher (``hooks/omcm-hook mcp-server``,
what ``.mcp.json`` runs) with the checkout's Python, and drives it with the MCP
Python SDK's own ``ClientSession``. Providers are stand-ins: a shell-script codex and
gemini speaking their CLIs' JSON, which hold a run until the test opens a gate file
(no timing guesses) and record their pids, so a test can see a provider killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import anyio
import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from omcm.calls import routing_log
from omcm.core import paths, sessions
from omcm.jobs import store
from tests.integration.test_cancel import LAUNCHER, REPO_PYTHON, alive

CODEX = """#!/bin/sh
[ "$1" = login ] && { echo "Logged in using an API key" >&2; exit 0; }
prompt=$(cat)
echo $$ >>"$FAKE_DIR/codex.pids"
printf '%s' "$prompt" >"$FAKE_DIR/codex.prompt"
printf '%s\n\0' "$prompt" >>"$FAKE_DIR/codex.prompts"  # every call's, in the order they came
case "$prompt" in *HOLD*) while [ ! -e "$FAKE_DIR/gate" ]; do sleep 0.05; done ;; esac
case "$prompt" in *FAIL*)
  echo '{"type":"turn.failed","error":{"message":"exceeded retry limit, last status: 429 Too Many Requests"}}'
  exit 1 ;;
esac
echo '{"type":"item.completed","item":{"type":"agent_message","text":"LGTM: src/app.py is fine; `load` reads config.toml"}}'
echo '{"type":"turn.completed","usage":{"input_tokens":1200,"cached_input_tokens":200,"output_tokens":34,"reasoning_output_tokens":4}}'
"""
GEMINI = """#!/bin/sh
prompt=$(cat)
echo $$ >>"$FAKE_DIR/gemini.pids"
printf '%s' "$prompt" >"$FAKE_DIR/gemini.prompt"
printf '%s\n\0' "$prompt" >>"$FAKE_DIR/gemini.prompts"  # every call's, in the order they came
case "$prompt" in *GEMINI-DOWN*)
  echo 'Error when talking to Gemini API' >&2
  echo '{"session_id":"s","error":{"type":"Error","message":"Resource has been exhausted (e.g. check quota).","code":429}}' >&2
  exit 173 ;;
esac
echo '{"session_id":"s","response":"No, do not merge: src/app.py breaks `load` when README.md is missing","stats":{"models":{"gemini-2.5-pro":{"tokens":{"input":900,"prompt":1000,"candidates":50,"total":1050,"cached":100,"thoughts":0,"tool":0}}}}}'
"""
SESSION = "mcp-session-1"


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    return make_fakes(tmp_path)


def make_fakes(tmp_path: Path) -> Path:
    """Fake codex and gemini on a config that names them; the folder they report to."""
    folder = tmp_path / "fakes"
    folder.mkdir()
    for name, script in (("codex", CODEX), ("gemini", GEMINI)):
        program = folder / name
        program.write_text(script)
        program.chmod(0o755)
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        '[routing.chains]\nlow = ["gemini", "codex"]\nmedium = ["codex", "gemini"]\n'
        'high = ["codex", "gemini"]\n'
        f'[providers.codex]\ncommand = "{folder / "codex"}"\n'
        f'[providers.gemini]\ncommand = "{folder / "gemini"}"\n'
        "[providers.opencode]\nenabled = false\n[providers.ollama]\nenabled = false\n"
    )
    return folder


def server_env(fakes: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE")}
    env |= {"OMCM_PYTHON": str(REPO_PYTHON), "OPENAI_API_KEY": "sk-test", "GEMINI_API_KEY": "x"}
    if fakes is not None:
        env["FAKE_DIR"] = str(fakes)
    return env


Session = Callable[[ClientSession], Awaitable[Any]]


def with_server(work: Session, env: dict[str, str], cwd: Path) -> Any:
    """Start the server as ``.mcp.json`` does, initialise a client session, run ``work``."""
    params = StdioServerParameters(
        command="sh", args=[str(LAUNCHER), "mcp-server"], env=env, cwd=str(cwd)
    )
    found: list[Any] = []

    async def main() -> None:
        with anyio.fail_after(120):
            async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
                await client.initialize()
                found.append(await work(client))

    anyio.run(main)
    return found[0]


def text_of(result: types.CallToolResult) -> str:
    [block] = result.content
    assert isinstance(block, types.TextContent)
    return block.text


def call_meta(tool_use_id: str) -> types.RequestParamsMeta:
    """The ``_meta`` Claude Code sends with a tool call (seen on 2.1.62, 2.1.197, 2.1.332)."""
    return cast("types.RequestParamsMeta", {"claudecode/toolUseId": tool_use_id})


def pids(fakes: Path, name: str) -> list[int]:
    listed = fakes / f"{name}.pids"
    return [int(p) for p in listed.read_text().split()] if listed.exists() else []


def calls() -> list[dict[str, Any]]:
    lines = []
    for name in routing_log.files():
        text = Path(name).read_text()
        lines += [json.loads(line) for line in text.splitlines() if line.strip()]
    return [line for line in lines if line.get("event") == "call"]


# --- the handshake and the tool list -------------------------------------------------------


def test_initialize_and_list_the_tools(tmp_path: Path, fakes: Path) -> None:
    async def work(client: ClientSession) -> Any:
        return await client.list_tools()

    listed = with_server(work, server_env(fakes), tmp_path)
    assert [t.name for t in listed.tools] == ["ask", "consensus", "jobs", "result", "cancel"]
    ask = listed.tools[0]
    assert ask.input_schema["required"] == ["prompt"]
    assert set(ask.input_schema["properties"]) == {
        "prompt",
        "provider",
        "agent",
        "model",
        "files",
        "background",
    }


def test_the_config_chooses_the_tools_and_can_turn_them_all_off(
    tmp_path: Path, fakes: Path
) -> None:
    config = Path(paths.config_file())
    config.write_text(config.read_text() + '[mcp]\ntools = ["ask", "result"]\n')

    async def listing(client: ClientSession) -> Any:
        named = [t.name for t in (await client.list_tools()).tools]
        return named, await client.call_tool("jobs", {})

    named, refused = with_server(listing, server_env(fakes), tmp_path)
    assert named == ["ask", "result"]
    assert refused.is_error
    assert text_of(refused) == "jobs: this tool is turned off (it is not in mcp.tools)"

    config.write_text(config.read_text().replace('tools = ["ask", "result"]', "enabled = false"))
    named, refused = with_server(listing, server_env(fakes), tmp_path)
    assert named == []
    assert text_of(refused) == "jobs: this tool is turned off (mcp.enabled is false)"


# --- ask ---------------------------------------------------------------------------------


def test_ask_answers_as_an_ordinary_result_and_is_booked_as_mcp(
    tmp_path: Path, fakes: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    transcript = tmp_path / "transcript.jsonl"
    transcript.write_text("")
    # What the PreToolUse hook of OMCM's MCP tools notes before Claude Code sends the call.
    sessions.note_tool_call("toolu_ask_1", SESSION, str(transcript), str(project))

    async def work(client: ClientSession) -> Any:
        return await client.call_tool(
            "ask",
            {"prompt": "Review the change.", "provider": "codex"},
            meta=call_meta("toolu_ask_1"),
        )

    result = with_server(work, server_env(fakes), tmp_path)
    assert not result.is_error, text_of(result)
    answer, footer = text_of(result).rsplit("\n\n", 1)
    assert answer == "LGTM: src/app.py is fine; `load` reads config.toml"
    assert footer.startswith("— codex/")
    assert " · 1,200 in / 34 out tokens · " in footer
    [job] = store.all_jobs()
    assert footer.endswith(f"s · job {job.id}")
    assert job.state == "done" and job.source == "mcp" and job.read_at is not None
    [line] = calls()
    assert line["source"] == "mcp"
    assert line["session_id"] == SESSION
    assert line["tool_use_id"] == "toolu_ask_1"
    assert line["tool_name"] == "ask"
    assert line["outcome"] == "routed" and line["provider"] == "codex"
    assert line["tokens"] == {"input": 1200, "cached": 200, "output": 34, "reasoning": 4}
    assert line["job_id"] == job.id
    # The session's handoff context went along (the mcp door carries it, as the hook's does).
    sent = (fakes / "codex.prompt").read_text()
    assert sent.startswith("Review the change.")
    assert "Context from the Claude Code session that handed over this task" in sent
    assert line["context_path"] == str(project / ".omcm" / "handoff" / "context.md")


def test_ask_reads_the_files_it_names_into_the_prompt(tmp_path: Path, fakes: Path) -> None:
    (tmp_path / "notes.md").write_text("the plan: ship on Friday\n")

    async def work(client: ClientSession) -> Any:
        return await client.call_tool(
            "ask", {"prompt": "Is the plan sound?", "provider": "codex", "files": ["notes.md"]}
        )

    result = with_server(work, server_env(fakes), tmp_path)
    assert not result.is_error, text_of(result)
    sent = (fakes / "codex.prompt").read_text()
    assert (
        "Files named with this task:\n\n--- notes.md (content) ---\nthe plan: ship on Friday\n"
        in sent
    )


#: (tool, arguments, the start of the error result); one server takes them all in turn.
BAD_ARGUMENTS: list[tuple[str, dict[str, Any], str]] = [
    ("ask", {}, "ask: `prompt` is required"),
    ("ask", {"prompt": "  "}, "ask: `prompt` is empty"),
    (
        "ask",
        {"prompt": 7, "colour": "red"},
        "ask: `colour` is not an argument of ask (arguments: prompt, provider, agent, model, "
        "files, background); `prompt` must be a string (got a number)",
    ),
    (
        "ask",
        {"prompt": "x", "provider": "claude"},
        "ask: `provider` is 'claude': not one of codex, gemini, opencode, ollama",
    ),
    (
        "ask",
        {"prompt": "x", "model": "gpt-5"},
        "ask: `model` needs `provider` (a model name belongs to one provider)",
    ),
    (
        "ask",
        {"prompt": "x", "background": "yes"},
        "ask: `background` must be true or false (got a string)",
    ),
    (
        "ask",
        {"prompt": "x", "files": "a.py"},
        "ask: `files` must be a list of strings (got a string)",
    ),
    (
        "ask",
        {"prompt": "x", "files": ["missing.py"]},
        "ask: `files`: missing.py does not exist",
    ),
    (
        "consensus",
        {"prompt": "x", "providers": ["codex", "codex"]},
        "consensus: `providers` names one more than once",
    ),
    (
        "consensus",
        {"prompt": "x", "synthesize_with": "gpt"},
        "consensus: `synthesize_with` is 'gpt': not one of codex, gemini, opencode, ollama",
    ),
    ("result", {}, "result: `job` is required"),
    ("result", {"job": "x", "wait": 9999}, "result: `wait` must be between 0 and 600 seconds"),
    ("result", {"job": "nope"}, "result: no job 'nope' in "),
    ("cancel", {"job": "nope"}, "cancel: no job 'nope' in "),
    ("rewrite", {}, "there is no tool 'rewrite' (tools: ask, consensus, jobs, result, cancel)"),
]


def test_bad_arguments_give_a_clear_error_result_and_the_server_goes_on(
    tmp_path: Path, fakes: Path
) -> None:
    async def work(client: ClientSession) -> Any:
        answers = []
        for tool, arguments, _said in BAD_ARGUMENTS:
            bad = await client.call_tool(tool, arguments)
            still = [t.name for t in (await client.list_tools()).tools]
            answers.append((bad, still))
        return answers

    answers = with_server(work, server_env(fakes), tmp_path)
    wrong = [
        (tool, arguments, text_of(bad))
        for (tool, arguments, said), (bad, still) in zip(BAD_ARGUMENTS, answers, strict=True)
        if not bad.is_error
        or not text_of(bad).startswith(said)
        or still != ["ask", "consensus", "jobs", "result", "cancel"]
    ]
    assert wrong == []
    assert not pids(fakes, "codex")  # nothing ran


def test_an_invalid_config_is_an_error_naming_file_and_key(tmp_path: Path, fakes: Path) -> None:
    Path(paths.config_file()).write_text("[mcp]\nconsensus_max = 99\n")

    async def work(client: ClientSession) -> Any:
        return await client.call_tool("ask", {"prompt": "x"})

    result = with_server(work, server_env(fakes), tmp_path)
    assert result.is_error
    assert text_of(result) == (
        f"ask failed: {paths.config_file()}: key 'mcp.consensus_max': input should be less than "
        "or equal to 8 (got 99)"
    )


def test_no_provider_ready_is_an_error_saying_why(tmp_path: Path, fakes: Path) -> None:
    env = server_env(fakes)
    del env["GEMINI_API_KEY"]

    async def work(client: ClientSession) -> Any:
        return await client.call_tool("ask", {"prompt": "x", "provider": "gemini"})

    result = with_server(work, env, tmp_path)
    assert result.is_error
    assert text_of(result).startswith("ask: no provider can take it now (gemini: not-logged-in: ")
    [line] = calls()
    assert (line["source"], line["reason"]) == ("mcp", "no-provider-available")


# --- progress and cancellation ---------------------------------------------------------------


def test_a_long_ask_reports_progress_and_a_cancel_kills_its_provider_at_once(
    tmp_path: Path, fakes: Path
) -> None:
    heard: list[tuple[float, str | None]] = []

    async def work(client: ClientSession) -> Any:
        got_progress = anyio.Event()

        async def progress(progress: float, total: float | None, message: str | None) -> None:
            heard.append((progress, message))
            got_progress.set()

        async with anyio.create_task_group() as group:

            async def ask() -> None:
                await client.call_tool(
                    "ask",
                    {"prompt": "HOLD until told", "provider": "codex"},
                    progress_callback=progress,
                )

            group.start_soon(ask)
            await got_progress.wait()  # a progress notification came while codex runs
            group.cancel_scope.cancel()  # what Esc makes Claude Code do: cancel the request
        began = time.monotonic()
        while pids(fakes, "codex") and alive(pids(fakes, "codex")[-1]):
            assert time.monotonic() - began < 10, "codex still runs 10 s after the cancel"
            await anyio.sleep(0.05)
        return time.monotonic() - began

    took = with_server(work, server_env(fakes), tmp_path)
    assert took < 10
    assert heard and heard[0][1] is not None
    assert heard[0][1].startswith("codex/"), heard
    [job] = store.all_jobs()
    deadline = time.monotonic() + 10
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.05)
        job = store.load(job.id)
    assert job.state == "cancelled"
    assert job.reason == "the MCP client cancelled the call (Esc in Claude Code)"
    [line] = calls()
    assert (line["source"], line["outcome"]) == ("mcp", "cancelled")


def test_the_server_killed_mid_ask_leaves_no_provider(tmp_path: Path, fakes: Path) -> None:
    killed: dict[str, float] = {}  # codex's pid, and when the server was killed

    async def work(client: ClientSession) -> Any:
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "ask", {"prompt": "HOLD", "provider": "codex"})
            while not pids(fakes, "codex"):
                await anyio.sleep(0.05)
            [job] = store.all_jobs()
            killed.update(codex=pids(fakes, "codex")[-1], at=time.monotonic())
            os.kill(job.worker_pid or 0, signal.SIGKILL)  # the server process itself
            group.cancel_scope.cancel()
        return True

    # Whether the client notices first that its server is gone (its call fails, which ends
    # the work above) or the work ends first is a race, and not what this test is about.
    with contextlib.suppress(Exception):
        with_server(work, server_env(fakes), tmp_path)
    assert killed, "codex never started"
    while alive(int(killed["codex"])):  # killed the moment the pipe closes
        assert time.monotonic() - killed["at"] < 10, "codex outlived the server by 10 s"
        time.sleep(0.05)
    # The watchdog records the job's end after the kill: wait for that record.
    deadline = time.monotonic() + 60
    while (job := next(store.all_jobs())).state != "failed":
        assert time.monotonic() < deadline and not job.finished, job
        time.sleep(0.05)


# --- the job runtime as tools ----------------------------------------------------------------


def test_background_ask_jobs_result_and_cancel(tmp_path: Path, fakes: Path) -> None:
    sessions.note_tool_call("toolu_bg_1", SESSION, "", str(tmp_path))

    async def work(client: ClientSession) -> Any:
        started = await client.call_tool(
            "ask",
            {"prompt": "HOLD then answer", "provider": "codex", "background": True},
            meta=call_meta("toolu_bg_1"),
        )
        while not pids(fakes, "codex"):
            await anyio.sleep(0.05)
        listed = await client.call_tool("jobs", {})
        [job] = store.all_jobs()
        running = await client.call_tool("result", {"job": job.id[-6:]})
        stopped = await client.call_tool("cancel", {"job": job.id})
        after = await client.call_tool("result", {"job": job.id, "wait": 5})
        again = await client.call_tool("cancel", {"job": job.id})
        return started, listed, running, stopped, after, again

    started, listed, running, stopped, after, again = with_server(work, server_env(fakes), tmp_path)
    [job] = store.all_jobs()
    assert text_of(started).startswith(
        f"[OMCM] The ask went to OpenAI Codex (model gpt-5.2-codex) as background job {job.id}. "
        "Its answer will arrive by itself"
    )
    assert job.deliver and job.session_id == SESSION
    assert sessions.started_jobs(SESSION)
    assert job.id in text_of(listed) and "HOLD then answer" in text_of(listed)
    assert text_of(running).startswith(f"Job {job.id} is running (")
    assert text_of(stopped) == f"Job {job.id} cancelled: cancelled with omcm cancel."
    assert not alive(pids(fakes, "codex")[-1])
    assert not after.is_error
    assert text_of(after).startswith("ask not done (cancelled: cancelled with omcm cancel)")
    assert text_of(again) == (
        f"Job {job.id} had already ended (cancelled: cancelled with omcm cancel)."
    )


def test_result_takes_the_answer_so_no_hook_delivers_it_again(tmp_path: Path, fakes: Path) -> None:
    sessions.note_tool_call("toolu_bg_2", SESSION, "", str(tmp_path))

    async def work(client: ClientSession) -> Any:
        await client.call_tool(
            "ask",
            {"prompt": "answer", "provider": "codex", "background": True},
            meta=call_meta("toolu_bg_2"),
        )
        [job] = store.all_jobs()
        return await client.call_tool("result", {"job": job.id, "wait": 60})

    found = with_server(work, server_env(fakes), tmp_path)
    [job] = store.all_jobs()
    assert text_of(found).startswith("LGTM: src/app.py is fine")
    assert job.delivered == "mcp-result"
    from omcm.jobs import delivery

    assert delivery.pending(SESSION) == []  # the Stop hook and the rewake hook find nothing


# --- consensus -------------------------------------------------------------------------------


def test_consensus_puts_answers_side_by_side_and_compares_them(tmp_path: Path, fakes: Path) -> None:
    async def work(client: ClientSession) -> Any:
        return await client.call_tool(
            "consensus", {"prompt": "Merge the change?", "synthesize_with": "codex"}
        )

    result = with_server(work, server_env(fakes), tmp_path)
    text = text_of(result)
    assert not result.is_error, text
    assert text.startswith("Consensus of 2 providers on: Merge the change?")
    assert "\n## codex (" in text and "\nLGTM: src/app.py is fine" in text
    assert "\n## gemini (" in text and "\nNo, do not merge" in text
    assert "- verdict: codex yes (“lgtm”); gemini no (“no”) → they DISAGREE" in text
    assert (
        "- files named by all: src/app.py\n  only gemini: README.md\n  only codex: config.toml"
        in text
        or (
            "- files named by all: src/app.py\n  only codex: config.toml\n  only gemini: README.md"
            in text
        )
    )
    assert "- `names` used by all: load" in text
    assert "\n## synthesis by codex (" in text
    lines = calls()
    assert sorted(line["provider"] for line in lines) == ["codex", "codex", "gemini"]
    assert {line["source"] for line in lines} == {"mcp"}
    assert {line["tool_name"] for line in lines} == {"consensus"}
    # read-only: consensus stands in for an analysis agent
    assert "Sandbox: read-only." in (fakes / "gemini.prompt").read_text()


def test_a_provider_failing_mid_consensus_is_reported_in_its_place(
    tmp_path: Path, fakes: Path
) -> None:
    async def work(client: ClientSession) -> Any:
        return await client.call_tool(
            "consensus", {"prompt": "GEMINI-DOWN: merge it?", "providers": ["gemini", "codex"]}
        )

    result = with_server(work, server_env(fakes), tmp_path)
    text = text_of(result)
    assert not result.is_error, text
    assert "\n## gemini: no answer (failed: gemini: Resource has been exhausted" in text
    assert "\n## codex (" in text and "LGTM" in text
    assert "- fewer than two answers came back, so nothing was compared" in text
    outcomes = sorted(
        (line.get("provider") or line["attempts"][0]["provider"], line["outcome"])
        for line in calls()
    )
    assert outcomes == [("codex", "routed"), ("gemini", "fell-back")]


def test_consensus_with_every_provider_failing_is_an_error(tmp_path: Path, fakes: Path) -> None:
    async def work(client: ClientSession) -> Any:
        return await client.call_tool(
            "consensus", {"prompt": "FAIL and GEMINI-DOWN", "providers": ["codex", "gemini"]}
        )

    result = with_server(work, server_env(fakes), tmp_path)
    assert result.is_error
    assert text_of(result).startswith("consensus: no provider answered.")

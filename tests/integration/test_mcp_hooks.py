"""The hooks beside OMCM's MCP tools, run as Claude Code runs them (launcher, JSON on stdin).

The PreToolUse hook of the tools notes which session makes a call (the server is
told only the call's id); a background ``ask`` becomes a job whose answer the
delivery hook (interactive) or the Stop hook (``-p``) hands Claude once, like a
background subagent call's. No hook imports the MCP SDK.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from mcp.client.session import ClientSession

from omcm.core import paths, sessions
from omcm.hooks.runner import EVENTS
from omcm.jobs import store
from tests.integration.test_background_hooks import hook
from tests.integration.test_cancel import REPO, REPO_PYTHON
from tests.integration.test_mcp_server import (
    call_meta,
    make_fakes,
    server_env,
    text_of,
    with_server,
)

ASK = "mcp__plugin_omcm_omcm__ask"


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    return make_fakes(tmp_path)


SID = "mcp-hooks-session"


def payload(event: str, tmp_path: Path, **fields: Any) -> dict[str, Any]:
    return {
        "session_id": SID,
        "hook_event_name": event,
        "cwd": str(tmp_path),
        "transcript_path": str(tmp_path / "transcript.jsonl"),
    } | fields


def ask_call(tmp_path: Path, tool_use_id: str, **tool_input: Any) -> dict[str, Any]:
    return payload(
        "PreToolUse",
        tmp_path,
        tool_name=ASK,
        tool_use_id=tool_use_id,
        tool_input={"prompt": "answer it", "provider": "codex"} | tool_input,
    )


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_no_hook_imports_the_mcp_sdk(name: str, tmp_path: Path) -> None:
    event = EVENTS[name][0]
    data = ask_call(tmp_path, "toolu_imports") | {"hook_event_name": event, "prompt": "hi"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE")}
    done = subprocess.run(
        [
            str(REPO_PYTHON),
            "-X",
            "importtime",
            "-c",
            "from omcm.hooks.runner import run; run()",
            name,
        ],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        env=env | {"CLAUDE_CODE_ENTRYPOINT": "sdk-cli"},
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "omcm.hooks.runner" in imported  # importtime did report
    heavy = sorted(
        m for m in imported if m.split(".")[0] in ("mcp", "mcp_types", "anyio", "omcm.mcp")
    )
    assert not [m for m in imported if m.startswith("omcm.mcp")]
    assert heavy == [], f"the {name} hook imports {heavy}"


def test_the_tools_hook_notes_the_session_and_allows_the_call(tmp_path: Path) -> None:
    done = hook("pre-tool-use-mcp", ask_call(tmp_path, "toolu_note"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "permissionDecisionReason": "OMCM's own tool (mcp.allow)",
        }
    }
    assert sessions.take_tool_call("toolu_note") == {
        "session_id": SID,
        "transcript_path": str(tmp_path / "transcript.jsonl"),
        "cwd": str(tmp_path),
    }
    assert sessions.take_tool_call("toolu_note") is None  # taken once


def test_with_mcp_allow_off_claude_code_asks_as_for_any_tool(tmp_path: Path) -> None:
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[mcp]\nallow = false\n")
    done = hook("pre-tool-use-mcp", ask_call(tmp_path, "toolu_ask_me"))
    assert (done.returncode, done.stdout) == (0, "")
    assert sessions.take_tool_call("toolu_ask_me") is not None  # still noted


def test_another_servers_tool_is_not_ours(tmp_path: Path) -> None:
    other = ask_call(tmp_path, "toolu_other") | {"tool_name": "mcp__github__create_issue"}
    done = hook("pre-tool-use-mcp", other)
    assert (done.returncode, done.stdout) == (0, "")
    assert sessions.take_tool_call("toolu_other") is None


def test_the_delivery_hook_leaves_at_once_for_a_call_answered_in_place(tmp_path: Path) -> None:
    done = hook("pre-tool-use-wait", ask_call(tmp_path, "toolu_fg"), timeout=10)
    assert (done.returncode, done.stdout) == (0, "")


def background_ask(tmp_path: Path, fakes: Path, tool_use_id: str) -> store.JobRecord:
    """A background ``ask`` made through the server, its session noted as the hook does."""
    assert (
        hook("pre-tool-use-mcp", ask_call(tmp_path, tool_use_id, background=True)).returncode == 0
    )

    async def work(client: ClientSession) -> Any:
        return await client.call_tool(
            "ask",
            {"prompt": "answer it", "provider": "codex", "background": True},
            meta=call_meta(tool_use_id),
        )

    started = with_server(work, server_env(fakes), tmp_path)
    assert not started.is_error, text_of(started)
    [job] = store.all_jobs()
    assert (job.session_id, job.tool_use_id, job.deliver) == (SID, tool_use_id, True)
    return job


def test_interactive_the_delivery_hook_hands_the_answer_over_once(
    tmp_path: Path, fakes: Path
) -> None:
    job = background_ask(tmp_path, fakes, "toolu_bg_cli")
    done = hook("pre-tool-use-wait", ask_call(tmp_path, "toolu_bg_cli", background=True))
    assert done.returncode == 2, done.stderr  # exit 2 wakes Claude with the text
    assert done.stderr.startswith(
        f"[OMCM] Background job {job.id} finished: the ask “answer it” (tool call toolu_bg_cli) "
        "was completed by OpenAI Codex (model gpt-5.2-codex). What follows is its answer: use it "
        "and do not ask again."
    )
    assert "\n\nLGTM: src/app.py is fine" in done.stderr
    assert store.load(job.id).delivered == "rewake"
    again = hook("stop", payload("Stop", tmp_path, stop_hook_active=False))
    assert (again.returncode, again.stdout) == (0, "")  # nothing is handed over twice


def test_print_mode_the_stop_hook_waits_and_hands_the_answer_over(
    tmp_path: Path, fakes: Path
) -> None:
    job = background_ask(tmp_path, fakes, "toolu_bg_p")
    waiter = hook(
        "pre-tool-use-wait", ask_call(tmp_path, "toolu_bg_p", background=True), entrypoint="sdk-cli"
    )
    assert (waiter.returncode, waiter.stdout) == (0, "")  # -p: the Stop hook's to deliver
    done = hook("stop", payload("Stop", tmp_path, stop_hook_active=False), entrypoint="sdk-cli")
    answer = json.loads(done.stdout)
    assert answer["decision"] == "block"
    assert answer["reason"].startswith(f"[OMCM] Background job {job.id} finished: the ask")
    assert store.load(job.id).delivered == "stop"


def test_a_background_ask_refused_tells_the_waiting_hook_at_once(
    tmp_path: Path, fakes: Path
) -> None:
    sessions.note_tool_call("toolu_refused", SID, "", str(tmp_path))

    async def work(client: ClientSession) -> Any:
        return await client.call_tool(
            "ask", {"prompt": "", "background": True}, meta=call_meta("toolu_refused")
        )

    refused = with_server(work, server_env(fakes), tmp_path)
    assert refused.is_error
    assert sessions.read_call_mark(SID, "toolu_refused") == ""  # no job: the hook ends now

"""The relay, hook by hook: PreToolUse rewrites a routed call it answered to the relay agent,
PostToolUse puts the answer in place of the relay's output (run as Claude Code runs them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omcm.core import paths, sessions
from tests.integration.test_background_hooks import ANSWER, CODEX, SID, call, hook, setup


def pre(tmp_path: Path, version: str, **tool_input: Any) -> dict[str, Any]:
    transcript = setup(tmp_path, CODEX.format(delay=0, answer=ANSWER), version)
    done = hook("pre-tool-use", call(transcript, tmp_path, **tool_input))
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def post(tmp_path: Path, subagent_type: str, response: Any) -> str:
    payload = {
        "session_id": SID,
        "hook_event_name": "PostToolUse",
        "cwd": str(tmp_path),
        "transcript_path": "",
        "tool_name": "Agent",
        "tool_use_id": "toolu_bg",
        "tool_input": {"description": "find it", "prompt": "x", "subagent_type": subagent_type},
        "tool_response": response,
    }
    done = hook("post-tool-use", payload)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("version", "tool_input"),
    [("2.1.197", {}), ("2.1.332", {"run_in_background": False})],
)
def test_an_answered_call_runs_as_the_relay_and_gets_its_answer_put_in_place(
    tmp_path: Path, version: str, tool_input: dict[str, Any]
) -> None:
    answer = pre(tmp_path, version, **tool_input)
    out = answer["hookSpecificOutput"]
    assert out["permissionDecision"] == "allow"
    updated = out["updatedInput"]
    assert (updated["subagent_type"], updated["model"], updated["description"]) == (
        "omcm:relay",
        "haiku",
        "find it",
    )
    assert updated["prompt"].startswith("[OMCM] OpenAI Codex did this task, but its answer was not")
    assert updated.get("run_in_background") == tool_input.get("run_in_background")
    assert answer["systemMessage"].startswith("OMCM: general-purpose → codex/")
    response = {
        "status": "completed",
        "content": [{"type": "text", "text": "relay line"}],
        "totalTokens": 9,
    }
    replaced = json.loads(post(tmp_path, "omcm:relay", response))
    output = replaced["hookSpecificOutput"]
    assert output["hookEventName"] == "PostToolUse"
    assert output["updatedToolOutput"]["status"] == "completed"
    assert output["updatedToolOutput"]["totalTokens"] == 9
    [block] = output["updatedToolOutput"]["content"]
    assert block["text"].startswith(
        "[OMCM] This general-purpose subagent task was done by OpenAI Codex (model gpt-5.2-codex) "
        "instead of a Claude subagent; its result:\n\n" + ANSWER + "\n\n— omcm: general-purpose → "
    )
    assert post(tmp_path, "omcm:relay", response) == ""  # handed over once
    # The relay's own cost is no observation of what a subagent costs Claude.
    log = Path(paths.state_dir()) / "routing-log.jsonl"
    assert [json.loads(x)["event"] for x in log.read_text().splitlines()] == ["call"]


def test_claude_code_2_1_62_gets_the_deny(tmp_path: Path) -> None:
    answer = pre(tmp_path, "2.1.62")
    assert answer["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert ANSWER in answer["hookSpecificOutput"]["permissionDecisionReason"]
    assert sessions.take_relay(SID, "toolu_bg") is None


def test_relay_off_keeps_the_deny(tmp_path: Path) -> None:
    transcript = setup(tmp_path, CODEX.format(delay=0, answer=ANSWER), "2.1.197")
    config = Path(paths.config_file())
    config.write_text(config.read_text() + "[delegation]\nrelay = false\n")
    done = hook("pre-tool-use", call(transcript, tmp_path))
    assert json.loads(done.stdout)["hookSpecificOutput"]["permissionDecision"] == "deny"

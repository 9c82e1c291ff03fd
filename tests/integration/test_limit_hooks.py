"""SessionEnd backing up StopFailure: a usage-limit rejection found in the transcript.

The transcript lines follow what Claude Code 2.1.197 wrote in the end-to-end
run (tests/e2e/test_hud_e2e.py): after a rejected request the session's last
assistant entry is a synthetic message with ``"error": "rate_limit"`` and
``"isApiErrorMessage": true``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from omcm.core import paths
from omcm.hooks.session_end import last_limit_error
from tests.integration.hookrun import run_hook

SID = "0a9b21e0-0c29-470d-9b8e-27b492d17484"
LIMIT_MESSAGE = "You've hit your session limit · resets 7:01am (UTC)"


def stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


def rejection(at: float) -> dict[str, Any]:
    return {
        "parentUuid": "abf0",
        "isSidechain": False,
        "type": "assistant",
        "uuid": "5ed6",
        "timestamp": stamp(at),
        "message": {
            "id": "ef89",
            "model": "<synthetic>",
            "role": "assistant",
            "stop_reason": "stop_sequence",
            "type": "message",
            "usage": {"input_tokens": 0, "output_tokens": 0},
            "content": [{"type": "text", "text": LIMIT_MESSAGE}],
        },
        "requestId": "req_1",
        "error": "rate_limit",
        "isApiErrorMessage": True,
        "apiErrorStatus": 429,
        "sessionId": SID,
        "version": "2.1.197",
    }


def answer(at: float) -> dict[str, Any]:
    return {
        "isSidechain": False,
        "type": "assistant",
        "timestamp": stamp(at),
        "message": {
            "id": "msg_1",
            "role": "assistant",
            "content": [{"type": "text", "text": "hello"}],
        },
    }


def transcript(tmp_path: Path, *entries: dict[str, Any]) -> Path:
    path = tmp_path / f"{SID}.jsonl"
    lines = [
        {"type": "user", "message": {"role": "user", "content": "hello"}},
        *entries,
        {"type": "last-prompt", "lastPrompt": "hello", "sessionId": SID},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def session_end(
    path: Path | str, cwd: Path, env: dict[str, str] | None = None
) -> dict[str, Any] | None:
    result, _ = run_hook(
        "session-end",
        {
            "session_id": SID,
            "transcript_path": str(path),
            "cwd": str(cwd),
            "hook_event_name": "SessionEnd",
            "reason": "other",
        },
        env=env,
    )
    return result


def state_file(name: str) -> dict[str, Any]:
    path = Path(paths.state_dir()) / name
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return data


def test_a_session_that_ended_on_the_limit_marks_claude_limited(tmp_path: Path) -> None:
    before = time.time()
    result = session_end(transcript(tmp_path, answer(before - 60), rejection(before - 1)), tmp_path)
    assert result is not None
    assert result["systemMessage"].startswith("OMCM: Claude hit its usage limit (until about ")
    assert state_file("provider-limits.json")["claude_limited_until"] > before + 3000
    fallback = state_file("fallback-state.json")
    assert fallback["active"] is True
    assert fallback["reason"] == "Claude rejected a request: its usage limit is reached"
    session = state_file(f"sessions/{SID}/session.json")
    assert session["events"] == {"SessionEnd": 1}
    assert session["pending_notice"] == result["systemMessage"]


def test_nothing_more_when_stop_failure_already_recorded_it(tmp_path: Path) -> None:
    path = transcript(tmp_path, rejection(time.time() - 1))
    first, _ = run_hook(
        "stop-failure",
        {
            "session_id": SID,
            "hook_event_name": "StopFailure",
            "error": "rate_limit",
            "cwd": str(tmp_path),
            "transcript_path": str(path),
        },
    )
    assert first is not None
    until = state_file("provider-limits.json")["claude_limited_until"]
    assert session_end(path, tmp_path) is None
    assert state_file("provider-limits.json")["claude_limited_until"] == until
    lines = (Path(paths.state_dir()) / "routing-log.jsonl").read_text().splitlines()
    events = [json.loads(line)["event"] for line in lines]
    assert events == ["limit", "fallback"]  # from StopFailure; SessionEnd added none


def test_an_old_rejection_or_a_normal_ending_changes_nothing(tmp_path: Path) -> None:
    assert session_end(transcript(tmp_path, rejection(time.time() - 3600)), tmp_path) is None
    assert (
        session_end(
            transcript(tmp_path, rejection(time.time() - 60), answer(time.time())), tmp_path
        )
        is None
    )
    assert session_end(tmp_path / "missing.jsonl", tmp_path) is None
    assert session_end("", tmp_path) is None
    assert state_file("provider-limits.json") == {}
    assert state_file("fallback-state.json") == {}


def test_auto_handoff_is_written_from_session_end(tmp_path: Path) -> None:
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True)
    config.write_text("auto_handoff = true\n")
    result = session_end(transcript(tmp_path, rejection(time.time() - 1)), tmp_path)
    assert result is not None
    assert f"Handoff written to {tmp_path}/.omcm/handoff/context.md" in result["systemMessage"]
    assert (tmp_path / ".omcm" / "handoff" / "context.md").exists()


def test_session_end_finishes_a_stop_failure_stopped_half_way(tmp_path: Path) -> None:
    """``claude -p`` exits without waiting for StopFailure (2.1.332): seen stopped after it
    recorded the limit, before the handoff and the notice. SessionEnd writes those, and
    records the limit no second time."""
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True)
    config.write_text("auto_handoff = true\n")
    limits = Path(paths.state_dir()) / "provider-limits.json"
    limits.parent.mkdir(parents=True, exist_ok=True)
    until = time.time() + 3600
    limits.write_text(json.dumps({"version": 1, "claude_limited_until": until}))
    result = session_end(transcript(tmp_path, rejection(time.time() - 1)), tmp_path)
    assert result is not None
    assert f"Handoff written to {tmp_path}/.omcm/handoff/context.md" in result["systemMessage"]
    assert (tmp_path / ".omcm" / "handoff" / "context.md").exists()
    assert state_file("provider-limits.json")["claude_limited_until"] == until
    session = state_file(f"sessions/{SID}/session.json")
    assert session["pending_notice"] == result["systemMessage"]
    assert not (Path(paths.state_dir()) / "routing-log.jsonl").exists()
    assert session_end(transcript(tmp_path, rejection(time.time() - 1)), tmp_path) is None


def test_last_limit_error_reads_the_timestamp_and_skips_sidechains(tmp_path: Path) -> None:
    at = 1_795_241_137.25
    sidechain = dict(answer(at + 5), isSidechain=True)
    path = transcript(tmp_path, rejection(at), sidechain)
    assert last_limit_error(str(path)) == at
    with path.open("a") as handle:
        handle.write('{"type": "assistant", "cut')
    assert last_limit_error(str(path)) == at


def test_a_call_let_through_for_an_invalid_config_is_logged(tmp_path: Path) -> None:
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[routing]\nmax_worker = 3\n")
    answer, _ = run_hook(
        "pre-tool-use",
        {
            "session_id": SID,
            "hook_event_name": "PreToolUse",
            "cwd": str(tmp_path),
            "tool_name": "Agent",
            "tool_use_id": "toolu_cfg",
            "tool_input": {"description": "x", "prompt": "hi", "subagent_type": "Explore"},
        },
    )
    assert answer is not None and "hookSpecificOutput" not in answer  # Claude runs the call
    problem = f"{config}: unknown key 'routing.max_worker' (did you mean 'routing.max_workers'?)"
    assert problem in answer["systemMessage"]
    [line] = [json.loads(x) for x in Path(paths.routing_log()).read_text().splitlines()]
    assert (line["outcome"], line["reason"], line["agent"], line["tool_use_id"]) == (
        "config-error",
        "config-error",
        "explore",
        "toolu_cfg",
    )
    assert line["error"] == problem
    counters = state_file("fusion-state.json")["sessions"][SID]
    assert counters["calls"] == 1


def test_a_session_end_takes_omcms_server_out_of_the_failed_servers(tmp_path: Path) -> None:
    """2.1.197 may file the server as failed after SessionStart looked (its 60 s limit ran
    out during a slow first build): SessionEnd takes it out for the next session."""
    cache = tmp_path / "claude" / "mcp-needs-auth-cache.json"
    cache.parent.mkdir()
    other = {"timestamp": 1796212979726, "id": "b"}
    cache.write_text(json.dumps({"plugin:omcm:omcm": {"timestamp": 1, "id": "a"}, "gh": other}))
    env = {"CLAUDE_CONFIG_DIR": str(cache.parent)}
    assert session_end(transcript(tmp_path, answer(time.time() - 60)), tmp_path, env) is None
    assert json.loads(cache.read_text()) == {"gh": other}

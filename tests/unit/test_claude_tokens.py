"""Claude's session tokens for the HUD, summed from transcripts read incrementally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omcm.core import state
from omcm.hud import claude_tokens, statusline

SID = "3076fbbb-dbc2-498f-9712-bbc1aa2ef07f"


def assistant(
    message_id: str,
    fresh: int,
    output: int,
    *,
    cache_write: int = 0,
    cache_read: int = 0,
    block: str = "text",
) -> dict[str, Any]:
    """An assistant entry as Claude Code 2.1.197 writes it (one per content block)."""
    return {
        "type": "assistant",
        "isSidechain": False,
        "message": {
            "id": message_id,
            "role": "assistant",
            "content": [{"type": block}],
            "usage": {
                "input_tokens": fresh,
                "output_tokens": output,
                "cache_creation_input_tokens": cache_write,
                "cache_read_input_tokens": cache_read,
            },
        },
    }


def write(path: Path, *entries: dict[str, Any], mode: str = "a") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode) as handle:
        for entry in entries:
            handle.write(json.dumps(entry) + "\n")


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    path = tmp_path / "projects" / "-work" / f"{SID}.jsonl"
    write(
        path,
        {"type": "user", "message": {"role": "user", "content": "hi"}},
        assistant("msg_1", 100, 7, cache_write=50, cache_read=1000),
    )
    return path


def test_sums_input_with_cache_tokens_and_output(transcript: Path) -> None:
    assert claude_tokens.session_tokens(SID, str(transcript)) == (1150, 7)


def test_each_api_message_counts_once(transcript: Path) -> None:
    # A reply with text and a tool call is two entries with the same id and usage.
    write(
        transcript,
        assistant("msg_2", 10, 5),
        assistant("msg_2", 10, 5, block="tool_use"),
        {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result"}]}},
        assistant("msg_3", 20, 3),
    )
    assert claude_tokens.session_tokens(SID, str(transcript)) == (1150 + 10 + 20, 7 + 5 + 3)


def test_only_appended_lines_are_read_and_a_partial_line_waits(transcript: Path) -> None:
    assert claude_tokens.session_tokens(SID, str(transcript)) == (1150, 7)
    line = json.dumps(assistant("msg_2", 10, 5))
    with transcript.open("a") as handle:
        handle.write(line[:20])  # Claude Code is still writing it
    assert claude_tokens.session_tokens(SID, str(transcript)) == (1150, 7)
    with transcript.open("a") as handle:
        handle.write(line[20:] + "\n")
    assert claude_tokens.session_tokens(SID, str(transcript)) == (1160, 12)
    cache = json.loads(Path(state.session_file(SID, claude_tokens.CACHE_FILE)).read_text())
    assert cache["files"][str(transcript)]["offset"] == transcript.stat().st_size


def test_an_unchanged_transcript_writes_nothing(
    transcript: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    claude_tokens.session_tokens(SID, str(transcript))

    def no_write(path: str, text: str) -> None:
        raise AssertionError(f"wrote {path}")

    monkeypatch.setattr(state, "atomic_write", no_write)
    assert claude_tokens.session_tokens(SID, str(transcript)) == (1150, 7)


def test_subagent_transcripts_count_too(transcript: Path) -> None:
    subagents = transcript.parent / SID / "subagents"
    write(subagents / "agent-a1.jsonl", assistant("msg_s1", 30, 4))
    write(subagents / "agent-a2.jsonl", assistant("msg_s2", 40, 6))
    (subagents / "notes.txt").write_text("not a transcript")
    assert claude_tokens.session_tokens(SID, str(transcript)) == (1150 + 70, 17)


def test_a_rewritten_transcript_is_read_again(transcript: Path) -> None:
    claude_tokens.session_tokens(SID, str(transcript))
    write(transcript, assistant("msg_9", 1, 1), mode="w")
    assert claude_tokens.session_tokens(SID, str(transcript)) == (1, 1)


def test_junk_lines_and_missing_usage_are_skipped(transcript: Path) -> None:
    with transcript.open("a") as handle:
        handle.write('{"type": "assistant", "usage": \n')
        handle.write(json.dumps({"type": "assistant", "message": "usage?"}) + "\n")
        handle.write(json.dumps({"type": "assistant", "message": {"id": "m", "usage": 3}}) + "\n")
    assert claude_tokens.session_tokens(SID, str(transcript)) == (1150, 7)


def test_no_transcript_means_unknown(tmp_path: Path) -> None:
    assert claude_tokens.session_tokens(SID, "") is None
    assert claude_tokens.session_tokens(SID, str(tmp_path / "missing.jsonl")) is None


def test_status_line_shows_the_session_totals_not_the_context(
    transcript: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    write(transcript, assistant("msg_2", 200, 14))
    # What 2.1.197 sends: the last response's context, not the session's totals.
    data = {
        "session_id": SID,
        "transcript_path": str(transcript),
        "context_window": {"total_input_tokens": 200, "total_output_tokens": 14},
    }
    line = statusline.render_line(json.dumps(data).encode(), 1_800_000_000.0)
    assert line == "5h:? wk:? │ C:1.4k↓ 21↑"

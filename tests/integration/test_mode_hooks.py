"""UserPromptSubmit, Stop and SessionStart as real processes: modes set, kept, replaced, ended."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omcm.core import paths
from omcm.hooks.session_start import RESULT_NOTE
from omcm.routing import modes, session_mode
from tests.integration.hookrun import run_hook

SID = "sess-1"


def prompt(text: str, session: str = SID) -> dict[str, Any] | None:
    answer, _ = run_hook(
        "user-prompt-submit",
        {
            "session_id": session,
            "transcript_path": "",
            "cwd": "/tmp",
            "hook_event_name": "UserPromptSubmit",
            "prompt": text,
        },
    )
    return answer


def context_of(answer: dict[str, Any] | None) -> str:
    assert answer is not None
    return str(answer["hookSpecificOutput"]["additionalContext"])


def test_no_keyword_prints_nothing_and_writes_no_mode() -> None:
    assert prompt("please fix the failing test in src/app.py") is None
    assert session_mode.current(SID).mode == ""


def test_keyword_sets_mode_and_tells_claude() -> None:
    answer = prompt("hulw: refactor the auth module")
    text = context_of(answer)
    assert text.startswith("OMCM hybrid ultrawork (hulw) mode is on for this session")
    assert "LOW and MEDIUM tier subagents" in text
    assert "in parallel" in text
    assert len(text.split()) <= 130
    assert answer is not None and answer["systemMessage"] == "OMCM: hulw mode on for this session"
    assert session_mode.current(SID).mode == "hulw"
    assert session_mode.current(SID).task == "refactor the auth module"


def test_mode_is_kept_silently_then_replaced_then_cancelled() -> None:
    prompt("hulw: refactor the auth module")
    assert prompt("now also update the docs") is None
    assert session_mode.current(SID).mode == "hulw"
    replaced = context_of(prompt("autopilot: build the todo app"))
    assert "OMCM autopilot mode is on" in replaced
    assert "cancel autopilot" in replaced
    assert session_mode.current(SID).mode == "autopilot"
    cancelled = context_of(prompt("cancel autopilot"))
    assert cancelled.startswith("OMCM autopilot mode is cancelled")
    assert session_mode.current(SID).mode == ""
    assert prompt("carry on") is None


def test_question_about_a_keyword_changes_nothing() -> None:
    assert prompt("what does ulw do?") is None
    assert session_mode.current(SID).mode == ""


def test_modes_are_per_session() -> None:
    prompt("ulw: speed up the build", session="a")
    assert session_mode.current("a").mode == "ulw"
    assert session_mode.current("b").mode == ""


def test_ulw_tells_claude_again_only_when_the_band_changes() -> None:
    limits = Path(paths.state_dir()) / "provider-limits.json"

    def usage(pct: float) -> None:
        import time

        limits.parent.mkdir(parents=True, exist_ok=True)
        window = {
            "used_percentage": pct,
            "resets_at": time.time() + 3600,
            "observed_at": time.time(),
        }
        limits.write_text(json.dumps({"version": 1, "five_hour": window}))

    usage(50)
    assert "every subagent stays on Claude" in context_of(prompt("ulw: tidy the code"))
    assert prompt("next step") is None
    usage(75)
    assert "LOW tier subagents" in context_of(prompt("next step"))
    assert prompt("and the next") is None


def test_autopilot_with_fusion_default(tmp_path: Path) -> None:
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True)
    config.write_text("fusion_default = true\n")
    prompt("autopilot: build a dashboard")
    assert session_mode.current(SID).fusion is True


def test_clear_ends_the_mode_resume_restates_it() -> None:
    prompt("hulw: refactor")
    resumed, _ = run_hook(
        "session-start",
        {"session_id": SID, "hook_event_name": "SessionStart", "source": "resume", "cwd": "/tmp"},
    )
    assert resumed is not None
    told = resumed["hookSpecificOutput"]["additionalContext"]
    assert told.startswith(RESULT_NOTE + "\n\nOMCM hybrid ultrawork (hulw) mode is on")
    cleared, _ = run_hook(
        "session-start",
        {"session_id": SID, "hook_event_name": "SessionStart", "source": "clear", "cwd": "/tmp"},
    )
    assert cleared == {
        "hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": RESULT_NOTE}
    }
    assert session_mode.current(SID).mode == ""


def test_every_session_start_explains_an_omcm_result_in_under_80_tokens() -> None:
    """Counted with the Claude tokenizer anthropic's SDK 0.38 shipped (dev dependency)."""
    from importlib.resources import files

    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(files("anthropic") / "tokenizer.json"))
    assert len(tokenizer.encode(RESULT_NOTE).ids) < 80
    for source in ("startup", "resume", "compact", "clear"):
        answer, _ = run_hook(
            "session-start",
            {"session_id": f"s-{source}", "hook_event_name": "SessionStart", "source": source},
        )
        assert answer == {
            "hookSpecificOutput": {
                "hookEventName": "SessionStart",
                "additionalContext": RESULT_NOTE,
            }
        }, source


def test_no_note_when_routing_is_off() -> None:
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[routing]\nenabled = false\n")
    answer, _ = run_hook(
        "session-start", {"session_id": SID, "hook_event_name": "SessionStart", "source": "startup"}
    )
    assert answer is None


def write_transcript(path: Path, todos: list[tuple[str, str]]) -> None:
    block = {
        "type": "tool_use",
        "id": "t1",
        "name": "TodoWrite",
        "input": {"todos": [{"content": c, "status": s, "activeForm": c} for c, s in todos]},
    }
    path.write_text(
        json.dumps({"type": "assistant", "message": {"role": "assistant", "content": [block]}})
        + "\n"
    )


def stop(transcript: Path, active: bool) -> dict[str, Any] | None:
    answer, _ = run_hook(
        "stop",
        {
            "session_id": SID,
            "hook_event_name": "Stop",
            "transcript_path": str(transcript),
            "cwd": "/tmp",
            "stop_hook_active": active,
        },
    )
    return answer


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    path = tmp_path / "t.jsonl"
    write_transcript(
        path,
        [
            ("Write the parser", "completed"),
            ("Add tests", "in_progress"),
            ("Update docs", "pending"),
        ],
    )
    return path


def test_stop_continues_autopilot_while_todos_are_open_and_respects_the_cap(
    transcript: Path,
) -> None:
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True)
    config.write_text("[autopilot]\nmax_continuations = 2\n")
    prompt("autopilot: ship the parser")
    first = stop(transcript, active=False)
    assert first is not None and first["decision"] == "block"
    assert first["reason"].startswith(
        "OMCM autopilot: 2 todo(s) are still open:\n- [~] Add tests\n- [ ] Update docs\n"
    )
    assert "(Continuation 1 of 2;" in first["reason"]
    second = stop(transcript, active=True)
    assert second is not None and "(Continuation 2 of 2;" in second["reason"]
    third = stop(transcript, active=True)
    assert third == {
        "systemMessage": "OMCM autopilot: stopped after 2 continuations in a row "
        "with 2 todos still open."
    }
    again = stop(transcript, active=False)
    assert again is not None and again["decision"] == "block"


def test_stop_lets_go_when_todos_are_done_or_no_autopilot(tmp_path: Path, transcript: Path) -> None:
    assert stop(transcript, active=False) is None
    prompt("autopilot: ship it")
    done = tmp_path / "done.jsonl"
    write_transcript(done, [("Everything", "completed")])
    assert stop(done, active=False) is None


def test_stop_failure_rate_limit_marks_claude_limited_and_leaves_a_notice(tmp_path: Path) -> None:
    answer, _ = run_hook(
        "stop-failure",
        {
            "session_id": SID,
            "hook_event_name": "StopFailure",
            "error": "rate_limit",
            "cwd": str(tmp_path),
        },
    )
    assert answer is not None
    assert answer["systemMessage"].startswith("OMCM: Claude hit its usage limit (until about ")
    limits = json.loads((Path(paths.state_dir()) / "provider-limits.json").read_text())
    assert limits["claude_limited_until"] > 0
    fallback = json.loads((Path(paths.state_dir()) / "fallback-state.json").read_text())
    assert fallback["active"] is True
    notice = prompt("hello again")
    assert notice is not None and notice["systemMessage"].startswith("OMCM: Claude hit its usage")
    assert prompt("and again") is None


def test_stop_failure_with_auto_handoff_writes_context_and_commands(tmp_path: Path) -> None:
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True)
    config.write_text("auto_handoff = true\n")
    answer, _ = run_hook(
        "stop-failure",
        {
            "session_id": SID,
            "hook_event_name": "StopFailure",
            "error": "rate_limit",
            "cwd": str(tmp_path),
        },
    )
    assert answer is not None
    message = answer["systemMessage"]
    assert f"Handoff written to {tmp_path}/.omcm/handoff/context.md" in message
    assert f"cd {tmp_path} && opencode --prompt 'Read .omcm/handoff/context.md" in message
    assert (tmp_path / ".omcm" / "handoff" / "context.md").exists()


def test_slash_command_after_its_bang_line_adds_the_task_without_repeating_the_text() -> None:
    session_mode.set_mode(
        SID, "autopilot", keyword="command"
    )  # what `omcm mode set` did just before
    assert prompt("/omcm:autopilot hulw build the dashboard") is None
    record = session_mode.current(SID)
    assert (record.mode, record.fusion, record.task) == ("autopilot", True, "build the dashboard")


def test_a_task_notification_prompt_is_not_the_users(tmp_path: Path) -> None:
    """2.1.332 runs UserPromptSubmit with a finished background task as the prompt."""
    from omcm.core import sessions
    from omcm.routing import session_mode

    note = (
        "<task-notification>\n<task-id>a1</task-id>\n<tool-use-id>toolu_1</tool-use-id>\n"
        "<status>completed</status>\n<result>ulw: everything is fine</result>\n"
        "</task-notification>"
    )
    prompt("please fix the tests")
    assert prompt(note) is None
    info = sessions.info(SID)
    assert info.last_prompt == "please fix the tests"
    assert info.events["UserPromptSubmit"] == 2
    assert session_mode.current(SID).mode == ""


def test_without_a_todo_list_autopilot_stops_on_the_done_marker(tmp_path: Path) -> None:
    """2.1.332 offers no todo tool: Claude ends a finished task with AUTOPILOT: DONE."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    prompt("autopilot: ship the parser")

    def stop_after(message: str, active: bool) -> dict[str, Any] | None:
        answer, _ = run_hook(
            "stop",
            {
                "session_id": SID,
                "hook_event_name": "Stop",
                "transcript_path": str(empty),
                "stop_hook_active": active,
                "last_assistant_message": message,
            },
        )
        return answer

    going = stop_after("Parser written; tests next.", active=False)
    assert going is not None and going["decision"] == "block"
    assert going["reason"].startswith(
        "OMCM autopilot: the task is not marked done yet.\nCarry on. When everything is done "
        f"and verified (run the tests), end your reply with the line {modes.DONE_MARKER}."
    )
    assert stop_after(f"All green.\n{modes.DONE_MARKER}", active=True) is None
    assert session_mode.current(SID).continuations == 0

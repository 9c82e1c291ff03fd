from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from omcm.calls import handoff
from omcm.config.schema import ContextConfig
from omcm.core import tail
from omcm.core.masking import mask


def line(**entry: object) -> str:
    return json.dumps(entry) + "\n"


def user(text: str, **extra: object) -> str:
    return line(type="user", message={"role": "user", "content": text}, **extra)


def tool_use(name: str, data: dict[str, object]) -> str:
    block = {"type": "tool_use", "id": "t", "name": name, "input": data}
    return line(type="assistant", message={"role": "assistant", "content": [block]})


def tool_result(text: str) -> str:
    block = {"type": "tool_result", "tool_use_id": "t", "content": text}
    return line(type="user", message={"role": "user", "content": [block]})


@pytest.fixture
def transcript(tmp_path: Path) -> Path:
    path = tmp_path / "t.jsonl"
    path.write_text(
        user("first request")
        + tool_use("TodoWrite", {"todos": [{"content": "old", "status": "pending"}]})
        + tool_use("Edit", {"file_path": "/proj/src/a.py", "old_string": "x", "new_string": "y"})
        + user("refactor the auth module, token=abcd1234secret")
        + tool_use(
            "TodoWrite",
            {
                "todos": [
                    {
                        "content": "Add password check",
                        "status": "in_progress",
                        "activeForm": "Adding",
                    },
                    {"content": "Write tests", "status": "pending", "activeForm": "Writing"},
                    {"content": "Read code", "status": "completed", "activeForm": "Reading"},
                ]
            },
        )
        + tool_result("file contents")
        + tool_use("Write", {"file_path": "/proj/src/b.py", "content": "..."})
        + tool_use("Edit", {"file_path": "/proj/src/a.py", "old_string": "y", "new_string": "z"})
        + user("<command-name>/omcm:hulw</command-name>", isMeta=True)
        + line(type="user", isSidechain=True, message={"role": "user", "content": "subagent"})
    )
    return path


def test_transcript_facts_come_from_the_latest_entries(transcript: Path) -> None:
    facts = handoff.read_transcript(str(transcript))
    assert facts.last_prompt == "refactor the auth module, token=abcd1234secret"
    assert facts.todos == [
        handoff.Todo("Add password check", "in_progress"),
        handoff.Todo("Write tests", "pending"),
        handoff.Todo("Read code", "completed"),
    ]
    assert facts.files == ["/proj/src/a.py", "/proj/src/b.py"]


def task_call(name: str, use_id: str, data: dict[str, object]) -> str:
    block = {"type": "tool_use", "id": use_id, "name": name, "input": data}
    return line(type="assistant", message={"role": "assistant", "content": [block]})


def task_result(use_id: str, text: str, result: object = None) -> str:
    block = {"type": "tool_result", "tool_use_id": use_id, "content": text}
    return line(type="user", message={"role": "user", "content": [block]}, toolUseResult=result)


def test_task_tools_rebuild_the_whole_list(tmp_path: Path) -> None:
    """Claude Code 2.1.197's TaskCreate / TaskUpdate, as its transcript records them."""
    path = tmp_path / "t.jsonl"
    path.write_text(
        user("build a todo app")
        + tool_use("TodoWrite", {"todos": [{"content": "older list", "status": "pending"}]})
        + task_call("TaskCreate", "c1", {"subject": "Write the model", "description": "m"})
        + task_result(
            "c1",
            "Task #1 created successfully: Write the model",
            {"task": {"id": "1", "subject": "Write the model"}},
        )
        + task_call("TaskCreate", "c2", {"subject": "Write the API", "description": "a"})
        + task_result("c2", "Task #2 created successfully: Write the API")
        + task_call("TaskCreate", "c3", {"subject": "Scratch", "description": "s"})
        + task_result("c3", "Task #3 created successfully: Scratch", {"task": {"id": "3"}})
        + task_call("TaskUpdate", "u1", {"taskId": "2", "status": "in_progress"})
        + task_call("TaskUpdate", "u2", {"taskId": "1", "status": "completed"})
        + task_call("TaskUpdate", "u3", {"taskId": "3", "status": "deleted"})
        + task_call("TaskUpdate", "u4", {"taskId": "2", "subject": "Write the REST API"})
    )
    assert handoff.read_transcript(str(path), want_files=0).todos == [
        handoff.Todo("Write the model", "completed"),
        handoff.Todo("Write the REST API", "in_progress"),
    ]


def test_transcript_read_from_the_end_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tail, "CHUNK", 64)
    path = tmp_path / "t.jsonl"
    filler = line(type="assistant", message={"role": "assistant", "content": "x" * 300})
    path.write_text(user("the real prompt " * 10) + filler * 50)
    assert handoff.read_transcript(str(path)).last_prompt == ("the real prompt " * 10).strip()


def test_scan_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handoff, "MAX_SCAN", 1000)
    monkeypatch.setattr(tail, "CHUNK", 200)
    filler = line(type="assistant", message={"role": "assistant", "content": "x" * 100})
    path = tmp_path / "t.jsonl"
    path.write_text(user("too far back") + filler * 100)
    assert handoff.read_transcript(str(path)).last_prompt == ""


def test_missing_or_damaged_transcript_gives_empty_facts(tmp_path: Path) -> None:
    assert handoff.read_transcript(str(tmp_path / "nope.jsonl")) == handoff.TranscriptFacts()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type":"user", broken\n' + user("ok"))
    assert handoff.read_transcript(str(bad)).last_prompt == "ok"


def test_build_and_write_in_the_seed_shape(tmp_path: Path, transcript: Path) -> None:
    project = tmp_path / "proj"
    (project / ".omcm" / "notes").mkdir(parents=True)
    (project / ".omcm" / "notes" / "decisions.md").write_text(
        "# Decisions\n1. JWT tokens\n- Redis for sessions; REDIS_PASSWORD=hunter22\n"
    )
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "changed.py").write_text("x")
    context = handoff.build(
        project=str(project),
        session_id="s1",
        transcript_path=str(transcript),
        task="Explore auth",
        target="OpenAI Codex",
        usage="5-hour: 87%, weekly: 45%",
        settings=ContextConfig(),
    )
    md_path, text = handoff.write(context, 50000)
    assert md_path == str(project / ".omcm" / "handoff" / "context.md")
    assert text.startswith(
        "# Task handoff context\n\n> Handed over from Claude Code to OpenAI Codex"
    )
    assert f"| Project path | `{project}` |" in text
    assert "| Claude usage | 5-hour: 87%, weekly: 45% |" in text
    assert "## Current task\nExplore auth\n" in text
    assert "> refactor the auth module, token=***" in text
    assert "## Open todos\n- [~] Add password check\n- [ ] Write tests\n" in text
    assert "Read code" not in text
    assert "## Recently modified files\n- /proj/src/a.py\n- /proj/src/b.py\n- changed.py\n" in text
    assert "## Decisions\n1. JWT tokens\n2. Redis for sessions; REDIS_PASSWORD=***\n" in text
    twin = json.loads((project / ".omcm" / "handoff" / "context.json").read_text())
    assert twin["todos"][0] == {"content": "Add password check", "status": "in_progress"}
    assert (project / ".omcm" / "handoff" / ".gitignore").read_text().endswith("*\n")
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True, check=True
    ).stdout
    assert "handoff" not in status


def test_context_settings_are_respected(tmp_path: Path, transcript: Path) -> None:
    settings = ContextConfig(
        include_recent_files=False,
        include_todos=False,
        include_decisions=False,
        max_context_length=300,
    )
    context = handoff.build(
        project=str(tmp_path),
        session_id="s",
        transcript_path=str(transcript),
        task="t",
        target="Gemini",
        usage="unknown",
        settings=settings,
    )
    assert context.todos == [] and context.recent_files == [] and context.decisions == []
    text = context.markdown(settings.max_context_length)
    assert len(text) <= 300
    assert text.endswith("[… handoff context cut at context.max_context_length]\n")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("OPENAI_API_KEY=sk-abcdefghijklmnop1234", "OPENAI_API_KEY=***"),
        ("export AWS_SECRET_ACCESS_KEY=abc/def+ghi", "export AWS_SECRET_ACCESS_KEY=***"),
        ('GITHUB_TOKEN="ghp_abcdefghijklmnopqrstuvwxyz0123456789"', 'GITHUB_TOKEN="***"'),
        ("api_key: abcd1234efgh", "api_key: ***"),
        ('{"client_secret": "s3cr3tvalue"}', '{"client_secret": "***"}'),
        ("Authorization: Bearer abc.def.ghijklmnop", "Authorization: Bearer ***"),
        ("key sk-ant-api03-abcdefghijklmnopqrstuv", "key sk-***"),
        ("AKIAABCDEFGHIJKLMNOP in a log", "*** in a log"),
        ("postgres://user:hunter2@db/x", "postgres://user:***@db/x"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\nafter",
            "[private key masked]\nafter",
        ),
        (
            "the key idea is simple; my monkey=banana; token count = 5",
            "the key idea is simple; my monkey=banana; token count = 5",
        ),
    ],
)
def test_masking(text: str, masked: str) -> None:
    assert mask(text) == masked


def test_the_prompt_the_hook_recorded_wins_over_a_lagging_transcript(
    tmp_path: Path, transcript: Path
) -> None:
    from omcm.core import sessions
    from omcm.hooks.user_prompt_submit import UserPromptSubmitPayload

    payload = UserPromptSubmitPayload.parse(
        {
            "session_id": "s1",
            "hook_event_name": "UserPromptSubmit",
            "cwd": str(tmp_path),
            "prompt": "the newest request, not yet in the transcript; API_KEY=abcd1234",
        },
        "test",
    )
    sessions.record_event(payload, prompt=payload.prompt)
    context = handoff.build(
        project=str(tmp_path),
        session_id="s1",
        transcript_path=str(transcript),
        task="t",
        target="Codex",
        usage="unknown",
        settings=ContextConfig(),
    )
    assert context.last_prompt == "the newest request, not yet in the transcript; API_KEY=***"
    other = handoff.build(
        project=str(tmp_path),
        session_id="s2",
        transcript_path=str(transcript),
        task="t",
        target="Codex",
        usage="unknown",
        settings=ContextConfig(),
    )
    assert other.last_prompt == "refactor the auth module, token=***"

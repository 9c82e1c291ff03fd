"""Which session a slash command acts on when Claude Code does not say (2.1.62)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pytest

from omcm.cli import session
from omcm.core import sessions, state
from omcm.core.errors import OmcmError


def seen(session_id: str, cwd: Path, at: float) -> None:
    def mutate(info: sessions.SessionInfo) -> None:
        info.cwd, info.last_event_at = str(cwd), at

    state.update(sessions._info_file(session_id), sessions.SessionInfo, mutate)


def test_newest_session_in_the_project_dir(tmp_path: Path) -> None:
    project, other = tmp_path / "project", tmp_path / "other"
    project.mkdir()
    other.mkdir()
    (tmp_path / "link").symlink_to(project)
    assert sessions.newest_in(str(project)) == ""  # no session seen yet
    seen("old", project, 100.0)
    seen("new", tmp_path / "link", 200.0)  # the same folder through a symlink
    seen("elsewhere", other, 300.0)
    assert sessions.newest_in(str(project)) == "new"
    assert sessions.newest_in(str(other)) == "elsewhere"
    assert sessions.newest_in(str(tmp_path)) == ""


def test_cli_guesses_the_session_only_inside_claude_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen("abc", tmp_path, 100.0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLAUDE_CODE_SESSION_ID", raising=False)
    args = argparse.Namespace(session=None)
    with pytest.raises(OmcmError, match="no session"):
        session.session_of(args)  # a user's own shell: never act on a guessed session
    monkeypatch.setenv("CLAUDECODE", "1")
    assert session.session_of(args) == "abc"
    monkeypatch.setenv("CLAUDE_CODE_SESSION_ID", "given")
    assert session.session_of(args) == "given"


def test_the_version_is_found_behind_large_request_lines(tmp_path: Path) -> None:
    """2.1.332 writes each API request's shape and body (tens of KB, no version) into the
    transcript: the version is found further back than those lines."""
    from omcm.core import sessions

    transcript = tmp_path / "session.jsonl"
    lines = [
        {"type": "user", "version": "2.1.332", "message": {"content": "hi"}},
        {"type": "api-request-shape", "tools": [{"name": "x" * 60_000}]},
        {"type": "api-request-blob", "body": {"tool": {"version": "not a version"}}},
        {"type": "api-request-blob", "body": "y" * 70_000},
    ]
    transcript.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert sessions.claude_version(str(transcript)) == (2, 1, 332)
    assert sessions.claude_version(str(tmp_path / "missing.jsonl")) is None
    (tmp_path / "none.jsonl").write_text('{"type": "mode"}\n')
    assert sessions.claude_version(str(tmp_path / "none.jsonl")) is None


@pytest.mark.parametrize("layout", ["npm", "native"])
def test_the_running_claude_code_says_its_version(tmp_path: Path, layout: str) -> None:
    """Interactive 2.1.332 writes its transcript in batches: early hooks ask the process
    ($CLAUDE_PID) which release it is, from its npm package or its installer's folder."""
    import subprocess

    from omcm.core import sessions

    if layout == "npm":
        package = tmp_path / "node_modules" / "@anthropic-ai" / "claude-code"
        program = package / "bin" / "claude.exe"
        program.parent.mkdir(parents=True)
        (package / "package.json").write_text(
            json.dumps({"name": "@anthropic-ai/claude-code", "version": "2.1.332"})
        )
        wanted = (2, 1, 332)
    else:
        program = tmp_path / ".local" / "share" / "claude" / "versions" / "2.1.400" / "claude"
        program.parent.mkdir(parents=True)
        wanted = (2, 1, 400)
    program.write_text("#!/bin/sh\nsleep 30\nexit 0\n")  # sh stays (no exec of sleep)
    program.chmod(0o755)
    claude = subprocess.Popen([str(program)])
    try:
        deadline = time.monotonic() + 5  # a Claude Code that hooks run under is well started
        while not Path(f"/proc/{claude.pid}/cmdline").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sessions.running_version({"CLAUDE_PID": str(claude.pid)}) == wanted
        assert sessions.claude_version(str(tmp_path / "empty.jsonl")) is None  # no CLAUDE_PID
    finally:
        claude.kill()
        claude.wait()
    assert sessions.running_version({}) is None

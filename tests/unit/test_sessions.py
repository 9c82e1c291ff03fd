"""Which session a slash command acts on when Claude Code does not say (2.1.62)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from omcm import cli, sessions, state
from omcm.errors import OmcmError


def seen(session_id: str, cwd: Path, at: float) -> None:
    def mutate(info: state.SessionInfo) -> None:
        info.cwd, info.last_event_at = str(cwd), at

    state.update(state.session_file(session_id, "session.json"), state.SessionInfo, mutate)


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
        cli.session_of(args)  # a user's own shell: never act on a guessed session
    monkeypatch.setenv("CLAUDECODE", "1")
    assert cli.session_of(args) == "abc"
    monkeypatch.setenv("CLAUDE_CODE_SESSION_ID", "given")
    assert cli.session_of(args) == "given"

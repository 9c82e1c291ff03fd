"""SessionStart and a starting MCP server: the mark the launcher leaves, the wait for it."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from omcm.core import server_start


@pytest.fixture
def marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLAUDE_PLUGIN_DATA", str(tmp_path / "data"))
    folder = Path(server_start.folder())
    folder.mkdir(parents=True)
    return folder


def test_the_versions_that_take_the_tool_list_once_are_waited_for() -> None:
    assert server_start.should_wait((2, 1, 197))
    assert server_start.should_wait((2, 1, 162))
    assert server_start.should_wait(None)  # unknown: a short wait beats a session without tools
    assert not server_start.should_wait((2, 1, 62))  # waits for its servers itself
    assert not server_start.should_wait((2, 1, 332))  # lists a late server's tools


def test_no_mark_no_wait(marks: Path) -> None:
    assert server_start.wait(12345, limit=5) < 0.5


def test_the_wait_ends_when_the_server_removes_its_mark(
    marks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark = marks / "4242"
    mark.touch()
    monkeypatch.setenv("OMCM_MCP_STARTING", str(mark))
    served = threading.Event()

    def serve() -> None:
        served.wait()
        server_start.done()

    thread = threading.Thread(target=serve)
    thread.start()
    threading.Timer(0.3, served.set).start()
    waited = server_start.wait(4242, limit=10)
    thread.join()
    assert 0.25 <= waited < 5
    assert not mark.exists()
    assert "OMCM_MCP_STARTING" not in os.environ  # not passed on to the providers it starts


def test_a_server_that_never_serves_costs_the_limit_only(marks: Path) -> None:
    (marks / "4243").write_text(f"{os.getpid()}\n")  # alive, and never serving
    started = time.monotonic()
    server_start.wait(4243, limit=0.3)
    assert 0.3 <= time.monotonic() - started < 3


def test_marks_of_ended_claude_processes_go_with_the_next_server(
    marks: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ended = subprocess.Popen(["true"])
    ended.wait()
    (marks / str(ended.pid)).touch()
    (marks / str(os.getpid())).touch()  # a live Claude Code whose server is still starting
    mine = marks / "1"  # pid 1 lives
    mine.touch()
    monkeypatch.setenv("OMCM_MCP_STARTING", str(mine))
    server_start.done()
    assert sorted(p.name for p in marks.iterdir()) == [str(os.getpid())]


def test_a_server_that_died_before_serving_is_not_waited_for(marks: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (marks / "4244").write_text(f"{dead.pid}\n")
    assert server_start.wait(4244, limit=10) < 1
    assert not (marks / "4244").exists()


def test_a_failure_claude_code_cached_is_forgotten_and_only_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    cache = tmp_path / "claude" / "mcp-needs-auth-cache.json"
    assert not server_start.forget_failure()  # no cache: nothing to do
    cache.parent.mkdir()
    other = {"timestamp": 1796212979726, "id": "b"}
    cache.write_text(json.dumps({"plugin:omcm:omcm": {"timestamp": 1, "id": "a"}, "gh": other}))
    assert server_start.forget_failure()
    assert json.loads(cache.read_text()) == {"gh": other}
    assert not server_start.forget_failure()
    cache.write_text("{not json")
    assert not server_start.forget_failure()
    assert cache.read_text() == "{not json"  # not ours to repair


def test_a_print_session_with_its_mcp_servers_expects_ours() -> None:
    assert server_start.expects_server(["claude", "-p", "go", "--output-format", "json"])
    assert server_start.expects_server(["claude", "--print", "go"])
    assert not server_start.expects_server(["claude"])  # interactive: tools come when ready
    assert not server_start.expects_server(["claude", "-p", "go", "--strict-mcp-config"])
    assert "python" in server_start.claude_args(os.getpid())[0]
    ended = subprocess.Popen(["true"])
    ended.wait()
    assert server_start.claude_args(ended.pid) == []


def test_a_server_that_starts_late_is_given_a_moment(marks: Path) -> None:
    threading.Timer(0.2, (marks / "4245").touch).start()
    assert server_start.wait_for_start(4245, limit=5)
    assert not server_start.wait_for_start(4246, limit=0.2)

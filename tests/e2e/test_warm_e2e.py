"""Warm mode with the real CLIs: ``codex app-server``, ``gemini --acp`` and ``opencode serve``.

Each pinned CLI runs as a warm server in a pool (:mod:`omcm.providers.pool`) against the stub
model server. The sandbox of a cold call must hold on a warm server (read-only
cannot write, by file tool or by shell; workspace-write can), every call gets
its own session, a pool serves one project only, a routed call through the hook
says in the log that it ran warm, and a pool that is left alone stops with all
its processes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from omcm.calls import routing_log
from omcm.core import paths
from omcm.providers import pool
from omcm.providers.base import PoolSettings, ProviderRequest, ProviderResult, WarmSettings
from tests.e2e.stub_models import SETUPS, Reply, StubModels, child_env, pinned_bin
from tests.integration.hookrun import run_hook
from tests.processes import group_members, running

pytestmark = pytest.mark.e2e

CLIS = ("codex", "gemini", "opencode")
#: A tool call that writes ``new.txt`` in the project, per CLI: by file tool and by shell.
WRITES = {
    "codex": [("exec_command", {"cmd": "echo x > new.txt"})],
    "gemini": [
        ("write_file", {"file_path": "new.txt", "content": "x\n"}),
        ("run_shell_command", {"command": "echo x > new.txt"}),
    ],
    "opencode": [
        ("write", {"filePath": "new.txt", "content": "x\n"}),
        ("bash", {"command": "echo x > new.txt", "description": "write a file"}),
    ],
}
#: What ACP reports: output without thoughts, no cached count (see the README).
WARM_USAGE = {
    "codex": {"input": 1234, "cached": 100, "output": 56, "reasoning": 7},
    "gemini": {"input": 1234, "cached": 0, "output": 49, "reasoning": 0},
    "opencode": {"input": 1234, "cached": 100, "output": 56, "reasoning": 7},
}


@pytest.fixture(params=CLIS)
def cli(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if not pinned_bin(name).exists():
        pytest.fail(f"{pinned_bin(name)} is missing: run scripts/setup --e2e")
    return name


@pytest.fixture
def stub() -> Iterator[StubModels]:
    with StubModels() as server:
        yield server


class Warm:
    """One CLI pointed at the stub, with warm settings and a project."""

    def __init__(self, cli: str, stub: StubModels, root: Path, idle: int = 600) -> None:
        self.cli = cli
        self.setup = SETUPS[cli](stub.url, root / "home")
        self.env = child_env(self.setup)
        self.settings = WarmSettings(
            command=str(pinned_bin(cli)),
            args=list(self.setup.args),
            warm=True,
            pool=PoolSettings(min=1, max=2, idle_shutdown=idle),
        )
        self.project = root / "project"
        self.project.mkdir(exist_ok=True)

    def call(
        self, prompt: str = "Say hi.", sandbox: str = "read-only", project: Path | None = None
    ) -> tuple[ProviderResult, pool.Served]:
        request = ProviderRequest(
            prompt=prompt,
            model=self.setup.model,
            sandbox=sandbox,
            cwd=str(project or self.project),
            title="omcm: warm e2e",
        )
        served = pool.call(self.cli, self.settings, request, timeout=90, env=self.env)
        return ProviderResult.parse(served.result, "result"), served


def wait_for(check: Callable[[], object], within: float = 20.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {within}s")


def test_calls_run_on_one_warm_server_each_in_a_session_of_its_own(
    cli: str, stub: StubModels, tmp_path: Path
) -> None:
    warm = Warm(cli, stub, tmp_path)
    first, served = warm.call("First task: say hi.")
    assert (first.outcome, first.answer) == ("ok", "STUB-ANSWER"), first
    assert served.fresh  # the pool started its server for this call
    assert first.usage.dump() == WARM_USAGE[cli]
    second, again = warm.call("Second task: say hi again.")
    assert second.outcome == "ok" and not again.fresh
    live = pool.pools()
    assert len(live) == 1 and len(live[0].servers) == 1
    assert live[0].servers[0].calls == 2
    # Each call is a new session: the second request does not carry the first task.
    [_first, later] = [r for r in stub.model_requests() if "task" in json.dumps(r.body)]
    assert "First task" not in json.dumps(later.body)


@pytest.mark.parametrize(("sandbox", "written"), [("read-only", False), ("workspace-write", True)])
def test_the_sandbox_holds_on_a_warm_server(
    cli: str, stub: StubModels, tmp_path: Path, sandbox: str, written: bool
) -> None:
    warm = Warm(cli, stub, tmp_path)
    warm.call()  # the server is up, and later calls reuse it
    for tool in WRITES[cli]:
        if sandbox == "workspace-write" and tool[0] in ("run_shell_command",):
            continue  # gemini's workspace-write is auto_edit: file edits, no shell (as cold)
        target = warm.project / "new.txt"
        target.unlink(missing_ok=True)
        stub.script(Reply(tool=tool))
        result, served = warm.call(f"Write the file ({tool[0]}).", sandbox)
        assert result.outcome == "ok" and not served.fresh, result
        assert target.exists() is written, (tool, result)


def test_a_pool_serves_one_project_only(cli: str, stub: StubModels, tmp_path: Path) -> None:
    warm = Warm(cli, stub, tmp_path)
    other = tmp_path / "other-project"
    other.mkdir()
    mine, _ = warm.call("Task in the project.")
    theirs, served = warm.call("Task in the other project.", project=other)
    assert mine.outcome == theirs.outcome == "ok"
    assert served.fresh  # a server of its own
    assert sorted(p.project for p in pool.pools()) == sorted([str(warm.project), str(other)])
    bodies = [json.dumps(r.body) for r in stub.model_requests()]
    [in_mine] = [b for b in bodies if "Task in the project." in b]
    [in_other] = [b for b in bodies if "Task in the other project." in b]
    assert str(other) not in in_mine and str(warm.project) not in in_other


def test_a_pool_left_alone_stops_with_every_process(
    cli: str, stub: StubModels, tmp_path: Path
) -> None:
    warm = Warm(cli, stub, tmp_path, idle=3)
    warm.call()
    [live] = pool.pools()
    server = live.servers[0].pid
    assert server
    members = group_members(server)  # by pid and start time: the pgid may be reused soon
    assert members
    wait_for(lambda: not pool.pools(), within=20)
    wait_for(lambda: not running(members), within=5)

    def supervisor_gone() -> bool:
        try:
            return "omcm.providers.pool" not in Path(f"/proc/{live.pid}/cmdline").read_text(
                errors="replace"
            )
        except OSError:
            return True

    # it removes its state file after its servers, then exits (a moment later under load)
    wait_for(supervisor_gone, within=5)


def test_a_routed_call_through_the_hook_runs_warm(
    cli: str, stub: StubModels, tmp_path: Path
) -> None:
    warm = Warm(cli, stub, tmp_path)
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True, exist_ok=True)
    table = warm.setup.table(cli, warm=True)
    import tomli_w

    config.write_text(
        tomli_w.dumps(
            {
                "fusion_default": True,
                "routing": {"chains": {"low": [cli], "medium": [cli]}},
                "providers": {cli: table},
            }
        )
    )
    for number in (1, 2):
        payload = {
            "session_id": "s-warm",
            "transcript_path": "",
            "cwd": str(warm.project),
            "hook_event_name": "PreToolUse",
            "tool_name": "Agent",
            "tool_use_id": f"t-{number}",
            "tool_input": {
                "subagent_type": "Explore",
                "prompt": f"Look around ({number}).",
                "description": "look",
            },
        }
        answer, done = run_hook("pre-tool-use", payload, env=warm.setup.env, timeout=120)
        assert answer is not None, done.stderr
        assert "STUB-ANSWER" in answer["hookSpecificOutput"]["permissionDecisionReason"]
    entries = [e for e in routing_log.entries() if isinstance(e, routing_log.CallEntry)]
    assert [(e.outcome, e.attempts[0].warm) for e in entries] == [
        ("routed", "started"),
        ("routed", "hit"),
    ]
    assert entries[1].duration < entries[0].duration

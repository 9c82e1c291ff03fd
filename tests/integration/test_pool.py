"""Warm pools with real processes: a supervisor, and servers of a stand-in ``codex app-server``.

The stand-in (``tests/fixtures/fake_codex.py``) speaks the app-server protocol
without a model; its answers name the server process, sandbox and project that
ran the call, and it logs every message it gets, so each test can see what the
supervisor did. The real CLIs' warm modes are tested end to end in
``tests/e2e/test_warm_e2e.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from omcm.calls import routing_log
from omcm.core import paths, proc
from omcm.providers import pool
from omcm.providers.base import PoolSettings, ProviderRequest, ProviderResult, WarmSettings
from tests.integration.hookrun import run_hook

REPO = Path(__file__).resolve().parents[2]
FAKE = REPO / "tests" / "fixtures" / "fake_codex.py"


class Fake:
    """The stand-in codex, its message log, and settings that use it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "fake.log"
        self.command = root / "codex"
        self.command.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
        self.command.chmod(0o755)
        self.env = proc.child_env({"FAKE_LOG": str(self.log)})

    def settings(self, low: int = 1, high: int = 2, idle: int = 600) -> WarmSettings:
        return WarmSettings(
            command=str(self.command),
            warm=True,
            pool=PoolSettings(min=low, max=high, idle_shutdown=idle),
        )

    def seen(self, method: str) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [line for line in lines if line.get("got") == method]


@pytest.fixture
def fake(tmp_path: Path) -> Fake:
    return Fake(tmp_path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def request(project: Path, prompt: str = "hi", sandbox: str = "read-only") -> ProviderRequest:
    return ProviderRequest(prompt=prompt, model="m-1", sandbox=sandbox, cwd=str(project))


def call(
    fake: Fake, settings: WarmSettings, req: ProviderRequest, **kw: Any
) -> tuple[ProviderResult, pool.Served]:
    served = pool.call("codex", settings, req, timeout=30, env=fake.env, **kw)
    return ProviderResult.parse(served.result, "result"), served


def wait_for(check: Callable[[], object], within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {within}s: {check}")


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def only_pool() -> pool.PoolState:
    found = pool.pools()
    assert len(found) == 1, found
    return found[0]


def pool_log(state: pool.PoolState) -> str:
    return Path(paths.state_dir(), "pools", f"{state.key}.log").read_text()


def test_a_warm_server_answers_and_is_reused(fake: Fake, project: Path) -> None:
    settings = fake.settings()
    first, served = call(fake, settings, request(project))
    assert first.outcome == "ok" and served.fresh
    assert first.usage.input == 100 and first.usage.reasoning == 5
    assert first.model == "m-1"
    second, again = call(fake, settings, request(project))
    assert second.outcome == "ok" and not again.fresh
    assert second.answer.split(":")[1] == first.answer.split(":")[1]  # the same process
    assert len(fake.seen("initialize")) == 1
    assert len(fake.seen("thread/start")) == 2  # a session of its own per call
    live = only_pool()
    assert [s.state for s in live.servers] == ["idle"]
    assert live.servers[0].calls == 2 and live.calls == 2


def test_each_call_gets_its_sandbox_and_only_its_project(
    fake: Fake, project: Path, tmp_path: Path
) -> None:
    settings = fake.settings()
    read_only, _ = call(fake, settings, request(project, sandbox="read-only"))
    writing, _ = call(fake, settings, request(project, sandbox="workspace-write"))
    assert read_only.answer.endswith(f":read-only:{project}")
    assert writing.answer.endswith(f":workspace-write:{project}")
    other = tmp_path / "other"
    other.mkdir()
    elsewhere, _ = call(fake, settings, request(other))
    assert elsewhere.answer.endswith(f":{other}")
    assert elsewhere.answer.split(":")[1] != read_only.answer.split(":")[1]  # another server
    assert len(pool.pools()) == 2
    assert pool.key_of("codex", settings, str(project), fake.env) != pool.key_of(
        "codex", settings, str(other), fake.env
    )


def test_a_different_environment_is_a_different_pool(fake: Fake, project: Path) -> None:
    settings = fake.settings()
    key = pool.key_of("codex", settings, str(project), fake.env)
    assert key == pool.key_of("codex", settings, str(project), fake.env | {"PWD": "/x"})
    assert key != pool.key_of("codex", settings, str(project), fake.env | {"OPENAI_API_KEY": "k"})


def test_a_busy_pool_grows_to_max_and_then_says_so(fake: Fake, project: Path) -> None:
    settings = fake.settings(low=1, high=2)
    results: list[Any] = []

    def slow() -> None:
        try:
            results.append(call(fake, settings, request(project, "SLEEP 2"))[1])
        except pool.Unavailable as why:
            results.append(why)

    call(fake, settings, request(project))  # the pool is up with its one server
    threads = [threading.Thread(target=slow) for _ in range(3)]
    for thread in threads:
        thread.start()
        time.sleep(0.3)
    for thread in threads:
        thread.join()
    refused = [r for r in results if isinstance(r, pool.Unavailable)]
    served = [r for r in results if isinstance(r, pool.Served)]
    assert len(served) == 2 and len(refused) == 1
    assert str(refused[0]) == "all 2 warm servers are busy (pool.max)"
    assert sorted(s.fresh for s in served) == [False, True]
    assert len(only_pool().servers) == 2


def test_unused_servers_stop_and_the_supervisor_leaves(fake: Fake, project: Path) -> None:
    settings = fake.settings(low=1, high=2, idle=2)
    call(fake, settings, request(project))
    live = only_pool()
    server, supervisor = live.servers[0].pid, live.pid
    assert server and alive(server)
    wait_for(lambda: not alive(supervisor), within=10)
    assert not alive(server)
    assert pool.pools() == []
    log = Path(paths.state_dir(), "pools", f"{live.key}.log").read_text()
    assert "stopped: unused for 2s (idle_shutdown)" in log
    assert "pool stopping: nothing came for 2s (idle_shutdown)" in log


def test_a_server_that_crashed_while_idle_is_replaced(fake: Fake, project: Path) -> None:
    settings = fake.settings(low=1)
    call(fake, settings, request(project))
    first = only_pool().servers[0].pid
    assert first
    os.killpg(first, signal.SIGKILL)

    def replaced() -> bool:
        servers = only_pool().servers
        return bool(servers) and servers[0].pid != first and servers[0].state == "idle"

    wait_for(replaced)
    assert "crashed" in pool_log(only_pool())
    result, served = call(fake, settings, request(project))
    assert result.outcome == "ok" and not served.fresh


def test_a_server_dying_mid_call_is_a_crash_and_is_dropped(fake: Fake, project: Path) -> None:
    settings = fake.settings(low=0)
    result, _ = call(fake, settings, request(project, "CRASH"))
    assert result.outcome == "crash"
    assert result.error.startswith("the warm server failed: codex app-server exited")
    assert only_pool().servers == []
    again, served = call(fake, settings, request(project))
    assert again.outcome == "ok" and served.fresh


def test_a_server_that_will_not_start_sends_calls_cold_for_a_while(
    fake: Fake, project: Path
) -> None:
    fake.env["FAKE_START_FAIL"] = "no such model provider: stub"
    settings = fake.settings(low=0)
    with pytest.raises(pool.Unavailable) as first:
        call(fake, settings, request(project))
    assert "a warm server failed to start" in str(first.value)
    assert "no such model provider: stub" in str(first.value)
    with pytest.raises(pool.Unavailable, match="a warm server failed to start"):
        call(fake, settings, request(project))
    assert len(fake.seen("start-failed")) == 1  # no second start within the back-off
    wait_for(lambda: only_pool().last_error)


def test_a_cancelled_call_is_interrupted_and_the_server_kept(fake: Fake, project: Path) -> None:
    settings = fake.settings()
    asked = time.monotonic() + 0.8
    with pytest.raises(proc.Cancelled):
        call(
            fake,
            settings,
            request(project, "SLEEP 30"),
            cancel=lambda: "stopped by Esc" if time.monotonic() > asked else "",
        )
    wait_for(lambda: fake.seen("turn/interrupt"))
    # the server is back once its cancelled call is counted (written when a call ends)
    wait_for(lambda: [(s.state, s.calls) for s in only_pool().servers] == [("idle", 1)])
    result, served = call(fake, settings, request(project))
    assert result.outcome == "ok" and not served.fresh


CALLER = """
import sys, time
from omcm.providers import pool
from omcm.core import proc
from omcm.providers.base import PoolSettings, ProviderRequest, WarmSettings
settings = WarmSettings(command=sys.argv[1], warm=True, pool=PoolSettings(min=1, max=2, idle_shutdown=600))
request = ProviderRequest(prompt="SLEEP 30", model="m", sandbox="read-only", cwd=sys.argv[2])
print("calling", flush=True)
pool.call("codex", settings, request, timeout=60, env=proc.child_env(), epitaph=sys.argv[3])
"""


def test_a_caller_killed_mid_call_aborts_it_and_leaves_its_log_line(
    fake: Fake, project: Path
) -> None:
    entry = routing_log.CallEntry(
        session_id="s-1", agent="explore", decision="providers", outcome="cancelled"
    )
    epitaph = json.dumps({"call": entry.dump()})
    caller = subprocess.Popen(
        [sys.executable, "-c", CALLER, str(fake.command), str(project), epitaph],
        env=fake.env | {k: os.environ[k] for k in ("OMCM_STATE_DIR", "OMCM_CONFIG_DIR")},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: fake.seen("turn/start"))
        caller.kill()
    finally:
        caller.wait()
    wait_for(lambda: fake.seen("turn/interrupt"))
    lines = wait_for(lambda: list(routing_log.entries()))
    assert [(e.session_id, e.outcome) for e in lines] == [("s-1", "cancelled")]
    wait_for(lambda: only_pool().servers[0].state == "idle")


def test_killing_the_supervisor_takes_its_servers_along(fake: Fake, project: Path) -> None:
    settings = fake.settings(low=1)
    call(fake, settings, request(project))
    live = only_pool()
    server = live.servers[0].pid
    assert server
    os.kill(live.pid, signal.SIGKILL)
    wait_for(lambda: not alive(server), within=5)
    # The kernel closes a killed process's files one by one: the server can see its pipe
    # close and be gone before the supervisor's lock file is closed (seen on a busy
    # machine). The pool is listed no more once the lock is released.
    wait_for(lambda: pool.pools() == [], within=5)


def test_stop_ends_the_pool_and_its_servers(fake: Fake, project: Path) -> None:
    call(fake, fake.settings(), request(project))
    live = only_pool()
    server = live.servers[0].pid
    assert server
    assert pool.stop(live.key)
    assert not alive(server) and not alive(live.pid)
    assert "pool stopped" in Path(paths.state_dir(), "pools", f"{live.key}.log").read_text()


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # it ended meanwhile
        return b""


def _parent(pid: str) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def test_many_callers_at_once_start_one_supervisor(fake: Fake, project: Path) -> None:
    settings = fake.settings(low=1)
    keys: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: keys.append(pool.ensure("codex", settings, str(project), fake.env))
        )
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    live = wait_for(lambda: pool.load(keys[0]))
    # A process the supervisor forks carries its command line until it execs: not another
    # supervisor, so only processes whose parent is not the supervisor count.
    supervisors = [
        pid
        for pid in os.listdir("/proc")
        if pid.isdigit()
        and keys[0].encode() in _cmdline(pid)
        and alive(int(pid))
        and _parent(pid) != live.pid
    ]
    assert supervisors == [str(live.pid)]
    wait_for(lambda: len(fake.seen("initialize")) == 1)


def test_removing_the_plugin_stops_the_pool(
    fake: Fake, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugin = tmp_path / "plugin-cache" / "omcm"
    plugin.mkdir(parents=True)
    monkeypatch.setenv("CLAUDE_PLUGIN_ROOT", str(plugin))
    call(fake, fake.settings(), request(project))
    live = only_pool()
    plugin.rmdir()
    wait_for(lambda: not alive(live.pid), within=10)
    assert "the plugin was removed" in pool_log(live)


# --- through the hook ------------------------------------------------------------------


def configure(fake: Fake, extra: str = "") -> None:
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "fusion_default = true\n[routing.chains]\n"
        'medium = ["codex"]\nlow = ["codex"]\n'
        f'[providers.codex]\ncommand = "{fake.command}"\nwarm = true\n{extra}'
    )


def hook_call(
    project: Path, fake: Fake, tool_use_id: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """The PreToolUse hook's answer to an explore call (``env`` adds to the fake's)."""
    payload = {
        "session_id": "s-warm",
        "transcript_path": "",
        "cwd": str(project),
        "hook_event_name": "PreToolUse",
        "tool_name": "Agent",
        "tool_use_id": tool_use_id,
        "tool_input": {
            "subagent_type": "explore",
            "prompt": f"look ({tool_use_id})",  # not a repeat answered from the store
            "description": "look",
        },
    }
    answer, _done = run_hook("pre-tool-use", payload, env={"FAKE_LOG": str(fake.log)} | (env or {}))
    assert answer is not None
    return answer


def test_a_routed_call_runs_warm_and_the_log_says_so(fake: Fake, project: Path) -> None:
    configure(fake)
    first = hook_call(project, fake, "t-1")
    second = hook_call(project, fake, "t-2")
    for answer in (first, second):
        reason = answer["hookSpecificOutput"]["permissionDecisionReason"]
        assert "FAKE:" in reason and f":read-only:{project}" in reason
    attempts = [
        e.attempts[0] for e in routing_log.entries() if isinstance(e, routing_log.CallEntry)
    ]
    assert [(a.outcome, a.warm, a.warm_error) for a in attempts] == [
        ("ok", "started", ""),
        ("ok", "hit", ""),
    ]
    assert not [line for line in fake.log.read_text().splitlines() if '"exec"' in line]


def test_a_pool_that_cannot_serve_runs_the_call_cold_and_says_why(
    fake: Fake, project: Path
) -> None:
    configure(fake, "[providers.codex.pool]\nmin = 0\n")
    fake.env["FAKE_START_FAIL"] = "boom"
    answer = hook_call(project, fake, "t-cold", env={"FAKE_START_FAIL": "boom"})
    assert "COLD:" in answer["hookSpecificOutput"]["permissionDecisionReason"]
    (entry,) = [e for e in routing_log.entries() if isinstance(e, routing_log.CallEntry)]
    attempt = entry.attempts[0]
    assert (attempt.outcome, attempt.warm) == ("ok", "")
    assert attempt.warm_error.startswith("a warm server failed to start")
    assert "boom" in attempt.warm_error


def test_a_session_start_starts_the_pool_of_a_warm_provider(fake: Fake, project: Path) -> None:
    configure(fake)
    payload = {
        "session_id": "s-start",
        "transcript_path": "",
        "cwd": str(project),
        "hook_event_name": "SessionStart",
        "source": "startup",
    }
    # The hook does not wait for the servers: it answers while the fake still holds back
    # its answer to initialize, until the test lets it go.
    hold = project.parent / "let-initialize-go"
    run_hook(
        "session-start", payload, env={"FAKE_LOG": str(fake.log), "FAKE_START_HOLD": str(hold)}
    )
    live = wait_for(pool.pools)
    assert [(p.provider, p.project) for p in live] == [("codex", str(project))]
    assert all(s.state != "idle" for s in only_pool().servers)  # none could be ready yet
    hold.touch()
    wait_for(lambda: only_pool().servers and only_pool().servers[0].state == "idle")


def test_status_the_pool_command_and_the_status_line_show_the_pool(
    fake: Fake, project: Path
) -> None:
    from omcm.cli import status
    from omcm.hud import statusline

    call(fake, fake.settings(), request(project))
    shown = subprocess.run(
        [sys.executable, "-m", "omcm", "pool", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"FAKE_LOG": str(fake.log)},
    )
    [listed] = json.loads(shown.stdout)
    assert "token" not in listed and listed["provider"] == "codex"
    assert listed["servers"][0]["state"] == "idle" and listed["servers"][0]["rss_kib"] > 0
    report = status.collect()
    assert [p["project"] for p in report["pools"]] == [str(project)]
    text = status.render(report)
    assert "warm pools:" in text and "server 1: pid" in text
    line = statusline.render_line(json.dumps({"cwd": str(project)}).encode(), time.time())
    assert "♨O 0/1 9m" in line
    elsewhere = statusline.render_line(json.dumps({"cwd": "/"}).encode(), time.time())
    assert "♨" not in elsewhere
    stopped = subprocess.run(
        [sys.executable, "-m", "omcm", "pool", "stop"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert stopped.stdout.startswith(f"stopped codex in {project} (1 server)")
    assert pool.pools() == []

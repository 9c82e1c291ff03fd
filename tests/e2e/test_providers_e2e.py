"""The pinned provider CLIs, run for real through omcm.core.proc + their provider modules,
against the stub model server on 127.0.0.1 (tests/e2e/stub_models.py).

A missing pinned CLI fails the test: run scripts/setup --e2e.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from omcm.providers import PROVIDERS
from omcm.providers.base import ProviderSettings, Usage
from tests.e2e.stub_models import ANSWER, Reply, StubModels, pinned_bin, run_provider
from tests.processes import descendants, group_members, running

pytestmark = pytest.mark.e2e

CLIS = ("codex", "gemini", "opencode")
STUB_USAGE = Usage(input=1234, cached=100, output=56, reasoning=7)
# opencode retries a 429 five times, waiting what retry-after says.
RETRY_AFTER = {"codex": 30, "gemini": 30, "opencode": 1}
# The processes one run starts: codex is a node wrapper around a native binary; gemini
# would relaunch itself in a second node process, but OMCM tells it not to; opencode is
# one binary.
PROCESSES = {"codex": 2, "gemini": 1, "opencode": 1}
WRITE_TOOLS = {
    "codex": ("exec_command", {"cmd": "echo x > new.txt"}),
    "gemini": ("write_file", {"file_path": "new.txt", "content": "x\n"}),
    "opencode": ("write", {"filePath": "new.txt", "content": "x\n"}),
}


@pytest.fixture
def stub() -> Iterator[StubModels]:
    with StubModels() as server:
        yield server


@pytest.fixture(params=CLIS)
def cli(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if not pinned_bin(name).exists():
        pytest.fail(f"{pinned_bin(name)} is missing: run scripts/setup --e2e")
    return name


def test_success_returns_the_answer_and_the_exact_usage(
    cli: str, stub: StubModels, tmp_path: Path
) -> None:
    result, request = run_provider(cli, stub.url, tmp_path, prompt="Summarise the notes.")
    parsed = PROVIDERS[cli].parse(result, time.time())
    assert (parsed.outcome, parsed.answer, parsed.usage, parsed.error) == (
        "ok",
        ANSWER,
        STUB_USAGE,
        "",
    ), result.stderr[-2000:]
    [call] = stub.model_requests()
    assert "Summarise the notes." in str(call.body)
    assert request.cwd == str(tmp_path / "work")


def test_rate_limit_is_classified(cli: str, stub: StubModels, tmp_path: Path) -> None:
    stub.default = Reply.rate_limited(RETRY_AFTER[cli])
    result, _request = run_provider(cli, stub.url, tmp_path)
    parsed = PROVIDERS[cli].parse(result, time.time())
    assert parsed.outcome == "rate_limited", (parsed, result.stdout[-2000:], result.stderr[-2000:])
    assert parsed.answer == ""


def test_a_hanging_model_is_killed_at_the_timeout_with_its_process_group(
    cli: str, stub: StubModels, tmp_path: Path
) -> None:
    stub.default = Reply(hang=True)
    # The CLI must reach its model before the timeout for the kill to be tested mid-request;
    # a CLI slow to start on a busy machine gets a longer timeout next time, not a failure.
    for timeout in (8, 16, 32, 64):
        started: list[int] = []
        seen: dict[int, str] = {}
        asked = len(stub.model_requests())

        def watch(
            started: list[int] = started,
            seen: dict[int, str] = seen,
            asked: int = asked,
            timeout: int = timeout,
        ) -> None:
            """Once the model request arrives, note every process the CLI has started."""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not (
                started and len(stub.model_requests()) > asked
            ):
                time.sleep(0.05)
            if started:
                seen.update(descendants(started[0]))

        watcher = threading.Thread(target=watch)
        watcher.start()
        result, _request = run_provider(
            cli, stub.url, tmp_path / str(timeout), timeout=timeout, on_start=started.append
        )
        watcher.join()
        if len(stub.model_requests()) > asked:
            break
    parsed = PROVIDERS[cli].parse(result, time.time())
    assert result.timed_out
    assert (parsed.outcome, parsed.error) == ("timeout", f"timed out after {timeout}s")
    assert len(stub.model_requests()) > asked, "the CLI never reached the stub before the timeout"
    assert len(seen) >= PROCESSES[cli], seen
    assert running(seen) == {}, "processes of the killed CLI survived"
    assert group_members(started[0]) == {}


@pytest.mark.parametrize(("sandbox", "written"), [("read-only", False), ("workspace-write", True)])
def test_the_sandbox_decides_whether_the_model_may_write(
    cli: str, stub: StubModels, tmp_path: Path, sandbox: str, written: bool
) -> None:
    stub.script(Reply(tool=WRITE_TOOLS[cli]))
    result, request = run_provider(cli, stub.url, tmp_path, sandbox=sandbox)
    parsed = PROVIDERS[cli].parse(result, time.time())
    assert (parsed.outcome, parsed.answer) == ("ok", ANSWER), result.stderr[-2000:]
    assert (Path(request.cwd) / "new.txt").exists() is written
    assert len(stub.model_requests()) == 2  # the tool's result went back to the model


def test_the_stub_measures_concurrency_and_records_requests(stub: StubModels) -> None:
    stub.default = Reply(delay=0.5)

    def call(_n: int) -> int:
        req = urllib.request.Request(
            f"{stub.url}/v1/chat/completions",
            method="POST",
            data=b'{"model": "m", "stream": false}',
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as response:
            return int(response.status)

    with ThreadPoolExecutor(max_workers=3) as pool:
        assert list(pool.map(call, range(6))) == [200] * 6
    assert stub.max_in_flight == 3
    # A handler thread ends just after its reply reached the client.
    deadline = time.monotonic() + 5
    while stub.in_flight and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stub.in_flight == 0
    assert [r.body for r in stub.model_requests()] == [{"model": "m", "stream": False}] * 6


def test_closing_the_stub_releases_a_hanging_request() -> None:
    stub = StubModels(Reply(hang=True)).start()
    errors: list[OSError] = []

    def call() -> None:
        try:
            urllib.request.urlopen(
                urllib.request.Request(f"{stub.url}/v1/responses", method="POST", data=b"{}"),
                timeout=10,
            )
        except OSError as exc:  # the connection closes without an answer
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    while not stub.requests:
        time.sleep(0.01)
    stub.close()
    caller.join(timeout=60)
    assert not caller.is_alive()  # the closed connection ended the call, it did not hang
    assert errors  # the connection closed without an answer


def test_codex_login_is_read_from_the_real_cli_without_writing(tmp_path: Path) -> None:
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    env = {"HOME": str(tmp_path), "CODEX_HOME": str(codex_home), "PATH": os.environ["PATH"]}
    codex = str(pinned_bin("codex"))
    before = sorted(p.name for p in codex_home.iterdir())
    login = PROVIDERS["codex"].login(ProviderSettings(command=codex), env)
    assert (login.ready, login.detail, login.fix) == (False, "not logged in", "codex login")
    assert sorted(p.name for p in codex_home.iterdir()) == before
    saved = subprocess.run(
        [codex, "login", "--with-api-key"],
        input="sk-e2e-key\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert saved.returncode == 0, saved.stderr
    login = PROVIDERS["codex"].login(ProviderSettings(command=codex), env)
    assert login.ready, login
    assert login.detail.startswith("codex login status: API key configured"), login.detail

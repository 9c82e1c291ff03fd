"""Every test runs with OMCM's paths and HOME in a temp dir: no test touches a real home."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from omcm.core import state

REPO = Path(__file__).resolve().parent.parent

# --- how the suite is spread over workers (scripts/test runs pytest-xdist) -----------------
#
# The end-to-end modules that wait longest go first, slowest first, so that no worker starts
# a two-minute install test while the others run out of work; the unit and integration
# tests, quick and many, fill the gaps at the end. (From a run's --durations; the order only
# matters for the wall time, never for a result.)
SLOWEST_FIRST = (
    "test_install_like_user",
    "test_mcp_e2e",
    "test_review_e2e",
    "test_routing_e2e",
    "test_foundation_e2e",
    "test_modes_e2e",
    "test_hud_e2e",
    "test_background_e2e",
    "test_warm_e2e",
    "test_providers_e2e",
    "test_cancel_e2e",
    "test_ollama_e2e",
)
# End-to-end modules whose module-scoped fixtures (one Claude run per version, a pre-commit
# home) serve several tests: a unit of work is the module and version, so each is made once.
SHARED_FIXTURES = (
    "test_foundation_e2e",
    "test_hud_e2e",
    "test_install_like_user",
    "test_modes_e2e",
    "test_review_e2e",
)
VERSION_IN_ID = re.compile(r"\[(?:[^\]]*-)?(2\.1\.\d+)(?:-[^\]]*)?\]$")


def _module(nodeid: str) -> str:
    return nodeid.partition("::")[0].rpartition("/")[2].removesuffix(".py")


@pytest.hookimpl(optionalhook=True)  # an xdist hook: no worker, no plain run knows it
def pytest_xdist_make_scope(nodeid: str) -> str:
    """The unit of work a worker takes at once: a unit or integration module; an
    end-to-end module and version where its tests share module fixtures; else one
    end-to-end test (a module of them spreads over the workers)."""
    path = nodeid.partition("::")[0]
    if not path.startswith("tests/e2e/"):
        return path
    if _module(nodeid) in SHARED_FIXTURES:
        version = VERSION_IN_ID.search(nodeid)
        return f"{path}::{version.group(1) if version else ''}"
    return nodeid


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> tuple[int, int]:
        module = _module(item.nodeid)
        if module in SLOWEST_FIRST:
            return (0, SLOWEST_FIRST.index(module))
        return (1, 0) if item.nodeid.startswith("tests/e2e/") else (2, 0)

    items.sort(key=rank)  # stable: the order within a rank is the collection's


@contextmanager
def read_only(folder: Path | str) -> Iterator[None]:
    """Make ``folder`` and everything in it unwritable for this process, root included: the
    immutable attribute as root (permission bits bind no root process), else the bits."""
    import os
    import subprocess

    if os.geteuid() == 0:
        subprocess.run(["chattr", "-R", "+i", str(folder)], check=True, capture_output=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-R", "-i", str(folder)], check=True, capture_output=True)
        return
    modes = {p: p.stat().st_mode for p in [Path(folder), *Path(folder).rglob("*")]}
    for path in modes:
        path.chmod(0o500 if path.is_dir() else 0o400)
    try:
        yield
    finally:
        for path, mode in modes.items():
            path.chmod(mode)


def stop_jobs_under(root: Path) -> list[str]:
    """Stop the workers and providers of unfinished background jobs whose state dir is under
    ``root`` (a test's jobs must not outlive it: their workers are detached on purpose)."""
    import json
    import os
    import signal

    from omcm.jobs import store

    stopped = []
    for record_file in root.glob("**/jobs/*/job.json"):
        try:
            record = json.loads(record_file.read_text())
        except (OSError, ValueError):
            continue
        if record.get("state") in store.FINISHED:
            continue
        worker, started = record.get("worker_pid"), record.get("worker_started")
        if worker == os.getpid():
            continue  # a unit test registered the test process itself as the worker
        if worker and started and abs((store.process_start(worker) or 0) - started) < 2:
            os.kill(worker, signal.SIGKILL)
            stopped.append(record_file.parent.name)
        # Not a group whose id the test's provider left to somebody else (pids wrap here).
        group = store.provider_group(
            store.JobRecord(
                provider_pgid=record.get("provider_pgid"),
                provider_started=record.get("provider_started"),
            )
        )
        if group:
            try:
                os.killpg(group, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    return stopped


def stop_pools_under(root: Path) -> list[str]:
    """Kill the pool supervisors (and their servers' groups) whose state dir is under ``root``:
    like job workers, they are detached on purpose and must not outlive the test."""
    import json
    import os
    import signal

    stopped = []
    for pool_file in root.glob("**/pools/*.json"):
        if pool_file.name.endswith(".spec.json"):
            continue
        try:
            record = json.loads(pool_file.read_text())
        except (OSError, ValueError):
            continue
        for server in record.get("servers") or []:
            if server.get("pid"):
                try:
                    os.killpg(server["pid"], signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        pid = record.get("pid")
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes() if pid else b""
        except OSError:
            command = b""
        if b"omcm.providers.pool" in command:  # the supervisor itself, not a reused pid
            os.kill(pid, signal.SIGKILL)
            stopped.append(pool_file.stem)
    return stopped


@pytest.fixture(scope="session", autouse=True)
def no_job_outlives_the_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    stop_jobs_under(tmp_path_factory.getbasetemp())
    stop_pools_under(tmp_path_factory.getbasetemp())


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OMCM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("OMCM_CONFIG_DIR", str(tmp_path / "config"))
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    for var in (
        "CLAUDE_PLUGIN_DATA",
        "CLAUDE_PLUGIN_ROOT",
        "CLAUDE_PROJECT_DIR",
        "CLAUDE_PID",
        "OMCM_PYTHON",
        "OMCM_DEBUG_PAYLOADS",
        "CLAUDECODE",
    ):
        monkeypatch.delenv(var, raising=False)
    # Per-process lists (a hook or a status line is one process per event; a test worker
    # runs many tests): start each test with none from the one before.
    state.NOTICES.clear()
    state.MOVED_ASIDE.clear()
    yield home
    stop_jobs_under(tmp_path)
    stop_pools_under(tmp_path)

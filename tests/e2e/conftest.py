"""Fixtures for the end-to-end tests: the stub API and the pinned Claude Code CLIs.

A missing CLI fails the test with "run scripts/setup --e2e": CI must never skip
the end-to-end layer silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.claude import CURRENT, LEGACY, Sandbox, claude_cli, repo_python
from tests.e2e.stub_anthropic import StubAnthropic


@pytest.fixture
def stub() -> Iterator[StubAnthropic]:
    """A fresh stub API answering "ok" until the test sets ``stub.responder``."""
    with StubAnthropic() as server:
        yield server


@pytest.fixture(scope="session")
def claude_current() -> Path:
    return claude_cli(CURRENT)


@pytest.fixture(scope="session")
def claude_legacy() -> Path:
    return claude_cli(LEGACY)


@pytest.fixture(scope="session")
def dev_python() -> Path:
    """The checkout's own environment, which ``--plugin-dir <repo>`` runs hooks with."""
    return repo_python()


@pytest.fixture
def sandbox(tmp_path: Path, stub: StubAnthropic) -> Sandbox:
    """A throw-away Claude Code user (current version) wired to ``stub``."""
    return Sandbox(tmp_path / "sandbox", CURRENT, stub.url)

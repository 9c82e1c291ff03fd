from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from omcm.calls import inputs
from omcm.config import Config
from omcm.providers import codex_limits
from omcm.routing.engine import Route
from omcm.routing.usage import ProviderLimits


def session(root: Path, day: str, name: str, events: list[dict[str, object]]) -> Path:
    folder = root / "sessions" / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def token_count(primary: float, secondary: float, resets: float) -> dict[str, object]:
    return {
        "timestamp": "2026-11-21T05:00:00Z",
        "type": "event_msg",
        "payload": {
            "type": "token_count",
            "info": None,
            "rate_limits": {
                "primary": {"used_percent": primary, "window_minutes": 300, "resets_at": resets},
                "secondary": {
                    "used_percent": secondary,
                    "window_minutes": 10080,
                    "resets_at": resets + 86400,
                },
            },
        },
    }


@pytest.fixture
def codex_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "codex"
    monkeypatch.setenv("CODEX_HOME", str(home))
    return home


def test_latest_event_of_the_newest_session_wins(codex_home: Path) -> None:
    old = session(codex_home, "2026/11/20", "rollout-a.jsonl", [token_count(99, 50, 1e10)])
    os.utime(old, (1, 1))
    session(
        codex_home,
        "2026/11/21",
        "rollout-b.jsonl",
        [
            token_count(10, 20, 2e9),
            {"type": "event_msg", "payload": {"type": "agent_message"}},
            token_count(12, 21, 2e9),
            {"type": "response_item", "payload": {"type": "message"}},
        ],
    )
    seen = codex_limits.read()
    assert seen is not None
    assert seen.primary == codex_limits.CodexWindow(12.0, 300, 2e9)
    assert seen.secondary is not None and seen.secondary.used_percent == 21.0
    assert seen.source.endswith("rollout-b.jsonl")


def test_no_sessions_means_nothing_known(codex_home: Path) -> None:
    assert codex_limits.read() is None
    session(codex_home, "2026/11/21", "rollout-c.jsonl", [{"type": "session_meta"}])
    assert codex_limits.read() is None


def test_a_full_window_makes_routing_skip_codex(
    codex_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = tmp_path / "bin"
    installed.mkdir()
    (installed / "codex").write_text("#!/bin/sh\n")
    (installed / "codex").chmod(0o755)
    monkeypatch.setenv("PATH", f"{installed}{os.pathsep}{os.environ['PATH']}")
    now = time.time()
    session(codex_home, "2026/11/21", "rollout-d.jsonl", [token_count(100, 40, now + 600)])
    route = Route(provider="codex", model="gpt-5.2-codex", sandbox="read-only")
    health = inputs.health(Config(), ProviderLimits(), now, probe=[route])
    assert not health["codex"].available
    assert health["codex"].reason.startswith(
        "Codex's own usage limit is reached; it resets in 10m00s"
    )


def test_a_passed_reset_does_not_block(codex_home: Path) -> None:
    now = time.time()
    session(codex_home, "2026/11/21", "rollout-e.jsonl", [token_count(100, 40, now - 5)])
    seen = codex_limits.read()
    assert seen is not None and seen.exhausted_until(now) is None

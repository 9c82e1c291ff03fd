"""Every test runs with OMCM's paths and HOME in a temp dir: no test touches a real home."""

from __future__ import annotations

from pathlib import Path

import pytest

from omcm import state

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
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
        "OMCM_PYTHON",
        "OMCM_DEBUG_PAYLOADS",
        "CLAUDECODE",
    ):
        monkeypatch.delenv(var, raising=False)
    state.NOTICES.clear()
    return home

from __future__ import annotations

from pathlib import Path

import pytest

from omcm.core import paths
from omcm.core.errors import OmcmError


def test_env_overrides_are_used(tmp_path: Path) -> None:
    assert paths.state_dir() == str(tmp_path / "state")
    assert paths.config_file() == str(tmp_path / "config" / "config.toml")
    assert paths.session_dir("abc-123") == str(tmp_path / "state" / "sessions" / "abc-123")


def test_platformdirs_defaults_when_not_overridden(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    monkeypatch.delenv("OMCM_STATE_DIR")
    monkeypatch.delenv("OMCM_CONFIG_DIR")
    from platformdirs import user_config_dir, user_state_dir

    assert paths.config_dir() == user_config_dir("omcm")
    assert paths.state_dir() == user_state_dir("omcm")
    assert paths.state_dir().startswith(str(isolated_home))


@pytest.mark.parametrize("xdg", ["set", "empty", "unset"])
def test_fast_rule_agrees_with_platformdirs(
    monkeypatch: pytest.MonkeyPatch, isolated_home: Path, xdg: str
) -> None:
    import platformdirs

    monkeypatch.delenv("OMCM_STATE_DIR")
    monkeypatch.delenv("OMCM_CONFIG_DIR")
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        if xdg == "unset":
            monkeypatch.delenv(var)
        elif xdg == "empty":
            monkeypatch.setenv(var, "  ")
    assert paths.config_dir() == platformdirs.user_config_dir("omcm")
    assert paths.state_dir() == platformdirs.user_state_dir("omcm")
    assert paths.data_dir() == platformdirs.user_data_dir("omcm")


def test_project_files_live_under_dot_omcm(tmp_path: Path) -> None:
    assert paths.project_dir(str(tmp_path)) == str(tmp_path / ".omcm")


@pytest.mark.parametrize("bad", ["", ".", "..", "../etc", "a/b", "a\\b", "x" * 129, "ses\x00"])
def test_unsafe_names_are_refused(bad: str) -> None:
    with pytest.raises(OmcmError, match="invalid session id"):
        paths.session_dir(bad)


def test_real_session_ids_are_accepted() -> None:
    assert paths.safe_name("f7d9c3a2-1b4e-4c5d-9e8f-0123456789ab", "session id")

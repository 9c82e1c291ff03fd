from __future__ import annotations

import subprocess
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


# --- starting Python without site ---------------------------------------------------------


def test_the_import_path_names_omcm_and_the_environments_packages() -> None:
    import site
    import sys

    where = paths.import_path()
    assert sys.prefix != sys.base_prefix  # the tests run in the checkout's .venv
    assert where[0] == str(Path(paths.__file__).resolve().parents[2])  # src/ of an editable install
    assert where[1:] == [p for p in site.getsitepackages() if p != where[0]]


def _run_fast(where: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    import sys

    argv = [sys.executable, *paths.fast_start("probe_mod", "main", where)]
    return subprocess.run(argv, capture_output=True, text=True, check=False, cwd=tmp_path)


def test_fast_start_runs_without_site_from_the_given_path(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "probe_mod.py").write_text(
        "import sys\ndef main():\n    print(sys.flags.no_site, sys.path[-1])\n"
    )
    (tmp_path / "json.py").write_text("raise SystemExit('the cwd shadowed the stdlib')\n")
    done = _run_fast([str(tmp_path / "lib")], tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"1 {tmp_path / 'lib'}\n"


def test_fast_start_falls_back_to_site_when_the_path_is_stale(tmp_path: Path) -> None:
    """omcm moved since the command was written: site (this environment's .pth file of the
    editable install) finds it; a module found neither way is a plain ImportError."""
    import sys

    stale = [str(tmp_path / "gone")]
    argv = [sys.executable, *paths.fast_start("omcm.core.paths", "import_path", stale)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    done = _run_fast(stale, tmp_path)
    assert done.returncode == 1
    assert "No module named 'probe_mod'" in done.stderr

"""``omcm doctor`` and ``omcm setup``: one readiness verdict, the hooks' environment found as
the launcher finds it, nothing written (issue 16, defects 9 and 10)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from omcm.cli import doctor
from omcm.cli.main import main


def no_providers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH with no provider CLI on it (and no API key)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    for tool in ("git", "sh"):
        found = subprocess.run(["which", tool], capture_output=True, text=True, check=False)
        if found.stdout.strip():
            (empty / tool).symlink_to(found.stdout.strip())
    monkeypatch.setenv("PATH", str(empty))
    for key in ("OPENAI_API_KEY", "CODEX_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(key, raising=False)


def test_doctor_fails_when_no_provider_is_ready(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_providers(monkeypatch, tmp_path)
    assert main(["doctor"]) == 1
    captured = capsys.readouterr()
    assert "no provider is ready: OMCM can route nothing" in captured.err
    assert "! codex: `codex` is not on PATH\n    fix: npm install -g @openai/codex" in captured.out


def test_setup_lists_as_ready_only_what_doctor_and_routing_call_ready(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """setup said "Providers ready: ollama." while doctor said ollama was off."""
    no_providers(monkeypatch, tmp_path)
    assert main(["setup"]) == 0
    out = capsys.readouterr().out
    assert "✔ ollama: off: off until a model is named" in out
    assert out.rstrip().endswith("Providers ready: none yet.")


def test_the_hooks_environment_is_found_where_claude_code_keeps_plugin_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From a terminal (no CLAUDE_PLUGIN_DATA) doctor looked only in the platform data dir."""
    monkeypatch.setattr(doctor, "_checkout", lambda: "")
    env_dir = Path(os.environ["HOME"]) / ".claude" / "plugins" / "data" / "omcm-omcm" / "venv"
    (env_dir / "bin").mkdir(parents=True)
    python_file = env_dir / "bin" / "python"
    python_file.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')  # an env with omcm
    python_file.chmod(0o755)
    (env_dir / ".omcm-stamp").write_text("stamp")
    python, origin = doctor.hooks_python(None)
    assert (python, origin) == (
        str(env_dir / "bin" / "python"),
        f"the plugin environment {env_dir}",
    )
    [check] = [c for c in doctor.run_checks() if c.name == "hooks env"]
    assert check.status == doctor.OK, check


def test_a_hooks_environment_without_the_mcp_sdk_says_what_installs_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """omcm installed without its ``mcp`` extra runs the hooks, not the MCP server."""
    python = tmp_path / "env" / "bin" / "python"  # omcm from the checkout, no site-packages
    python.parent.mkdir(parents=True)
    src = Path(doctor.__file__).parents[2]
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{src}" exec "{sys.executable}" -S "$@"\n')
    python.chmod(0o755)
    monkeypatch.setenv("OMCM_PYTHON", str(python))
    checks = {c.name: c for c in doctor.run_checks("/plugins/omcm")}
    assert checks["hooks env"].status == doctor.OK, checks["hooks env"]
    sdk = checks["mcp server"]
    assert sdk.status == doctor.WARN
    assert sdk.detail == (
        f"no MCP SDK in {python}: the ask and consensus tools cannot start "
        "(omcm was installed without its mcp extra)"
    )
    assert sdk.fix == f"python3 -m pip --python {python} install '/plugins/omcm[mcp]'"
    monkeypatch.setenv("OMCM_PYTHON", sys.executable)  # the checkout's own: it has the SDK
    [sdk] = [c for c in doctor.run_checks() if c.name == "mcp server"]
    assert (sdk.status, sdk.detail) == (doctor.OK, f"the MCP SDK is installed in {sys.executable}")


def test_the_hooks_environment_of_a_checkout_is_its_venv(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)
    python, origin = doctor.hooks_python(str(root))
    assert python == str(root / ".venv" / "bin" / "python")
    assert origin == f"the checkout's environment {root}/.venv"


def test_doctor_does_not_run_gemini_which_writes_its_project_registry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """gemini --version left ~/.gemini/projects.json.*.tmp behind; doctor writes nothing."""
    folder = tmp_path / "bin"
    folder.mkdir()
    ran = tmp_path / "gemini-ran"
    gemini = folder / "gemini"
    gemini.write_text(f'#!/bin/sh\ntouch "{ran}"\necho 0.61.0\n')
    gemini.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    home = Path(os.environ["HOME"])
    before = sorted(home.rglob("*"))
    [check] = [c for c in doctor.run_checks() if c.name == "gemini"]
    assert not ran.exists()
    assert check.ready and check.detail.startswith("version not known")
    assert sorted(home.rglob("*")) == before


def test_a_pool_for_a_provider_that_cannot_serve_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`omcm pool start --provider codex` without codex started a supervisor that could
    never work, and exited 0 (issue 16, defect 11)."""
    no_providers(monkeypatch, tmp_path)
    assert main(["pool", "start", "--provider", "codex"]) == 1
    err = capsys.readouterr().err
    assert "omcm: codex cannot serve: not-installed: `codex` is not on PATH" in err
    assert not (Path(os.environ["OMCM_STATE_DIR"]) / "pools").exists()


def test_the_fix_installs_with_a_pip_the_environment_can_use(tmp_path: Path) -> None:
    """The launcher's environment may have no pip of its own: another pip installs into it."""
    from omcm.core.paths import pip_install

    python = tmp_path / "env" / "bin" / "python"
    python.parent.mkdir(parents=True)
    assert pip_install(str(python)) == f"python3 -m pip --python {python} install"
    (python.parent / "pip").write_text("#!/bin/sh\n")
    assert pip_install(str(python)) == f"{python} -m pip install"

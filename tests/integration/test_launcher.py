"""hooks/omcm-hook run as Claude Code runs it: ``sh <root>/hooks/omcm-hook EVENT``, JSON on stdin.

Whatever happens, the launcher exits 0 and prints nothing or exactly one JSON
object on stdout (Claude Code reads stdout as the hook's answer), and a problem
is shown to the user as a ``systemMessage`` that names it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "hooks" / "omcm-hook"
REPO_PYTHON = REPO / ".venv" / "bin" / "python"
SESSION = "6f1e2d3c-aaaa-4bbb-8ccc-0123456789ab"
SH = shutil.which("sh") or "/bin/sh"


def payload(event: str, cwd: str, **extra: Any) -> dict[str, Any]:
    """A hook payload shaped like Claude Code 2.1.197's (see tests/e2e for the real ones)."""
    common = {
        "session_id": SESSION,
        "cwd": cwd,
        "hook_event_name": event,
        "transcript_path": f"/home/u/.claude/projects/p/{SESSION}.jsonl",
    }
    per_event: dict[str, dict[str, Any]] = {
        "SessionStart": {"source": "startup"},
        "UserPromptSubmit": {"prompt_id": "p1", "permission_mode": "default", "prompt": "go"},
        "PreToolUse": {
            "prompt_id": "p1",
            "permission_mode": "default",
            "effort": {"level": "high"},
            "tool_name": "Agent",
            "tool_input": {
                "description": "x",
                "prompt": "say hi",
                "subagent_type": "general-purpose",
            },
            "tool_use_id": "toolu_0001",
        },
        "Stop": {
            "stop_hook_active": False,
            "last_assistant_message": "done",
            "background_tasks": [],
            "session_crons": [],
        },
    }
    return {**common, **per_event[event], **extra}


EVENTS = {
    "session-start": "SessionStart",
    "user-prompt-submit": "UserPromptSubmit",
    "pre-tool-use": "PreToolUse",
    "stop": "Stop",
}


@pytest.fixture
def launcher_env(tmp_path: Path) -> dict[str, str]:
    """A hook's environment without Claude Code; OMCM's paths come from the autouse fixture."""
    if not REPO_PYTHON.exists():
        pytest.fail(f"{REPO_PYTHON} is missing: run scripts/setup", pytrace=False)
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CLAUDE", "OMCM_PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        OMCM_PYTHON=str(REPO_PYTHON),
        CLAUDE_PLUGIN_ROOT=str(REPO),
        TMPDIR=str(tmpdir),
        CLAUDE_PLUGIN_DATA=str(tmp_path / "plugin-data"),
    )
    return env


def launch(
    event: str | None, stdin: bytes | str, env: dict[str, str], launcher: Path = LAUNCHER
) -> subprocess.CompletedProcess[bytes]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    argv = [SH, str(launcher)] + ([event] if event is not None else [])
    return subprocess.run(
        argv,
        input=data,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
        cwd=env.get("HOME"),
    )


def single_answer(proc: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    """The one JSON object on stdout (and check the launcher's other promises)."""
    assert proc.returncode == 0, proc
    assert proc.stderr == b"", proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 1, proc.stdout
    answer = json.loads(lines[0])
    assert isinstance(answer, dict)
    return answer


def system_message(proc: subprocess.CompletedProcess[bytes]) -> str:
    answer = single_answer(proc)
    assert list(answer) == ["systemMessage"], answer
    message: str = answer["systemMessage"]
    return message


def error_log() -> Path:
    return Path(os.environ["OMCM_STATE_DIR"]) / "logs" / "errors.log"


# --- well-formed events ----------------------------------------------------------------


@pytest.mark.parametrize("event", list(EVENTS))
def test_event_runs_and_answers_protocol_json(
    event: str, launcher_env: dict[str, str], tmp_path: Path
) -> None:
    proc = launch(event, json.dumps(payload(EVENTS[event], str(tmp_path))), launcher_env)
    assert proc.returncode == 0
    assert proc.stderr == b""
    out = proc.stdout.decode()
    if out:  # later issues answer some events; it must then be exactly one JSON object
        assert len(out.splitlines()) == 1
        assert isinstance(json.loads(out), dict)
        assert "systemMessage" not in json.loads(out), out
    assert os.listdir(launcher_env["TMPDIR"]) == []  # the stderr capture file is removed


def test_a_session_records_each_event(launcher_env: dict[str, str], tmp_path: Path) -> None:
    for event, name in EVENTS.items():
        proc = launch(event, json.dumps(payload(name, str(tmp_path))), launcher_env)
        assert proc.returncode == 0, proc
    info = json.loads(
        (Path(os.environ["OMCM_STATE_DIR"]) / "sessions" / SESSION / "session.json").read_text()
    )
    assert info["events"] == dict.fromkeys(EVENTS.values(), 1)
    assert info["cwd"] == str(tmp_path)
    assert info["source"] == "startup"


def test_payload_fields_unknown_to_omcm_are_ignored(
    launcher_env: dict[str, str], tmp_path: Path
) -> None:
    data = payload("PreToolUse", str(tmp_path), future_field={"x": 1}, agent_id="a1")
    proc = launch("pre-tool-use", json.dumps(data), launcher_env)
    assert proc.returncode == 0
    assert b"systemMessage" not in proc.stdout


# --- malformed input -------------------------------------------------------------------

MALFORMED = [
    ("session-start", b"not json at all", "SessionStart hook stdin is not JSON"),
    ("session-start", b"", "SessionStart hook stdin is empty"),
    ("stop", b"   \n", "Stop hook stdin is empty"),
    ("user-prompt-submit", b"\xff\xfe{", "UserPromptSubmit hook stdin is not JSON"),
    ("stop", b"[1, 2]", "expected an object, got array"),
    (
        "session-start",
        b'{"session_id": 5, "hook_event_name": "SessionStart"}',
        "session_id: expected a string, got 5 (integer)",
    ),
    (
        "user-prompt-submit",
        json.dumps({"session_id": "s", "hook_event_name": "UserPromptSubmit"}),
        "prompt: field required",
    ),
    (
        "pre-tool-use",
        json.dumps(
            {
                "session_id": "s",
                "hook_event_name": "PreToolUse",
                "tool_name": "Agent",
                "tool_input": "say hi",
            }
        ),
        "tool_input: expected an object",
    ),
    (
        "session-start",
        json.dumps({"session_id": "s", "hook_event_name": "Stop"}),
        "SessionStart hook stdin says hook_event_name 'Stop'",
    ),
]


@pytest.mark.parametrize(("event", "stdin", "problem"), MALFORMED)
def test_malformed_input_is_named_in_a_system_message(
    event: str,
    stdin: bytes | str,
    problem: str,
    launcher_env: dict[str, str],
) -> None:
    message = system_message(launch(event, stdin, launcher_env))
    assert message.startswith(f"OMCM could not read the {EVENTS[event]} hook's input: "), message
    assert problem in message
    assert message.endswith(f"(logged in {error_log()})"), message
    assert problem in error_log().read_text()


def test_a_session_id_that_walks_out_of_the_state_dir_is_refused(
    launcher_env: dict[str, str],
    tmp_path: Path,
) -> None:
    data = payload("Stop", str(tmp_path), session_id="../../escape")
    message = system_message(launch("stop", json.dumps(data), launcher_env))
    assert "invalid session id '../../escape'" in message
    assert str(error_log()) in message
    assert not (Path(os.environ["OMCM_STATE_DIR"]).parent / "escape").exists()


@pytest.mark.parametrize("argv_event", ["no-such-event", None])
def test_unknown_event_name(argv_event: str | None, launcher_env: dict[str, str]) -> None:
    stdin = json.dumps({"session_id": "s", "hook_event_name": "SessionStart"})
    message = system_message(launch(argv_event, stdin, launcher_env))
    called = [argv_event or ""]  # the launcher always passes its first argument on
    assert message.startswith(
        f"OMCM: the hook launcher was called with {called!r}; expected "
        "one of: session-start, user-prompt-submit, pre-tool-use, pre-tool-use-wait, post-tool-use, stop"
    )
    assert message.endswith("Reinstall the plugin (hooks/hooks.json).")


# --- no usable Python environment ------------------------------------------------------


@pytest.fixture
def plugin_copy(tmp_path: Path) -> Path:
    """An installed-like plugin dir: the launcher and pyproject.toml, no .venv."""
    root = tmp_path / "plugin"
    shutil.copytree(REPO / "hooks", root / "hooks")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize("event", ["pre-tool-use", "user-prompt-submit", "stop"])
def test_missing_environment_says_start_a_new_session(
    event: str,
    launcher_env: dict[str, str],
    plugin_copy: Path,
    tmp_path: Path,
) -> None:
    data = tmp_path / "empty-plugin-data"
    data.mkdir()
    env = {**launcher_env, "CLAUDE_PLUGIN_ROOT": str(plugin_copy), "CLAUDE_PLUGIN_DATA": str(data)}
    del env["OMCM_PYTHON"]
    stdin = json.dumps(payload(EVENTS[event], str(tmp_path)))
    message = system_message(launch(event, stdin, env, plugin_copy / "hooks" / "omcm-hook"))
    venv = data / "venv"
    assert message == (
        f"OMCM's Python environment is not ready ({venv} is missing). Start a new Claude Code "
        f"session to build it, or run: python3 -m venv '{venv}' && '{venv}/bin/pip' install "
        f"'{plugin_copy}[mcp]'"
    )
    assert list(data.iterdir()) == []  # only SessionStart builds


def test_without_plugin_data_the_platform_data_dir_is_used(
    launcher_env: dict[str, str],
    plugin_copy: Path,
    tmp_path: Path,
) -> None:
    """Claude Code before 2.1.78 sets no CLAUDE_PLUGIN_DATA."""
    env = {**launcher_env, "CLAUDE_PLUGIN_ROOT": str(plugin_copy)}
    del env["OMCM_PYTHON"], env["CLAUDE_PLUGIN_DATA"]
    message = system_message(
        launch(
            "pre-tool-use",
            json.dumps(payload("PreToolUse", "/")),
            env,
            plugin_copy / "hooks" / "omcm-hook",
        )
    )
    expected = Path(os.environ["XDG_DATA_HOME"]) / "omcm" / "venv"  # platformdirs on Linux
    assert f"({expected} is missing)" in message


def test_omcm_python_that_does_not_exist(launcher_env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "python"
    env = {**launcher_env, "OMCM_PYTHON": str(missing)}
    message = system_message(launch("stop", json.dumps(payload("Stop", "/")), env))
    assert message == (
        f"OMCM's stop hook could not run with OMCM_PYTHON={missing}: {missing} is not an "
        "executable Python. Run 'omcm doctor', or set OMCM_PYTHON to a Python that has omcm "
        "installed."
    ), message
    assert os.listdir(env["TMPDIR"]) == []


def _path_without_python(tmp_path: Path) -> str:
    """A PATH holding only the tools the launcher itself uses (and no python at all)."""
    bin_dir = tmp_path / "bin-no-python"
    bin_dir.mkdir()
    for tool in (
        "dirname",
        "cat",
        "cksum",
        "mkdir",
        "rmdir",
        "rm",
        "sed",
        "tr",
        "tail",
        "uname",
        "date",
        "sleep",
    ):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_session_start_without_any_python_says_what_to_install(
    launcher_env: dict[str, str],
    plugin_copy: Path,
    tmp_path: Path,
) -> None:
    env = {
        **launcher_env,
        "CLAUDE_PLUGIN_ROOT": str(plugin_copy),
        "PATH": _path_without_python(tmp_path),
    }
    del env["OMCM_PYTHON"]
    message = system_message(
        launch(
            "session-start",
            json.dumps(payload("SessionStart", "/")),
            env,
            plugin_copy / "hooks" / "omcm-hook",
        )
    )
    assert message == (
        "OMCM needs Python 3.11 or newer and found none on PATH. Install it, then start a new "
        "session, or set OMCM_PYTHON to a Python that has omcm installed "
        f"(pip install '{plugin_copy}[mcp]')."
    )
    assert not (Path(env["CLAUDE_PLUGIN_DATA"]) / "venv.building").exists()


def test_session_start_reports_a_failed_build_with_its_log(
    launcher_env: dict[str, str],
    plugin_copy: Path,
) -> None:
    (plugin_copy / "pyproject.toml").write_text("[project\nthis is not toml\n")
    env = {**launcher_env, "CLAUDE_PLUGIN_ROOT": str(plugin_copy)}
    del env["OMCM_PYTHON"]
    data = Path(env["CLAUDE_PLUGIN_DATA"])
    message = system_message(
        launch(
            "session-start",
            json.dumps(payload("SessionStart", "/")),
            env,
            plugin_copy / "hooks" / "omcm-hook",
        )
    )
    venv, log = data / "venv", data / "venv-build.log"
    assert message == (
        f"OMCM could not build its Python environment in {venv} (log: {log}). Run: python3 -m "
        f"venv '{venv}' && '{venv}/bin/pip' install '{plugin_copy}[mcp]' — or set OMCM_PYTHON to a "
        "Python that has omcm installed."
    )
    assert f"building {venv} from {plugin_copy}" in log.read_text()
    assert not (venv / ".omcm-stamp").exists()
    assert not (data / "venv.building").exists()  # the build lock is released


# --- python -S and the environment's cached import path ---------------------------------


@pytest.fixture
def venv_python(tmp_path: Path) -> Path:
    """A virtual environment of its own (so its .omcm-sys-path is this test's) that finds
    omcm through a .pth file, as an editable install does."""
    env_dir = tmp_path / "env"
    subprocess.run([str(REPO_PYTHON), "-m", "venv", "--without-pip", str(env_dir)], check=True)
    [site_packages] = env_dir.glob("lib/python3*/site-packages")
    (site_packages / "omcm-src.pth").write_text(f"{REPO / 'src'}\n")
    return env_dir / "bin" / "python"


def test_a_virtual_environment_caches_its_import_path_and_the_hook_starts_without_site(
    launcher_env: dict[str, str], venv_python: Path, tmp_path: Path
) -> None:
    env = {**launcher_env, "OMCM_PYTHON": str(venv_python)}
    cache = venv_python.parent.parent / ".omcm-sys-path"
    proc = launch("stop", json.dumps(payload("Stop", str(tmp_path))), env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    [site_packages] = venv_python.parent.parent.glob("lib/python3*/site-packages")
    assert cache.read_text() == f"{REPO / 'src'}:{site_packages}\n"
    # The cached path is what the next hook imports from, and site is not run.
    fake = tmp_path / "fake-path"
    (fake / "omcm" / "hooks").mkdir(parents=True)
    (fake / "omcm" / "__init__.py").write_text("")
    (fake / "omcm" / "hooks" / "__init__.py").write_text("")
    (fake / "omcm" / "hooks" / "runner.py").write_text(
        "import json, sys\n"
        "def run():\n"
        "    print(json.dumps({'systemMessage': f'fake {sys.flags.no_site} {sys.argv[1:]}'}))\n"
    )
    cache.write_text(f"{fake}\n")
    message = system_message(launch("stop", "{}", env))
    assert message == "fake 1 ['stop']"


def test_a_stale_cached_import_path_falls_back_to_site_and_is_renewed(
    launcher_env: dict[str, str], venv_python: Path, tmp_path: Path
) -> None:
    env = {**launcher_env, "OMCM_PYTHON": str(venv_python)}
    cache = venv_python.parent.parent / ".omcm-sys-path"
    cache.write_text(f"{tmp_path / 'where-omcm-was'}\n")  # omcm has moved since
    proc = launch("stop", json.dumps(payload("Stop", str(tmp_path))), env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    assert not cache.exists()
    proc = launch("stop", json.dumps(payload("Stop", str(tmp_path))), env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    assert cache.read_text().startswith(f"{REPO / 'src'}:")


def test_a_python_without_omcm_says_so(
    launcher_env: dict[str, str], venv_python: Path, tmp_path: Path
) -> None:
    [pth] = venv_python.parent.parent.glob("lib/python3*/site-packages/omcm-src.pth")
    pth.unlink()
    env = {**launcher_env, "OMCM_PYTHON": str(venv_python)}
    message = system_message(launch("stop", json.dumps(payload("Stop", str(tmp_path))), env))
    # An environment without a pip of its own (as the launcher builds one when it can) is
    # installed into by another pip; one with its own pip, by that.
    assert message == (
        f"OMCM's stop hook could not run with OMCM_PYTHON={venv_python} (ModuleNotFoundError: "
        "No module named 'omcm'). Run 'omcm doctor', or reinstall: python3 -m pip --python "
        f"{venv_python} install '{REPO}[mcp]'"
    )
    assert not (venv_python.parent.parent / ".omcm-sys-path").exists()
    (venv_python.parent / "pip").write_text("#!/bin/sh\n")
    message = system_message(launch("stop", json.dumps(payload("Stop", str(tmp_path))), env))
    assert message.endswith(f"reinstall: {venv_python} -m pip install '{REPO}[mcp]'")

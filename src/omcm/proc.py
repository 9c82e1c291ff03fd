"""The one subprocess wrapper: every program OMCM starts goes through :func:`run`.

Rules learnt from the provider CLIs (see the README): argv lists only, never a
shell; stdin carries the prompt and is then closed (an open stdin makes
``codex exec`` and ``opencode run`` wait forever); each child leads a new
process group, and a timeout kills the whole group (``codex`` is a node wrapper
around a native binary); a missing program is a result, not a crash; Claude
Code's own variables are not passed on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

KILL_GRACE = 3.0
_STRIPPED_PREFIXES = ("CLAUDE_CODE_",)
_STRIPPED = frozenset(
    {
        "CLAUDECODE",
        "CLAUDE_PLUGIN_ROOT",
        "CLAUDE_PLUGIN_DATA",
        "CLAUDE_PROJECT_DIR",
        "CLAUDE_ENV_FILE",
    }
)


@dataclass(frozen=True)
class ProcResult:
    """What one run of a program did."""

    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    not_found: bool = False
    error: str = ""
    pid: int | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.not_found


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without Claude Code's own variables, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in _STRIPPED and not key.startswith(_STRIPPED_PREFIXES)
    }
    env.update(extra or {})
    return env


def run(
    argv: list[str],
    *,
    input: str | None = None,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    on_start: object = None,
) -> ProcResult:
    """Run ``argv`` to completion or ``timeout`` seconds, whichever comes first.

    ``input`` is written to stdin, which is then closed (``None``: stdin is
    ``/dev/null``). ``on_start``, if given, is called with the child's pid.
    """
    started = time.monotonic()
    try:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env if env is not None else child_env(),
            start_new_session=True,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except FileNotFoundError:
        return ProcResult(
            argv,
            None,
            "",
            "",
            time.monotonic() - started,
            not_found=True,
            error=f"{argv[0]}: command not found",
        )
    except (PermissionError, NotADirectoryError, OSError) as exc:
        return ProcResult(
            argv,
            None,
            "",
            "",
            time.monotonic() - started,
            not_found=True,
            error=f"{argv[0]}: cannot run ({exc.strerror or exc})",
        )
    if callable(on_start):
        on_start(child.pid)
    try:
        stdout, stderr = child.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        stdout, stderr = _kill_group(child)
        return ProcResult(
            argv,
            child.returncode,
            stdout,
            stderr,
            time.monotonic() - started,
            timed_out=True,
            error=f"timed out after {timeout:g}s",
            pid=child.pid,
        )
    except BaseException:
        _kill_group(child)
        raise
    finally:
        _reap_group(child.pid)
    return ProcResult(
        argv, child.returncode, stdout, stderr, time.monotonic() - started, pid=child.pid
    )


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _kill_group(child: subprocess.Popen[str]) -> tuple[str, str]:
    """TERM the child's process group, then KILL what is left; return the output so far."""
    _signal_group(child.pid, signal.SIGTERM)
    try:
        return child.communicate(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        _signal_group(child.pid, signal.SIGKILL)
    try:
        return child.communicate(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        # A grandchild that left the group still holds the pipes: stop waiting for it.
        for pipe in (child.stdout, child.stderr):
            if pipe:
                pipe.close()
        child.wait()
        return "", ""


def _reap_group(pgid: int) -> None:
    """Kill whatever the child left running in its group (helpers, native children)."""
    _signal_group(pgid, signal.SIGKILL)

"""A small driver for interactive programs in a private tmux server.

Each :class:`Tmux` owns its own server (``tmux -L <unique socket name>``), so
tests never see or touch the user's tmux sessions, and ``close()`` kills that
whole server and every process still running in its panes. Use it as a
context manager::

    with Tmux.start(["claude", ...], cwd=project, env=env, width=200) as term:
        term.send("hello", enter=True)
        term.wait_for("hello", timeout=30)
        print(term.screen())
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

TMUX_HINT = "tmux is missing: run scripts/setup --e2e (it installs Debian's tmux)"


def tmux_binary() -> str:
    """The ``tmux`` program; the test FAILS (never skips) when it is missing."""
    found = shutil.which("tmux")
    if found is None:
        pytest.fail(TMUX_HINT, pytrace=False)
    return found


class Tmux:
    """One private tmux server running one program in one pane."""

    def __init__(self, socket: str, session: str, binary: str) -> None:
        self.socket = socket
        self.session = session
        self.binary = binary
        self.pane_pid: int | None = None
        self.socket_path = ""

    @classmethod
    def start(
        cls,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        width: int = 200,
        height: int = 50,
    ) -> Tmux:
        """Start ``argv`` in a new detached session of a fresh private server.

        The pane's program gets exactly ``env`` (plus ``TERM``): tmux's own
        server environment is never consulted because the command is run
        through ``env -i``.
        """
        binary = tmux_binary()
        term = cls(f"omcm-e2e-{uuid.uuid4().hex[:12]}", "main", binary)
        pane_env = dict(env)
        pane_env.setdefault("TERM", "xterm-256color")
        assignments = [f"{name}={value}" for name, value in sorted(pane_env.items())]
        command = shlex.join(["env", "-i", *assignments, *argv])
        try:
            # remain-on-exit (in the same command list, so before the program can exit):
            # a program that ends keeps its pane, and its screen for the test to read
            # (tmux may miss the output of one that exits at once).
            term._tmux(
                "new-session",
                "-d",
                "-s",
                term.session,
                "-x",
                str(width),
                "-y",
                str(height),
                "-c",
                str(cwd),
                command,
                ";",
                "set-option",
                "-t",
                term.session,
                "remain-on-exit",
                "on",
                env={
                    "PATH": pane_env.get("PATH", os.defpath),
                    "HOME": str(cwd),
                    "TERM": "xterm-256color",
                },
            )
            found = term._tmux(
                "display-message", "-p", "-t", term.session, "#{pane_pid} #{socket_path}"
            ).strip()
            pid, _, term.socket_path = found.partition(" ")
            term.pane_pid = int(pid)
        except BaseException:
            term.close()
            raise
        return term

    def _tmux(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        # -f /dev/null: none of the user's tmux.conf (the server starts with the first call)
        proc = subprocess.run(
            [self.binary, "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=30,
            env=dict(env) if env else None,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"tmux {' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        return proc.stdout

    def send(self, text: str, *, enter: bool = False) -> None:
        """Type ``text`` literally (no key-name lookup); then press Enter if asked."""
        if text:
            self._tmux("send-keys", "-t", self.session, "-l", text)
        if enter:
            self.key("Enter")

    def key(self, *names: str) -> None:
        """Press keys by tmux name (``Enter``, ``Escape``, ``C-c`` ...)."""
        self._tmux("send-keys", "-t", self.session, *names)

    def screen(self) -> str:
        """The visible pane as plain text (no colours), trailing blanks trimmed."""
        text = self._tmux("capture-pane", "-p", "-t", self.session)
        return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n")

    def alive(self) -> bool:
        """Whether the pane's program still runs."""
        return (
            self._tmux("display-message", "-p", "-t", self.session, "#{pane_dead}").strip() == "0"
        )

    def wait_for(
        self, wanted: str | Callable[[str], bool], timeout: float = 30.0, interval: float = 0.2
    ) -> str:
        """Poll the screen until it contains ``wanted`` (or ``wanted(screen)`` is true).

        Returns that screen; fails the test with the last screen after ``timeout`` s.
        """
        check = wanted if callable(wanted) else (lambda screen: wanted in screen)
        deadline = time.monotonic() + timeout
        screen = ""
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            if time.monotonic() >= deadline:
                what = wanted if isinstance(wanted, str) else getattr(wanted, "__doc__", wanted)
                pytest.fail(
                    f"waited {timeout:g}s for {what!r} on the terminal; the screen was:\n{screen}",
                    pytrace=False,
                )
            time.sleep(interval)

    def close(self) -> None:
        """Kill every process of the pane's program and the private server itself."""
        if self.pane_pid is not None:
            _kill_tree(self.pane_pid)
        subprocess.run(
            [self.binary, "-L", self.socket, "kill-server"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if self.socket_path:  # a killed server leaves its socket file behind
            Path(self.socket_path).unlink(missing_ok=True)

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


def _kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants (hooks and status lines it started)."""
    pending, seen = [pid], []
    while pending:
        current = pending.pop()
        seen.append(current)
        pending.extend(_children(current))
    for victim in reversed(seen):
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass

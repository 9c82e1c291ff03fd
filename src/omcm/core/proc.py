"""The one subprocess wrapper: every program OMCM starts goes through :func:`run`.

Rules learnt from the provider CLIs (see the README): argv lists only, never a
shell; stdin carries the prompt and is then closed (an open stdin makes
``codex exec`` and ``opencode run`` wait forever); each child leads a new
process group, and a timeout kills the whole group (``codex`` is a node wrapper
around a native binary); a missing program is a result, not a crash; Claude
Code's own variables are not passed on.

A provider run must also end when the process that started it ends. Three
things see to it: :func:`cancel_on_signals` turns SIGTERM, SIGINT and SIGHUP
into :class:`Cancelled` (the run's group is killed at once); a ``cancel`` check
polled while waiting (Claude Code, the hook's parent, exited, say); and, with
``watchdog=True``, a small watchdog process in a session of its own that holds
the read end of a pipe only this process writes to: when this process dies,
even by SIGKILL, the pipe closes and the watchdog kills the run's group and
writes the run's *epitaph* (its routing-log line, :mod:`omcm.jobs.watchdog`). It
works wherever pipes do (Linux's parent-death signal alone would miss macOS and
the provider's grandchildren).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

KILL_GRACE = 3.0
#: Seconds between checks of ``cancel`` while a run is waited for.
POLL = 0.2
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
CANCEL_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

#: how the watchdog is started (see :mod:`omcm.jobs.watchdog`)
WATCHDOG_ENTRY = "from omcm.jobs.watchdog import main; main()"
#: The process group a watchdog is given when there is nothing to kill.
NO_GROUP = 0


class Cancelled(BaseException):
    """The run was stopped: a signal reached this process, or ``cancel`` said so.

    A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except
    Exception`` on the way up swallows it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


class cancel_on_signals:
    """Within the block, ``signals`` (SIGTERM, SIGINT and SIGHUP) raise :class:`Cancelled`.

    The first signal raises; later ones are ignored so the clean-up (killing the
    run, writing the log line) is not cut short. Handlers are restored on exit.
    Only the main thread can set handlers; elsewhere this does nothing.
    """

    def __init__(self, signals: tuple[int, ...] = CANCEL_SIGNALS) -> None:
        self._saved: dict[int, object] = {}
        self.signals = signals
        self.received: int | None = None

    def __enter__(self) -> cancel_on_signals:
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: object) -> None:
        if self.received is not None:
            return
        self.received = signum
        for sig in self.signals:
            signal.signal(sig, signal.SIG_IGN)
        raise Cancelled(f"stopped by {signal.Signals(signum).name}")

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def spawn_detached(argv: list[str], log: str, env: dict[str, str]) -> None:
    """Start ``argv`` forked twice and in a session of its own, stdout and stderr to ``log``.

    It belongs to no process tree of Claude Code's (which kills a stopped hook's
    whole tree), keeps running when the session or the terminal ends, and holds
    none of this process's pipes. ``argv[0]`` must be a path.
    """
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the forked child, checked through its effects
        try:
            os.setsid()
            if os.fork() > 0:
                os._exit(0)
            null = os.open(os.devnull, os.O_RDONLY)
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.closerange(3, 1024)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    os.waitpid(pid, 0)


def parent_watch() -> Callable[[], str]:
    """A ``cancel`` check that fires when this process's parent has exited."""
    parent = os.getppid()

    def check() -> str:
        return "the process that started the hook exited" if os.getppid() != parent else ""

    return check


def run(
    argv: list[str],
    *,
    input: str | None = None,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    on_start: Callable[[int], None] | None = None,
    cancel: Callable[[], str] | None = None,
    watchdog: bool = False,
    epitaph: str = "",
    on_line: Callable[[str], None] | None = None,
) -> ProcResult:
    """Run ``argv`` to completion or ``timeout`` seconds, whichever comes first.

    ``input`` is written to stdin, which is then closed (``None``: stdin is
    ``/dev/null``). ``on_start``, if given, is called with the child's pid.
    ``cancel`` is polled while waiting; a non-empty answer kills the run's group
    and raises :class:`Cancelled` with it, as a cancelling signal does.
    ``watchdog`` kills the run's group should this process die first, and then
    writes ``epitaph`` (one JSON line, see :mod:`omcm.jobs.watchdog`) if given.
    ``on_line`` hears each line of stdout as it comes (a CLI's progress events).
    The run ends when the child exits, and takes its whole process group with it.
    """
    started = time.monotonic()
    guard = _Watchdog() if watchdog else None
    try:
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
        except OSError as exc:  # missing, not executable, a directory, …
            why = (
                "command not found"
                if isinstance(exc, FileNotFoundError)
                else f"cannot run ({exc.strerror or exc})"
            )
            return ProcResult(
                argv,
                None,
                "",
                "",
                time.monotonic() - started,
                not_found=True,
                error=f"{argv[0]}: {why}",
            )

        def begin() -> None:
            if guard:
                guard.watch(child.pid, epitaph)
            if on_start is not None:
                on_start(child.pid)

        return _wait(
            child,
            argv,
            input,
            started=started,
            timeout=timeout,
            cancel=cancel,
            on_line=on_line,
            begin=begin,
        )
    finally:
        if guard:
            guard.release()


def _wait(
    child: subprocess.Popen[str],
    argv: list[str],
    input: str | None,
    *,
    started: float,
    timeout: float,
    cancel: Callable[[], str] | None,
    on_line: Callable[[str], None] | None = None,
    begin: Callable[[], None] | None = None,
) -> ProcResult:
    """Wait for the child itself to exit (not for its pipes to close: a native binary it
    started may hold them), then take its whole group down with it at once. ``begin``
    (the watchdog's watch, ``on_start``) runs first, inside the same clean-up."""
    deadline = started + timeout
    output: _Output | None = None
    try:
        # Inside the try: a cancelling signal that lands while the run is being recorded
        # (`omcm cancel` right after the job showed its provider) or while the pumps start
        # must take the run down too, else nothing would ever stop it.
        if begin is not None:
            begin()
        output = _Output(child, input, on_line)
        while True:
            left = deadline - time.monotonic()
            try:
                child.wait(timeout=max(0.0, min(left, POLL) if cancel else left))
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    _stop_group(child, KILL_GRACE)
                    stdout, stderr = output.collect()
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
                why = cancel() if cancel else ""
                if why:
                    raise Cancelled(why) from None
    except BaseException:
        _stop_group(child, 0.0)  # a cancel or a crash here: no grace for the run
        if output is not None:
            output.collect()
        else:
            _close_pipes(child)
        raise
    # The child is gone: whatever it left in its group (a native child of a killed
    # wrapper, helpers) goes now, so its pipes close and nothing runs on unseen.
    _signal_group(child.pid, signal.SIGKILL)
    stdout, stderr = output.collect()
    return ProcResult(
        argv, child.returncode, stdout, stderr, time.monotonic() - started, pid=child.pid
    )


class _Output:
    """The child's stdin fed and its stdout and stderr read in threads of their own, so the
    wait is on the child's exit; each stdout line goes to ``on_line`` as it comes."""

    def __init__(
        self,
        child: subprocess.Popen[str],
        input: str | None,
        on_line: Callable[[str], None] | None,
    ) -> None:
        import threading

        self.out: list[str] = []
        self.err: list[str] = []
        self.threads = [
            threading.Thread(target=_pump, args=(child.stdout, self.out, on_line), daemon=True),
            threading.Thread(target=_pump, args=(child.stderr, self.err, None), daemon=True),
        ]
        if child.stdin is not None:
            self.threads.append(
                threading.Thread(target=_feed, args=(child.stdin, input or ""), daemon=True)
            )
        for thread in self.threads:
            thread.start()

    def collect(self, wait: float = KILL_GRACE) -> tuple[str, str]:
        """What the child wrote; once its group is gone the pipes close at once, and a
        process that left the group yet holds them is not waited for beyond ``wait``."""
        until = time.monotonic() + wait
        for thread in self.threads:
            thread.join(max(0.0, until - time.monotonic()))
        return "".join(self.out), "".join(self.err)


def _pump(pipe: Any, into: list[str], on_line: Callable[[str], None] | None) -> None:
    try:
        for line in pipe:
            into.append(line)
            if on_line is not None:
                try:
                    on_line(line)
                except Exception:  # a display must never stop the run it shows
                    pass
    except (OSError, ValueError):
        pass  # closed under us


def _feed(pipe: Any, text: str) -> None:
    try:
        pipe.write(text)
        pipe.close()
    except (OSError, ValueError):
        pass  # the child exited without reading it all


def _close_pipes(child: subprocess.Popen[str]) -> None:
    for pipe in (child.stdin, child.stdout, child.stderr):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass


def _stop_group(child: subprocess.Popen[str], grace: float) -> None:
    """TERM the child's process group, then KILL what is left (at once with ``grace`` 0)."""
    if grace > 0:
        _signal_group(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(child.pid, signal.SIGKILL)
    try:
        child.wait(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        pass


class _Watchdog:
    """A process, in a session of its own, that kills a run's group if this process dies."""

    def __init__(self) -> None:
        read, self._write = os.pipe()  # both close-on-exec: only the watchdog gets ``read``
        try:
            self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-c", WATCHDOG_ENTRY],
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
            )
        except OSError:
            self.process = None  # no watchdog: signals and the cancel check still apply
        finally:
            os.close(read)

    def watch(self, pgid: int, epitaph: str) -> None:
        line = f"{pgid}\n" + (epitaph.replace("\n", " ") + "\n" if epitaph else "")
        try:
            os.write(self._write, line.encode())
        except OSError:
            pass

    def orphan(self, epitaph: str) -> None:
        """Hand the watchdog an epitaph whose owner is already gone: it writes it at once
        (there is no group to kill) and leaves."""
        self.watch(NO_GROUP, epitaph)
        os.close(self._write)
        if self.process is not None:
            try:
                self.process.wait(timeout=KILL_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def release(self) -> None:
        """The run is over (reaped): tell the watchdog to leave.

        The process started here only forks the watchdog off and exits; it is reaped here.
        """
        try:
            os.write(self._write, b"done\n")
        except OSError:
            pass
        os.close(self._write)
        if self.process is not None:
            try:
                self.process.wait(timeout=KILL_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()


def write_epitaph(epitaph: str) -> None:
    """Have the watchdog write ``epitaph`` (a dead caller's routing-log line, or a job to
    end) now: every epitaph is written by that one process (:mod:`omcm.jobs.watchdog`),
    whoever holds it."""
    _Watchdog().orphan(epitaph)


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True

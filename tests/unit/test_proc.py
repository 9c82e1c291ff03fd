"""The one subprocess wrapper: a run ends when the child OMCM started ends, with its group."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from omcm.core import proc

#: A wrapper (like codex's node launcher) that starts a "native" child in its own group;
#: the child holds stdout and would run for a minute.
WRAPPER = """
sh -c 'echo $$ > "{native}"; exec sleep 60' &
echo $$ > "{wrapper}"
echo started
wait
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # it may end between the two looks
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def wait_for(path: Path) -> int:
    deadline = time.monotonic() + 10
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never written"
        time.sleep(0.02)
    return int(path.read_text())


def test_a_killed_wrapper_ends_the_run_and_its_native_child_at_once(tmp_path: Path) -> None:
    """Killing the process OMCM started left the run waiting on pipes its native child held
    until that child ended (issue 17, defect 3)."""
    native, wrapper = tmp_path / "native", tmp_path / "wrapper"
    script = WRAPPER.format(native=native, wrapper=wrapper)
    killed = []

    def kill_the_wrapper() -> None:
        pid = wait_for(wrapper)
        wait_for(native)
        os.kill(pid, signal.SIGKILL)
        killed.append(time.monotonic())

    threading.Thread(target=kill_the_wrapper, daemon=True).start()
    lines: list[str] = []
    done = proc.run(["sh", "-c", script], timeout=60, on_line=lines.append)
    ended = time.monotonic()
    assert killed and ended - killed[0] < 2.0, "the run waited for the native child"
    assert done.returncode == -signal.SIGKILL and not done.timed_out
    assert lines == ["started\n"] and done.stdout == "started\n"
    native_pid = int(native.read_text())
    deadline = time.monotonic() + 2
    while alive(native_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(native_pid), "the native child outlived its wrapper"


def test_a_cancel_while_the_run_is_being_recorded_takes_the_run_down(tmp_path: Path) -> None:
    """A cancelling signal that came while ``on_start`` recorded the run (``omcm cancel``
    right after the job showed its provider) left the provider's group running for good."""
    native = tmp_path / "native"

    def recorded(pid: int) -> None:
        wait_for(native)
        raise proc.Cancelled("cancelled with omcm cancel")

    script = f"sh -c 'echo $$ > \"{native}\"; exec sleep 60' &\nwait\n"
    try:
        proc.run(["sh", "-c", script], timeout=60, on_start=recorded)
    except proc.Cancelled:
        pass
    else:
        raise AssertionError("the cancel was lost")
    native_pid = int(native.read_text())
    deadline = time.monotonic() + 5
    while alive(native_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(native_pid), "the run outlived its cancel"


def test_output_and_exit_of_an_ordinary_run() -> None:
    done = proc.run(["sh", "-c", "cat; echo err >&2; exit 3"], input="in\n" * 50_000, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (3, "in\n" * 50_000, "err\n")

"""Processes as ``/proc`` shows them, known by identity: a pid with its start time.

A pid alone does not name a process for long: ``pid_max`` is 32,768 on the CI machine and
the suite starts far more processes than that, so a group's id may belong to a new group
soon after the old one died, and a test asking "is the group gone?" by its id alone could
be answered by a stranger.
"""

from __future__ import annotations

import os


def stat(pid: int) -> list[str] | None:
    """``/proc/PID/stat`` after the command name: state, ppid, pgid, ... (None: gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def group_members(pgid: int) -> dict[int, str]:
    """The running processes of group ``pgid`` (zombies awaiting their reaper count as
    gone), each with its start time."""
    found = {}
    for pid in pids():
        fields = stat(pid)
        if fields and int(fields[2]) == pgid and fields[0] != "Z":
            found[pid] = fields[19]
    return found


def descendants(root: int) -> dict[int, str]:
    """``root`` and every process below it, each with its start time."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for pid in pids():
        fields = stat(pid)
        if fields:
            children.setdefault(int(fields[1]), []).append(pid)
            starts[pid] = fields[19]
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in starts and pid not in found:
            found[pid] = starts[pid]
            todo.extend(children.get(pid, []))
    return found


def running(processes: dict[int, str]) -> dict[int, str]:
    """Those of ``processes`` (pid: start time) that still run, the same processes."""
    alive = {}
    for pid, start in processes.items():
        fields = stat(pid)
        if fields and fields[19] == start and fields[0] != "Z":
            alive[pid] = fields[0]
    return alive

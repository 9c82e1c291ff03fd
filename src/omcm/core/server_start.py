"""The MCP server's start, as SessionStart sees it.

Claude Code 2.1.162 to 2.1.201 under ``-p`` take the session's tool list about two seconds
after SessionStart ends, and never again: a server still importing the MCP SDK then (1.5 s
on a quiet machine, several seconds on a busy one, far longer after the first session's
environment build) leaves the whole session without OMCM's tools. So the launcher marks a
starting server (``<data dir>/mcp-start/<Claude Code pid>``, named by the process that
started both the server and the hooks, holding the server's pid), the server removes the
mark once it serves, and SessionStart waits for that on those versions (not for a server
that died).
"""

from __future__ import annotations

import os
import time

from omcm.core import paths

#: The longest SessionStart waits for the server: a busy machine's import, with room.
WAIT = 15.0
#: The Claude Code versions that take the tool list once (seen on 2.1.197; reported for
#: 2.1.162 to 2.1.201). 2.1.332 lists a late server's tools when it connects; 2.1.62 waits.
SNAPSHOT_VERSIONS = ((2, 1, 162), (2, 1, 332))


def folder() -> str:
    return os.path.join(paths.data_dir(), "mcp-start")


def mark(claude_pid: int) -> str:
    """The mark of the server that the Claude Code process ``claude_pid`` is starting."""
    return os.path.join(folder(), str(claude_pid))


def done() -> None:
    """The server serves now (or never will): its mark goes, with any whose Claude Code
    process has ended."""
    own = os.environ.pop("OMCM_MCP_STARTING", "")
    if not own:
        return
    _remove(own)
    try:
        names = os.listdir(os.path.dirname(own))
    except OSError:
        return
    for name in names:
        if name.isdigit() and not _alive(int(name)):
            _remove(os.path.join(os.path.dirname(own), name))


def should_wait(version: tuple[int, ...] | None) -> bool:
    """Whether SessionStart waits on Claude Code ``version`` (None: unknown, so it does)."""
    low, high = SNAPSHOT_VERSIONS
    return version is None or low <= version < high


#: How long SessionStart gives Claude Code to start the server at all, in a print-mode
#: session that should have one (it may spawn it just after the hook).
GRACE = 1.5


def expects_server(claude_args: list[str]) -> bool:
    """Whether a Claude Code started with ``claude_args`` (its command line) runs OMCM's
    server and takes the tool list once: print mode, other MCP servers not excluded."""
    return bool({"-p", "--print"} & set(claude_args)) and "--strict-mcp-config" not in claude_args


def claude_args(claude_pid: int) -> list[str]:
    """The command line of the Claude Code process ``claude_pid`` ([] where unreadable)."""
    try:
        with open(f"/proc/{claude_pid}/cmdline", "rb") as handle:
            return [a.decode(errors="replace") for a in handle.read().split(b"\0") if a]
    except OSError:
        return []


def wait_for_start(claude_pid: int, limit: float = GRACE) -> bool:
    """Wait until the launcher of the server of ``claude_pid`` has left its mark."""
    started = time.monotonic()
    while not os.path.exists(mark(claude_pid)):
        if time.monotonic() - started >= limit:
            return False
        time.sleep(0.05)
    return True


def wait(claude_pid: int, limit: float = WAIT) -> float:
    """Wait until the MCP server that the Claude Code process ``claude_pid`` started serves
    (``limit`` seconds at most); the seconds waited. No mark, no wait: no server is starting,
    or it serves already."""
    path = mark(claude_pid)
    started = time.monotonic()
    while time.monotonic() - started < limit:
        try:
            with open(path, encoding="ascii") as handle:
                server = handle.read().strip()
        except OSError:
            break  # no mark: it serves (or none is starting)
        if server.isdigit() and not _alive(int(server)):
            _remove(path)  # killed before it served: nothing is coming
            break
        time.sleep(0.05)
    return time.monotonic() - started


#: Claude Code's name for OMCM's MCP server (``plugin:<plugin>:<server>``).
SERVER_NAME = "plugin:omcm:omcm"


def forget_failure() -> bool:
    """Take OMCM's server out of Claude Code's "needs authentication" cache; True if it was in.

    2.1.197 files a stdio server that failed to connect (its 60 s ``initialize`` limit ran
    out during the first session's environment build, say) in
    ``~/.claude/mcp-needs-auth-cache.json`` and starts it in no later session for a while.
    OMCM's server needs no authentication, ever; once its environment is built it starts
    in time, so the next session should start it."""
    import json

    from omcm.core import state

    path = os.path.join(paths.claude_dir(), "mcp-needs-auth-cache.json")
    try:
        with open(path, encoding="utf-8") as handle:
            cache = json.load(handle)
    except (OSError, ValueError):
        return False  # none (the common case), or not ours to repair
    if not isinstance(cache, dict) or SERVER_NAME not in cache:
        return False
    del cache[SERVER_NAME]
    try:
        state.atomic_write(path, json.dumps(cache))
    except OSError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's process
    return True


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

"""The watchdog that outlives a provider run's owner: ``python -c "…watchdog import main…"``.

:func:`omcm.core.proc.run` starts it (with ``watchdog=True``) in a session of its
own, with the read end of a pipe as its stdin; only the owner holds the write
end. It forks once more at once, so that it is no longer a descendant of the
owner (Claude Code kills a stopped hook's whole process tree) and ignores
TERM, INT and HUP. The owner writes the run's process group id, optionally one JSON line
(the *epitaph*: the routing-log line to write should the owner die), and
``done`` once the run is over and reaped. End of file without ``done`` means the
owner died, even by SIGKILL: the watchdog kills the run's whole group at once
and writes the epitaph (log line and counters), so nothing is left running and
no call goes unlogged.
"""

from __future__ import annotations

import os
import signal
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: what :func:`omcm.core.proc.run` runs
ENTRY = "from omcm.jobs.watchdog import main; main()"


def main() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # only end of file on stdin ends a watch
    # Leave the owner's process tree: Claude Code stops a hook by signalling every
    # descendant it finds (2.1.62 SIGKILLs each one), and the watchdog must outlive it.
    if os.fork() > 0:
        os._exit(0)
    stream = sys.stdin.buffer
    first = stream.readline().strip()
    if not first:
        return
    pgid = int(first)
    rest = stream.read().splitlines()
    if rest and rest[-1].strip() == b"done":
        return
    if pgid > 0:  # 0: an epitaph handed over by a caller that is already gone
        _kill(pgid)
    if rest and rest[0].startswith(b"{"):
        write_epitaph(rest[0])


def _kill(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def write_epitaph(raw: bytes) -> None:
    from omcm.calls import pipeline, routing_log
    from omcm.core import fastjson, state

    try:
        data: dict[str, Any] = fastjson.loads(raw)
        if "job" in data:  # a background job's worker died: the job ends (and is logged)
            from omcm.jobs import store

            store.finish(str(data["job"]), "failed", str(data.get("reason", "")))
            return
        entry = routing_log.parse(data["call"])
        if not isinstance(entry, routing_log.CallEntry):
            return
        entry.time = time.time()
        pipeline.book_entry(entry)
    except Exception:  # nobody is left to tell: the error log is all there is
        import traceback

        state.log_error(
            "the watchdog could not write a dead hook's log line", traceback.format_exc()
        )

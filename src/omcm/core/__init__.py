"""The ground floor: what every layer above uses, and nothing of theirs.

Paths (one override seam each), typed records and the hot path's JSON, state files
written atomically under a lock, the one subprocess wrapper, errors, secret masking,
per-session bookkeeping, and figures as people read them.
"""


def exit_now(code: int) -> None:
    """End a short-lived entry process (a hook, the status line) once its output is out.

    ``os._exit`` skips the interpreter's teardown of every module and object, which costs
    a hook about a sixth of its run and does nothing it needs: every file OMCM writes is
    closed as it is written, and its threads are daemons (a provider run's readers, done
    by then). Only stdout and stderr hold buffered output; they are flushed first.
    """
    import os
    import sys

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, a closed stream
            pass
    os._exit(code)

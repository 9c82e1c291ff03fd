"""Worker slots: at most N provider processes at once, across every hook process.

Claude runs parallel Agent calls as parallel hook processes. Each provider run
holds one of ``routing.max_workers`` slot files under an exclusive ``flock``;
the kernel releases a slot when its holder exits, however it exits, so a killed
hook can never leak one.
"""

from __future__ import annotations

import fcntl
import os
import time

from omcm.core import paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

POLL = 0.05


class Slot:
    """One held slot; release with :meth:`release` or by leaving a ``with`` block."""

    def __init__(self, fd: int, index: int) -> None:
        self.fd = fd
        self.index = index

    def release(self) -> None:
        if self.fd >= 0:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def acquire(
    count: int,
    deadline: float,
    folder: str | None = None,
    cancel: Callable[[], str] | None = None,
) -> Slot | None:
    """Take a free slot out of ``count``, waiting until ``deadline`` (monotonic); None if none.

    ``cancel`` is asked between tries; a non-empty answer raises :class:`omcm.core.proc.Cancelled`.
    """
    folder = folder or os.path.join(paths.state_dir(), "slots")
    os.makedirs(folder, exist_ok=True)
    start = os.getpid() % count  # spread first tries so hooks do not all queue on slot 0
    while True:
        for step in range(count):
            index = (start + step) % count
            path = os.path.join(folder, f"worker-{index}.lock")
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return Slot(fd, index)
        if time.monotonic() >= deadline:
            return None
        why = cancel() if cancel else ""
        if why:
            from omcm.core.proc import Cancelled

            raise Cancelled(why)
        time.sleep(POLL)

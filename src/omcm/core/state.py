"""OMCM's JSON state files: typed, versioned, written atomically under a lock.

Parallel subagent calls run parallel hook processes, so every read-modify-write
goes through :func:`update`, which holds an exclusive ``flock`` on a sidecar
``.lock`` file, writes a temp file and ``os.replace``-s it in. A reader never
sees half a file. A file that is not valid JSON, does not fit its record, or
carries a version this OMCM does not know is moved aside to
``<name>.corrupt-<timestamp>`` and reported (:data:`NOTICES`, the error log);
it is never silently overwritten with defaults.
"""

from __future__ import annotations

import fcntl
import os
import time

from omcm.core import fastjson, paths
from omcm.core.errors import StateError
from omcm.core.records import Record, RecordError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import ClassVar, TypeVar

    R = TypeVar("R", bound="StateRecord")
    T = TypeVar("T")

#: Messages for the user collected while this process ran (the hook runner shows them).
NOTICES: list[str] = []


class StateRecord(Record):
    """A record stored as one JSON file; ``VERSION`` is the layout it knows."""

    VERSION: ClassVar[int] = 1
    version: int = 1


class FileLock:
    """An exclusive advisory lock on ``<path>.lock``, released when the process dies."""

    def __init__(self, path: str) -> None:
        self.path = path + ".lock"
        self._fd = -1

    def __enter__(self) -> FileLock:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *_exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = -1


def atomic_write(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` so readers see the old or the new file, never a mix."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str, data: bytes) -> None:
    """:func:`atomic_write` for bytes."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}-{time.monotonic_ns()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def timestamp() -> str:
    """UTC time as ``20261121T053456Z``: sortable and safe in file names."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def _move_aside(path: str, why: str) -> None:
    aside = f"{path}.corrupt-{timestamp()}"
    n = 1
    while os.path.exists(aside):
        n += 1
        aside = f"{path}.corrupt-{timestamp()}-{n}"
    os.replace(path, aside)
    message = f"OMCM: {why}; moved it to {aside} and started a fresh one"
    NOTICES.append(message)
    log_error(message)


def _read(path: str, model: type[R]) -> R:
    """Read ``path`` as ``model``; call with the lock held when the file may be moved."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return model()
    except OSError as exc:
        raise StateError(f"cannot read state file {path}: {exc.strerror}") from exc
    try:
        data = fastjson.loads(raw)
        record = model.parse(data, path)
    except (fastjson.JSONDecodeError, UnicodeDecodeError) as exc:
        _move_aside(path, f"state file {path} is not valid JSON ({exc})")
        return model()
    except RecordError as exc:
        _move_aside(path, f"state file {exc} ")
        return model()
    if record.version != model.VERSION:
        _move_aside(
            path,
            f"state file {path} has version {record.version}, this OMCM reads {model.VERSION}",
        )
        return model()
    return record


def load(path: str, model: type[R]) -> R:
    """The current contents of a state file (defaults if it does not exist yet)."""
    if not os.path.exists(path):
        return model()
    with FileLock(path):
        return _read(path, model)


def update(path: str, model: type[R], mutate: Callable[[R], T]) -> T:
    """Read, change and write back a state file as one step no other process can split."""
    with FileLock(path):
        record = _read(path, model)
        result = mutate(record)
        atomic_write(path, fastjson.dumps(record.dump()) + "\n")
        return result


def log_error(message: str, detail: str = "") -> str:
    """Append a message (and a traceback or other detail) to the error log; return its path."""
    log = paths.error_log()
    try:
        os.makedirs(os.path.dirname(log), exist_ok=True)
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"[{time.strftime('%Y-%m-%dT%H:%M:%S%z')}] pid {os.getpid()} {message}\n")
            if detail:
                handle.write(detail.rstrip("\n") + "\n")
    except OSError:
        pass  # the caller still shows the message; a broken log must not hide it
    return log


# --- the state files -------------------------------------------------------------


def session_file(session_id: str, name: str) -> str:
    return os.path.join(paths.session_dir(session_id), paths.safe_name(name, "session file"))

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
#: The damaged files this process moved aside (the status line names them in a few words).
MOVED_ASIDE: list[str] = []


def take_notices() -> list[str]:
    """The :data:`NOTICES` not shown yet, which the caller now shows (each once)."""
    taken = list(NOTICES)
    NOTICES.clear()
    return taken


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


class Damaged(StateError):
    """A state file that is not valid JSON, does not fit its record or has an unknown
    version: ``aside`` is where it was moved ("" when it could not be, e.g. a read-only
    state dir), ``why`` what is wrong with it."""

    def __init__(self, path: str, why: str, aside: str) -> None:
        self.path, self.why, self.aside = path, why, aside
        where = f"moved to {aside}" if aside else "left in place (the state dir is read-only)"
        super().__init__(f"state file {path} is damaged ({why}); {where}")


def _move_aside(path: str, why: str) -> str:
    """Move a damaged file aside (its name says when); where it went, "" if it could not be."""
    aside = f"{path}.corrupt-{timestamp()}"
    n = 1
    while os.path.exists(aside):
        n += 1
        aside = f"{path}.corrupt-{timestamp()}-{n}"
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return ""  # another process moved it first
    except OSError:
        aside = ""
    where = f"moved it to {aside}" if aside else "could not move it aside (read-only)"
    message = f"OMCM: state file {path} is damaged ({why}); {where} and started a fresh one"
    NOTICES.append(message)
    MOVED_ASIDE.append(path)
    log_error(message)
    return aside


def _parse(path: str, raw: bytes, model: type[R]) -> R | str:
    """The record in ``raw``, or what is wrong with it."""
    try:
        record = model.parse(fastjson.loads(raw), path)
    except (fastjson.JSONDecodeError, UnicodeDecodeError) as exc:
        return f"not valid JSON: {exc}"
    except RecordError as exc:
        return "; ".join(f"{where or 'top level'}: {what}" for where, what in exc.problems)
    if record.version != model.VERSION:
        return f"version {record.version}, this OMCM reads {model.VERSION}"
    return record


def _bytes(path: str) -> bytes | None:
    """The file's bytes, None when it does not exist; unreadable is a :class:`StateError`."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read state file {path}: {exc.strerror or exc}") from exc


def read(path: str, model: type[R]) -> R:
    """The state file as ``model`` (defaults when it does not exist yet), read without a
    lock (writes are atomic); a damaged file is moved aside (under the lock, when the
    state dir can be written) and raised as :class:`Damaged`."""
    raw = _bytes(path)
    if raw is None:
        return model()
    found = _parse(path, raw, model)
    if not isinstance(found, str):
        return found
    aside = ""
    try:
        with FileLock(path):
            try:
                with open(path, "rb") as handle:
                    again = _parse(path, handle.read(), model)
            except FileNotFoundError:
                again = model()  # moved aside by another reader meanwhile
            if not isinstance(again, str):
                return again  # rewritten meanwhile: a writer got there first
            aside = _move_aside(path, again)
    except OSError:
        pass  # no lock (read-only): report it where it is
    raise Damaged(path, found, aside)


def load(path: str, model: type[R]) -> R:
    """The current contents of a state file: defaults if it does not exist yet, or if it
    was damaged (moved aside and reported in :data:`NOTICES`, never silently)."""
    try:
        return read(path, model)
    except Damaged:
        return model()


def _read_locked(path: str, model: type[R]) -> R:
    """Read ``path`` as ``model``, the lock held; a damaged file is moved aside."""
    raw = _bytes(path)
    if raw is None:
        return model()
    found = _parse(path, raw, model)
    if isinstance(found, str):
        raise Damaged(path, found, _move_aside(path, found))
    return found


def update(
    path: str,
    model: type[R],
    mutate: Callable[[R], T],
    *,
    held: R | None = None,
    fresh: bool = True,
) -> T:
    """Read, change and write back a state file as one step no other process can split.

    A damaged file is moved aside and reported; the change then starts from ``held`` (the
    copy of the record its caller holds, written back whole; also when the file is gone),
    else from the defaults — unless ``fresh`` is false, when :class:`Damaged` is raised
    and nothing is written.
    """
    with FileLock(path):
        try:
            if held is not None and not os.path.exists(path):
                raise Damaged(path, "gone", "")
            record = _read_locked(path, model)
        except Damaged:
            if held is None and not fresh:
                raise
            record = type(held).parse(held.dump(), path) if held is not None else model()
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

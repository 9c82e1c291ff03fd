"""Files a user names on the command line: read or written with an error that says what is
wrong with which file, never a traceback.

``--file ""``, a directory, a missing or unreadable file, text that is not UTF-8,
a file too big to be a task, a folder that does not exist: each is an
:class:`~omcm.core.errors.OmcmError` naming the option and the path (cut when
long) and what to do instead.
"""

from __future__ import annotations

import os

from omcm.core.errors import OmcmError, cut

#: Larger files are refused: a task or a plan this big is a mistake (a binary, a log).
MAX_BYTES = 16 * 1024 * 1024


def shown(path: str) -> str:
    """``path`` as an error quotes it (cut in the middle when long)."""
    return cut(path)


def read_bytes(path: str, what: str) -> bytes:
    """The file's bytes; ``what`` names it in errors (``--file``, ``the plan``)."""
    if not path:
        raise OmcmError(f"{what}: the path is empty")
    where = f"{what} {shown(path)}"
    if os.path.isdir(path):
        raise OmcmError(f"{where}: is a directory, not a file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise OmcmError(f"{where}: no such file") from None
    except OSError as exc:
        raise OmcmError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise OmcmError(f"{where}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return data


def read_text(path: str, what: str) -> str:
    """The file as UTF-8 text."""
    data = read_bytes(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OmcmError(
            f"{what} {shown(path)}: not UTF-8 text (byte {data[exc.start]:#04x} at offset "
            f"{exc.start}); give a text file"
        ) from None


def write_text(path: str, text: str, what: str, *, mode: int = 0o644) -> str:
    """Write ``text`` to ``path`` (atomically, permissions ``mode``) in a folder that exists;
    the absolute path written."""
    from omcm.core.state import atomic_write

    full = target(path, what)
    where = f"{what} {shown(path)}"
    try:
        atomic_write(full, text)
        os.chmod(full, mode)
    except OSError as exc:
        raise OmcmError(f"{where}: cannot be written ({exc.strerror or exc})") from None
    return full


def folder(path: str, what: str) -> str:
    """``path`` as an absolute folder that exists; ``what`` names it in errors (``--cwd``)."""
    if not path:
        raise OmcmError(f"{what}: the path is empty")
    full = os.path.abspath(path)
    if not os.path.isdir(full):
        problem = "is a file, not a folder" if os.path.exists(full) else "no such folder"
        raise OmcmError(f"{what} {shown(path)}: {problem}")
    return full


def target(path: str, what: str) -> str:
    """``path`` as an absolute file name that can be written: not a folder, in a folder
    that exists (none is made); ``what`` names it in errors."""
    if not path:
        raise OmcmError(f"{what}: the path is empty")
    full = os.path.abspath(path)
    where = f"{what} {shown(path)}"
    if os.path.isdir(full):
        raise OmcmError(f"{where}: is a directory; name a file in it")
    parent = os.path.dirname(full)
    if not os.path.isdir(parent):
        problem = (
            "is not a folder" if os.path.exists(parent) else "does not exist (create it first)"
        )
        raise OmcmError(f"{where}: {shown(parent)} {problem}")
    return full

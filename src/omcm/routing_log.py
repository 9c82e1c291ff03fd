"""The routing log: one JSON line per subagent decision, in ``routing-log.jsonl``.

Lines are appended under the state lock, so parallel hooks never interleave,
and the file rotates by size (``.1`` … ``.N``). Writing uses the hot path's JSON
encoder (a hook that keeps a call on Claude must not pay for importing more);
reading (``omcm log``, stats) goes through the jsonlines library, which also
tolerates a damaged line.
"""

from __future__ import annotations

import os

from omcm import _json, paths
from omcm.state import FileLock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

MAX_BYTES = 10 * 1024 * 1024
KEEP = 3


def append(entry: dict[str, Any], path: str | None = None) -> None:
    """Append one decision; rotate first if the log has grown past :data:`MAX_BYTES`."""
    path = path or paths.routing_log()
    line = (_json.dumps(entry) + "\n").encode("utf-8")
    with FileLock(path):
        try:
            if os.path.getsize(path) + len(line) > MAX_BYTES:
                _rotate(path)
        except FileNotFoundError:
            pass
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def _rotate(path: str) -> None:
    for index in range(KEEP - 1, 0, -1):
        older = f"{path}.{index}"
        if os.path.exists(older):
            os.replace(older, f"{path}.{index + 1}")
    os.replace(path, f"{path}.1")


def read(path: str | None = None, include_rotated: bool = True) -> Iterator[dict[str, Any]]:
    """Every decision, oldest first; damaged lines are skipped."""
    import jsonlines

    path = path or paths.routing_log()
    files = [f"{path}.{i}" for i in range(KEEP, 0, -1)] if include_rotated else []
    for name in [*files, path]:
        if not os.path.exists(name):
            continue
        with jsonlines.open(name) as reader:
            yield from reader.iter(type=dict, skip_invalid=True)

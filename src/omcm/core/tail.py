"""Reading a JSON-lines file from its end: transcripts and session logs, newest line first."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

#: Bytes read per step, from the end.
CHUNK = 1024 * 1024
#: Never more than this of one file.
MAX_SCAN = 8 * 1024 * 1024


def lines_from_end(path: str, markers: tuple[bytes, ...], limit: int = MAX_SCAN) -> Iterator[bytes]:
    """The file's lines, last first, reading at most ``limit`` bytes.

    Chunks holding none of ``markers`` are skipped without being split into lines.
    """
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        tail = b""
        scanned = 0
        while position > 0 and scanned < limit:
            size = min(CHUNK, position)
            position -= size
            handle.seek(position)
            block = handle.read(size) + tail
            scanned += size
            cut = block.find(b"\n")
            if cut < 0:
                tail = block
                continue
            tail = block[:cut]  # may be the end of an earlier line: keep it for the next chunk
            lines = block[cut + 1 :]
            if not any(marker in lines for marker in markers):
                continue  # nothing in this chunk can matter: skip splitting it
            for line in reversed(lines.split(b"\n")):
                if line.strip():
                    yield line
        if position == 0 and tail.strip():
            yield tail

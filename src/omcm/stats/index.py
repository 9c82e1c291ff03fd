"""The routing log as compact rows and day tallies, for ``omcm stats`` and ``omcm savings``.

Parsing JSON is most of what a report over a year of calls costs (half a million
lines, several seconds), and a rotated log file never changes. So each rotated
file gets its rows written once, beside it (``<file>.rows``, :mod:`marshal`), by a
detached process started when the log rotates (:func:`omcm.calls.routing_log.append`),
or by the first report that finds them missing or stale (they name the file's
size and modification time). The live file is parsed on every report.

A ``.rows`` file holds three :mod:`marshal` objects:

1. a small header: the stamp, line counts, the times of the first and last row, the
   file's subagent observations (:func:`omcm.stats.observations.observe`), the local
   time zone its days were cut in (:func:`omcm.stats.periods.zone`) and the size of
   the next object;
2. its rows tallied per local day (:meth:`omcm.stats.tally.Tally.stored`), in the
   order of their first row: a report by day or week over the whole file adds these
   up (a few dozen tallies) instead of tallying its rows (tens of thousands);
3. its rows in their stored form (:func:`omcm.stats.rows.plain`), strings interned,
   for the other reports.

A report reads only the header of a file whose rows all lie outside its window.
Lines are read into rows by :mod:`omcm.stats.lines`; lines of other events (fallbacks,
limits) are left out; a damaged line (not JSON, or a field of the wrong type) is
counted, never fatal.
"""

from __future__ import annotations

import os
import sys

from omcm.stats.observations import observe
from omcm.stats.rows import SubagentRow, gc_paused, plain, typed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.stats.observations import Observed
    from omcm.stats.rows import Row

    #: :func:`omcm.stats.periods.zone`.
    Zone = tuple[int, int, tuple[tuple[int, int], ...]]

#: Of the ``.rows`` files: one written by another OMCM is rebuilt, never misread.
#: 3: rows stored as :func:`omcm.stats.rows.plain` (2 stored one tuple per row).
#: 4: the days' tallies between the header and the rows.
VERSION = 5  # 5: a call row holds its source (the door)


class Rows:
    """What one file holds: its rows (None: not read), how many of its lines were
    damaged, the times of its first and last row, its subagents' observations, and
    its days' tallies (:meth:`omcm.stats.tally.Tally.stored`; None: not read) with the
    zone they were cut in."""

    __slots__ = ("damaged", "days", "first", "last", "lines", "observed", "rows", "zone")

    def __init__(
        self,
        rows: list[Row] | None,
        damaged: int = 0,
        lines: int = 0,
        *,
        first: float | None = None,
        last: float | None = None,
        observed: Observed | None = None,
        days: list[tuple[Any, ...]] | None = None,
        zone: Zone | None = None,
    ) -> None:
        self.rows = rows
        self.damaged = damaged
        self.lines = lines
        self.first, self.last = first, last
        self.observed: Observed = observed if observed is not None else ({}, {})
        self.days, self.zone = days, zone

    def header(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "damaged": self.damaged,
            "lines": self.lines,
            "first": self.first,
            "last": self.last,
            "agents": self.observed[0],
            "tiers": self.observed[1],
            "zone": self.zone,
        }

    def within(self, since: float | None, until: float | None) -> bool:
        """Whether any of its rows can lie in ``[since, until)``."""
        if self.first is None or self.last is None:
            return False
        return (since is None or self.last >= since) and (until is None or self.first < until)

    def inside(self, since: float | None, until: float | None) -> bool:
        """Whether all of its rows lie in ``[since, until)``."""
        if self.first is None or self.last is None:
            return False
        return (since is None or self.first >= since) and (until is None or self.last < until)

    def cut_here(self) -> bool:
        """Whether its days' tallies were cut as the local time zone of now cuts them."""
        from omcm.stats.periods import zone

        if self.first is None or self.last is None:
            return True  # no rows, no days
        return self.zone == zone(self.first, self.last)

    def tally_days(self) -> None:
        """Tally its rows per local day (:attr:`days`), in the zone of now (:attr:`zone`)."""
        from omcm.stats.filters import Filters
        from omcm.stats.periods import zone
        from omcm.stats.tally import tally

        self.days = [day.stored() for day in tally(self.rows or [], "day", Filters()).values()]
        self.zone = None if self.first is None or self.last is None else zone(self.first, self.last)


def parse(path: str) -> Rows:
    """Every line of ``path`` as rows (a missing file has none). A file that cannot be
    read is an :class:`~omcm.core.errors.OmcmError` naming it."""
    from omcm.stats.lines import DAMAGED, row_of

    rows: list[Row] = []
    damaged = lines = 0
    intern = sys.intern
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                if not raw.strip():
                    continue
                lines += 1
                try:
                    row = row_of(raw, intern)
                except DAMAGED:
                    damaged += 1
                    continue
                if row is not None:
                    rows.append(row)
    except FileNotFoundError:
        return Rows([])
    except OSError as exc:
        from omcm.core.errors import OmcmError

        raise OmcmError(
            f"the routing log {path} cannot be read ({exc.strerror or exc}); "
            "check its owner and permissions"
        ) from None
    found = Rows(rows, damaged, lines)
    if rows:
        times = [row.time for row in rows]
        found.first, found.last = min(times), max(times)
    for row in rows:
        if isinstance(row, SubagentRow):
            observe(found.observed, row)
    return found


def saved(path: str, *, rows: bool = True, days: bool = False) -> Rows | None:
    """A rotated file's ``.rows``: its header, its rows if ``rows``, its days' tallies
    if ``days``; None when missing or not current (the file changed, or another OMCM
    wrote it)."""
    import marshal

    stamp = _stamp(path)
    if stamp is None:
        return Rows([], days=[])
    try:
        with open(path + ".rows", "rb") as handle:
            head = marshal.load(handle)
            if head["version"] != VERSION or tuple(head["stamp"]) != stamp:
                return None
            size = head["days"]
            if days:
                tallies = marshal.loads(handle.read(size))
            else:
                handle.seek(size, os.SEEK_CUR)
            body = typed(marshal.loads(handle.read())) if rows else None
        return Rows(
            body,
            head["damaged"],
            head["lines"],
            first=head["first"],
            last=head["last"],
            observed=(head["agents"], head["tiers"]),
            days=tallies if days else None,
            zone=head["zone"],
        )
    except (OSError, ValueError, EOFError, TypeError, KeyError):
        return None


def cached(path: str, *, rows: bool = True, days: bool = False) -> Rows:
    """A rotated file's rows (if ``rows``) and days' tallies (if ``days``): from its
    ``.rows`` when current, else parsed and saved (then with both)."""
    found = saved(path, rows=rows, days=days)
    if found is None:
        stamp = _stamp(path)
        found = parse(path)
        found.tally_days()
        if stamp is not None:
            write(path, stamp, found)
    return found


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns


def resave(path: str, found: Rows) -> None:
    """Save ``found`` again (its days tallied anew) as the ``.rows`` of ``path``."""
    stamp = _stamp(path)
    if stamp is not None:
        write(path, stamp, found)


def write(path: str, stamp: tuple[int, int], found: Rows) -> None:
    """Save ``found`` (its rows and days' tallies) as the ``.rows`` of ``path``."""
    import marshal

    from omcm.core.state import atomic_write_bytes

    days = marshal.dumps(found.days or [])
    head = found.header() | {"stamp": stamp, "days": len(days)}
    try:
        atomic_write_bytes(
            path + ".rows", marshal.dumps(head) + days + marshal.dumps(plain(found.rows or []))
        )
    except OSError:
        pass  # a read-only state dir only costs speed


@gc_paused
def main() -> None:
    """``python -c "from omcm.stats.index import main; main()" FILE``: index a rotated file."""
    if len(sys.argv) == 2:
        cached(sys.argv[1])

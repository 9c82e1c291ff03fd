"""Reading the routing log for a report: only the files its window needs, on every core.

Rows come from :mod:`omcm.stats.index` (rotated files from their saved rows, the live
file parsed). Each ``.rows`` header names its file's first and last row and holds its
subagent observations, so a report loads the rows of the files whose rows can fall in
its window only, and counts every file's observations, which every estimate rests on.
A report by day or week with no filter but its window adds up the saved days' tallies
of the files wholly inside the window, and tallies rows only at its edges.

The cyclic garbage collector is paused while rows are read and tallied
(:func:`omcm.stats.rows.gc_paused`).
"""

from __future__ import annotations

import os

from omcm.calls import routing_log
from omcm.stats.index import Rows, cached, parse, resave, saved
from omcm.stats.periods import Buckets, check_periods
from omcm.stats.rows import gc_paused
from omcm.stats.tally import Tally, merge_periods, tally

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from omcm.stats.filters import Filters
    from omcm.stats.observations import Observations
    from omcm.stats.rows import Row


class Log:
    """The routing log's files, for one report.

    A report tallies only the files whose rows can fall in its window (each ``.rows``
    header names its first and last row), on every core when there are many; the
    subagents observed on Claude, which every estimate rests on, come from every
    file's header.
    """

    #: Files to tally before it pays to start worker processes.
    PARALLEL_FROM = 4

    def __init__(self, path: str | None = None) -> None:
        self.path = path

    def files(self) -> tuple[list[str], str | None]:
        """(rotated files oldest first, the live file)."""
        names = routing_log.files(self.path)
        live = names[-1] if names and not _rotated_name(names[-1]) else None
        return [n for n in names if n != live], live

    def headers(self, rotated: list[str]) -> dict[str, Rows]:
        """Each rotated file's ``.rows`` header (its rows not loaded); a file without
        current saved rows is parsed and saved first, on every core when several are (its
        days' tallies then come with its header)."""
        heads: dict[str, Rows] = {}
        stale = []
        for name in rotated:
            head = saved(name, rows=False)
            if head is None:
                stale.append(name)
            else:
                heads[name] = head
        heads.update(zip(stale, _on_every_core(_index, stale), strict=True))
        return {name: heads[name] for name in rotated}  # oldest first

    @gc_paused
    def read(self) -> tuple[list[Row], int, int, int]:
        """(every row oldest first, damaged lines, lines, files)."""
        rotated, live = self.files()
        self.headers(rotated)  # stale files parsed and saved on every core first
        parts = [cached(name) for name in rotated]
        if live:
            parts.append(parse(live))
        rows: list[Row] = []
        for part in parts:
            rows += part.rows or []
        damaged = sum(p.damaged for p in parts)
        lines = sum(p.lines for p in parts)
        return rows, damaged, lines, len(parts)

    @gc_paused
    def window(self, filters: Filters, seen: Observations) -> list[Row]:
        """The rows of the files the window needs; every file's observations go into
        ``seen``."""
        rotated, live = self.files()
        rows: list[Row] = []
        for name, head in self.headers(rotated).items():
            seen.merge(head.observed)
            if head.within(filters.since, filters.until):
                rows += cached(name).rows or []
        if live:
            found = parse(live)
            seen.merge(found.observed)
            rows += found.rows or []
        return rows

    @gc_paused
    def gather(self, by: str, filters: Filters, seen: Observations) -> Gathered:
        """The window's periods, tallied; every file's observations go into ``seen``."""
        rotated, live = self.files()
        found = Gathered(files=len(rotated) + bool(live))
        chosen: dict[str, Rows] = {}
        for name, head in self.headers(rotated).items():
            found.count(head, seen)
            if head.within(filters.since, filters.until):
                chosen[name] = head
        rows = parse(live) if live else Rows([])
        found.count(rows, seen)
        check_periods(by, filters, [(p.first, p.last) for p in [*chosen.values(), rows]])
        if by in ("day", "week") and filters.window_only():
            self._add_days(found, chosen, rows, by=by, filters=filters)
        else:
            self._add_rows(found, list(chosen), rows, by=by, filters=filters, seen=seen)
        return found

    def _add_days(
        self, found: Gathered, chosen: dict[str, Rows], live: Rows, *, by: str, filters: Filters
    ) -> None:
        """A report by day or week with no filter but its window: the saved days' tallies
        of the files wholly in the window (a few dozen tallies a file), the rows of the
        others (at most the two at the window's edges, and the live file)."""
        weeks = Buckets("week") if by == "week" else None
        parts = [_days(name, head, filters) for name, head in chosen.items()]
        parts.append(tally(live.rows or [], "day", filters).values())
        for days in parts:
            for day in days:
                if weeks is not None:
                    day.label, day.start = weeks.label(day.start)
                merge_periods(found.periods, {day.label: day})

    def _add_rows(
        self,
        found: Gathered,
        names: list[str],
        live: Rows,
        *,
        by: str,
        filters: Filters,
        seen: Observations,
    ) -> None:
        """Any other report: the rows of the files in the window, tallied.

        Rotated files go to worker processes in runs of consecutive files, and each
        worker also writes out its periods but the first and last (a neighbour may
        have rows of those too), so the slow part of a report runs on every core.
        """
        workers = min(len(names), os.cpu_count() or 1) if len(names) >= self.PARALLEL_FROM else 1
        size = -(-len(names) // workers) if names else 0
        runs = [names[i : i + size] for i in range(0, len(names), size)] if names else []
        for run in _on_every_core(_tally_run, runs, by, filters, seen):
            found.add(run)
        merge_periods(found.periods, tally(live.rows or [], by, filters))


class Gathered:
    """What :meth:`Log.gather` found: periods written out by the workers, periods still
    to write (``periods``: those a run of files shares with its neighbours), the total
    of the written ones, and the lines read."""

    def __init__(self, files: int) -> None:
        self.periods: dict[str, Tally] = {}
        self.dumped: list[dict[str, Any]] = []
        self.total = Tally()
        self.damaged = self.lines = 0
        self.files = files

    def count(self, rows: Rows, seen: Observations) -> None:
        self.damaged += rows.damaged
        self.lines += rows.lines
        seen.merge(rows.observed)

    def add(self, run: Run) -> None:
        self.dumped += run.dumped
        self.total.merge(run.total)
        merge_periods(self.periods, run.edges)


class Run:
    """A worker's share: the periods it wrote out, their total, and its first and last
    periods as tallies."""

    def __init__(self) -> None:
        self.dumped: list[dict[str, Any]] = []
        self.total = Tally()
        self.edges: dict[str, Tally] = {}


def _on_every_core(work: Any, jobs: list[Any], *args: Any) -> list[Any]:
    """``work(job, *args)`` for each job, in worker processes when there are several."""
    if len(jobs) > 1 and (os.cpu_count() or 1) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
            return list(pool.map(work, jobs, *[[a] * len(jobs) for a in args]))
    return [work(job, *args) for job in jobs]


@gc_paused
def _index(name: str) -> Rows:
    """Parse and save a rotated file's rows; its header and days' tallies go back."""
    found = cached(name, rows=False, days=True)
    found.rows = None
    return found


def _days(name: str, head: Rows, filters: Filters) -> Iterable[Tally]:
    """A file's rows in the window, tallied per local day: its saved days' tallies when
    it lies wholly in the window and they were cut in today's zone (else they are tallied
    again from its rows and saved), its rows' otherwise."""
    if not head.inside(filters.since, filters.until):
        return tally(cached(name).rows or [], "day", filters).values()
    if head.days is None or head.zone is None:
        head = saved(name, rows=False, days=True) or cached(name, days=True)
    if not head.cut_here():
        head = cached(name)
        head.tally_days()
        resave(name, head)
    return [Tally.restored(day) for day in head.days or []]


@gc_paused
def _tally_run(names: list[str], by: str, filters: Filters, seen: Observations) -> Run:
    """Tally a run of consecutive files and write out all its periods but the edges."""
    periods: dict[str, Tally] = {}
    for name in names:
        merge_periods(periods, tally(cached(name).rows or [], by, filters))
    ordered = sorted(periods.values(), key=lambda t: (t.start, t.label))
    run = Run()
    prices = seen.prices
    assert prices is not None
    for n, period in enumerate(ordered):
        if n in (0, len(ordered) - 1):
            run.edges[period.label] = period
        else:
            run.dumped.append(period.dump(prices, seen))
            run.total.merge(period)
    return run


def _rotated_name(name: str) -> bool:
    return not name.endswith(".jsonl")

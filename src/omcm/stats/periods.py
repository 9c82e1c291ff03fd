"""The periods a report is cut into: local calendar minutes, hours, days and ISO weeks.

An hour label carries its UTC offset, so the hour that repeats when daylight saving
time ends is two periods, and a day is a calendar day whatever its length.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from omcm.stats.filters import Filters

PERIODS = ("minute", "hour", "day", "week")
#: More periods than this in one report is a mistake (a year by minute): say so.
MAX_PERIODS = 20_000
_LENGTHS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}


class Buckets:
    """Local-time period labels, computed once per quarter hour (every UTC offset is a
    multiple of 15 minutes) or per minute."""

    def __init__(self, by: str) -> None:
        if by not in PERIODS:
            raise ValueError(f"--by must be one of {', '.join(PERIODS)}")
        self.by = by
        self.step = 60 if by == "minute" else 900
        self._labels: dict[int, tuple[str, float]] = {}

    def label(self, when: float) -> tuple[str, float]:
        """(label, start of the period) for a unix time."""
        key = int(when // self.step)
        found = self._labels.get(key)
        if found is None:
            found = self._labels[key] = self._compute(key * self.step)
        return found

    def _compute(self, when: float) -> tuple[str, float]:
        local = time.localtime(when)
        if self.by == "minute":
            start = when - local.tm_sec
            return time.strftime("%Y-%m-%d %H:%M%z", local), start
        if self.by == "hour":
            start = when - local.tm_min * 60 - local.tm_sec
            return time.strftime("%Y-%m-%d %H:00%z", local), start
        midnight = time.mktime((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1))
        if self.by == "day":
            return time.strftime("%Y-%m-%d", local), midnight
        monday = time.mktime(
            (local.tm_year, local.tm_mon, local.tm_mday - local.tm_wday, 0, 0, 0, 0, 0, -1)
        )
        return time.strftime("%G-W%V", local), monday


#: Quarter hours before a file's first row that its days' midnights can lie in (a day,
#: and an hour of daylight saving time).
_BEFORE = 25 * 4


def zone(first: float, last: float) -> tuple[int, int, tuple[tuple[int, int], ...]]:
    """The local time zone as the days from ``first`` to ``last`` were cut in it: the UTC
    offset of every quarter hour from the first day's midnight on, as (quarter hour,
    offset) where it changes, between the first and the last quarter hour.

    :class:`Buckets` labels a time by its quarter hour's local time, which is the UTC
    time plus that offset, and starts a day at its local midnight: where two zones give
    the same offsets, they cut those days alike. (Half a millisecond for a file's three
    weeks.)
    """
    begin, end = int(first // 900) - _BEFORE, int(last // 900)
    localtime = time.localtime
    changes: list[tuple[int, int]] = []
    before = None
    for slot in range(begin, end + 1):
        offset = localtime(slot * 900).tm_gmtoff
        if offset != before:
            changes.append((slot, offset))
            before = offset
    return begin, end, tuple(changes)


def check_periods(
    by: str, filters: Filters, spans: list[tuple[float | None, float | None]]
) -> None:
    """Refuse, with advice, a report of more than :data:`MAX_PERIODS` periods over the
    rows in the window of files whose rows span ``(first, last)`` (None: no rows)."""
    firsts = [first for first, _ in spans if first is not None]
    lasts = [last for _, last in spans if last is not None]
    if not firsts:
        return
    begin = max(min(firsts), filters.since or 0.0)
    end = min(max(lasts), filters.until or float("inf"))
    periods = int((end - begin) // _LENGTHS[by]) + 1
    if periods > MAX_PERIODS:
        from omcm.core.errors import OmcmError

        days = (end - begin) / 86400
        raise OmcmError(
            f"--by {by} over {days:,.0f} days of log is {periods:,} periods (at most "
            f"{MAX_PERIODS:,}): narrow the window (--since 2h, --since 7d) or choose a longer "
            "period (--by hour, --by day)"
        )

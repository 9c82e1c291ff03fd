"""``omcm stats``: what OMCM did, per period and in total, read from the routing log.

The report is a dict (``omcm stats --json`` prints it; :mod:`omcm.stats.render` and
:mod:`omcm.stats.html` show it): the figures of each period and of the whole window
(:mod:`omcm.stats.tally`), the subagents observed on Claude that the estimates rest
on (:mod:`omcm.stats.observations`), and the lines and files read.
"""

from __future__ import annotations

from omcm.stats.filters import Filters
from omcm.stats.observations import Observations
from omcm.stats.reading import Gathered
from omcm.stats.rows import SubagentRow
from omcm.stats.tally import tally

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.config import Config
    from omcm.stats.reading import Log
    from omcm.stats.rows import Row


def report(
    rows: list[Row],
    config: Config,
    *,
    by: str = "day",
    filters: Filters | None = None,
    damaged: int = 0,
    lines: int = 0,
    files: int = 0,
) -> dict[str, Any]:
    """The report over ``rows`` (as :meth:`omcm.stats.reading.Log.read` gives them)."""
    from omcm.stats.prices import Prices

    filters = filters or Filters()
    seen = Observations(Prices(config))
    for row in rows:
        if isinstance(row, SubagentRow):
            seen.add(row)
    found = Gathered(files)
    found.periods, found.damaged, found.lines = tally(rows, by, filters), damaged, lines
    return _report(found, seen, by, filters)


def report_log(
    log: Log, config: Config, *, by: str = "day", filters: Filters | None = None
) -> dict[str, Any]:
    """The report over the routing log, reading only what the window needs."""
    from omcm.stats.prices import Prices

    filters = filters or Filters()
    prices = Prices(config)
    seen = Observations(prices)
    found = _report(log.gather(by, filters, seen), seen, by, filters)
    prices.save()
    return found


def _report(found: Gathered, seen: Observations, by: str, filters: Filters) -> dict[str, Any]:
    prices = seen.prices
    assert prices is not None
    total = found.total
    periods = list(found.dumped)
    for period in found.periods.values():
        total.merge(period)
        periods.append(period.dump(prices, seen))
    periods.sort(key=lambda p: (p["start"], p["period"]))
    return {
        "by": by,
        "filters": filters.dump(),
        "periods": periods,
        "total": total.dump(prices, seen),
        "observed_on_claude": seen.dump(),
        "lines": found.lines,
        "damaged_lines": found.damaged,
        "files": found.files,
    }

"""Which rows a report counts: a time window (``--since``, ``--until``) and exact matches
(``--session``, ``--provider``, ``--agent``, ``--mode``, ``--source``)."""

from __future__ import annotations

import time

from omcm.stats.rows import SubagentRow

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.stats.rows import Row


class Filters:
    """Which calls count: a time window and exact matches."""

    def __init__(
        self,
        since: float | None = None,
        until: float | None = None,
        *,
        session: str = "",
        provider: str = "",
        agent: str = "",
        mode: str = "",
        source: str = "",
    ) -> None:
        self.since, self.until = since, until
        self.session, self.provider, self.agent, self.mode = session, provider, agent, mode
        self.source = source  # the door: hook (subagent calls), cli, batch, mcp, …

    def dump(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v not in (None, "")}

    def window_only(self) -> bool:
        """Whether it keeps every row in its time window (no session, provider, agent, mode
        or source to match)."""
        return not (self.session or self.provider or self.agent or self.mode or self.source)

    def keeps(self, row: Row) -> bool:
        when = row.time
        if (self.since is not None and when < self.since) or (
            self.until is not None and when >= self.until
        ):
            return False
        if (self.session and row.session != self.session) or (
            self.agent and row.agent != self.agent
        ):
            return False
        if self.mode and row.mode != ("" if self.mode == "none" else self.mode):
            return False
        if self.source and (isinstance(row, SubagentRow) or row.source != self.source):
            return False
        if self.provider:
            if isinstance(row, SubagentRow):
                return self.provider == "claude"  # a subagent ran on Claude
            return any(a.provider == self.provider for a in row.attempts)
        return True


def parse_when(text: str, now: float, *, end: bool = False) -> float:
    """``2h``, ``7d``, ``30m``, ``1w`` (ago), or a local date/time (``2026-11-29``,
    ``2026-11-29T14:00``); ``end`` makes a bare date mean the end of that day."""
    from omcm.core.errors import OmcmError

    text = text.strip()
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    if text[:-1].isdigit() and text[-1:] in units:
        return now - int(text[:-1]) * units[text[-1]]
    for form in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            parsed = time.strptime(text, form)
        except ValueError:
            continue
        fields = [*list(parsed[:8]), -1]
        if end and form == "%Y-%m-%d":
            fields[2] += 1  # the next midnight (a day is not always 24 h)
        return time.mktime(tuple(fields))  # type: ignore[arg-type]
    raise OmcmError(
        f"{text!r}: not a duration (30m, 2h, 7d, 1w) or a date (2026-11-29, 2026-11-29T14:00)"
    )

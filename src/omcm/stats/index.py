"""The routing log as compact rows, for ``omcm stats`` and ``omcm savings``.

Parsing JSON is most of what a report over a year of calls costs (half a million
lines, several seconds), and a rotated log file never changes. So each rotated
file gets its rows written once, beside it (``<file>.rows``, :mod:`marshal`), by a
detached process started when the log rotates (:func:`omcm.calls.routing_log.append`),
or by the first report that finds them missing or stale (they name the file's
size and modification time). The live file is parsed on every report.

A ``.rows`` file holds two :mod:`marshal` objects: a small header (the stamp, line
counts, the times of the first and last row, and the file's subagent
observations, :func:`observe`), then the rows. A report reads only the header of
a file whose rows all lie outside its window.

A row is a tuple of plain values (strings interned):

- a call: ``(CALL, time, session, agent, tier, mode, outcome, reason, provider,
  model, duration, cache_hit, job, attempts, source)``, each attempt ``(provider, model,
  outcome, input, cached, output, reasoning, duration, warm)``; ``source`` is the door
  it came through (hook, cli, batch, mcp; lines before it was logged: hook);
- a subagent on Claude: ``(SUBAGENT, time, session, agent, tier, mode, model,
  input, cache_creation, cache_read, output, total, duration_ms, background)``.

Lines of other kinds are left out; a damaged line (not JSON, or a field of the
wrong type) is counted, never fatal.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Row = tuple[Any, ...]
    #: (per agent, per tier): name -> [n, total, {(model, day): [n, in, write, read, out]}]
    Observed = tuple[dict[str, list[Any]], dict[str, list[Any]]]

VERSION = 3  # 3: a call row ends with its source
CALL, SUBAGENT = 0, 1
_KINDS = {"call": CALL, "subagent": SUBAGENT, "": CALL}


class Rows:
    """The rows of one file (None: only its header was read), how many of its lines were
    damaged, the times of its first and last row, and its subagents' observations."""

    __slots__ = ("damaged", "first", "last", "lines", "observed", "rows")

    def __init__(
        self,
        rows: list[Row] | None,
        damaged: int = 0,
        lines: int = 0,
        *,
        first: float | None = None,
        last: float | None = None,
        observed: Observed | None = None,
    ) -> None:
        self.rows = rows
        self.damaged = damaged
        self.lines = lines
        self.first, self.last = first, last
        self.observed: Observed = observed if observed is not None else ({}, {})

    def header(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "damaged": self.damaged,
            "lines": self.lines,
            "first": self.first,
            "last": self.last,
            "agents": self.observed[0],
            "tiers": self.observed[1],
        }

    def within(self, since: float | None, until: float | None) -> bool:
        """Whether any of its rows can lie in ``[since, until)``."""
        if self.first is None or self.last is None:
            return False
        return (since is None or self.last >= since) and (until is None or self.first < until)


def observe(observed: Observed, row: Row) -> None:
    """Count a ``subagent`` row in ``(agents, tables)``: per name ``[n, total tokens,
    {(model, day): [n, input, cache write, cache read, output]}]``."""
    key = (row[6], int(row[1] // 86400))
    for table, name in ((observed[0], row[3]), (observed[1], row[4])):
        seen = table.get(name)
        if seen is None:
            seen = table[name] = [0, 0, {}]
        seen[0] += 1
        seen[1] += row[11]
        sums = seen[2].get(key)
        if sums is None:
            sums = seen[2][key] = [0, 0, 0, 0, 0]
        sums[0] += 1
        sums[1] += row[7]
        sums[2] += row[8]
        sums[3] += row[9]
        sums[4] += row[10]


def parse(path: str) -> Rows:
    """Every line of ``path`` as rows (a missing file has none)."""
    from omcm.core import fastjson

    rows: list[Row] = []
    damaged = lines = 0
    intern = sys.intern
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return Rows([])
    with handle:
        for raw in handle:
            if not raw.strip():
                continue
            lines += 1
            try:
                data = fastjson.loads(raw.decode("utf-8"))
                row = _row(data, intern) if isinstance(data, dict) else None
            except (ValueError, TypeError, KeyError, AttributeError):
                damaged += 1
                continue
            if row is _DAMAGED:
                damaged += 1
            elif row is not None:
                rows.append(row)
    found = Rows(rows, damaged, lines)
    if rows:
        times = [row[1] for row in rows]
        found.first, found.last = min(times), max(times)
    for row in rows:
        if row[0] == SUBAGENT:
            observe(found.observed, row)
    return found


_DAMAGED: Row = ()


def _num(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if value is None:
        return 0
    raise TypeError("not a number")


def _str(value: object, intern: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError("not a string")
    return intern(value) if len(value) < 64 else value


def _tokens(value: object) -> tuple[int, int, int, int]:
    if not isinstance(value, dict):
        return 0, 0, 0, 0
    return (
        int(_num(value.get("input"))),
        int(_num(value.get("cached"))),
        int(_num(value.get("output"))),
        int(_num(value.get("reasoning"))),
    )


def _row(data: dict[str, Any], intern: Any) -> Row | None:
    kind = _KINDS.get(data.get("event") or "")
    if kind is None:
        return None  # fallback and limit lines
    if not isinstance(data.get("time"), (int, float)):
        return _DAMAGED
    when = float(data["time"])
    session = _str(data.get("session_id"), intern)
    agent = _str(data.get("agent"), intern)
    tier = _str(data.get("tier"), intern)
    mode = _str(data.get("mode"), intern)
    if kind == SUBAGENT:
        return (
            SUBAGENT,
            when,
            session,
            agent,
            tier,
            mode,
            _str(data.get("model"), intern),
            int(_num(data.get("input"))),
            int(_num(data.get("cache_creation"))),
            int(_num(data.get("cache_read"))),
            int(_num(data.get("output"))),
            int(_num(data.get("total"))),
            int(_num(data.get("duration_ms"))),
            bool(data.get("background")),
        )
    attempts = []
    for attempt in data.get("attempts") or ():
        if not isinstance(attempt, dict):
            return _DAMAGED
        attempts.append(
            (
                _str(attempt.get("provider"), intern),
                _str(attempt.get("model"), intern),
                _str(attempt.get("outcome"), intern),
                *_tokens(attempt.get("tokens")),
                float(_num(attempt.get("duration"))),
                _str(attempt.get("warm"), intern),
            )
        )
    return (
        CALL,
        when,
        session,
        agent,
        tier,
        mode,
        _str(data.get("outcome") or "claude", intern),
        _str(data.get("reason"), intern),
        _str(data.get("provider"), intern),
        _str(data.get("model"), intern),
        float(_num(data.get("duration"))),
        bool(data.get("cache_hit")),
        bool(data.get("job_id")),
        tuple(attempts),
        _str(data.get("source") or "hook", intern),
    )


def saved(path: str, *, rows: bool = True) -> Rows | None:
    """A rotated file's ``.rows`` (only its header unless ``rows``); None when missing or
    not current (the file changed, or an older OMCM wrote it)."""
    import marshal

    stamp = _stamp(path)
    if stamp is None:
        return Rows([])
    try:
        with open(path + ".rows", "rb") as handle:
            head = marshal.load(handle)
            if head["version"] != VERSION or tuple(head["stamp"]) != stamp:
                return None
            body = marshal.loads(handle.read()) if rows else None
        return Rows(
            body,
            head["damaged"],
            head["lines"],
            first=head["first"],
            last=head["last"],
            observed=(head["agents"], head["tiers"]),
        )
    except (OSError, ValueError, EOFError, TypeError, KeyError):
        return None


def cached(path: str) -> Rows:
    """The rows of a rotated file: from its ``.rows`` when current, else parsed and saved."""
    found = saved(path)
    if found is None:
        stamp = _stamp(path)
        found = parse(path)
        if stamp is not None:
            write(path, stamp, found)
    return found


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns


def write(path: str, stamp: tuple[int, int], found: Rows) -> None:
    import marshal

    from omcm.core.state import atomic_write_bytes

    head = found.header() | {"stamp": stamp}
    try:
        atomic_write_bytes(path + ".rows", marshal.dumps(head) + marshal.dumps(found.rows))
    except OSError:
        pass  # a read-only state dir only costs speed


def main() -> None:
    """``python -c "from omcm.stats.index import main; main()" FILE``: index a rotated file."""
    if len(sys.argv) == 2:
        cached(sys.argv[1])

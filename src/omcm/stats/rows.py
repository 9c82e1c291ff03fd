"""The routing log's lines as ``omcm stats`` and ``omcm savings`` read them: typed rows.

A ``call`` line is a :class:`CallRow` with its providers' attempts (:class:`AttemptRow`);
a ``subagent`` line (a subagent that ran on Claude) is a :class:`SubagentRow`. Rows are
:class:`typing.NamedTuple`: code names each field (``row.agent``) and mypy checks it,
while a row still costs no more than a tuple.

A rotated file keeps its rows in :mod:`marshal` (:mod:`omcm.stats.index`), which stores
plain tuples only: :func:`plain` gives that form and :func:`typed` the rows back. It is
(the kind of each row in order, one byte each; each call's fields but its attempts;
each call's attempts; each subagent's fields), every tuple in its class's field order.
Calls and their attempts are stored apart so that rebuilding a call need not take its
stored tuple apart: rebuilding a year of rows takes about as long as :mod:`marshal`
takes to read them.

The cyclic garbage collector keeps tracking a NamedTuple for as long as it lives (it
stops tracking a plain tuple of plain values, never an instance of a subclass), so code
that reads a year of rows runs with it paused (:func:`gc_paused`).
"""

from __future__ import annotations

import functools
import gc
from functools import partial
from typing import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ParamSpec, TypeVar

    P = ParamSpec("P")
    T = TypeVar("T")

    #: The stored form: (kinds, calls but their attempts, their attempts, subagents).
    Stored = tuple[
        bytes, list[tuple[Any, ...]], list[tuple[tuple[Any, ...], ...]], list[tuple[Any, ...]]
    ]

#: The kinds of rows, as :func:`plain` stores them.
CALL, SUBAGENT = 0, 1
#: Outcomes of a call that a provider answered (or that reused a stored answer).
ROUTED = ("routed", "cache")


class AttemptRow(NamedTuple):
    """One provider's run of a call."""

    provider: str
    model: str
    outcome: str
    input: int  # with the cached tokens
    cached: int
    output: int  # with the reasoning tokens
    reasoning: int
    duration: float
    warm: str


class CallRow(NamedTuple):
    """A subagent call OMCM saw: routed to providers, or left to Claude."""

    time: float
    session: str
    agent: str
    tier: str
    mode: str
    outcome: str  # "claude" when it stayed on Claude
    reason: str
    provider: str  # who answered
    model: str
    duration: float
    cache_hit: bool
    job: bool  # ran as a background job
    source: str  # the door it came through: hook, cli, batch, mcp, review, schedule
    # Last, so that a stored call is its other fields followed by these (:func:`typed`).
    attempts: tuple[AttemptRow, ...]


class SubagentRow(NamedTuple):
    """A subagent that ran on Claude, and its usage."""

    time: float
    session: str
    agent: str
    tier: str
    mode: str
    model: str
    input: int
    cache_creation: int
    cache_read: int
    output: int
    total: int
    duration_ms: int
    background: bool


if TYPE_CHECKING:
    Row = CallRow | SubagentRow


def plain(rows: list[Row]) -> Stored:
    """``rows`` as :mod:`marshal` can store them."""
    kinds = bytearray()
    calls: list[tuple[Any, ...]] = []
    attempts: list[tuple[tuple[Any, ...], ...]] = []
    subagents: list[tuple[Any, ...]] = []
    for row in rows:
        if isinstance(row, CallRow):
            kinds.append(CALL)
            calls.append(row[:-1])  # a slice of a row is a plain tuple
            tried = row.attempts
            attempts.append(tuple(map(tuple, tried)) if tried else ())
        else:
            kinds.append(SUBAGENT)
            subagents.append(row[:])
    return bytes(kinds), calls, attempts, subagents


def typed(stored: Stored) -> list[Row]:
    """The rows :func:`plain` stored, in their order."""
    kinds, calls, attempts, subagents = stored
    # ``tuple.__new__`` makes a row of a stored tuple in C; the generated ``__new__`` of a
    # NamedTuple is a Python function, which costs more than the rest of reading a row.
    new = tuple.__new__

    def call(fields: tuple[Any, ...], tried: tuple[tuple[Any, ...], ...]) -> CallRow:
        return new(CallRow, (*fields, tuple([new(AttemptRow, a) for a in tried]) if tried else ()))

    take: dict[int, Callable[[], Row]] = {
        CALL: map(call, calls, attempts).__next__,
        SUBAGENT: map(partial(new, SubagentRow), subagents).__next__,
    }
    return [take[kind]() for kind in kinds]


def gc_paused(work: Callable[P, T]) -> Callable[P, T]:
    """``work`` with the cyclic garbage collector paused.

    Otherwise each collection while a year of rows is read walks every row read so far
    again (a third of the time of a report), and so does the first one after a pause
    while they live: ``work`` should drop the rows it reads before it returns. Rows hold
    no reference cycles; reference counting frees them.
    """

    @functools.wraps(work)
    def paused(*args: P.args, **kwargs: P.kwargs) -> T:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return work(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused

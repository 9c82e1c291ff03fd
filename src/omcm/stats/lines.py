"""The routing log's lines as rows: the fields ``omcm stats`` needs, each of its type.

A line is decoded by :mod:`msgspec` straight into the fields rows are made of
(:class:`_Line`), their types checked in C and every other field skipped: two fifths
of the time that parsing it with :mod:`json` and checking each field in Python takes
(parsing is most of what a first report over a year of log costs, and the live file
is parsed by every report). A line it refuses (not JSON, a field of another type, a
number out of range) is parsed and checked field by field (:func:`checked_row`),
which decides what it holds: so the two give the same row wherever msgspec gives
one, and ``tests/unit/test_stats.py`` holds them to it line by line.

Lines of other events (fallbacks, limits) have no row; a line that is not JSON, or
has a field of the wrong type, raises one of :data:`DAMAGED`.
"""

from __future__ import annotations

import msgspec

from omcm.core import fastjson
from omcm.stats.rows import AttemptRow, CallRow, SubagentRow

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from omcm.stats.rows import Row

#: What a damaged line raises.
DAMAGED = (ValueError, TypeError, KeyError, AttributeError, OverflowError)
_EVENTS = {"call", "subagent", ""}
#: Rows are made with ``tuple.__new__``, in C (a NamedTuple's generated ``__new__`` is
#: a Python function).
_new = tuple.__new__


class _Tokens(msgspec.Struct):
    input: int | float | None = 0
    cached: int | float | None = 0
    output: int | float | None = 0
    reasoning: int | float | None = 0


class _Attempt(msgspec.Struct):
    provider: str | None = ""
    model: str | None = ""
    outcome: str | None = ""
    duration: int | float | None = 0.0
    tokens: _Tokens | None = None
    warm: str | None = ""


class _Line(msgspec.Struct):
    """The fields of a ``call`` or ``subagent`` line that rows are made of."""

    event: str | None = ""
    time: int | float | None = None
    session_id: str | None = ""
    agent: str | None = ""
    tier: str | None = ""
    mode: str | None = ""
    model: str | None = ""
    # a call's
    outcome: str | None = ""
    reason: str | None = ""
    provider: str | None = ""
    duration: int | float | None = 0.0
    cache_hit: bool | None = False
    job_id: str | None = ""
    source: str | None = ""
    attempts: list[_Attempt] | None = None
    # a subagent's
    input: int | float | None = 0
    cache_creation: int | float | None = 0
    cache_read: int | float | None = 0
    output: int | float | None = 0
    total: int | float | None = 0
    duration_ms: int | float | None = 0
    background: bool | None = False


_decode = msgspec.json.Decoder(_Line).decode
_NO_TOKENS = _Tokens()


def row_of(raw: bytes, intern: Callable[[str], str]) -> Row | None:
    """The row of a line (``raw``, UTF-8); None for a line of another event."""
    try:
        line = _decode(raw)
    except msgspec.MsgspecError:
        data = fastjson.loads(raw.decode("utf-8"))
        return checked_row(data, intern) if isinstance(data, dict) else None
    event = line.event or ""
    if event not in _EVENTS:
        return None  # fallback and limit lines
    when = line.time
    if when is None:
        raise TypeError("no time")
    if event == "subagent":
        return _new(
            SubagentRow,
            (
                float(when),
                intern(line.session_id) if line.session_id else "",
                intern(line.agent) if line.agent else "",
                intern(line.tier) if line.tier else "",
                intern(line.mode) if line.mode else "",
                intern(line.model) if line.model else "",
                int(line.input or 0),
                int(line.cache_creation or 0),
                int(line.cache_read or 0),
                int(line.output or 0),
                int(line.total or 0),
                int(line.duration_ms or 0),
                bool(line.background),
            ),
        )
    tried = line.attempts
    return _new(
        CallRow,
        (
            float(when),
            intern(line.session_id) if line.session_id else "",
            intern(line.agent) if line.agent else "",
            intern(line.tier) if line.tier else "",
            intern(line.mode) if line.mode else "",
            intern(line.outcome) if line.outcome else "claude",
            intern(line.reason) if line.reason else "",
            intern(line.provider) if line.provider else "",
            intern(line.model) if line.model else "",
            float(line.duration or 0),
            bool(line.cache_hit),
            bool(line.job_id),  # job
            intern(line.source) if line.source else "hook",  # lines before it was logged
            tuple([_attempt_row(a, intern) for a in tried]) if tried else (),
        ),
    )


def _attempt_row(attempt: _Attempt, intern: Callable[[str], str]) -> AttemptRow:
    tokens = attempt.tokens or _NO_TOKENS
    return _new(
        AttemptRow,
        (
            intern(attempt.provider) if attempt.provider else "",
            intern(attempt.model) if attempt.model else "",
            intern(attempt.outcome) if attempt.outcome else "",
            int(tokens.input or 0),
            int(tokens.cached or 0),
            int(tokens.output or 0),
            int(tokens.reasoning or 0),
            float(attempt.duration or 0),
            intern(attempt.warm) if attempt.warm else "",
        ),
    )


def checked_row(data: dict[str, Any], intern: Callable[[str], str]) -> Row | None:
    """The row of a parsed line, each field checked: a line :func:`row_of` cannot decode.

    Rows are built by position, their fields in order (the line's keys name them, else a
    comment does). ``tests/unit/test_stats.py`` gives every field a value of its own.
    """
    event = data.get("event") or ""
    if event not in _EVENTS:
        return None  # fallback and limit lines
    when = data.get("time")
    if not isinstance(when, (int, float)):
        raise TypeError("no time")
    if event == "subagent":
        return SubagentRow(
            float(when),
            _str(data.get("session_id"), intern),
            _str(data.get("agent"), intern),
            _str(data.get("tier"), intern),
            _str(data.get("mode"), intern),
            _str(data.get("model"), intern),
            int(_num(data.get("input"))),
            int(_num(data.get("cache_creation"))),
            int(_num(data.get("cache_read"))),
            int(_num(data.get("output"))),
            int(_num(data.get("total"))),
            int(_num(data.get("duration_ms"))),
            bool(data.get("background")),
        )
    return CallRow(
        float(when),
        _str(data.get("session_id"), intern),
        _str(data.get("agent"), intern),
        _str(data.get("tier"), intern),
        _str(data.get("mode"), intern),
        _str(data.get("outcome") or "claude", intern),
        _str(data.get("reason"), intern),
        _str(data.get("provider"), intern),
        _str(data.get("model"), intern),
        float(_num(data.get("duration"))),
        bool(data.get("cache_hit")),
        bool(data.get("job_id")),  # job
        _str(data.get("source") or "hook", intern),
        tuple([_checked_attempt(a, intern) for a in data.get("attempts") or ()]),
    )


def _checked_attempt(data: object, intern: Callable[[str], str]) -> AttemptRow:
    if not isinstance(data, dict):
        raise TypeError("not an attempt")
    tokens = data.get("tokens")
    if not isinstance(tokens, dict):
        tokens = {}
    return AttemptRow(
        _str(data.get("provider"), intern),
        _str(data.get("model"), intern),
        _str(data.get("outcome"), intern),
        int(_num(tokens.get("input"))),
        int(_num(tokens.get("cached"))),
        int(_num(tokens.get("output"))),
        int(_num(tokens.get("reasoning"))),
        float(_num(data.get("duration"))),
        _str(data.get("warm"), intern),
    )


def _num(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if value is None:
        return 0
    raise TypeError("not a number")


def _str(value: object, intern: Callable[[str], str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError("not a string")
    return intern(value) if len(value) < 64 else value

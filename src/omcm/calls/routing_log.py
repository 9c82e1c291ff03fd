"""The routing log: one JSON line per event, in ``routing-log.jsonl``.

Four kinds of line, each declared once below as a record with its builder:
``call`` (a subagent call: the decision and, for a routed call, what every
provider attempt did), ``subagent`` (a subagent that ran on Claude, with what it
cost Claude), ``fallback`` (usage fallback switched on or off) and ``limit``
(Claude rejected a request for its usage limit). Lines written before the
``event`` field existed are calls.

Lines are appended under the state lock, so parallel hooks never interleave.
The file rotates by size into ``routing-log.jsonl.<UTC time>``, and rotated
files are kept (nothing is dropped: a year of heavy use is a few hundred MB);
a detached indexer then writes the rotated file's compact rows for ``omcm
stats`` (:mod:`omcm.stats.index`). Writing uses the hot path's JSON encoder (a
hook that keeps a call on Claude must not pay for importing more); reading
(:func:`lines`) numbers every line, so a damaged one is reported with its place
(``omcm log``) or skipped and counted (``omcm stats``), never fatal, and a file
that cannot be read is an error that names it.
"""

from __future__ import annotations

import os

from omcm.core import fastjson, paths
from omcm.core.records import _MISSING, Record, RecordError, _dump
from omcm.core.state import FileLock

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, ClassVar

    from omcm.routing.usage import FallbackTransition

MAX_BYTES = 10 * 1024 * 1024
#: Rotated files of releases before 0.2 (``.1`` newest … ``.3``), still read.
LEGACY_KEEP = 3

#: How a subagent call ended, for ``omcm log --outcome`` and the README.
OUTCOMES: dict[str, str] = {
    "claude": "the call stayed on Claude",
    "routed": "a provider answered; Claude got its answer as the subagent's result",
    "cache": "an identical recent call's stored answer was handed back",
    "fell-back": "every provider failed; Claude ran the subagent itself (or, for a background "
    "job, was told to)",
    "cancelled": "Claude Code stopped the hook (Esc, timeout) or the job was cancelled; the "
    "provider was killed",
    "timed-out": "a background job ran out of time (jobs.timeout); Claude was told to run the "
    "task itself",
    "config-error": "config.toml is invalid; the call was let through to Claude",
}


def outcome_table() -> str:
    """The README's table of call outcomes (``scripts/sync-readme``)."""
    rows = ["| outcome | meaning |", "|---|---|"]
    rows += [f"| `{name}` | {meaning} |" for name, meaning in OUTCOMES.items()]
    return "\n".join(rows) + "\n"


class Tokens(Record):
    """Tokens of one run: ``input`` includes ``cached``, ``output`` includes ``reasoning``."""

    input: int = 0
    cached: int = 0
    output: int = 0
    reasoning: int = 0


class AttemptEntry(Record):
    """One provider run within a routed call."""

    provider: str
    model: str = ""
    outcome: str
    exit_code: int | None = None
    error: str = ""
    duration: float = 0.0
    tokens: Tokens = Tokens()
    warm: str = ""  # a warm server ran it: "hit" (one was running) or "started" (for this call)
    warm_error: str = ""  # why a provider in warm mode ran this attempt cold


class Entry(Record):
    """What every line has."""

    KIND: ClassVar[str] = ""
    event: str = ""
    time: float = 0.0


class CallEntry(Entry):
    """A subagent call: what was decided, and what the providers did."""

    KIND = "call"
    event: str = "call"
    source: str = ""  # the door it came through: hook, cli, batch, mcp, review, schedule
    # (omcm.calls.call.DOORS)
    session_id: str = ""
    tool_use_id: str = ""
    tool_name: str = ""
    agent_raw: str = ""
    agent: str = ""
    tier: str = ""
    decision: str = "claude"  # "claude" or "providers"
    reason: str = ""  # a reason code (omcm.routing.engine.REASONS) or "config-error"
    outcome: str = "claude"  # a key of OUTCOMES
    duration: float = 0.0  # seconds the hook took
    skipped: dict[str, str] = {}
    provider: str = ""
    model: str = ""
    attempts: list[AttemptEntry] = []
    tokens: Tokens = Tokens()
    prompt_chars: int = 0
    answer_chars: int = 0
    context_path: str = ""
    output_path: str = ""
    cache_hit: bool = False
    fallback_reason: str = ""
    error: str = ""
    job_id: str = ""  # a background job ran the call
    batch_id: str = ""  # … as a task of this batch
    mode: str = ""  # the session's mode when the call was decided (hulw, ulw, …)


class SubagentEntry(Entry):
    """A subagent that ran on Claude, and what it cost Claude (the basis of "tokens avoided").

    Summed over every model request the subagent made (its own transcript), found
    by the PostToolUse hook for a foreground subagent and by its task notification
    for a background one; ``input`` excludes the cache, ``total`` is input + cache +
    output. ``requests`` 0: only a total was known (the notification's).
    """

    KIND = "subagent"
    event: str = "subagent"
    session_id: str = ""
    tool_use_id: str = ""
    agent_raw: str = ""
    agent: str = ""
    tier: str = ""
    mode: str = ""
    model: str = ""
    background: bool = False
    input: int = 0
    cache_creation: int = 0
    cache_read: int = 0
    output: int = 0
    total: int = 0
    requests: int = 0  # model requests the subagent made (0: not known)
    tool_uses: int = 0
    duration_ms: int = 0
    source: str = ""  # post-tool-use | task-notification


class FallbackEntry(Entry):
    """Usage fallback switched on or off."""

    KIND = "fallback"
    event: str = "fallback"
    active: bool = False
    usage: float | None = None
    reason: str = ""
    threshold: int = 0
    recovery_threshold: int = 0


class LimitEntry(Entry):
    """Claude rejected a request for its usage limit."""

    KIND = "limit"
    event: str = "limit"
    session_id: str = ""
    until: float | None = None  # when OMCM expects the limit to lift
    source: str = ""  # the hook that saw it: StopFailure or SessionEnd


KINDS: dict[str, type[Entry]] = {
    k.KIND: k for k in (CallEntry, SubagentEntry, FallbackEntry, LimitEntry)
}


def append(entry: Entry, path: str | None = None) -> None:
    """Append one line; rotate first if the log has grown past :data:`MAX_BYTES`."""
    path = path or paths.routing_log()
    line = (fastjson.dumps(_compact(entry)) + "\n").encode("utf-8")
    rotated = ""
    with FileLock(path):
        try:
            if os.path.getsize(path) + len(line) > MAX_BYTES:
                rotated = _rotate(path)
        except FileNotFoundError:
            pass
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    if rotated:
        _index_later(rotated)


def note_fallback(switch: FallbackTransition, threshold: int, recovery: int) -> None:
    """Log a switch of fallback (:func:`omcm.routing.gauges.step_fallback` gave it)."""
    append(
        FallbackEntry(
            time=switch.at,
            active=switch.active,
            usage=switch.usage_percentage,
            reason=switch.reason,
            threshold=threshold,
            recovery_threshold=recovery,
        )
    )


def _compact(entry: Entry) -> dict[str, Any]:
    """The line's fields, leaving out empty ones a reader gets back as defaults."""
    data = entry.dump()
    keep = ("event", "time", "outcome", "decision", "reason", "agent", "tier", "active")
    empty = _empty(type(entry))
    return {k: v for k, v in data.items() if k in keep or v != empty.get(k)}


def _empty(kind: type[Entry]) -> dict[str, Any]:
    """The dump of a record of ``kind`` whose fields all hold their defaults."""
    found = _EMPTY.get(kind)
    if found is None:
        defaults = {s.name: s.default for s in kind._specs() if s.default is not _MISSING}
        found = _EMPTY[kind] = {k: _dump(v) for k, v in defaults.items()}
    return found


_EMPTY: dict[type[Entry], dict[str, Any]] = {}


def _rotate(path: str) -> str:
    """Move the full log aside under a name that sorts by time; its new name."""
    import time

    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}"
    rotated, n = f"{path}.{stamp}", 0
    while os.path.exists(rotated):  # two rotations in one microsecond
        n += 1
        rotated = f"{path}.{stamp}-{n}"
    os.replace(path, rotated)
    return rotated


def _index_later(rotated: str) -> None:
    """Have a detached process write the rotated file's stats rows (not this hook's time)."""
    import sys

    from omcm.core import proc

    try:
        proc.spawn_detached(
            [sys.executable, "-c", "from omcm.stats.index import main; main()", rotated],
            os.devnull,
            dict(os.environ),
        )
    except OSError:
        pass  # omcm stats indexes it itself then


def files(path: str | None = None) -> list[str]:
    """The log's files, oldest first: rotated ones (older layouts too), then the live one."""
    path = path or paths.routing_log()
    folder, base = os.path.split(path)
    legacy = [f"{path}.{i}" for i in range(LEGACY_KEEP, 0, -1) if os.path.exists(f"{path}.{i}")]
    try:
        names = os.listdir(folder or ".")
    except FileNotFoundError:
        names = []
    stamped = sorted(
        os.path.join(folder, n)
        for n in names
        if n.startswith(base + ".")
        and n[len(base) + 1 : len(base) + 2].isdigit()
        and "T" in n[len(base) + 1 :]
        and not n.endswith((".lock", ".rows"))
    )
    return [*legacy, *stamped, *([path] if os.path.exists(path) else [])]


class Damaged:
    """A line of the log that is not one of its records: where it is, and what is wrong."""

    __slots__ = ("file", "line", "why")

    def __init__(self, file: str, line: int, why: str) -> None:
        self.file, self.line, self.why = file, line, why

    def __str__(self) -> str:
        return f"damaged line {self.line} of {self.file} ({self.why})"


def lines(
    path: str | None = None, include_rotated: bool = True
) -> Iterator[tuple[str, int, dict[str, Any] | None, str]]:
    """Every line of the log, oldest first: (file, line number, its JSON object or None, why
    it is none). A file that cannot be read is an :class:`OmcmError` naming it."""
    from omcm.core.errors import OmcmError

    path = path or paths.routing_log()
    for name in files(path) if include_rotated else [path]:
        try:
            handle = open(name, "rb")  # noqa: SIM115 - closed below, after a streaming read
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise OmcmError(
                f"the routing log {name} cannot be read ({exc.strerror or exc}); "
                "check its owner and permissions"
            ) from None
        with handle:
            for number, raw in enumerate(handle, 1):
                if not raw.strip():
                    continue
                try:
                    data = fastjson.loads(raw)
                except (ValueError, UnicodeDecodeError):
                    yield name, number, None, "not JSON"
                    continue
                if isinstance(data, dict):
                    yield name, number, data, ""
                else:
                    yield name, number, None, "not a JSON object"


def read(path: str | None = None, include_rotated: bool = True) -> Iterator[dict[str, Any]]:
    """Every line as JSON, oldest first; damaged lines are skipped."""
    for _name, _number, data, _why in lines(path, include_rotated):
        if data is not None:
            yield data


def entries(path: str | None = None) -> Iterator[Entry]:
    """Every line as its record, oldest first; damaged or unknown lines are skipped."""
    for data in read(path):
        entry = parse(data)
        if entry is not None:
            yield entry


def entries_and_damage(path: str | None = None) -> Iterator[Entry | Damaged]:
    """Every line as its record, or as :class:`Damaged` (with its place) when it is none."""
    for name, number, data, why in lines(path):
        if data is None:
            yield Damaged(name, number, why)
            continue
        entry, problem = _parse(data)
        yield entry if entry is not None else Damaged(name, number, problem)


def parse(data: dict[str, Any]) -> Entry | None:
    """One line as its record (a line without ``event`` is a call); None if it fits none."""
    return _parse(data)[0]


def _parse(data: dict[str, Any]) -> tuple[Entry | None, str]:
    kind = KINDS.get(str(data.get("event") or "call"))
    if kind is None:
        return None, f"unknown event {str(data.get('event'))[:40]!r}"
    if not isinstance(data.get("time"), int | float) or isinstance(data.get("time"), bool):
        return None, "no time"
    try:
        return kind.parse(data, "routing log line"), ""
    except RecordError as exc:
        return None, "; ".join(f"{where}: {what}" for where, what in exc.problems)[:200]

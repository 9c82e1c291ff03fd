"""A schedule: what runs, how often, and where it is recorded (``schedules/NAME.json``)."""

from __future__ import annotations

import os
import re

from omcm.core import paths, state
from omcm.core.errors import OmcmError, cut
from omcm.core.state import StateRecord

#: How often a schedule may run: a period every scheduler can say the same way.
EVERY_HELP = "Nm (N divides 60), Nh (N divides 24), 1d or 1w"
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class Schedule(StateRecord):
    """``schedules/NAME.json``: one schedule as ``omcm schedule add`` made it."""

    name: str = ""
    every: str = ""  # "30m", "6h", "1d", "1w"
    at: str = ""  # "03:00" (1d) or "Mon 03:00" (1w); "" = the period's start
    provider: str = ""  # "" = the agent's chain
    agent: str = "general-purpose"
    model: str = ""
    prompt: str = ""  # the task itself, or
    file: str = ""  # a task file, read at each run (absolute)
    cwd: str = ""  # the project the provider works in
    target: str = ""  # "systemd", "launchd" or "cron"
    files: list[str] = []  # every file add wrote (remove deletes exactly these)
    enabled: bool = False  # add enabled it in a running scheduler
    created_at: float = 0.0


class Period:
    """``--every`` and ``--at`` read: a unit (m, h, d, w), a count, and a time of day."""

    __slots__ = ("count", "day", "hour", "minute", "unit")

    def __init__(self, unit: str, count: int, hour: int, minute: int, day: str) -> None:
        self.unit, self.count, self.hour, self.minute, self.day = unit, count, hour, minute, day

    @property
    def seconds(self) -> int:
        return self.count * {"m": 60, "h": 3600, "d": 86400, "w": 604800}[self.unit]


def period(every: str, at: str = "") -> Period:
    """Read ``--every`` (``30m``, ``6h``, ``1d``, ``1w``) and ``--at`` (``03:00``; with
    ``1w`` also ``Mon 03:00``); an :class:`OmcmError` says what is accepted."""
    found = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", every.lower())
    if not found:
        raise OmcmError(f"--every {cut(every)!r}: give {EVERY_HELP} (e.g. --every 1d)")
    count, unit = int(found.group(1)), found.group(2)
    fits = {
        "m": 0 < count < 60 and 60 % count == 0,
        "h": 0 < count < 24 and 24 % count == 0,
        "d": count == 1,
        "w": count == 1,
    }[unit]
    if not fits:
        raise OmcmError(
            f"--every {cut(every)}: give {EVERY_HELP}, periods every scheduler can keep "
            "(systemd, launchd and cron alike)"
        )
    hour, minute, day = 0, 0, "Mon"
    if at:
        if unit not in ("d", "w"):
            raise OmcmError(
                f"--at {cut(at)!r} goes with --every 1d or 1w, not --every {cut(every)}"
            )
        when = re.fullmatch(r"\s*(?:([A-Za-z]{3})\s+)?(\d{1,2}):(\d{2})\s*", at)
        if not when or int(when.group(2)) > 23 or int(when.group(3)) > 59:
            raise OmcmError(
                f"--at {cut(at)!r}: give HH:MM (24-hour), with 1w optionally a day: Mon 03:00"
            )
        if when.group(1):
            if unit != "w":
                raise OmcmError(f"--at {cut(at)!r}: a day of the week goes with --every 1w")
            day = when.group(1).title()
            if day not in DAYS:
                raise OmcmError(f"--at {cut(at)!r}: the day is one of {', '.join(DAYS)}")
        hour, minute = int(when.group(2)), int(when.group(3))
    return Period(unit, count, hour, minute, day)


def described(record: Schedule) -> str:
    """``every 1d at 03:00`` for lists and unit descriptions."""
    return f"every {record.every}" + (f" at {record.at}" if record.at else "")


def check_name(name: str) -> str:
    """A schedule's name becomes part of file names: letters, digits, ``-`` and ``_``."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", name):
        raise OmcmError(
            f"schedule name {name[:80]!r}: use 1-64 letters, digits, '-' or '_' (it names "
            "the timer's files)"
        )
    return name


def folder() -> str:
    return os.path.join(paths.state_dir(), "schedules")


def record_file(name: str) -> str:
    return os.path.join(folder(), f"{check_name(name)}.json")


def load(name: str) -> Schedule:
    """The schedule ``name`` (an :class:`OmcmError` naming the choices when there is none)."""
    record = state.load(record_file(name), Schedule)
    if not record.name:
        known = ", ".join(r.name for r in every()) or "none"
        raise OmcmError(f"no schedule {name!r} (schedules: {known}; omcm schedule list)")
    return record


def save(record: Schedule) -> None:
    state.atomic_write(record_file(record.name), record_text(record))


def record_text(record: Schedule) -> str:
    from omcm.core import fastjson

    return fastjson.dumps(record.dump()) + "\n"


def forget(name: str) -> None:
    try:
        os.unlink(record_file(name))
    except FileNotFoundError:
        pass


def every() -> list[Schedule]:
    """Every schedule, by name."""
    try:
        names = sorted(n[:-5] for n in os.listdir(folder()) if n.endswith(".json"))
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        try:
            record = state.load(record_file(name), Schedule)
        except OmcmError:
            continue  # a damaged record is moved aside and reported by the state layer
        if record.name:
            found.append(record)
    return found

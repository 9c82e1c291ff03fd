"""Codex's own usage limits, read from its session files.

Each Codex response logs a ``token_count`` event in
``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`` whose ``rate_limits`` hold
the ChatGPT plan's windows: ``primary`` (5 hours) and ``secondary`` (7 days),
each with ``used_percent``, ``window_minutes`` and ``resets_at`` (unix seconds).
OMCM reads the newest one so routing can skip Codex while its own limit is
reached, and ``omcm status`` can show it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from omcm.core.tail import lines_from_end

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

#: Day folders looked at, newest first: enough to find the latest session cheaply.
RECENT_DAYS = 3


@dataclass(frozen=True)
class CodexWindow:
    used_percent: float
    window_minutes: int | None
    resets_at: float | None


@dataclass(frozen=True)
class CodexLimits:
    primary: CodexWindow | None
    secondary: CodexWindow | None
    observed_at: float  # when Codex wrote the event (the file's mtime)
    source: str  # the session file

    def exhausted_until(self, now: float) -> float | None:
        """When a full window resets, if one is at 100% now."""
        resets = [
            w.resets_at
            for w in (self.primary, self.secondary)
            if w and w.used_percent >= 100 and w.resets_at and w.resets_at > now
        ]
        return max(resets) if resets else None


def sessions_dir(env: Mapping[str, str] | None = None) -> str:
    """``$CODEX_HOME/sessions`` (default ``~/.codex``) as codex run with ``env`` sees it."""
    env = os.environ if env is None else env
    home = env.get("CODEX_HOME") or os.path.join(env.get("HOME") or "~", ".codex")
    return os.path.join(os.path.expanduser(home), "sessions")


def newest_session(root: str | None = None) -> str | None:
    root = root or sessions_dir()
    days: list[str] = []
    try:
        for year in sorted(os.listdir(root), reverse=True)[:2]:
            for month in sorted(os.listdir(os.path.join(root, year)), reverse=True)[:2]:
                folder = os.path.join(root, year, month)
                days += [os.path.join(folder, d) for d in os.listdir(folder)]
    except (FileNotFoundError, NotADirectoryError):
        return None
    files = []
    for day in sorted(days, reverse=True)[:RECENT_DAYS]:
        try:
            files += [os.path.join(day, f) for f in os.listdir(day) if f.endswith(".jsonl")]
        except OSError:
            continue
    return max(files, key=os.path.getmtime, default=None)


def read(root: str | None = None) -> CodexLimits | None:
    """The latest rate limits Codex logged, or ``None`` when there are none."""
    path = newest_session(root)
    if path is None:
        return None
    try:
        for raw in lines_from_end(path, (b'"rate_limits"',)):
            if b'"rate_limits"' not in raw:
                continue
            limits = _find(json.loads(raw))
            if limits is not None:
                return CodexLimits(
                    _window(limits.get("primary")),
                    _window(limits.get("secondary")),
                    os.path.getmtime(path),
                    path,
                )
    except (OSError, ValueError):
        return None
    return None


def _find(value: object) -> dict[str, object] | None:
    if isinstance(value, dict):
        found = value.get("rate_limits")
        if isinstance(found, dict):
            return found
        for inner in value.values():
            hit = _find(inner)
            if hit is not None:
                return hit
    return None


def _window(raw: object) -> CodexWindow | None:
    if not isinstance(raw, dict):
        return None
    used = raw.get("used_percent")
    if not isinstance(used, (int, float)) or isinstance(used, bool):
        return None
    minutes = raw.get("window_minutes")
    resets = raw.get("resets_at")
    if not isinstance(resets, (int, float)) and isinstance(
        raw.get("resets_in_seconds"), (int, float)
    ):
        resets = None  # relative to an unknown moment: not usable
    return CodexWindow(
        float(used),
        minutes if isinstance(minutes, int) else None,
        float(resets) if isinstance(resets, (int, float)) else None,
    )

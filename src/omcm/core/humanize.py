"""Figures as people read them: counts, spans of time, ages."""

from __future__ import annotations

import time


def abbreviate(count: int) -> str:
    """``567``, ``1.2k``, ``25.8k``, ``1.4M`` (one decimal, ``.0`` dropped)."""
    if count < 1000:
        return str(count)
    for size, unit in ((1e3, "k"), (1e6, "M"), (1e9, "B")):
        text = f"{count / size:.1f}"
        if float(text) < 1000 or unit == "B":
            return text.removesuffix(".0") + unit
    raise AssertionError("unreachable")  # pragma: no cover


def duration(seconds: float) -> str:
    """``45s``, ``12m``, ``1h12m``, ``2h``, ``3d4h`` (rounded down)."""
    total = max(int(seconds), 0)
    if total < 60:
        return f"{total}s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def minutes(until: float, now: float) -> str:
    """Time left until ``until``: ``45s``, ``12m05s``."""
    seconds = max(0, int(until - now))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def age(then: float | None, now: float | None = None) -> str:
    """How long ago ``then`` was: ``5s ago``, ``3h ago``, ``never``."""
    if then is None:
        return "never"
    delta = max(0, (time.time() if now is None else now) - then)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{delta / size:.0f}{unit} ago"
    return f"{delta:.0f}s ago"


def plural(count: int, word: str, words: str = "") -> str:
    """``1 task``, ``3 tasks``, ``1,200 calls`` (``words``: the plural when not word + s)."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"

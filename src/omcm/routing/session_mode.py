"""``sessions/<id>/mode.json``: the mode a keyword or a slash command set for one session.

The one module that reads and writes it. What each mode means is the table in
:mod:`omcm.routing.modes`.
"""

from __future__ import annotations

import time

from omcm.core import state
from omcm.core.state import StateRecord
from omcm.routing.modes import MODES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")


class SessionMode(StateRecord):
    """``sessions/<id>/mode.json``: the mode a keyword or command set for one session."""

    mode: str = ""  # "", "hulw", "ulw", "autopilot", "save-tokens"
    fusion: bool = False  # autopilot with fusion
    task: str = ""
    keyword: str = ""
    set_at: float | None = None
    continuations: int = 0  # consecutive Stop-hook continuations (autopilot)
    band: str = ""  # the tiers the mode last routed (modes.band); a change is told to Claude
    review_gate: str = ""  # "on" / "off": /omcm:review-gate for this session; "": [review] gate


def mode_file(session_id: str) -> str:
    return state.session_file(session_id, "mode.json")


def current(session_id: str) -> SessionMode:
    """The session's mode ("" when none is set)."""
    return state.load(mode_file(session_id), SessionMode)


def update(session_id: str, mutate: Callable[[SessionMode], T]) -> T:
    """Change the session's mode record under its lock; what ``mutate`` returns."""
    return state.update(mode_file(session_id), SessionMode, mutate)


def set_mode(
    session_id: str,
    mode: str,
    *,
    fusion: bool = False,
    task: str = "",
    keyword: str = "",
    band: str = "",
) -> SessionMode:
    """Set the session's mode; setting the mode it has again keeps its task and fusion
    unless new ones are given (a slash command's `!` line after its keyword was seen).

    ``band`` is what Claude was just told the mode routes (:func:`omcm.routing.modes.band`),
    if it was.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
    fusion = fusion or MODES[mode].fusion

    def mutate(record: SessionMode) -> SessionMode:
        same = record.mode == mode
        record.fusion = fusion or (same and record.fusion)
        record.task = task or (record.task if same else "")
        record.mode, record.keyword = mode, keyword
        record.set_at, record.continuations, record.band = time.time(), 0, band
        return record

    return update(session_id, mutate)


def note_command(session_id: str, *, fusion: bool, task: str, keyword: str) -> None:
    """Add what the typed slash command says (task, fusion) to the mode its `!` line set."""

    def mutate(record: SessionMode) -> None:
        record.fusion = record.fusion or fusion
        record.task, record.keyword = task or record.task, keyword

    update(session_id, mutate)


def cancel(session_id: str, mode: str = "") -> str:
    """End the session's mode (only if it is ``mode``, when given); return the mode ended."""

    def mutate(record: SessionMode) -> str:
        ended = record.mode
        if not ended or (mode and mode != ended):
            return ""
        record.mode, record.fusion, record.task, record.keyword = "", False, "", ""
        record.set_at, record.continuations, record.band = time.time(), 0, ""
        return ended

    return update(session_id, mutate)


def set_review_gate(session_id: str, switch: str) -> None:
    """Turn the review gate ``on`` or ``off`` for this session ("": as ``[review] gate`` says)."""
    if switch not in ("on", "off", ""):
        raise ValueError(f"review gate switch {switch!r}: on, off or empty")

    def mutate(record: SessionMode) -> None:
        record.review_gate = switch

    update(session_id, mutate)

"""Session modes (hulw, ulw, autopilot, save-tokens): set, cancel, and explain to Claude.

A mode belongs to one Claude Code session (``sessions/<id>/mode.json``). It
lasts until it is cancelled, replaced, or the session is cleared; a resumed
session keeps it. :func:`describe` is the short text Claude gets about what the
mode means right now (which tiers run where at the current usage).
"""

from __future__ import annotations

import time

from omcm import state
from omcm.usage import ulw_tiers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from omcm.config import Config

MODES = ("hulw", "ulw", "autopilot", "save-tokens")
NAMES = {
    "hulw": "hybrid ultrawork (hulw)",
    "ulw": "ultrawork (ulw)",
    "autopilot": "autopilot",
    "save-tokens": "save-tokens",
}


def mode_file(session_id: str) -> str:
    return state.session_file(session_id, "mode.json")


def current(session_id: str) -> state.SessionMode:
    return state.load(mode_file(session_id), state.SessionMode)


def set_mode(
    session_id: str, mode: str, *, fusion: bool = False, task: str = "", keyword: str = ""
) -> state.SessionMode:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")

    def mutate(record: state.SessionMode) -> state.SessionMode:
        record.mode, record.fusion, record.task, record.keyword = mode, fusion, task, keyword
        record.set_at, record.continuations, record.band = time.time(), 0, ""
        return record

    return state.update(mode_file(session_id), state.SessionMode, mutate)


def note_command(session_id: str, *, fusion: bool, task: str, keyword: str) -> None:
    """Add what the typed slash command says (task, fusion) to the mode its `!` line set."""

    def mutate(record: state.SessionMode) -> None:
        record.fusion = record.fusion or fusion
        record.task, record.keyword = task or record.task, keyword

    state.update(mode_file(session_id), state.SessionMode, mutate)


def cancel(session_id: str, mode: str = "") -> str:
    """End the session's mode (only if it is ``mode``, when given); return the mode ended."""

    def mutate(record: state.SessionMode) -> str:
        ended = record.mode
        if not ended or (mode and mode != ended):
            return ""
        record.mode, record.fusion, record.task, record.keyword = "", False, "", ""
        record.set_at, record.continuations, record.band = time.time(), 0, ""
        return ended

    return state.update(mode_file(session_id), state.SessionMode, mutate)


def routed_tiers(mode: state.SessionMode, usage: float | None, config: Config) -> list[str]:
    """Tiers the mode routes at ``usage``, in the order LOW, MEDIUM, HIGH."""
    if mode.mode == "hulw" or (mode.mode == "autopilot" and mode.fusion):
        tiers = {"low", "medium"}
    elif mode.mode == "ulw":
        tiers = set(ulw_tiers(usage, config.routing.usage_threshold, config.threshold))
    elif mode.mode == "save-tokens" or config.fusion_default:
        tiers = {"low", "medium"}
    else:
        tiers = set()
    return [t for t in ("low", "medium", "high") if t in tiers]


def band(mode: state.SessionMode, usage: float | None, config: Config) -> str:
    """A short key for what the mode routes now; a change is worth telling Claude."""
    return ",".join(routed_tiers(mode, usage, config)) or "none"


def describe(
    mode: state.SessionMode, usage: float | None, config: Config, fallback: bool = False
) -> str:
    """What the mode means now, for Claude (about 120 words at most)."""
    shown = "unknown" if usage is None else f"{usage:.0f}%"
    tiers = routed_tiers(mode, usage, config)
    if fallback:
        routing = (
            "Fallback is active (Claude usage near its limit): every subagent, HIGH tier "
            "included, runs on Codex/Gemini/OpenCode."
        )
    elif tiers:
        names = " and ".join(t.upper() for t in tiers)
        routing = (
            f"{names} tier subagents (e.g. explore, executor, writer, general-purpose) run "
            "on Codex/Gemini/OpenCode and come back as the subagent's result; HIGH tier "
            "(architect, planner, critic, Plan) stays on Claude."
        )
    else:
        routing = "For now every subagent stays on Claude."
    parts = [f"OMCM {NAMES[mode.mode]} mode is on for this session (Claude usage: {shown})."]
    if mode.mode == "ulw":
        parts.append(
            f"Routing follows usage: from {config.routing.usage_threshold}% LOW tier "
            f"goes to providers, from 80% MEDIUM too, from {config.threshold}% all."
        )
    parts.append(routing)
    if mode.mode in ("hulw", "ulw") or (mode.mode == "autopilot" and mode.fusion):
        parts.append(
            "Split the work into independent subagent tasks that touch disjoint files "
            "and launch them together in one message so they run in parallel."
        )
    if mode.mode == "autopilot":
        task = f" Task: {mode.task[:160]}." if mode.task else ""
        parts.append(
            f"Work autonomously:{task} plan it as a todo list, execute, verify (run the "
            "tests), and repeat until every todo is done, without stopping to ask unless "
            "blocked. The user ends it with `cancel autopilot` or /omcm:cancel-autopilot."
        )
    if mode.mode == "save-tokens":
        parts.append(
            "Exploration, analysis, review and writing subagents run on providers; "
            "prefer delegating such work to subagents."
        )
    return " ".join(parts)

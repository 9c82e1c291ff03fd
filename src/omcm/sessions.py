"""Per-session bookkeeping under ``sessions/<session_id>/``."""

from __future__ import annotations

import time

from omcm import state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from omcm.hooks.payloads import HookPayload


#: Characters of the user's last prompt kept for the handoff context.
PROMPT_KEPT = 4000


def record_event(
    payload: HookPayload, source: str = "", take_notice: bool = False, prompt: str = ""
) -> state.SessionInfo:
    """Note in ``session.json`` that a hook for this session ran, and return the record.

    With ``take_notice``, a pending notice is handed over (in the returned record)
    and cleared in the file, so it is shown once.
    """
    now = time.time()

    def mutate(info: state.SessionInfo) -> state.SessionInfo:
        event = payload.hook_event_name
        info.events[event] = info.events.get(event, 0) + 1
        info.last_event, info.last_event_at = event, now
        if payload.cwd:
            info.cwd = payload.cwd
        if payload.transcript_path:
            info.transcript_path = payload.transcript_path
        if source:
            info.source = source
            info.started_at = info.started_at or now
        if prompt:
            info.last_prompt = prompt[:PROMPT_KEPT]
        taken = state.SessionInfo.parse(info.dump(), "session")
        if take_notice:
            info.pending_notice = ""
        return taken

    path = state.session_file(payload.session_id, "session.json")
    return state.update(path, state.SessionInfo, mutate)


def is_task_notification(prompt: str) -> bool:
    """A prompt that is Claude Code's ``<task-notification>`` of a finished background task."""
    return prompt.lstrip().startswith("<task-notification>")


def newest_in(cwd: str) -> str:
    """The session whose hooks last ran in the project dir ``cwd``; "" if none did.

    For slash commands on Claude Code versions that do not pass a ``!`` line its
    session id (2.1.62 sets no ``CLAUDE_CODE_SESSION_ID`` there; 2.1.197 does): the
    line runs in the project dir, whose session has recorded it on SessionStart.
    With two sessions open in one folder this picks the one that was active last.
    """
    import os

    from omcm import paths

    root = os.path.join(paths.state_dir(), "sessions")
    wanted = os.path.realpath(cwd)
    best, best_at = "", -1.0
    try:
        entries = list(os.scandir(root))
    except OSError:
        return ""
    for entry in entries:
        if not entry.is_dir():
            continue
        info = state.load(os.path.join(entry.path, "session.json"), state.SessionInfo)
        seen = info.last_event_at or 0.0
        if info.cwd and os.path.realpath(info.cwd) == wanted and seen > best_at:
            best, best_at = entry.name, seen
    return best

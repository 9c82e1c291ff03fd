"""Per-session bookkeeping under ``sessions/<session_id>/``."""

from __future__ import annotations

import time

from omcm import state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from omcm.hooks.payloads import HookPayload


def record_event(payload: HookPayload, source: str = "", take_notice: bool = False
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
        taken = state.SessionInfo.parse(info.dump(), "session")
        if take_notice:
            info.pending_notice = ""
        return taken

    path = state.session_file(payload.session_id, "session.json")
    return state.update(path, state.SessionInfo, mutate)

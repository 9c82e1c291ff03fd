"""The SessionStart hook: note the session; ``/clear`` ends its mode, a resume restates it."""

from __future__ import annotations

from omcm import config, sessions
from omcm.hooks.payloads import SessionStartPayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PAYLOAD = SessionStartPayload


def handle(payload: SessionStartPayload) -> dict[str, Any] | None:
    conf = config.load()
    notice = sessions.record_event(payload, source=payload.source, take_notice=True).pending_notice
    from omcm import modes

    answer: dict[str, Any] = {}
    if payload.source == "clear":
        modes.cancel(payload.session_id)
    else:
        mode = modes.current(payload.session_id)
        if mode.mode:  # resumed or compacted: Claude should still know what the mode means
            import time

            from omcm import paths, routing, state

            limits = state.load(paths.state_file(state.PROVIDER_LIMITS), state.ProviderLimits)
            fallback = state.load(paths.state_file(state.FALLBACK_STATE), state.FallbackState)
            text = modes.describe(
                mode, routing.claude_usage(limits, time.time()), conf, fallback=fallback.active
            )
            answer["hookSpecificOutput"] = {
                "hookEventName": "SessionStart",
                "additionalContext": text,
            }
    if notice:
        answer["systemMessage"] = notice
    return answer or None

"""The SessionEnd hook: catch a usage-limit rejection that StopFailure missed.

Claude Code 2.1.197 starts StopFailure hooks without waiting for them; under
``claude -p`` the process exits right after the rejection, and a plugin's
StopFailure hook never ran in our tests unless something else kept the process
alive. SessionEnd hooks are awaited (up to 1.5 s in all), so this one reads
the end of the session's transcript: when its last assistant entry is Claude's
usage-limit error (``"error": "rate_limit"`` on an ``isApiErrorMessage``
entry) written in the last few minutes, and Claude is not already recorded as
limited, it does what the StopFailure hook would have done.
"""

from __future__ import annotations

import os
import time

from omcm.core import fastjson, server_start, sessions
from omcm.hooks.payloads import HookPayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class SessionEndPayload(HookPayload):
    reason: str = ""


PAYLOAD = SessionEndPayload
#: Only an error this recent (seconds) is taken as the reason the session ended.
RECENT = 300.0
#: Bytes read from the end of the transcript: the last assistant entry is near it.
TAIL = 256 * 1024


def handle(payload: SessionEndPayload) -> dict[str, Any] | None:
    sessions.record_event(payload)
    # Claude Code 2.1.197 files OMCM's MCP server as failed when its 60 s limit runs out
    # while the first session's environment build holds the server back; that may come
    # after SessionStart took an earlier failure out (a busy machine), and by this session's
    # end it has come. Taken out here too, the next session starts the server again.
    server_start.forget_failure()
    sessions.forget_calls(payload.session_id)
    sessions.forget_review_store(payload.session_id)
    rejected_at = last_limit_error(payload.transcript_path)
    if rejected_at is None or time.time() - rejected_at > RECENT:
        return None
    from omcm import config
    from omcm.hooks.stop_failure import record_limit

    message = record_limit(payload, config.load(), only_if_new=True)
    return {"systemMessage": message} if message else None


def last_limit_error(transcript_path: str) -> float | None:
    """When the transcript's last assistant entry was written, if it is the usage-limit error."""
    if not transcript_path:
        return None
    try:
        with open(transcript_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(handle.tell() - TAIL, 0))
            tail = handle.read()
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        if b'"assistant"' not in line:
            continue
        try:
            entry = fastjson.loads(line)
        except (ValueError, UnicodeDecodeError):
            continue  # the first line of the tail may be cut
        if (
            not isinstance(entry, dict)
            or entry.get("type") != "assistant"
            or entry.get("isSidechain")
        ):
            continue
        if entry.get("isApiErrorMessage") and entry.get("error") == "rate_limit":
            return _epoch(entry.get("timestamp"))
        return None
    return None


def _epoch(stamp: object) -> float | None:
    """``2026-11-21T06:01:00.922Z`` as seconds since the epoch (``None`` if unreadable)."""
    if not isinstance(stamp, str) or len(stamp) < 19:
        return None
    import calendar

    try:
        whole = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
    fraction = stamp[19:].rstrip("Z")
    try:
        return whole + (float(fraction) if fraction.startswith(".") else 0.0)
    except ValueError:
        return float(whole)

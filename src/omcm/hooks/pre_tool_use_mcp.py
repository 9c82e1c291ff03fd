"""PreToolUse of OMCM's own MCP tools: note which session makes the call.

Claude Code tells the MCP server a call's ``tool_use_id`` (in ``_meta``) but not
its session, and one server process outlives ``/clear`` and serves whatever
session the client has; Claude Code 2.1.62 does not even give the server
``CLAUDE_CODE_SESSION_ID``. This hook runs before the call reaches the server and
keeps the session, its transcript and project by the call's id
(:func:`omcm.core.sessions.note_tool_call`), so the call gets the session's
handoff context, counters and, for a background ``ask``, its delivery. It lets
the call run: prints nothing.
"""

from __future__ import annotations

from omcm.core import sessions
from omcm.hooks.payloads import MCP_TOOL_PREFIX, PreToolUsePayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PAYLOAD = PreToolUsePayload


def handle(payload: PreToolUsePayload) -> dict[str, Any] | None:
    if payload.tool_name.startswith(MCP_TOOL_PREFIX) and payload.tool_use_id:
        sessions.note_tool_call(
            payload.tool_use_id, payload.session_id, payload.transcript_path, payload.cwd
        )
    return None

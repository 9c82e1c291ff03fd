"""PreToolUse of OMCM's own MCP tools: note which session makes the call.

Claude Code tells the MCP server a call's ``tool_use_id`` (in ``_meta``) but not
its session, and one server process outlives ``/clear`` and serves whatever
session the client has; Claude Code 2.1.62 does not even give the server
``CLAUDE_CODE_SESSION_ID``. This hook runs before the call reaches the server and
keeps the session, its transcript and project by the call's id
(:func:`omcm.core.sessions.note_tool_call`), so the call gets the session's
handoff context, counters and, for a background ``ask``, its delivery.

With ``mcp.allow`` (the default) it also answers ``allow``: the tools do what a
routed subagent call does, which no permission prompt stops, and under ``claude
-p`` a tool nobody allowed is refused outright. Otherwise it prints nothing and
Claude Code asks as it does for any MCP tool.
"""

from __future__ import annotations

from omcm.core import sessions
from omcm.hooks.payloads import MCP_TOOL_PREFIX, PreToolUsePayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PAYLOAD = PreToolUsePayload


def handle(payload: PreToolUsePayload) -> dict[str, Any] | None:
    if not payload.tool_name.startswith(MCP_TOOL_PREFIX):
        return None
    if payload.tool_use_id:
        sessions.note_tool_call(
            payload.tool_use_id, payload.session_id, payload.transcript_path, payload.cwd
        )
    from omcm import config

    if not config.load().mcp.allow:
        return None
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "permissionDecisionReason": "OMCM's own tool (mcp.allow)",
        }
    }

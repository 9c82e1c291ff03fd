"""What Claude Code sends each hook on stdin, as lenient records: the fields every hook
gets (:class:`HookPayload`), the subagent tool's input and PreToolUse's payload (two hooks
read it). Each other event's payload is declared by its adapter, so a hook creates only
the classes it reads.

Unknown keys are ignored (payloads grow between Claude Code versions); the
fields a handler relies on are required, so a payload missing them is reported
instead of half-handled. Samples: the project's end-to-end tests capture them
from the real CLI.
"""

from __future__ import annotations

from omcm.core.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class HookPayload(Record):
    session_id: str
    hook_event_name: str
    cwd: str = ""
    transcript_path: str = ""
    permission_mode: str = ""


class AgentInput(Record):
    """The subagent tool's input (``Agent``; ``Task`` before Claude Code 2.1.63)."""

    prompt: str
    description: str = ""
    subagent_type: str = "general-purpose"
    model: str | None = None
    run_in_background: bool | None = None


class PreToolUsePayload(HookPayload):
    tool_name: str
    tool_input: dict[str, Any]
    tool_use_id: str = ""


SUBAGENT_TOOLS = ("Agent", "Task")
#: How Claude Code names the tools of the plugin's MCP server (``.mcp.json``: server "omcm"
#: of plugin "omcm"): ``mcp__plugin_<plugin>_<server>__<tool>``.
MCP_TOOL_PREFIX = "mcp__plugin_omcm_omcm__"
#: The MCP tool whose ``background: true`` calls become jobs delivered like subagent ones.
MCP_ASK = MCP_TOOL_PREFIX + "ask"


def deny(reason: str) -> dict[str, Any]:
    """A PreToolUse answer that stops the tool call; Claude reads ``reason`` as its result."""
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }
    }

"""A routed subagent's answer shown as the subagent's ordinary result, through a relay agent.

A PreToolUse deny hands Claude the answer, but flagged as an error (2.1.332 even
frames it ``PreToolUse:Agent hook error: …``). Where Claude Code allows it, OMCM
instead lets the call run, rewritten (``updatedInput``) to the plugin's relay agent
(``agents/relay.md``: haiku, no tools) with a one-line prompt, and the PostToolUse
hook replaces the relay's output with the provider's answer
(``updatedToolOutput``). Claude then gets an ordinary tool result. The relay
costs one small Claude request per call (measured: see the README).

Used for calls answered in the hook (a background call's answer comes later, by
the delivery hooks) on Claude Code 2.1.197 and newer, where both fields were seen
to work; elsewhere, and with ``delegation.relay = false``, the deny stays. Should
the PostToolUse hook not run, Claude reads the relay's own line, which says where
the answer is.
"""

from __future__ import annotations

from omcm.core import sessions

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.calls.call import Outcome, RoutedCall
    from omcm.hooks.payloads import AgentInput, PreToolUsePayload

#: The plugin's relay agent, as the Agent tool names it.
RELAY_AGENT = "omcm:relay"
#: The first Claude Code seen to honour ``updatedInput`` and ``updatedToolOutput`` for Agent.
FIRST = (2, 1, 197)


def usable(payload: PreToolUsePayload, relay: bool) -> bool:
    """Whether this call's answer can go through the relay (the version and the config)."""
    if not relay or not payload.tool_use_id or not payload.session_id:
        return False
    version = sessions.claude_version(payload.transcript_path)
    return version is not None and version >= FIRST


def hand_over(
    payload: PreToolUsePayload, given: AgentInput, call: RoutedCall, outcome: Outcome
) -> dict[str, Any]:
    """Keep the framed answer for PostToolUse and let the call run as the relay agent."""
    from omcm.calls import answers
    from omcm.providers import PROVIDERS

    provider = PROVIDERS.get(outcome.provider)
    label = provider.label if provider else outcome.provider
    head = (
        f"[OMCM] This {call.decision.agent} subagent task was done by {label} (model "
        f"{outcome.model}) instead of a Claude subagent; its result:"
    )
    text = answers.frame(
        call.decision.agent,
        outcome.provider,
        outcome.model,
        outcome.text,
        tokens=outcome.tokens,
        seconds=outcome.took,
        output_path=outcome.output_path,
        cap=call.config.delegation.max_answer_chars,
        head=head,
    )
    sessions.keep_relay(payload.session_id, payload.tool_use_id, text)
    line = (
        f"[OMCM] {label} did this task, but its answer was not put in place here; read it "
        f"in {outcome.output_path} and do not run the task again."
    )
    updated: dict[str, Any] = {
        "description": given.description or "OMCM relay",
        "prompt": line,
        "subagent_type": RELAY_AGENT,
        "model": "haiku",  # an explicit model wins over the agent file's: keep it small
    }
    if given.run_in_background is not None:
        updated["run_in_background"] = given.run_in_background
    reply: dict[str, Any] = {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "permissionDecisionReason": "OMCM: answered by a provider; relayed as the result",
            "updatedInput": updated,
        }
    }
    if not call.config.notifications.quiet_mode:
        tokens = outcome.tokens.input + outcome.tokens.output
        reply["systemMessage"] = (
            f"OMCM: {call.decision.agent} → {outcome.provider}/{outcome.model} "
            f"({outcome.duration:.1f}s, {tokens:,} tokens)"
        )
    return reply


def put_in_place(session_id: str, tool_use_id: str, response: Any) -> dict[str, Any] | None:
    """PostToolUse of the relay agent: its output replaced by the answer kept for the call."""
    text = sessions.take_relay(session_id, tool_use_id)
    if text is None:
        return None
    replaced = dict(response) if isinstance(response, dict) else {}
    replaced["content"] = [{"type": "text", "text": text}]
    return {"hookSpecificOutput": {"hookEventName": "PostToolUse", "updatedToolOutput": replaced}}

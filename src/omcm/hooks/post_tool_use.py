"""The PostToolUse hook (matcher ``Agent|Task``): what a subagent that ran on Claude cost.

A routed call answered by a deny never gets here (the tool did not run); one
answered through the relay agent (:mod:`omcm.hooks.relay`) does, and gets the
provider's answer put in place of the relay's output. A call that stayed on
Claude does, and its ``tool_response`` carries the subagent's ``agentId``,
``usage``, ``totalDurationMs`` and ``resolvedModel``.
``usage`` is the last model response's only, so the cost is summed over every
response in the subagent's own transcript (``<session>/subagents/agent-<id>.jsonl``);
``usage`` counts only when that file is missing. That becomes a ``subagent`` line
in the routing log and the observed cost of its agent and tier (:mod:`omcm.calls.ledger`).
A background subagent (``isAsync``) has no usage yet: a note keeps its agent and tier
until its task notification arrives (see the UserPromptSubmit hook). Prints nothing.
"""

from __future__ import annotations

import time

from omcm.hooks.payloads import SUBAGENT_TOOLS, AgentInput, HookPayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class PostToolUsePayload(HookPayload):
    tool_name: str
    tool_input: dict[str, Any]
    tool_response: Any = None
    tool_use_id: str = ""


PAYLOAD = PostToolUsePayload
#: Seconds to wait at most for the subagent's transcript to hold its last response
#: (2.1.332 writes it about 0.1 s after the tool result; Claude waits for this hook).
SETTLE = 5.0


def handle(payload: PostToolUsePayload) -> dict[str, Any] | None:
    if payload.tool_name not in SUBAGENT_TOOLS or not isinstance(payload.tool_response, dict):
        return None
    from omcm.calls import ledger
    from omcm.calls.routing_log import SubagentEntry
    from omcm.routing import agents, session_mode

    task = AgentInput.parse(payload.tool_input, f"PostToolUse tool_input of {payload.tool_name}")
    response: dict[str, Any] = payload.tool_response
    from omcm.hooks import relay

    if task.subagent_type == relay.RELAY_AGENT:
        # A routed call OMCM answered: the relay's output gives way to the answer. The
        # relay's own small cost is no observation of what a subagent costs Claude.
        return relay.put_in_place(payload.session_id, payload.tool_use_id, response)
    agent = agents.normalise(task.subagent_type)
    tier, _how = agents.tier_of(agent, task.model)
    entry = SubagentEntry(
        time=time.time(),
        session_id=payload.session_id,
        tool_use_id=payload.tool_use_id,
        agent_raw=task.subagent_type,
        agent=agent,
        tier=tier,
        mode=session_mode.current(payload.session_id).mode,
        model=str(response.get("resolvedModel") or task.model or ""),
        source="post-tool-use",
    )
    if response.get("isAsync") or response.get("status") == "async_launched":
        agent_id = str(response.get("agentId") or "")
        if agent_id:
            entry.background = True
            ledger.keep_pending(entry, agent_id)
        return None
    # Every request the subagent made, from its own transcript (tool_response's usage is
    # its last response's only); 2.1.332 may not have written that last one yet.
    usage = response.get("usage")
    final = ledger.from_usage(usage) if isinstance(usage, dict) else None
    spent = ledger.subagent_usage(
        payload.transcript_path, str(response.get("agentId") or ""), final, wait=SETTLE
    )
    if spent is not None:
        counts, entry.requests = spent.counts(), spent.requests
        entry.model = entry.model or spent.model
    elif final is not None:
        counts = final
    else:
        return None  # a version that says nothing: nothing is guessed
    for name, value in counts.items():
        setattr(entry, name, value)
    entry.total = entry.input + entry.cache_creation + entry.cache_read + entry.output
    duration = response.get("totalDurationMs")
    entry.duration_ms = duration if isinstance(duration, int) else 0
    tools = response.get("totalToolUseCount")
    entry.tool_uses = tools if isinstance(tools, int) else 0
    ledger.record(entry)
    return None

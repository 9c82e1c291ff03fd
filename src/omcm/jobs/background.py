"""A routed subagent call that runs in the background: the PreToolUse hook's side.

Claude Code 2.1.198+ runs a subagent in the background unless the call says
``run_in_background: false`` (interactive sessions do not even offer the field);
2.1.197 only when it says ``true``; 2.1.62 never (it has no way to hand a late
answer back). :func:`wanted` tells which calls OMCM answers with a background
job, :func:`start` creates the job and starts its detached worker, and the hook
answers at once with :func:`started_answer` (well under a second).
"""

from __future__ import annotations

import time

from omcm.calls import delegate, inputs
from omcm.core import sessions
from omcm.jobs import store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.config import Config
    from omcm.hooks.payloads import AgentInput, PreToolUsePayload
    from omcm.routing.engine import Decision

#: The first Claude Code whose subagents run in the background by default.
BACKGROUND_DEFAULT = (2, 1, 198)
#: The first one known to deliver a late answer (an asyncRewake hook exiting 2).
REWAKE = (2, 1, 197)


def wanted(payload: PreToolUsePayload, task: AgentInput, config: Config) -> bool:
    """Whether this routed call becomes a background job rather than a blocking answer."""
    if not config.jobs.background or task.run_in_background is False or not payload.tool_use_id:
        return False
    version = sessions.claude_version(payload.transcript_path)
    if version is None or version < REWAKE:
        return False  # unknown or too old to hand the answer back later: answer it now
    return task.run_in_background is True or version >= BACKGROUND_DEFAULT


def start(
    payload: PreToolUsePayload, task: AgentInput, decision: Decision, config: Config
) -> store.JobRecord:
    """Create the call's job (handoff context written, decision kept) and start its worker."""
    from omcm.jobs import worker

    context_path, _text = delegate.context_for(payload, task, decision, config)
    record = store.JobRecord(
        source="hook",
        deliver=True,
        session_id=payload.session_id,
        tool_use_id=payload.tool_use_id,
        cwd=payload.cwd,
        agent=decision.agent,
        title=(task.description or task.prompt.strip().splitlines()[0])[:120],
        routes=[store.RouteEntry(**r.dump()) for r in decision.routes],
        skipped=dict(decision.skipped),
        context_path=context_path,
        timeout=config.jobs.timeout,
        call=_call_line(payload, task, decision),
        reason="a background subagent call",
    )
    job = store.create(record, task.dump(), config)
    sessions.note_job(payload.session_id)
    worker.spawn(job.id)
    return job


def _call_line(payload: PreToolUsePayload, task: AgentInput, decision: Decision) -> dict[str, Any]:
    entry = inputs.decision_entry(payload, decision, time.monotonic())
    entry.prompt_chars = len(task.prompt)
    return entry.dump()


def started_answer(record: store.JobRecord) -> dict[str, Any]:
    from omcm.jobs.delivery import started_text

    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": started_text(record),
        },
        "systemMessage": f"OMCM: {record.agent} → {record.routes[0].provider} as background "
        f"job {record.id}",
    }

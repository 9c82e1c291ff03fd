"""The PreToolUse hook: route a subagent call, or let Claude run it.

The common case, a call that stays on Claude, reads three small state files,
decides, logs one line and prints nothing. Only a routed call imports the
delegation machinery.
"""

from __future__ import annotations

import time

from omcm import config
from omcm.calls import counters, inputs, routing_log
from omcm.core import sessions
from omcm.core.errors import ConfigError
from omcm.hooks.payloads import SUBAGENT_TOOLS, AgentInput, PreToolUsePayload
from omcm.routing import engine

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.calls.routing_log import CallEntry

PAYLOAD = PreToolUsePayload
#: The plugin's agent whose calls carry a batch plan (agents/batch.md): OMCM runs the plan.
BATCH_AGENT = "omcm:batch"


def handle(payload: PreToolUsePayload) -> dict[str, Any] | None:
    started = time.monotonic()
    if payload.tool_name not in SUBAGENT_TOOLS:
        return None  # hooks.json matches Agent|Task; anything else is not ours
    task = AgentInput.parse(payload.tool_input, f"PreToolUse tool_input of {payload.tool_name}")
    try:
        conf = config.load()
    except ConfigError as exc:
        # Claude runs the call (the runner shows the error); the log still gets its line.
        entry = inputs.error_entry(payload, task.subagent_type, "config-error", str(exc), started)
        _book(payload, entry, time.time())
        raise
    sessions.record_event(payload)
    if task.subagent_type.strip().lower() == BATCH_AGENT:
        from omcm.cli import batch

        return batch.from_subagent_call(payload, task, conf)
    now = time.time()
    call = engine.Call(agent_raw=task.subagent_type, model=task.model)
    # Once the call would leave Claude, its providers are probed (installed, healthy).
    decision, _st = inputs.probed(
        conf, payload.session_id, now, lambda st: engine.decide(call, conf, st)
    )
    answer: dict[str, Any] | None = None
    if decision.routed:
        from omcm.jobs import background

        if background.wanted(payload, task, conf):
            job = background.start(payload, task, decision, conf)
            sessions.mark_call(
                payload.session_id, payload.tool_use_id, job.id
            )  # the delivery hook waits for this job
            return background.started_answer(job)
    sessions.mark_call(
        payload.session_id, payload.tool_use_id, ""
    )  # the delivery hook: no job for this call
    if decision.routed:
        from omcm.calls import delegate
        from omcm.core import proc

        # Esc or the hook's timeout: Claude Code signals this process (or ends its
        # launcher); the provider is stopped at once and the call logged as cancelled.
        with proc.cancel_on_signals():
            delegation = delegate.run(
                payload, task, decision, conf, started, cancel=proc.parent_watch()
            )
        answer = delegation.answer
        entry = delegate.log_entry(payload, task, decision, delegation, started)
    else:
        if decision.reason == "no-provider-available":
            skipped = "; ".join(f"{p}: {why}" for p, why in decision.skipped.items())
            answer = {
                "systemMessage": f"OMCM: no provider can take the {decision.agent} "
                f"subagent now ({skipped}); Claude runs it."
            }
        entry = inputs.decision_entry(payload, decision, started)
    _book(payload, entry, now)
    return answer


def _book(payload: PreToolUsePayload, entry: CallEntry, now: float) -> None:
    """Write the call's log line and add it to the counters."""
    routing_log.append(entry)
    counters.count(payload.session_id, now, entry)

"""The PreToolUse hook: route a subagent call, or let Claude run it.

The common case, a call that stays on Claude, reads three small state files,
decides, logs one line and prints nothing. Only a routed call imports the
delegation machinery.
"""

from __future__ import annotations

import time

from omcm import config, engine, routing, routing_log, sessions
from omcm.hooks.payloads import SUBAGENT_TOOLS, AgentInput, PreToolUsePayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PAYLOAD = PreToolUsePayload


def handle(payload: PreToolUsePayload) -> dict[str, Any] | None:
    started = time.monotonic()
    if payload.tool_name not in SUBAGENT_TOOLS:
        return None  # hooks.json matches Agent|Task; anything else is not ours
    task = AgentInput.parse(payload.tool_input, f"PreToolUse tool_input of {payload.tool_name}")
    conf = config.load()
    sessions.record_event(payload)
    now = time.time()
    call = engine.Call(agent_raw=task.subagent_type, model=task.model)
    decision = engine.decide(call, conf, routing.gather(conf, payload.session_id, now))
    if decision.routed:
        # Now that the call would leave Claude, also check the programs are installed.
        decision = engine.decide(call, conf, routing.gather(conf, payload.session_id, now, True))
    delegation = None
    answer: dict[str, Any] | None = None
    if decision.routed:
        from omcm import delegate

        delegation = delegate.run(payload, task, decision, conf, started)
        answer = delegation.answer
        log = delegate.log_entry(payload, task, decision, delegation, started)
    else:
        if decision.reason == "no-provider-available":
            skipped = "; ".join(f"{p}: {why}" for p, why in decision.skipped.items())
            answer = {
                "systemMessage": f"OMCM: no provider can take the {decision.agent} "
                f"subagent now ({skipped}); Claude runs it."
            }
        log = routing.decision_entry(payload, decision, started)
    routing_log.append(log)
    routing.count(payload.session_id, now, _counter_change(log))
    return answer


def _counter_change(log: dict[str, Any]) -> Any:
    def change(counters: Any) -> None:
        from omcm.state import ProviderCounters

        counters.calls += 1
        outcome = log["outcome"]
        if outcome in ("routed", "cache"):
            counters.routed += 1
        if outcome == "cache":
            counters.cache_hits += 1
        if outcome == "fell-back" or log["reason"] == "no-provider-available":
            counters.fell_back += 1
        for attempt in log.get("attempts", []):
            seen = counters.providers.setdefault(attempt["provider"], ProviderCounters())
            seen.calls += 1
            if attempt["outcome"] != "ok":
                seen.failures += 1
            tokens = attempt["tokens"]
            seen.input_tokens += tokens["input"]
            seen.cached_tokens += tokens["cached"]
            seen.output_tokens += tokens["output"]
            seen.reasoning_tokens += tokens["reasoning"]

    return change

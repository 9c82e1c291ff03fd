"""One routed call, whoever asks: decided once, run now or as a job, booked once.

Every door into a provider — the PreToolUse hook (a subagent call), ``omcm run``,
a batch task, an MCP tool — builds a :class:`~omcm.calls.call.RoutedCall` with
:func:`decide`. Behind every door the same steps happen, once:

- :func:`run_now` runs it in this process: a repeated subagent call gets its
  stored answer (:mod:`omcm.calls.answers`), the handoff context is written
  (:func:`prepare`), the provider chain runs (:mod:`omcm.calls.chain`) and the
  answer is kept;
- ``omcm.jobs.worker.start`` starts it as a background job, whose worker
  calls :func:`run_now` in turn;
- :func:`book` writes its routing-log line (:func:`entry_for`, the same line for
  the same decision whatever the door) and adds it to the counters and to the
  Claude tokens avoided.

What the door does with the :class:`~omcm.calls.call.Outcome` — a hook's deny,
the CLI's output, a job's record — is the door's own business.
"""

from __future__ import annotations

import time

from omcm.calls.call import Outcome, RoutedCall, Source, Task

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from omcm.calls.call import Controls
    from omcm.calls.routing_log import AttemptEntry, CallEntry
    from omcm.config import Config
    from omcm.routing.engine import Call, Decision, EngineState

    Rule = Callable[[Call, Config, EngineState], Decision]

#: Doors whose calls come from a Claude session: they carry its handoff context.
WITH_CONTEXT = frozenset({"hook", "mcp"})
#: Doors whose repeated calls get the stored answer (Claude re-issuing a subagent call).
REUSING = frozenset({"hook"})


def decide(
    source: Source,
    task: Task,
    config: Config,
    rule: Rule | None = None,
    *,
    began: float | None = None,
) -> RoutedCall:
    """The call as the engine decides it (``rule``, by default :func:`omcm.routing.engine.decide`,
    the routing of a subagent call), with the providers of a routed decision probed."""
    from omcm.calls import inputs
    from omcm.routing import engine

    asked = engine.Call(agent_raw=task.agent, model=task.model)
    chosen = rule or engine.decide
    decision, seen = inputs.probed(
        config,
        source.session_id or source.door,
        time.time(),
        lambda st: chosen(asked, config, st),
    )
    call = RoutedCall(source=source, task=task, decision=decision, mode=seen.mode)
    return call.bind(config, began)


def prepare(call: RoutedCall) -> str:
    """Write the call's handoff context, once (a door from a Claude session); its text."""
    if call.context_path:
        try:
            with open(call.context_path, encoding="utf-8") as handle:
                return handle.read()
        except OSError:
            return ""
    if call.source.door not in WITH_CONTEXT or not call.routed:
        return ""
    from omcm.calls import handoff
    from omcm.providers import PROVIDERS
    from omcm.routing import gauges

    config = call.config
    first = PROVIDERS[call.decision.routes[0].provider]
    context = handoff.build(
        project=call.source.cwd,
        session_id=call.source.session_id,
        transcript_path=call.source.transcript_path,
        task=call.task.description or call.task.prompt[:200],
        target=first.label,
        usage=handoff.usage_text(gauges.load()),
        settings=config.context,
    )
    call.context_path, text = handoff.write(context, config.context.max_context_length)
    return text


def run_now(call: RoutedCall, controls: Controls) -> Outcome:
    """Run a routed call in this process: its answer, or why there is none."""
    from omcm.calls import answers, chain

    if not call.routed:
        return Outcome(ended="claude", duration=_since(call))
    reusing = call.source.door in REUSING
    if reusing:
        stored = answers.recall(call, call.config.delegation.repeat_window)
        if stored is not None:
            stored.duration = _since(call)
            return stored
    context = prepare(call)

    def epitaph(attempts: list[AttemptEntry]) -> str:
        from omcm.core import fastjson

        why = chain.DIED_AT.get(call.source.door, chain.DIED)
        dead = Outcome(ended="cancelled", attempts=attempts, reason=why)
        dead.context_path, dead.duration = call.context_path, _since(call)
        return fastjson.dumps({"call": entry_for(call, dead).dump()})

    ran = chain.run(call, context, controls, controls.epitaph or epitaph)
    outcome = Outcome(attempts=ran.attempts, context_path=call.context_path)
    if ran.cancelled:
        outcome.ended, outcome.reason = "cancelled", ran.cancelled
    elif ran.result is not None and ran.route is not None:
        outcome.ended, outcome.provider = "routed", ran.route.provider
        outcome.model = ran.result.model or ran.route.model or "its default model"
        outcome.tokens = answers.tokens_of(ran.result.usage)
        outcome.text = ran.result.answer.strip()
        outcome.answer_chars = len(outcome.text)
        try:
            outcome.output_path = answers.save(call, outcome, controls.output_path)
        except OSError:
            outcome.output_path = ""  # the answer is in hand; its door keeps it how it can
    else:
        outcome.ended, outcome.reason = "fell-back", ran.why_not(call.decision.skipped)
        outcome.out_of_time = ran.out_of_time
    outcome.duration = outcome.took = _since(call)
    if reusing and outcome.answered:
        try:
            answers.keep(call, outcome)
        except OSError:
            pass  # no repeat of this call will be answered from the store: that is all
    return outcome


def _since(call: RoutedCall) -> float:
    return time.monotonic() - call.began


# --- the books -------------------------------------------------------------------------


def entry_for(call: RoutedCall, outcome: Outcome | None = None) -> CallEntry:
    """The call's routing-log line: the decision, where it came from, and what the run did
    (``outcome``; none: a call that stays on Claude). The same for every door."""
    from omcm.calls.routing_log import CallEntry

    decision = call.decision
    entry = CallEntry(
        **_where(call.source),
        agent_raw=decision.agent_raw,
        agent=decision.agent,
        tier=decision.tier,
        decision=decision.target,
        reason=decision.reason,
        skipped=dict(decision.skipped),
        mode=call.mode,
        prompt_chars=len(call.task.prompt),
        context_path=call.context_path,
        duration=round(outcome.duration if outcome else _since(call), 4),
    )
    if outcome is None or outcome.ended == "claude":
        return entry
    entry.outcome = outcome.ended
    entry.provider, entry.model = outcome.provider, outcome.model
    entry.attempts = list(outcome.attempts)
    entry.tokens = outcome.tokens
    entry.answer_chars = outcome.answer_chars
    entry.output_path = outcome.output_path
    entry.context_path = outcome.context_path or call.context_path
    entry.cache_hit = outcome.ended == "cache"
    entry.job_id = outcome.job_id
    if outcome.ended == "fell-back":
        entry.fallback_reason = outcome.reason
    if outcome.ended in ("fell-back", "cancelled", "timed-out"):
        entry.error = outcome.reason
    return entry


def _where(source: Source) -> dict[str, Any]:
    """The fields of a routing-log line that say when and where a call came from."""
    return {
        "time": time.time(),
        "source": source.door,
        "session_id": source.session_id,
        "tool_use_id": source.tool_use_id,
        "tool_name": source.tool_name,
        "batch_id": source.batch_id,
    }


def book(call: RoutedCall, outcome: Outcome | None = None) -> CallEntry:
    """Write the call's routing-log line and count it; the line."""
    entry = entry_for(call, outcome)
    book_entry(entry)
    return entry


def book_entry(entry: CallEntry) -> None:
    """Write a routing-log line and count it (a line made earlier: a dead run's epitaph)."""
    from omcm.calls import counters, routing_log

    routing_log.append(entry)
    counters.count(entry.session_id, entry.time, entry)


def book_error(source: Source, task: Task, outcome: str, error: str, began: float) -> None:
    """Log a call OMCM let through to Claude because it could not decide (an invalid config)."""
    from omcm.calls.routing_log import CallEntry
    from omcm.routing.agents import normalise

    entry = CallEntry(
        **_where(source),
        agent_raw=task.agent,
        agent=normalise(task.agent),
        reason=outcome,
        outcome=outcome,
        error=error,
        prompt_chars=len(task.prompt),
        duration=round(time.monotonic() - began, 4),
    )
    book_entry(entry)

"""The PreToolUse hook: route a subagent call, or let Claude run it.

The door of a subagent call into the routed-call pipeline
(:mod:`omcm.calls.pipeline`): the call is decided once; one that stays on Claude
is logged and nothing is printed; a routed one runs now (the provider's answer
becomes the hook's deny reason, which Claude reads as the subagent's result) or,
when Claude Code runs the subagent in the background, becomes a background job
and the hook answers at once. The common case reads three small state files,
decides, logs one line and prints nothing: only a routed call imports the
provider machinery. Where Claude Code allows it, an answer given in the hook goes
back as the subagent's ordinary result through the relay agent
(:mod:`omcm.hooks.relay`) rather than as a deny.
"""

from __future__ import annotations

import time

from omcm import config
from omcm.calls import pipeline
from omcm.calls.call import Source, Task
from omcm.core import sessions
from omcm.core.errors import ConfigError
from omcm.hooks.payloads import SUBAGENT_TOOLS, AgentInput, PreToolUsePayload, deny

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.calls.call import Outcome, RoutedCall
    from omcm.jobs.store import JobRecord

PAYLOAD = PreToolUsePayload
#: The plugin's agent whose calls carry a batch plan (agents/batch.md): OMCM runs the plan.
BATCH_AGENT = "omcm:batch"
#: Seconds kept free at the end of the hook's budget for logging and answering.
MARGIN = 10.0
#: The first Claude Code whose subagents run in the background by default.
BACKGROUND_DEFAULT = (2, 1, 198)
#: The first one known to deliver a late answer (an asyncRewake hook exiting 2).
REWAKE = (2, 1, 197)


def handle(payload: PreToolUsePayload) -> dict[str, Any] | None:
    began = time.monotonic()
    if payload.tool_name not in SUBAGENT_TOOLS:
        return None  # hooks.json matches Agent|Task; anything else is not ours
    try:
        return _decide(payload, began)
    except BaseException:
        # An invalid config, a damaged input, a crash: Claude runs the call itself, and
        # the delivery hook beside this one must learn now that no job came of it, not
        # after its minute of waiting for a mark (Claude Code waits 30 s for it at exit).
        if sessions.read_call_mark(payload.session_id, payload.tool_use_id) is None:
            sessions.mark_call(payload.session_id, payload.tool_use_id, "")
        raise


def _decide(payload: PreToolUsePayload, began: float) -> dict[str, Any] | None:
    given = AgentInput.parse(payload.tool_input, f"PreToolUse tool_input of {payload.tool_name}")
    source = Source(
        door="hook",
        session_id=payload.session_id,
        tool_use_id=payload.tool_use_id,
        tool_name=payload.tool_name,
        cwd=payload.cwd,
        transcript_path=payload.transcript_path,
    )
    task = Task(
        prompt=given.prompt,
        description=given.description,
        agent=given.subagent_type,
        model=given.model,
    )
    try:
        conf = config.load()
    except ConfigError as exc:
        # Claude runs the call (the runner shows the error); the log still gets its line.
        pipeline.book_error(source, task, "config-error", str(exc), began)
        raise
    sessions.record_event(payload)
    if task.agent.strip().lower() == BATCH_AGENT:
        from omcm.hooks import batch_call

        return batch_call.handle(source, task, conf, background(payload, given, conf))
    call = pipeline.decide(source, task, conf, began=began)
    if call.routed and background(payload, given, conf):
        from omcm.jobs import worker

        job = worker.start(call, deliver=True, reason="a background subagent call")
        sessions.note_job(payload.session_id)
        sessions.mark_call(payload.session_id, payload.tool_use_id, job.id)  # the delivery hook
        return started(job)
    sessions.mark_call(payload.session_id, payload.tool_use_id, "")  # the delivery hook: no job
    if not call.routed:
        pipeline.book(call)
        return _stays_on_claude(call)
    from omcm.calls.call import Controls
    from omcm.core import proc

    # Esc or the hook's timeout: Claude Code signals this process (or ends its
    # launcher); the provider is stopped at once and the call logged as cancelled.
    controls = Controls(began + conf.delegation.hook_budget - MARGIN, cancel=proc.parent_watch())
    with proc.cancel_on_signals():
        outcome = pipeline.run_now(call, controls)
    pipeline.book(call, outcome)
    if outcome.ended == "routed":
        from omcm.hooks import relay

        if relay.usable(payload, conf.delegation.relay):
            return relay.hand_over(payload, given, call, outcome)
    return answer(call, outcome)


def background(payload: PreToolUsePayload, given: AgentInput, conf: config.Config) -> bool:
    """Whether a routed call becomes a background job rather than a blocking answer: Claude
    Code 2.1.198+ runs a subagent in the background unless the call says
    ``run_in_background: false`` (interactive sessions do not even offer the field), 2.1.197
    only when it says ``true``, 2.1.62 never (it has no way to hand a late answer back)."""
    if not conf.jobs.background or given.run_in_background is False or not payload.tool_use_id:
        return False
    version = sessions.claude_version(payload.transcript_path)
    if version is None or version < REWAKE:
        return False  # unknown or too old to hand the answer back later: answer it now
    return given.run_in_background is True or version >= BACKGROUND_DEFAULT


def started(record: JobRecord) -> dict[str, Any]:
    """The answer to a call that became a background job (well under a second)."""
    from omcm.jobs.delivery import started_text

    return {
        **deny(started_text(record)),
        "systemMessage": f"OMCM: {record.agent} → {record.routes[0].provider} as background "
        f"job {record.id}",
    }


def answer(call: RoutedCall, outcome: Outcome) -> dict[str, Any] | None:
    """What Claude and the user get of a run: the answer as the subagent's result, or why
    Claude runs the subagent itself."""
    from omcm.calls import answers

    agent, delegation = call.decision.agent, call.config.delegation
    if outcome.ended == "cancelled":
        stopped = outcome.attempts[-1].provider if outcome.attempts else "no provider"
        return {
            "systemMessage": f"OMCM: the {agent} subagent call was cancelled "
            f"({outcome.reason}); {stopped} was stopped."
        }
    if not outcome.answered:
        return {
            "systemMessage": f"OMCM: could not hand the {agent} subagent to a provider "
            f"({outcome.reason}); Claude runs it instead."
        }
    text = answers.frame(
        agent,
        outcome.provider,
        outcome.model,
        outcome.text,
        tokens=outcome.tokens,
        seconds=outcome.took,
        output_path=outcome.output_path,
        cap=delegation.max_answer_chars,
    )
    if outcome.ended == "cache":
        age = f"{outcome.age:.0f}s"
        return {
            **deny(
                f"{text}\n(The same subagent call was answered {age} ago; this is that "
                "stored answer, not a new run.)"
            ),
            "systemMessage": f"OMCM: repeated {agent} call answered from the stored "
            f"{outcome.provider} answer of {age} ago",
        }
    reply = deny(text)
    failed = [a for a in outcome.attempts if a.outcome != "ok"]
    if not call.config.notifications.quiet_mode or failed:
        note = "; ".join(f"{a.provider} {a.outcome.replace('_', ' ')}" for a in failed)
        tokens = outcome.tokens.input + outcome.tokens.output
        reply["systemMessage"] = (
            f"OMCM: {agent} → {outcome.provider}/{outcome.model} ({outcome.duration:.1f}s, "
            f"{tokens:,} tokens)" + (f" after {note}" if note else "")
        )
    return reply


def _stays_on_claude(call: RoutedCall) -> dict[str, Any] | None:
    decision = call.decision
    if decision.reason != "no-provider-available":
        return None
    skipped = "; ".join(f"{p}: {why}" for p, why in decision.skipped.items())
    return {
        "systemMessage": f"OMCM: no provider can take the {decision.agent} "
        f"subagent now ({skipped}); Claude runs it."
    }

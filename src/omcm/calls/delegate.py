"""Run a routed subagent call on a provider CLI and turn the result into the hook's answer.

Called by the PreToolUse hook once :func:`omcm.routing.engine.decide` has routed a call.
It writes the handoff context, takes a worker slot, runs each provider in the
decision's chain until one answers (retrying a timeout or crash once when the
time budget allows), records cooldowns and failures, logs every attempt, and
returns the deny answer that hands the provider's text to Claude as the
subagent's result, or, when every provider failed, nothing (Claude runs the
subagent itself) plus a message telling the user why.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

from omcm.calls import handoff, inputs, slots
from omcm.calls.routing_log import AttemptEntry, CallEntry, Tokens
from omcm.config import Config
from omcm.core import fastjson, paths, proc, state
from omcm.core.masking import mask
from omcm.hooks.payloads import AgentInput, PreToolUsePayload
from omcm.providers import PROVIDERS
from omcm.providers.base import RETRYABLE, ProviderRequest, ProviderResult, Usage
from omcm.routing import gauges
from omcm.routing.engine import Decision, Route

#: Seconds kept free at the end of the hook budget for logging and answering.
MARGIN = 10.0
#: Shortest provider run worth starting.
MIN_RUN = 5.0
#: Why a call ended when the process running it was killed outright (the watchdog logs it).
DIED = "the hook process was killed; the watchdog stopped the provider"
SANDBOX_LINES = {
    "read-only": "Sandbox: read-only. Do not create, edit or delete files; investigate and "
    "report your findings.",
    "workspace-write": "Sandbox: workspace-write. You may edit files inside {cwd}; report "
    "what you changed.",
}


@dataclass
class Attempt:
    provider: str
    model: str
    outcome: str
    exit_code: int | None
    error: str
    duration: float
    usage: Usage = field(default_factory=Usage)
    warm: str = ""  # see AttemptEntry.warm
    warm_error: str = ""

    def log(self) -> AttemptEntry:
        return AttemptEntry(
            provider=self.provider,
            model=self.model,
            outcome=self.outcome,
            exit_code=self.exit_code,
            error=self.error,
            duration=round(self.duration, 3),
            tokens=tokens_of(self.usage),
            warm=self.warm,
            warm_error=self.warm_error,
        )


@dataclass
class Delegation:
    """The result of a routed call: the hook answer plus what the log needs."""

    answer: dict[str, Any] | None
    attempts: list[Attempt]
    provider: str = ""
    model: str = ""
    usage: Usage = field(default_factory=Usage)
    answer_chars: int = 0
    prompt_chars: int = 0
    context_path: str = ""
    output_path: str = ""
    cache_hit: bool = False
    fell_back: str = ""  # why Claude runs the call after all
    cancelled: str = ""  # why the call was stopped before it ended


def tokens_of(usage: Usage) -> Tokens:
    return Tokens(
        input=usage.input, cached=usage.cached, output=usage.output, reasoning=usage.reasoning
    )


def context_for(
    payload: PreToolUsePayload, task: AgentInput, decision: Decision, config: Config
) -> tuple[str, str]:
    """Write the handoff context for a routed call; (its path, the text sent along)."""
    limits = gauges.load()
    first = PROVIDERS[decision.routes[0].provider]
    context = handoff.build(
        project=payload.cwd,
        session_id=payload.session_id,
        transcript_path=payload.transcript_path,
        task=task.description or task.prompt[:200],
        target=first.label,
        usage=inputs.usage_text(limits),
        settings=config.context,
    )
    return handoff.write(context, config.context.max_context_length)


@dataclass
class Chain:
    """What running a decision's providers in turn gave."""

    attempts: list[Attempt]
    route: Route | None = None  # the one that answered
    result: ProviderResult | None = None
    cancelled: str = ""  # why the run was stopped, if it was

    def why_not(self, skipped: dict[str, str]) -> str:
        """Why no provider answered, provider by provider (for the user and the log)."""
        why = "; ".join(f"{a.provider}: {a.error or a.outcome}" for a in self.attempts)
        left_out = "; ".join(f"{p}: {r}" for p, r in skipped.items())
        return "; ".join(part for part in (why or "no attempt", left_out) if part)


def run_chain(
    task: AgentInput,
    routes: list[Route],
    *,
    cwd: str,
    context: str,
    config: Config,
    deadline: float,
    cancel: Callable[[], str] | None = None,
    epitaph: Callable[[list[Attempt]], str] | None = None,
    sent: Callable[[str], None] | None = None,
    on_run: Callable[[str, int], None] | None = None,
) -> Chain:
    """Run ``routes`` in turn until one answers or ``deadline`` (monotonic) comes near.

    ``cancel`` is polled while waiting (see :func:`omcm.core.proc.run`); it, or a
    cancelling signal, stops the provider at once and the chain ends as cancelled.
    ``epitaph(attempts)`` is the log line the watchdog writes should this process
    die mid-run; ``sent(prompt)`` hears each prompt exactly as sent, and
    ``on_run(provider, pgid)`` each provider process (its group) as it starts.
    """
    chain = Chain(attempts=[])
    for route in routes:
        try:
            result = _try_provider(
                route,
                chain.attempts,
                task=task,
                cwd=cwd,
                context=context,
                config=config,
                deadline=deadline,
                cancel=cancel,
                epitaph=epitaph,
                sent=sent,
                on_run=on_run,
            )
        except proc.Cancelled as stop:
            chain.cancelled = stop.reason
            return chain
        if result is not None:
            chain.route, chain.result = route, result
            return chain
        if time.monotonic() >= deadline - MARGIN - MIN_RUN:
            break
    return chain


def run(
    payload: PreToolUsePayload,
    task: AgentInput,
    decision: Decision,
    config: Config,
    started: float,
    *,
    cancel: Callable[[], str] | None = None,
) -> Delegation:
    """Hand the call to the decision's providers in turn; Claude's answer, or why not."""
    key = _call_key(decision.agent, task.prompt)
    stored = _stored_answer(payload.session_id, key, config.delegation.repeat_window)
    if stored is not None:
        return stored
    context_path, context_text = context_for(payload, task, decision, config)

    def epitaph(attempts: list[Attempt]) -> str:
        dead = _cancelled(decision, attempts, DIED, context_path, task)
        return fastjson.dumps({"call": log_entry(payload, task, decision, dead, started).dump()})

    chain = run_chain(
        task,
        decision.routes,
        cwd=payload.cwd,
        context=context_text,
        config=config,
        deadline=started + config.delegation.hook_budget,
        cancel=cancel,
        epitaph=epitaph,
    )
    if chain.cancelled:
        return _cancelled(decision, chain.attempts, chain.cancelled, context_path, task)
    if chain.result is not None and chain.route is not None:
        delegation = _answer(
            payload,
            decision,
            chain.route,
            chain.result,
            attempts=chain.attempts,
            config=config,
            started=started,
        )
        delegation.context_path = context_path
        delegation.prompt_chars = len(task.prompt)
        _store_answer(payload.session_id, key, decision.agent, delegation)
        return delegation
    why = chain.why_not(decision.skipped)
    message = (
        f"OMCM: could not hand the {decision.agent} subagent to a provider ({why}); "
        "Claude runs it instead."
    )
    return Delegation(
        answer={"systemMessage": message},
        attempts=chain.attempts,
        context_path=context_path,
        prompt_chars=len(task.prompt),
        fell_back=why,
    )


def _cancelled(
    decision: Decision, attempts: list[Attempt], reason: str, context_path: str, task: AgentInput
) -> Delegation:
    stopped = attempts[-1].provider if attempts else "no provider"
    return Delegation(
        answer={
            "systemMessage": f"OMCM: the {decision.agent} subagent call was cancelled "
            f"({reason}); {stopped} was stopped."
        },
        attempts=attempts,
        context_path=context_path,
        prompt_chars=len(task.prompt),
        cancelled=reason,
    )


def compose_prompt(task: AgentInput, context: str, sandbox: str, cwd: str) -> str:
    parts = [task.prompt.strip()]
    if context:
        parts.append(
            "---\nContext from the Claude Code session that handed over this task "
            "(secrets masked):\n\n" + context.strip()
        )
    parts.append("---\n" + SANDBOX_LINES[sandbox].format(cwd=cwd))
    return mask("\n\n".join(parts)) + "\n"


def _try_provider(
    route: Route,
    attempts: list[Attempt],
    *,
    task: AgentInput,
    cwd: str,
    context: str,
    config: Config,
    deadline: float,
    cancel: Callable[[], str] | None = None,
    epitaph: Callable[[list[Attempt]], str] | None = None,
    sent: Callable[[str], None] | None = None,
    on_run: Callable[[str, int], None] | None = None,
) -> ProviderResult | None:
    """Run one provider (retrying once when allowed); each attempt goes into ``attempts``.

    ``epitaph`` gives the log line the watchdog writes should this process die
    during a run (:mod:`omcm.jobs.watchdog`).
    """
    provider = PROVIDERS[route.provider]
    settings = config.providers[route.provider]
    request = ProviderRequest(
        prompt=compose_prompt(task, context, route.sandbox, cwd),
        model=route.model,
        sandbox=route.sandbox,
        cwd=cwd,
        title=f"omcm: {(task.description or 'subagent task')[:60]}",
        extra_args=list(settings.args),
    )
    warm = bool(getattr(settings, "warm", False)) and provider.warm(settings) is not None
    if sent is not None:
        sent(request.prompt)
    tries = 2 if config.delegation.retry else 1
    for _ in range(tries):
        left = deadline - MARGIN - time.monotonic()
        if left < MIN_RUN:
            attempts.append(
                Attempt(
                    route.provider, route.model, "budget", None, "hook time budget used up", 0.0
                )
            )
            break
        slot = slots.acquire(
            config.routing.max_workers, time.monotonic() + left - MIN_RUN, cancel=cancel
        )
        if slot is None:
            attempts.append(
                Attempt(
                    route.provider,
                    route.model,
                    "no_slot",
                    None,
                    f"all {config.routing.max_workers} worker slots stayed busy",
                    0.0,
                )
            )
            break
        with slot:
            parsed, attempt = _attempt(
                route,
                request,
                attempts,
                config=config,
                warm=warm,
                until=deadline - MARGIN,
                cancel=cancel,
                epitaph=epitaph,
                on_run=on_run,
            )
        attempts.append(attempt)
        _record_health(route.provider, parsed, attempt.duration, config)
        if parsed.outcome == "ok":
            return parsed
        if parsed.outcome not in RETRYABLE:
            break
    return None


def _attempt(
    route: Route,
    request: ProviderRequest,
    attempts: list[Attempt],
    *,
    config: Config,
    warm: bool,
    until: float,
    cancel: Callable[[], str] | None,
    epitaph: Callable[[list[Attempt]], str] | None,
    on_run: Callable[[str, int], None] | None,
) -> tuple[ProviderResult, Attempt]:
    """One run of the route's provider: on a warm server when it is in warm mode and the
    pool can take it, else as a new process. A cancel is recorded in ``attempts``."""
    provider = PROVIDERS[route.provider]
    settings = config.providers[route.provider]
    env = proc.child_env(provider.env(request, settings))

    def died(how: str = "") -> str:
        if epitaph is None:
            return ""
        dead = Attempt(route.provider, route.model, "cancelled", None, DIED, 0.0, warm=how)
        return epitaph([*attempts, dead])

    began = time.monotonic()
    warm_error = ""
    served = None
    try:
        if warm:
            from omcm.providers import pool

            try:
                served = pool.call(
                    route.provider,
                    settings,
                    request,
                    timeout=min(float(settings.timeout), until - time.monotonic()),
                    env=env,
                    cancel=cancel,
                    epitaph=died("hit"),
                )
            except pool.Unavailable as why:
                warm_error = str(why)
        if served is None:
            ran = proc.run(
                provider.argv(request, settings),
                input=provider.stdin(request),
                cwd=request.cwd,
                env=env,
                timeout=min(float(settings.timeout), until - time.monotonic()),
                cancel=cancel,
                on_start=(lambda pid: on_run(route.provider, pid)) if on_run else None,
                watchdog=True,
                epitaph=died(),
            )
    except proc.Cancelled as stop:
        how = "hit" if warm and not warm_error else ""
        attempts.append(
            Attempt(
                route.provider,
                route.model,
                "cancelled",
                None,
                stop.reason,
                time.monotonic() - began,
                warm=how,
                warm_error=warm_error,
            )
        )
        raise
    if served is not None:
        parsed = ProviderResult.parse(served.result, "warm result")
        exit_code, duration = None, served.seconds
        how = "started" if served.fresh else "hit"
    else:
        parsed = provider.parse(ran, time.time())
        exit_code, duration, how = ran.returncode, ran.duration, ""
    attempt = Attempt(
        route.provider,
        parsed.model or route.model,
        parsed.outcome,
        exit_code,
        parsed.error,
        duration,
        parsed.usage,
        warm=how,
        warm_error=warm_error,
    )
    return parsed, attempt


def _record_health(name: str, result: ProviderResult, duration: float, config: Config) -> None:
    gauges.record_result(
        name,
        result.outcome,
        error=result.error,
        reset_at=result.reset_at,
        duration=duration,
        now=time.time(),
        settings=config.delegation,
    )


def _answer(
    payload: PreToolUsePayload,
    decision: Decision,
    route: Route,
    result: ProviderResult,
    *,
    attempts: list[Attempt],
    config: Config,
    started: float,
) -> Delegation:
    model = result.model or route.model or "its default model"
    text = result.answer.strip()
    output_path = _save_output(payload, decision.agent, route.provider, model, text)
    seconds = time.monotonic() - started
    reason = frame_answer(
        decision.agent,
        route.provider,
        model,
        text,
        usage=result.usage,
        seconds=seconds,
        output_path=output_path,
        cap=config.delegation.max_answer_chars,
    )
    answer: dict[str, Any] = {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }
    }
    failed = [a for a in attempts if a.outcome != "ok"]
    if not config.notifications.quiet_mode or failed:
        note = "; ".join(f"{a.provider} {a.outcome.replace('_', ' ')}" for a in failed)
        answer["systemMessage"] = (
            f"OMCM: {decision.agent} → {route.provider}/{model} ({seconds:.1f}s, "
            f"{result.usage.input + result.usage.output:,} tokens)"
            + (f" after {note}" if note else "")
        )
    return Delegation(
        answer=answer,
        attempts=attempts,
        provider=route.provider,
        model=model,
        usage=result.usage,
        answer_chars=len(text),
        output_path=output_path,
    )


def frame_answer(
    agent: str,
    provider_name: str,
    model: str,
    text: str,
    *,
    usage: Usage,
    seconds: float,
    output_path: str,
    cap: int,
    head: str = "",
) -> str:
    """A provider's answer as Claude gets it: a first line that says what it is, the answer
    (cut at ``cap``, the rest in ``output_path``), and a footer with the numbers."""
    shown = text
    if len(text) > cap:
        shown = (
            text[:cap].rstrip() + f"\n\n[… answer cut at {cap} of {len(text)} characters; "
            f"the full answer is in {output_path}]"
        )
    label = PROVIDERS[provider_name].label
    head = head or (
        f"[OMCM] This {agent} subagent task was completed by {label} "
        f"(model {model}) instead of a Claude subagent. What follows is the subagent's "
        "result, not an error or a refusal: use it as the subagent's answer and do not "
        "run the task again."
    )
    foot = (
        f"— omcm: {agent} → {provider_name}/{model} · {usage.input:,} in / "
        f"{usage.output:,} out tokens · {seconds:.1f}s · full output: {output_path}"
    )
    return f"{head}\n\n{shown}\n\n{foot}"


def _save_output(
    payload: PreToolUsePayload, agent: str, provider: str, model: str, text: str
) -> str:
    name = (
        paths.safe_name(payload.tool_use_id, "tool_use_id")
        if payload.tool_use_id
        else (f"call-{int(time.time() * 1000)}")
    )
    path = os.path.join(inputs.outputs_dir(payload.session_id), f"{name}.md")
    header = (
        f"<!-- omcm: {agent} → {provider}/{model}, {time.strftime('%Y-%m-%dT%H:%M:%S%z')} -->\n"
    )
    state.atomic_write(path, header + text + "\n")
    return path


def _call_key(agent: str, prompt: str) -> str:
    return hashlib.sha256(f"{agent}\0{prompt}".encode()).hexdigest()[:32]


def _answers_file(session_id: str, key: str) -> str:
    return os.path.join(paths.session_dir(session_id), "answers", f"{key}.json")


def _stored_answer(session_id: str, key: str, window: int) -> Delegation | None:
    if window <= 0:
        return None
    import json

    try:
        with open(_answers_file(session_id, key), encoding="utf-8") as handle:
            stored = json.load(handle)
        age = time.time() - float(stored["at"])
        answer = stored["answer"]
        reason = answer["hookSpecificOutput"]["permissionDecisionReason"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if age > window:
        return None
    answer["hookSpecificOutput"]["permissionDecisionReason"] = (
        f"{reason}\n(The same subagent call was answered {age:.0f}s ago; this is that "
        "stored answer, not a new run.)"
    )
    answer["systemMessage"] = (
        f"OMCM: repeated {stored['agent']} call answered from the "
        f"stored {stored['provider']} answer of {age:.0f}s ago"
    )
    return Delegation(
        answer=answer,
        attempts=[],
        provider=stored["provider"],
        model=stored["model"],
        answer_chars=stored["answer_chars"],
        output_path=stored.get("output_path", ""),
        cache_hit=True,
    )


def _store_answer(session_id: str, key: str, agent: str, delegation: Delegation) -> None:
    import json

    record = {
        "at": time.time(),
        "agent": agent,
        "provider": delegation.provider,
        "model": delegation.model,
        "answer_chars": delegation.answer_chars,
        "output_path": delegation.output_path,
        "answer": {"hookSpecificOutput": delegation.answer["hookSpecificOutput"]}
        if delegation.answer
        else {},
    }
    state.atomic_write(_answers_file(session_id, key), json.dumps(record, ensure_ascii=False))


def log_entry(
    payload: PreToolUsePayload,
    task: AgentInput,
    decision: Decision,
    delegation: Delegation,
    started: float,
) -> CallEntry:
    """The routing-log line of a routed call: the decision's line plus what the run did."""
    entry = inputs.decision_entry(payload, decision, started)
    entry.provider = delegation.provider
    entry.model = delegation.model
    entry.attempts = [a.log() for a in delegation.attempts]
    entry.tokens = tokens_of(delegation.usage)
    entry.prompt_chars = len(task.prompt)
    entry.answer_chars = delegation.answer_chars
    entry.context_path = delegation.context_path
    entry.cache_hit = delegation.cache_hit
    entry.output_path = delegation.output_path
    entry.fallback_reason = delegation.fell_back
    entry.outcome = (
        "cancelled"
        if delegation.cancelled
        else "cache"
        if delegation.cache_hit
        else ("fell-back" if delegation.fell_back else "routed")
    )
    if delegation.cancelled:
        entry.error = delegation.cancelled
    return entry


__all__ = ["Delegation", "compose_prompt", "log_entry", "run"]

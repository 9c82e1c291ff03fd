"""The provider chain: run a routed call's providers in turn until one answers.

The one place a provider is run for a routed call. Each provider gets the
prompt (the task, the handoff context, the sandbox rule; secrets masked), waits
for one of ``routing.max_workers`` worker slots, and runs warm (on a pooled
server, :mod:`omcm.providers.pool`) or cold (a new process, :func:`omcm.core.proc.run`);
a timeout or crash is retried once when ``delegation.retry`` and the deadline
allow. Each attempt is recorded, and what it says of the provider's health goes
to :mod:`omcm.routing.gauges` (cooldowns, circuit breaker, latency). A cancel —
``controls.cancel()`` or a cancelling signal — stops the provider at once and
ends the chain.
"""

from __future__ import annotations

import time

from omcm.calls import slots
from omcm.calls.answers import tokens_of
from omcm.calls.routing_log import AttemptEntry, Tokens
from omcm.core import proc
from omcm.core.masking import mask
from omcm.providers import PROVIDERS
from omcm.providers.base import RETRYABLE, ProviderRequest, ProviderResult
from omcm.routing import gauges

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from omcm.calls.call import Controls, RoutedCall, Task
    from omcm.providers.base import Provider, ProviderSettings
    from omcm.routing.engine import Route

    Epitaph = Callable[[list[AttemptEntry]], str]

#: Shortest provider run worth starting (seconds before the deadline).
MIN_RUN = 5.0
#: Why a call ended when the process running it was killed outright (the watchdog logs it).
DIED = "the process running the call was killed; the watchdog stopped the provider"
#: … said of the process each door runs a call in.
DIED_AT = {"hook": "the hook process was killed; the watchdog stopped the provider"}
SANDBOX_LINES = {
    "read-only": "Sandbox: read-only. Do not create, edit or delete files; investigate and "
    "report your findings.",
    "workspace-write": "Sandbox: workspace-write. You may edit files inside {cwd}; report "
    "what you changed.",
}


class Chain:
    """What running the providers in turn gave."""

    __slots__ = ("attempts", "cancelled", "out_of_time", "result", "route")

    def __init__(self) -> None:
        self.attempts: list[AttemptEntry] = []
        self.route: Route | None = None  # the one that answered
        self.result: ProviderResult | None = None
        self.cancelled = ""  # why the run was stopped, if it was
        self.out_of_time = False  # it stopped because the deadline came near

    def why_not(self, skipped: dict[str, str]) -> str:
        """Why no provider answered, provider by provider (for the user and the log)."""
        why = "; ".join(f"{a.provider}: {a.error or a.outcome}" for a in self.attempts)
        left_out = "; ".join(f"{p}: {r}" for p, r in skipped.items())
        return "; ".join(part for part in (why or "no attempt", left_out) if part)


def run(call: RoutedCall, context: str, controls: Controls, epitaph: Epitaph) -> Chain:
    """Run the decision's routes in turn until one answers, the call is cancelled, or the
    deadline leaves no room for another run."""
    return _Run(call, context, controls, epitaph).chain()


def compose_prompt(task: Task, context: str, sandbox: str, cwd: str) -> str:
    """The prompt a provider gets: the task, the session's context, the sandbox rule."""
    parts = [task.prompt.strip()]
    if context:
        parts.append(
            "---\nContext from the Claude Code session that handed over this task "
            "(secrets masked):\n\n" + context.strip()
        )
    parts.append("---\n" + SANDBOX_LINES[sandbox].format(cwd=cwd))
    return mask("\n\n".join(parts)) + "\n"


class _Run:
    """One run of a call's chain: what every attempt of it shares."""

    def __init__(
        self, call: RoutedCall, context: str, controls: Controls, epitaph: Epitaph
    ) -> None:
        self.call, self.context, self.controls, self.epitaph = call, context, controls, epitaph
        self.done = Chain()

    def chain(self) -> Chain:
        done = self.done
        for route in self.call.decision.routes:
            try:
                result = self.provider(route)
            except proc.Cancelled as stop:
                done.cancelled = stop.reason
                return done
            if result is not None:
                done.route, done.result = route, result
                return done
            if time.monotonic() >= self.controls.deadline - MIN_RUN:
                break
        done.out_of_time = time.monotonic() >= self.controls.deadline - MIN_RUN
        return done

    def provider(self, route: Route) -> ProviderResult | None:
        """Run one provider (retrying once when allowed); each attempt is recorded."""
        call, controls, attempts = self.call, self.controls, self.done.attempts
        settings = call.config.providers[route.provider]
        cwd = call.source.cwd
        request = ProviderRequest(
            prompt=compose_prompt(call.task, self.context, route.sandbox, cwd),
            model=route.model,
            sandbox=route.sandbox,
            cwd=cwd,
            title=f"omcm: {(call.task.description or 'subagent task')[:60]}",
            extra_args=list(settings.args),
            output_schema=call.task.output_schema,
        )
        controls.tell("sent", provider=route.provider, model=route.model, prompt=request.prompt)
        workers = call.config.routing.max_workers
        for _ in range(2 if call.config.delegation.retry else 1):
            left = controls.deadline - time.monotonic()
            if left < MIN_RUN:
                attempts.append(_entry(route, "budget", "the call's time is used up"))
                break
            until = time.monotonic() + left - MIN_RUN
            slot = slots.acquire(workers, until, cancel=controls.cancel)
            if slot is None:
                busy = f"all {workers} worker slots stayed busy"
                attempts.append(_entry(route, "no_slot", busy))
                break
            with slot:
                parsed, attempt = self.attempt(route, request, settings)
            attempts.append(attempt)
            controls.tell(
                "ended", provider=route.provider, model=attempt.model, outcome=parsed.outcome
            )
            try:
                gauges.record_result(
                    route.provider,
                    parsed.outcome,
                    error=parsed.error,
                    reset_at=parsed.reset_at,
                    duration=attempt.duration,
                    now=time.time(),
                    settings=call.config.delegation,
                )
            except OSError:  # the provider's health goes unrecorded; the answer does not
                pass
            if parsed.outcome == "ok":
                return parsed
            if parsed.outcome not in RETRYABLE:
                break
        return None

    def attempt(
        self, route: Route, request: ProviderRequest, settings: ProviderSettings
    ) -> tuple[ProviderResult, AttemptEntry]:
        """One run of the route's provider: on a warm server when it is in warm mode and
        its pool takes the call, else as a new process. A cancel is recorded first."""
        provider = PROVIDERS[route.provider]
        began = time.monotonic()
        warm = _warm_mode(provider, settings)
        warm_error = ""
        try:
            if warm:
                served, warm_error = self.warm(route, request, settings)
                if served is not None:
                    return served
            ran = self.cold(route, request, settings)
        except proc.Cancelled as stop:
            how = "hit" if warm and not warm_error else ""
            spent = time.monotonic() - began
            stopped = _entry(
                route, "cancelled", stop.reason, spent, warm=how, warm_error=warm_error
            )
            self.done.attempts.append(stopped)
            raise
        parsed = provider.parse(ran, time.time())
        return parsed, _entry(
            route,
            parsed.outcome,
            parsed.error,
            ran.duration,
            exit_code=ran.returncode,
            result=parsed,
            warm_error=warm_error,
        )

    def cold(
        self, route: Route, request: ProviderRequest, settings: ProviderSettings
    ) -> proc.ProcResult:
        """A new process of the provider's CLI, watched so it dies with this one."""
        provider, controls = PROVIDERS[route.provider], self.controls
        env = proc.child_env(provider.cold_env(request, settings))

        def heard(line: str) -> None:
            said = provider.progress(line)
            if said:
                controls.tell("output", provider=route.provider, text=said)

        return proc.run(
            provider.argv(request, settings),
            input=provider.stdin(request),
            cwd=request.cwd,
            env=env,
            timeout=_timeout(settings, controls),
            cancel=controls.cancel,
            on_start=lambda pgid: controls.tell("started", provider=route.provider, pgid=pgid),
            watchdog=True,
            epitaph=self.died(route, ""),
            on_line=heard if controls.progress is not None else None,
        )

    def warm(
        self, route: Route, request: ProviderRequest, settings: ProviderSettings
    ) -> tuple[tuple[ProviderResult, AttemptEntry] | None, str]:
        """A warm server of the provider's pool: (its result and attempt, or None to run
        cold; why not)."""
        from omcm.providers import pool

        try:
            served = pool.call(
                route.provider,
                settings,
                request,
                timeout=_timeout(settings, self.controls),
                env=proc.child_env(),
                cancel=self.controls.cancel,
                epitaph=self.died(route, "hit"),
            )
        except pool.Unavailable as why:
            return None, str(why)
        parsed = ProviderResult.parse(served.result, "warm result")
        how = "started" if served.fresh else "hit"
        attempt = _entry(
            route, parsed.outcome, parsed.error, served.seconds, result=parsed, warm=how
        )
        return (parsed, attempt), ""

    def died(self, route: Route, warm: str) -> str:
        """The epitaph should this process die during the route's run."""
        return self.epitaph([*self.done.attempts, _entry(route, "cancelled", DIED, warm=warm)])


def _warm_mode(provider: Provider, settings: ProviderSettings) -> bool:
    return bool(getattr(settings, "warm", False)) and provider.warm(settings) is not None


def _timeout(settings: ProviderSettings, controls: Controls) -> float:
    return min(float(settings.timeout), controls.deadline - time.monotonic())


def _entry(
    route: Route,
    outcome: str,
    error: str,
    duration: float = 0.0,
    *,
    exit_code: int | None = None,
    result: ProviderResult | None = None,
    warm: str = "",
    warm_error: str = "",
) -> AttemptEntry:
    """One attempt as the routing log keeps it."""
    return AttemptEntry(
        provider=route.provider,
        model=(result.model if result else "") or route.model,
        outcome=outcome,
        exit_code=exit_code,
        error=error,
        duration=round(duration, 3),
        tokens=tokens_of(result.usage) if result else Tokens(),
        warm=warm,
        warm_error=warm_error,
    )

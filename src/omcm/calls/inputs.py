"""The engine's inputs, gathered from the state files, and the providers' health probed.

Everything here is cheap enough for the hook's hot path: the state files are
small JSON documents read under their locks; only a call the engine routes has
its providers probed (installed, logged in, healthy for its model).
"""

from __future__ import annotations

import time

from omcm.routing import engine, gauges, session_mode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from omcm.config import Config
    from omcm.routing.engine import Decision
    from omcm.routing.usage import ProviderLimits

#: A usage reading older than this is not trusted for usage-based rules.
USAGE_MAX_AGE = 15 * 60


def claude_usage(limits: ProviderLimits, now: float) -> float | None:
    """The larger of Claude's 5-hour and weekly usage %, if a fresh reading exists."""
    from omcm.routing.usage import claude_usage as usage_of

    return usage_of(limits, now, USAGE_MAX_AGE)


def gather(
    config: Config, session_id: str, now: float, probe: list[engine.Route] | None = None
) -> engine.EngineState:
    """The engine's view of the world for one call in ``session_id``.

    ``probe``, the routes a first decision chose, also checks that each of those
    providers' programs is installed and that the provider itself is healthy for
    the route's model (only worth it once a call is going to be routed).
    """
    fallback = gauges.load_fallback()
    limits = gauges.load()
    mode = session_mode.current(session_id)
    fusion = None
    if config.balancing.strategy == "usage":
        from omcm.calls import counters

        fusion = counters.load()
    return engine.EngineState(
        fallback_active=fallback.active,
        claude_limited=(limits.claude_limited_until or 0) > now,
        usage=claude_usage(limits, now),
        mode=mode.mode,
        mode_fusion=mode.fusion,
        health=health(config, limits, now, probe),
        balance=engine.Balance(
            turn=int(now * 1000) % 997,
            draw=(time.perf_counter_ns() % 10_000) / 10_000,
            latency={n: h.latency for n, h in limits.providers.items() if h.latency},
            tokens={
                n: c.input_tokens + c.output_tokens
                for n, c in (fusion.total.providers.items() if fusion else [])
            },
        ),
    )


def probed(
    config: Config, session_id: str, now: float, decide: Callable[[engine.EngineState], Decision]
) -> tuple[Decision, engine.EngineState]:
    """``decide`` on the cheap state, and once more with its routes probed when it routes."""
    st = gather(config, session_id, now)
    decision = decide(st)
    if decision.routed:
        st = gather(config, session_id, now, decision.routes)
        decision = decide(st)
    return decision, st


def health(
    config: Config,
    limits: ProviderLimits,
    now: float,
    probe: list[engine.Route] | None = None,
) -> dict[str, engine.Health]:
    result: dict[str, engine.Health] = {}
    for name, seen in limits.providers.items():
        if (seen.cooldown_until or 0) > now:
            left = _minutes(seen.cooldown_until or now, now)
            result[name] = engine.Health(
                available=False,
                reason=f"{seen.cooldown_reason or 'rate-limited'}; cooling down for {left}",
            )
        elif (seen.circuit_open_until or 0) > now:
            result[name] = engine.Health(
                available=False,
                reason=f"skipped for {_minutes(seen.circuit_open_until or now, now)} "
                f"after {seen.consecutive_failures} failures in a row ({seen.last_error})",
            )
    if probe:
        result |= _probe(config, limits, now, probe)
    return result


def _probe(
    config: Config, limits: ProviderLimits, now: float, probe: list[engine.Route]
) -> dict[str, engine.Health]:
    """Each probed provider's readiness for the routes' models: one that is not installed,
    not logged in or unhealthy is skipped now, not found out by a failed run. What the
    login check found is kept for the status line (``provider-limits.json``)."""
    from omcm.core import proc
    from omcm.providers import readiness

    env = proc.child_env()
    models: dict[str, list[str]] = {}
    for route in probe:
        models.setdefault(route.provider, []).append(route.model)
    found: dict[str, engine.Health] = {}
    logins: dict[str, str] = {}
    for name, wanted in models.items():
        verdict = readiness.check(name, config.providers[name], env, now, models=wanted)
        if not verdict.ready:
            found[name] = engine.Health(available=False, reason=verdict.why())
        not_logged_in = verdict.detail if verdict.reason == readiness.NOT_LOGGED_IN else ""
        seen = limits.providers.get(name)
        if (seen.login_problem if seen else "") != not_logged_in:
            logins[name] = not_logged_in
    if logins:
        gauges.note_logins(logins)
    return found


def _minutes(until: float, now: float) -> str:
    from omcm.core.humanize import minutes  # only a cooling or broken provider needs it

    return minutes(until, now)

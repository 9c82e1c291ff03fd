"""The gauges routing reads: ``provider-limits.json`` and ``fallback-state.json``, read and
written here only.

- ``provider-limits.json`` (:class:`~omcm.routing.usage.ProviderLimits`): Claude's
  usage windows as the status line last saw them, whether Claude rejected a
  request for its limit (and until when), and each provider's health: cooldown
  after a rate limit, consecutive failures and the circuit breaker, latency;
- ``fallback-state.json`` (:class:`~omcm.routing.usage.FallbackState`): whether
  fallback routes every tier, with its last transitions.

Writes happen under the state lock, and only when something changed (the status
line runs every few hundred milliseconds). The rules themselves are pure
functions in :mod:`omcm.routing.usage`.
"""

from __future__ import annotations

from omcm.core import paths, state
from omcm.routing import usage
from omcm.routing.usage import FallbackState, FallbackTransition, ProviderHealth, ProviderLimits

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from omcm.config.schema import DelegationConfig

    T = TypeVar("T")

LIMITS_FILE = "provider-limits.json"
FALLBACK_FILE = "fallback-state.json"


def load() -> ProviderLimits:
    """Claude's usage, its limit and the providers' health, as last recorded."""
    return state.load(paths.state_file(LIMITS_FILE), ProviderLimits)


def update(mutate: Callable[[ProviderLimits], T]) -> T:
    """Change ``provider-limits.json`` under its lock; what ``mutate`` returns."""
    return state.update(paths.state_file(LIMITS_FILE), ProviderLimits, mutate)


def load_fallback() -> FallbackState:
    return state.load(paths.state_file(FALLBACK_FILE), FallbackState)


def record_claude_usage(statusline: dict[str, Any], now: float) -> ProviderLimits:
    """Merge the status line's reading of Claude's usage; the result (written if it changed)."""
    five_hour, seven_day = usage.read_rate_limits(statusline)
    limits = load()
    if (five_hour or seven_day) and usage.merge_limits(limits, five_hour, seven_day, now):

        def mutate(stored: ProviderLimits) -> ProviderLimits:
            usage.merge_limits(stored, five_hour, seven_day, now)
            return stored

        limits = update(mutate)
    return limits


def mark_claude_limited(
    now: float, *, only_if_new: bool = False
) -> tuple[ProviderLimits, float, bool]:
    """Record that Claude rejected a request for its limit: (the limits, until when, whether
    this recorded it). With ``only_if_new`` a limit already recorded is kept as it is."""
    until: list[tuple[float, bool]] = []

    def mutate(limits: ProviderLimits) -> ProviderLimits:
        if only_if_new and (limits.claude_limited_until or 0.0) > now:
            until.append((limits.claude_limited_until or now, False))
        else:
            until.append((usage.mark_claude_limited(limits, now), True))
        return limits

    limits = update(mutate)
    return limits, *until[0]


def step_fallback(
    limits: ProviderLimits, now: float, threshold: int, recovery: int
) -> tuple[FallbackState, FallbackTransition | None]:
    """Run the fallback state machine on the current usage: the state, and its switch if it
    switched now (written to ``fallback-state.json``; the caller logs it)."""
    figure, source = usage.claude_reading(limits, now)
    path = paths.state_file(FALLBACK_FILE)
    fallback = state.load(path, FallbackState)
    if usage.step_fallback(fallback, figure, threshold, recovery, now, source=source) is None:
        return fallback, None  # no transition: nothing to write
    switched: list[FallbackTransition] = []

    def mutate(stored: FallbackState) -> FallbackState:
        step = usage.step_fallback(stored, figure, threshold, recovery, now, source=source)
        if step is not None:
            switched.append(step)
        return stored

    fallback = state.update(path, FallbackState, mutate)
    return fallback, (switched[0] if switched else None)


def note_logins(problems: dict[str, str]) -> None:
    """Keep what the routing probe found of each provider's login ("" when logged in)."""

    def mutate(limits: ProviderLimits) -> None:
        for name, problem in problems.items():
            limits.providers.setdefault(name, ProviderHealth()).login_problem = problem

    update(mutate)


def record_result(
    name: str,
    outcome: str,
    *,
    error: str,
    reset_at: float | None,
    duration: float,
    now: float,
    settings: DelegationConfig,
) -> None:
    """What one provider run says of the provider's health: a success closes its circuit
    and updates its latency; a rate limit starts a cooldown (until the reset the CLI gave);
    other failures count towards the circuit breaker (a missing login or program opens it
    at once)."""

    def mutate(limits: ProviderLimits) -> None:
        seen = limits.providers.setdefault(name, ProviderHealth())
        if outcome == "ok":
            seen.consecutive_failures = 0
            seen.circuit_open_until = None
            seen.last_ok_at = now
            seen.latency = duration if seen.latency is None else 0.7 * seen.latency + 0.3 * duration
            return
        seen.last_error = error or outcome
        if outcome == "rate_limited":
            seen.cooldown_until = reset_at or now + settings.rate_limit_cooldown
            seen.cooldown_reason = "rate-limited"
            return
        seen.consecutive_failures += 1
        if outcome in ("not_installed", "auth") or (
            seen.consecutive_failures >= settings.circuit_failures
        ):
            seen.circuit_open_until = now + settings.circuit_seconds

    update(mutate)

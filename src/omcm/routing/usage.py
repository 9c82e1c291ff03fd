"""Claude's usage limits and the fallback state machine (pure: ``now`` is passed in).

Claude Code hands the plan's usage only to the status-line command
(``rate_limits.five_hour`` / ``seven_day`` in its stdin), so the HUD records
each reading in :class:`ProviderLimits` (``provider-limits.json``, written
through :mod:`omcm.routing.limits`) and everything else reads the figures from there:

- :func:`claude_usage` is the number the routing rules use: the larger of the
  5-hour and weekly usage, or ``None`` when it is not known (no reading, or only
  old ones), in which case no usage rule fires.
- :func:`step_fallback` switches fallback on at ``threshold`` and off only below
  ``recovery`` (hysteresis), and returns each switch for the caller to log.
- :func:`ulw_tiers` maps the same figure to the agent tiers ``ulw`` routes.

How old readings are treated (usage within a window only grows until the
window resets, so an old reading is a lower bound on today's usage):

- a window whose reset time has passed counts as 0 % until a new reading; a
  reading without a reset time is taken to reset one window length (5 h / 7 d)
  after it was observed;
- a reading older than ``max_age`` whose window has not reset is only a lower
  bound: it still counts next to a fresh figure for the other window, but on
  its own the usage is unknown;
- so fallback that was switched on stays on while usage is unknown (it cannot
  have fallen before the reset), and ends by itself once the window that
  triggered it has reset, even if no new reading ever comes.
"""

from __future__ import annotations

from omcm.core.records import Record
from omcm.core.state import StateRecord

FIVE_HOURS = 5 * 3600.0
SEVEN_DAYS = 7 * 86400.0
#: Readings older than this (seconds) are no longer taken as today's usage on their own.
MAX_AGE = 15 * 60.0
#: An unchanged reading refreshes ``observed_at`` at most this often (fewer state writes).
REFRESH_AFTER = 30.0
#: How long Claude counts as limited after a rejection when no reset time is known.
LIMITED_DEFAULT = 3600.0
#: Transitions kept in ``FallbackState.history``.
HISTORY_LIMIT = 20
TIERS_LOW = frozenset({"low"})
TIERS_LOW_MEDIUM = frozenset({"low", "medium"})
TIERS_ALL = frozenset({"low", "medium", "high"})
NO_TIERS: frozenset[str] = frozenset()


# --- the records (kept in provider-limits.json and fallback-state.json, see limits.py) ---


class UsageWindow(Record):
    used_percentage: float | None = None
    resets_at: float | None = None
    observed_at: float = 0.0


class FallbackTransition(Record):
    """One switch of the fallback state (kept in :attr:`FallbackState.history`)."""

    at: float = 0.0
    was_active: bool = False
    active: bool = False
    usage_percentage: float | None = None
    reason: str = ""


class FallbackState(StateRecord):
    """``fallback-state.json``: whether every tier is routed because Claude's usage is high."""

    active: bool = False
    reason: str = ""
    since: float | None = None
    usage_percentage: float | None = None
    changed_at: float | None = None
    history: list[FallbackTransition] = []  # the last few transitions, oldest first


class ProviderHealth(Record):
    cooldown_until: float | None = None
    cooldown_reason: str = ""
    consecutive_failures: int = 0
    circuit_open_until: float | None = None
    last_error: str = ""
    last_ok_at: float | None = None
    latency: float | None = None  # seconds, moving average of successful runs
    login_problem: str = ""  # why it is not logged in, as the last routing probe found


class ProviderLimits(StateRecord):
    """``provider-limits.json``: Claude's usage windows and each provider's health."""

    five_hour: UsageWindow = UsageWindow()
    seven_day: UsageWindow = UsageWindow()
    claude_limited_until: float | None = None
    providers: dict[str, ProviderHealth] = {}


# --- reading the status line -------------------------------------------------------


def _number(value: object) -> float | None:
    """``value`` as a finite float, or ``None`` for anything else (bools included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if number - number == 0 else None  # inf - inf and nan - nan are nan


def read_window(raw: object) -> UsageWindow | None:
    """One ``rate_limits`` window, or ``None`` when it carries no usable percentage.

    The percentage is rounded to one decimal (``28.999999999999996`` → ``29.0``)
    and clamped to 0-100; a ``resets_at`` in milliseconds is turned into seconds.
    ``observed_at`` is left at 0: :func:`merge_limits` stamps it.
    """
    if not isinstance(raw, dict):
        return None
    used = _number(raw.get("used_percentage"))
    if used is None:
        return None
    resets = _number(raw.get("resets_at"))
    if resets is not None and resets > 1e11:  # milliseconds, not seconds
        resets /= 1000.0
    if resets is not None and resets <= 0:
        resets = None
    return UsageWindow(used_percentage=round(min(max(used, 0.0), 100.0), 1), resets_at=resets)


def read_rate_limits(statusline: object) -> tuple[UsageWindow | None, UsageWindow | None]:
    """The 5-hour and weekly windows from the status-line JSON (``None`` where absent)."""
    if not isinstance(statusline, dict):
        return None, None
    limits = statusline.get("rate_limits")
    if not isinstance(limits, dict):
        return None, None
    return read_window(limits.get("five_hour")), read_window(limits.get("seven_day"))


def _merge_window(stored: UsageWindow, new: UsageWindow, now: float, refresh_after: float) -> bool:
    if now < stored.observed_at:
        return False  # a slower process with an older reading: keep the newer one
    same = (new.used_percentage, new.resets_at) == (stored.used_percentage, stored.resets_at)
    if same and now - stored.observed_at < refresh_after:
        return False
    stored.used_percentage, stored.resets_at = new.used_percentage, new.resets_at
    stored.observed_at = now
    return True


def merge_limits(
    limits: ProviderLimits,
    five_hour: UsageWindow | None,
    seven_day: UsageWindow | None,
    now: float,
    refresh_after: float = REFRESH_AFTER,
) -> bool:
    """Record readings observed at ``now``; return whether ``limits`` changed.

    A reading never replaces one observed later. An unchanged reading only
    refreshes ``observed_at`` once the stored one is ``refresh_after`` seconds
    old, so a status line run every few hundred ms does not rewrite the file
    each time. An absent window keeps its old reading (it ages out by itself).
    """
    changed = False
    if five_hour is not None:
        changed |= _merge_window(limits.five_hour, five_hour, now, refresh_after)
    if seven_day is not None:
        changed |= _merge_window(limits.seven_day, seven_day, now, refresh_after)
    return changed


# --- what the usage is now ---------------------------------------------------------


def window_reset(window: UsageWindow, length: float) -> float | None:
    """When ``window`` resets: its ``resets_at``, else one window length after observation."""
    if window.resets_at is not None:
        return window.resets_at
    if window.observed_at > 0:
        return window.observed_at + length
    return None


def window_usage(
    window: UsageWindow, now: float, max_age: float, length: float
) -> tuple[float | None, bool]:
    """``(percentage, fresh)`` of one window now.

    ``(None, False)``: never read. ``(0.0, True)``: the window has reset since.
    ``(p, True)``: a reading younger than ``max_age``. ``(p, False)``: an older
    reading whose window has not reset, a lower bound only.
    """
    if window.used_percentage is None or window.observed_at <= 0:
        return None, False
    reset = window_reset(window, length)
    if reset is not None and now >= reset:
        return 0.0, True
    return window.used_percentage, now - window.observed_at <= max_age


def claude_reading(
    limits: ProviderLimits, now: float, max_age: float = MAX_AGE
) -> tuple[float | None, str]:
    """Claude's usage now and where it comes from: ``"5-hour"``, ``"weekly"`` or ``"limit"``.

    ``(None, "")`` when unknown: no reading, or only readings older than
    ``max_age`` (see the module docstring). While Claude is known to reject
    requests for its limit (``claude_limited_until``) the usage is 100.
    """
    until = limits.claude_limited_until
    if until is not None and now < until:
        return 100.0, "limit"
    best: float | None = None
    source, any_fresh = "", False
    for label, window, length in (
        ("5-hour", limits.five_hour, FIVE_HOURS),
        ("weekly", limits.seven_day, SEVEN_DAYS),
    ):
        value, fresh = window_usage(window, now, max_age, length)
        if value is None:
            continue
        any_fresh |= fresh
        if best is None or value > best:
            best, source = value, label
    if not any_fresh:
        return None, ""
    return best, source


def claude_usage(limits: ProviderLimits, now: float, max_age: float = MAX_AGE) -> float | None:
    """The larger of Claude's 5-hour and weekly usage (%), or ``None`` when unknown."""
    return claude_reading(limits, now, max_age)[0]


def mark_claude_limited(
    limits: ProviderLimits,
    now: float,
    until: float | None = None,
    default: float = LIMITED_DEFAULT,
) -> float:
    """Record that Claude rejected a request for its limit; return until when.

    Without ``until``, the reset time of the fuller window still ahead is used,
    else ``now + default``.
    """
    if until is None or until <= now:
        ahead = [
            (w.used_percentage or 0.0, w.resets_at)
            for w in (limits.five_hour, limits.seven_day)
            if w.resets_at is not None and w.resets_at > now
        ]
        until = max(ahead)[1] if ahead else now + default
    limits.claude_limited_until = until
    return until


def percent(value: float) -> str:
    """A percentage as shown to the user: whole, rounded down (89.9 is not yet 90)."""
    return str(int(value // 1))  # no math import on the hook path (a shared library to load)


# --- the fallback state machine ----------------------------------------------------


def step_fallback(
    fallback: FallbackState,
    usage: float | None,
    threshold: float,
    recovery: float,
    now: float,
    *,
    source: str = "",
) -> FallbackTransition | None:
    """Feed one usage figure to the fallback state; return the transition, if any.

    On at ``usage >= threshold``; off only at ``usage < recovery`` (a recovery
    above the threshold is taken as the threshold). Unknown usage changes
    nothing. ``source`` (from :func:`claude_reading`) names the window in the
    reason. The transition is also appended to ``fallback.history``.
    """
    if usage is None:
        return None
    recovery = min(recovery, threshold)
    fallback.usage_percentage = usage
    if not fallback.active and usage >= threshold:
        if source == "limit":
            reason = "Claude rejected a request: its usage limit is reached"
        else:
            window = f"{source} " if source else ""
            reason = f"Claude's {window}usage reached {percent(usage)}% (threshold {threshold:g}%)"
        fallback.since = now
    elif fallback.active and usage < recovery:
        reason = f"Claude's usage is down to {percent(usage)}% (below {recovery:g}%)"
        fallback.since = None
    else:
        return None
    transition = FallbackTransition(
        at=now,
        was_active=fallback.active,
        active=not fallback.active,
        usage_percentage=usage,
        reason=reason,
    )
    fallback.active = transition.active
    fallback.reason = reason
    fallback.changed_at = now
    fallback.history = [*fallback.history, transition][-HISTORY_LIMIT:]
    return transition


def ulw_tiers(
    usage: float | None, usage_threshold: float = 70, threshold: float = 90
) -> frozenset[str]:
    """The agent tiers ``ulw`` routes at this Claude usage.

    Below ``usage_threshold``: none; from there to half-way to ``threshold``
    (80 with the defaults): LOW; then LOW and MEDIUM; from ``threshold`` (when
    fallback takes over): every tier. Unknown usage routes nothing.
    """
    if usage is None or usage < usage_threshold:
        return NO_TIERS
    if usage >= threshold:
        return TIERS_ALL
    if usage >= (usage_threshold + threshold) / 2:
        return TIERS_LOW_MEDIUM
    return TIERS_LOW

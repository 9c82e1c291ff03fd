"""Claude usage readings, the fallback state machine and the ulw bands."""

from __future__ import annotations

import pytest

from omcm.routing import usage
from omcm.routing.usage import FallbackState, ProviderLimits, UsageWindow

NOW = 1_800_000_000.0
HOUR = 3600.0

# The exact rate_limits Claude Code 2.1.197 put in the status-line stdin (facts file).
SAMPLE = {
    "session_id": "2559",
    "rate_limits": {
        "five_hour": {"used_percentage": 92.5, "resets_at": 1800000000},
        "seven_day": {"used_percentage": 28.999999999999996, "resets_at": 1800500000},
    },
}


def limits_with(
    five: float | None,
    week: float | None,
    *,
    observed: float = NOW,
    five_reset: float | None = NOW + HOUR,
    week_reset: float | None = NOW + 50 * HOUR,
) -> ProviderLimits:
    limits = ProviderLimits()
    if five is not None:
        limits.five_hour = UsageWindow(
            used_percentage=five, resets_at=five_reset, observed_at=observed
        )
    if week is not None:
        limits.seven_day = UsageWindow(
            used_percentage=week, resets_at=week_reset, observed_at=observed
        )
    return limits


# --- reading the status line -------------------------------------------------------


def test_reads_the_real_sample_and_rounds_the_percentage() -> None:
    five, week = usage.read_rate_limits(SAMPLE)
    assert five == UsageWindow(used_percentage=92.5, resets_at=1800000000.0)
    assert week == UsageWindow(used_percentage=29.0, resets_at=1800500000.0)


@pytest.mark.parametrize(
    "statusline",
    [
        {},
        {"rate_limits": None},
        {"rate_limits": []},
        [],
        "text",
        None,
        {"rate_limits": {"five_hour": None, "seven_day": "90"}},
        {"rate_limits": {"five_hour": {"used_percentage": None, "resets_at": 1}}},
        {"rate_limits": {"five_hour": {"used_percentage": "92", "resets_at": 1}}},
        {"rate_limits": {"five_hour": {"used_percentage": True}}},
        {"rate_limits": {"five_hour": {"used_percentage": float("nan")}}},
    ],
)
def test_absent_or_malformed_rate_limits_read_as_none(statusline: object) -> None:
    assert usage.read_rate_limits(statusline) == (None, None)


def test_a_window_without_a_usable_reset_keeps_its_percentage() -> None:
    five, week = usage.read_rate_limits(
        {
            "rate_limits": {
                "five_hour": {"used_percentage": 40, "resets_at": "soon"},
                "seven_day": {"used_percentage": 130.4, "resets_at": 1_800_000_000_000},
            }
        }
    )
    assert five == UsageWindow(used_percentage=40.0, resets_at=None)
    # clamped to 100; a reset in milliseconds is read as seconds
    assert week == UsageWindow(used_percentage=100.0, resets_at=1_800_000_000.0)


def test_merge_stamps_the_observation_time() -> None:
    limits = ProviderLimits()
    assert usage.merge_limits(limits, *usage.read_rate_limits(SAMPLE), NOW)
    assert limits.five_hour.observed_at == NOW
    assert limits.seven_day == UsageWindow(
        used_percentage=29.0, resets_at=1800500000.0, observed_at=NOW
    )


def test_merge_never_replaces_a_newer_reading_with_an_older_one() -> None:
    limits = limits_with(50, 20, observed=NOW)
    older = UsageWindow(used_percentage=95.0, resets_at=NOW + HOUR)
    assert not usage.merge_limits(limits, older, older, NOW - 1)
    assert limits.five_hour.used_percentage == 50
    assert limits.seven_day.used_percentage == 20


def test_merge_skips_an_unchanged_reading_until_it_is_worth_refreshing() -> None:
    limits = limits_with(50, 20, observed=NOW)
    same5 = UsageWindow(used_percentage=50.0, resets_at=NOW + HOUR)
    assert not usage.merge_limits(limits, same5, None, NOW + 29)
    assert usage.merge_limits(limits, same5, None, NOW + 30)
    assert limits.five_hour.observed_at == NOW + 30
    assert limits.seven_day.observed_at == NOW  # absent: the old reading stays
    changed = UsageWindow(used_percentage=51.0, resets_at=NOW + HOUR)
    assert usage.merge_limits(limits, changed, None, NOW + 31)
    assert limits.five_hour.used_percentage == 51


# --- what the usage is -------------------------------------------------------------


def test_usage_is_the_larger_window() -> None:
    assert usage.claude_reading(limits_with(40, 75), NOW) == (75, "weekly")
    assert usage.claude_reading(limits_with(92.5, 29), NOW) == (92.5, "5-hour")


def test_no_reading_is_unknown() -> None:
    assert usage.claude_usage(ProviderLimits(), NOW) is None


def test_only_stale_readings_are_unknown() -> None:
    limits = limits_with(
        92, 29, observed=NOW - usage.MAX_AGE - 1, five_reset=NOW + HOUR, week_reset=NOW + 50 * HOUR
    )
    assert usage.claude_usage(limits, NOW) is None
    assert usage.claude_usage(limits, NOW, max_age=usage.MAX_AGE + 1) == 92


def test_a_passed_reset_counts_as_zero_even_for_a_fresh_reading() -> None:
    limits = limits_with(95, 30, five_reset=NOW - 1)
    assert usage.claude_reading(limits, NOW) == (30, "weekly")


def test_stale_past_the_reset_is_zero() -> None:
    limits = limits_with(
        95, 40, observed=NOW - 10 * HOUR, five_reset=NOW - HOUR, week_reset=NOW - 1
    )
    assert usage.claude_usage(limits, NOW) == 0


def test_a_stale_window_still_bounds_the_usage_next_to_a_fresh_one() -> None:
    # the weekly reading is old but its window has not reset: usage is at least 95
    limits = limits_with(95, 40, observed=NOW - 2 * HOUR, week_reset=NOW + HOUR)
    limits.five_hour = UsageWindow(used_percentage=10, resets_at=NOW + HOUR, observed_at=NOW)
    assert usage.claude_reading(limits, NOW) == (40, "weekly")
    limits.seven_day.used_percentage = 96
    assert usage.claude_reading(limits, NOW) == (96, "weekly")


def test_a_window_without_reset_time_resets_one_length_after_observation() -> None:
    limits = limits_with(95, None, observed=NOW - 5 * HOUR, five_reset=None)
    assert usage.claude_usage(limits, NOW - 1, max_age=10 * HOUR) == 95
    assert usage.claude_usage(limits, NOW) == 0


def test_claude_limited_counts_as_full_until_it_passes() -> None:
    limits = limits_with(40, 20)
    limits.claude_limited_until = NOW + 60
    assert usage.claude_reading(limits, NOW) == (100.0, "limit")
    assert usage.claude_reading(ProviderLimits(claude_limited_until=NOW + 60), NOW) == (
        100.0,
        "limit",
    )
    assert usage.claude_usage(limits, NOW + 60) == 40


def test_mark_claude_limited() -> None:
    limits = limits_with(99, 30, five_reset=NOW + 2 * HOUR, week_reset=NOW + 50 * HOUR)
    assert usage.mark_claude_limited(limits, NOW) == NOW + 2 * HOUR
    assert limits.claude_limited_until == NOW + 2 * HOUR
    limits = limits_with(60, 99.5)
    assert usage.mark_claude_limited(limits, NOW) == NOW + 50 * HOUR
    assert usage.mark_claude_limited(ProviderLimits(), NOW) == NOW + usage.LIMITED_DEFAULT
    assert usage.mark_claude_limited(ProviderLimits(), NOW, until=NOW + 5) == NOW + 5


@pytest.mark.parametrize(
    ("value", "shown"), [(92.5, "92"), (89.99, "89"), (90.0, "90"), (0.0, "0"), (100.0, "100")]
)
def test_percent_rounds_down(value: float, shown: str) -> None:
    assert usage.percent(value) == shown


# --- the fallback state machine ----------------------------------------------------


def run(seq: list[float | None], fallback: FallbackState | None = None) -> list[str]:
    """Feed usages one second apart; return the state after each step as on/off."""
    fallback = fallback or FallbackState()
    states = []
    for i, value in enumerate(seq):
        usage.step_fallback(fallback, value, 90, 85, NOW + i)
        states.append("on" if fallback.active else "off")
    return states


def test_activates_exactly_at_the_threshold() -> None:
    assert run([89.9]) == ["off"]
    assert run([90.0]) == ["on"]


def test_hysteresis_sequence() -> None:
    assert run([89, 90, 87, 86, 85, 84]) == ["off", "on", "on", "on", "on", "off"]


def test_no_flapping_between_recovery_and_threshold() -> None:
    assert run([91, 86, 89.9, 85, 88, 84.9, 86, 89]) == [
        "on",
        "on",
        "on",
        "on",
        "on",
        "off",
        "off",
        "off",
    ]


def test_unknown_usage_changes_nothing() -> None:
    assert run([None, 95, None, None, 80, None]) == ["off", "on", "on", "on", "off", "off"]


def test_transition_records() -> None:
    fallback = FallbackState()
    assert usage.step_fallback(fallback, 89, 90, 85, NOW) is None
    on = usage.step_fallback(fallback, 92.5, 90, 85, NOW + 1, source="5-hour")
    assert on is not None
    assert (on.was_active, on.active, on.usage_percentage, on.at) == (False, True, 92.5, NOW + 1)
    assert on.reason == "Claude's 5-hour usage reached 92% (threshold 90%)"
    assert (fallback.active, fallback.since, fallback.changed_at) == (True, NOW + 1, NOW + 1)
    assert fallback.reason == on.reason
    assert usage.step_fallback(fallback, 86, 90, 85, NOW + 2) is None
    assert fallback.usage_percentage == 86
    off = usage.step_fallback(fallback, 84.2, 90, 85, NOW + 3, source="weekly")
    assert off is not None
    assert (off.was_active, off.active) == (True, False)
    assert off.reason == "Claude's usage is down to 84% (below 85%)"
    assert (fallback.active, fallback.since, fallback.changed_at) == (False, None, NOW + 3)
    assert [t.active for t in fallback.history] == [True, False]


def test_limit_reason_and_unnamed_source() -> None:
    fallback = FallbackState()
    t = usage.step_fallback(fallback, 100.0, 90, 85, NOW, source="limit")
    assert t is not None
    assert t.reason == "Claude rejected a request: its usage limit is reached"
    t = usage.step_fallback(FallbackState(), 95, 90, 85, NOW)
    assert t is not None
    assert t.reason == "Claude's usage reached 95% (threshold 90%)"


def test_recovery_above_threshold_is_clamped() -> None:
    fallback = FallbackState()
    usage.step_fallback(fallback, 90, 90, 95, NOW)
    usage.step_fallback(fallback, 91, 90, 95, NOW + 1)
    assert fallback.active  # 91 < 95 would switch it off again if not clamped
    usage.step_fallback(fallback, 89, 90, 95, NOW + 2)
    assert not fallback.active


def test_history_is_bounded() -> None:
    fallback = FallbackState()
    run([95, 50] * 15, fallback)
    assert len(fallback.history) == usage.HISTORY_LIMIT
    assert fallback.history[-1].at == NOW + 29


def test_history_survives_the_state_file_round_trip() -> None:
    fallback = FallbackState()
    run([95, 50], fallback)
    again = FallbackState.parse(fallback.dump(), "fallback-state.json")
    assert again == fallback


def test_stale_fallback_ends_once_the_window_has_reset() -> None:
    fallback = FallbackState()
    limits = limits_with(95, 30, observed=NOW, five_reset=NOW + HOUR)
    usage.step_fallback(fallback, usage.claude_usage(limits, NOW), 90, 85, NOW)
    assert fallback.active
    later = NOW + 40 * 60  # no new reading: stale, window not reset -> unknown, stays on
    assert usage.claude_usage(limits, later) is None
    usage.step_fallback(fallback, usage.claude_usage(limits, later), 90, 85, later)
    assert fallback.active
    after_reset = NOW + HOUR + 1  # the 5-hour window reset; the weekly one was 30
    reading = usage.claude_reading(limits, after_reset)
    assert reading == (30, "weekly")
    usage.step_fallback(fallback, reading[0], 90, 85, after_reset, source=reading[1])
    assert not fallback.active


# --- ulw bands ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tiers"),
    [
        (None, set()),
        (0, set()),
        (69.9, set()),
        (70, {"low"}),
        (79.9, {"low"}),
        (80, {"low", "medium"}),
        (89.9, {"low", "medium"}),
        (90, {"low", "medium", "high"}),
        (100, {"low", "medium", "high"}),
    ],
)
def test_ulw_bands(value: float | None, tiers: set[str]) -> None:
    assert usage.ulw_tiers(value) == tiers


def test_ulw_bands_follow_the_configured_thresholds() -> None:
    assert usage.ulw_tiers(59.9, 60, 90) == set()
    assert usage.ulw_tiers(74.9, 60, 90) == {"low"}
    assert usage.ulw_tiers(75, 60, 90) == {"low", "medium"}
    assert usage.ulw_tiers(85, 60, 85) == {"low", "medium", "high"}

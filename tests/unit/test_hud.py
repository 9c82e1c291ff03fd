"""The status line's text: view building, forms by width, abbreviations, colours."""

from __future__ import annotations

import pytest

from omcm.calls.counters import Counters, ProviderCounters
from omcm.core import humanize
from omcm.hud import bar
from omcm.routing import usage
from omcm.routing.usage import FallbackState, ProviderHealth, ProviderLimits, UsageWindow

NOW = 1_800_000_000.0
CLAUDE = (1234, 567)
STATUSLINE = {
    "session_id": "2559",
    "rate_limits": {
        "five_hour": {"used_percentage": 92.5, "resets_at": NOW + 72 * 60},
        "seven_day": {"used_percentage": 28.999999999999996, "resets_at": NOW + 4 * 86400},
    },
}
FULL = (
    "hulw │ 5h:92%(1h12m) wk:29% │ FALLBACK │ C:1.2k↓ 567↑|O:25.8k↓ 9↑|G:165.3k↓ 1.4k↑"
    " │ ⇄3/10 │ gemini⏸12m"
)


def busy_view(claude: tuple[int, int] | None = CLAUDE) -> bar.HudView:
    limits = ProviderLimits()
    usage.merge_limits(limits, *usage.read_rate_limits(STATUSLINE), NOW - 5)
    limits.providers["gemini"] = ProviderHealth(cooldown_until=NOW + 12 * 60 + 30)
    limits.providers["codex"] = ProviderHealth(cooldown_until=NOW - 1)  # over
    counters = Counters(
        calls=10,
        routed=3,
        providers={
            "gemini": ProviderCounters(calls=1, input_tokens=165_300, output_tokens=1_400),
            "codex": ProviderCounters(calls=2, input_tokens=25_800, output_tokens=9),
            "opencode": ProviderCounters(),  # never used: not shown
        },
    )
    return bar.build_view(claude, limits, FallbackState(active=True), counters, NOW, mode="hulw")


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (0, "0"),
        (567, "567"),
        (999, "999"),
        (1000, "1k"),
        (1234, "1.2k"),
        (25_800, "25.8k"),
        (165_300, "165.3k"),
        (999_949, "999.9k"),
        (999_999, "1M"),
        (1_400_000, "1.4M"),
        (25_000_000, "25M"),
        (3_210_000_000, "3.2B"),
    ],
)
def test_abbreviate(count: int, text: str) -> None:
    assert humanize.abbreviate(count) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (-5, "0s"),
        (59.9, "59s"),
        (60, "1m"),
        (12 * 60 + 59, "12m"),
        (3600, "1h"),
        (72 * 60, "1h12m"),
        (86399, "23h59m"),
        (86400, "1d"),
        (4 * 86400 + 3 * 3600 + 59, "4d3h"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert humanize.duration(seconds) == text


def test_full_line() -> None:
    assert bar.render(busy_view(), color=False) == FULL


def test_no_width_or_wide_enough_is_the_full_line() -> None:
    assert bar.render(busy_view(), width=len(FULL), color=False) == FULL


def test_narrower_drops_the_token_breakdown_first() -> None:
    line = "hulw │ 5h:92%(1h12m) wk:29% │ FALLBACK │ ⇄3/10 │ gemini⏸12m"
    assert bar.render(busy_view(), width=len(FULL) - 1, color=False) == line
    assert bar.render(busy_view(), width=len(line), color=False) == line


def test_narrowest_keeps_mode_usage_and_fallback() -> None:
    assert bar.render(busy_view(), width=58, color=False) == "hulw │ 5h:92% wk:29% │ FALLBACK"
    assert bar.render(busy_view(), width=10, color=False) == "hulw │ 5h:92% wk:29% │ FALLBACK"


def test_unknown_usage_is_shown_as_a_question_mark() -> None:
    view = bar.build_view(None, ProviderLimits(), FallbackState(), None, NOW)
    assert bar.render(view, color=False) == "5h:? wk:?"


def test_stale_readings_are_unknown_and_a_lone_fresh_one_shows_the_bound() -> None:
    limits = ProviderLimits(
        five_hour=UsageWindow(used_percentage=50, resets_at=NOW + 3600, observed_at=NOW - 7200),
        seven_day=UsageWindow(used_percentage=75, resets_at=NOW + 86400, observed_at=NOW - 7200),
    )
    view = bar.build_view(None, limits, FallbackState(), None, NOW)
    assert bar.render(view, color=False) == "5h:? wk:?"
    limits.five_hour = UsageWindow(used_percentage=20, resets_at=NOW + 3600, observed_at=NOW)
    view = bar.build_view(None, limits, FallbackState(), None, NOW)
    assert bar.render(view, color=False) == "5h:20% wk:≥75%(1d)"


def test_a_window_past_its_reset_shows_zero() -> None:
    limits = ProviderLimits(
        five_hour=UsageWindow(used_percentage=97, resets_at=NOW - 1, observed_at=NOW - 60)
    )
    view = bar.build_view(None, limits, FallbackState(), None, NOW)
    assert bar.render(view, color=False) == "5h:0% wk:?"


def test_claude_limited_is_shown_as_cooling_down() -> None:
    limits = ProviderLimits(claude_limited_until=NOW + 3600 + 120)
    view = bar.build_view(None, limits, FallbackState(active=True), None, NOW, mode="ulw")
    assert bar.render(view, color=False) == "ulw │ 5h:? wk:? │ FALLBACK │ claude⏸1h2m"


def test_claude_tokens_only_line() -> None:
    view = bar.build_view((10, 5), ProviderLimits(), FallbackState(), Counters(), NOW)
    assert bar.render(view, color=False) == "5h:? wk:? │ C:10↓ 5↑"


def test_unknown_provider_gets_its_name_as_label() -> None:
    counters = Counters(
        calls=1,
        routed=1,
        providers={
            "qwen": ProviderCounters(calls=1, input_tokens=1500, output_tokens=20),
            "opencode": ProviderCounters(calls=1, input_tokens=100, output_tokens=2),
        },
    )
    view = bar.build_view(None, ProviderLimits(), FallbackState(), counters, NOW)
    assert bar.render(view, color=False) == "5h:? wk:? │ OC:100↓ 2↑|qwen:1.5k↓ 20↑ │ ⇄1/1"


def test_colours() -> None:
    line = bar.render(busy_view())
    assert line == (
        "\x1b[1;36mhulw\x1b[0m │ \x1b[31m5h:92%(1h12m)\x1b[0m \x1b[32mwk:29%\x1b[0m │ "
        "\x1b[1;31mFALLBACK\x1b[0m │ C:1.2k↓ 567↑|O:25.8k↓ 9↑|G:165.3k↓ 1.4k↑ │ ⇄3/10 │ "
        "\x1b[33mgemini⏸12m\x1b[0m"
    )
    assert "\x1b" not in bar.render(busy_view(), color=False)


def test_colours_do_not_count_towards_the_width() -> None:
    assert bar.render(busy_view(), width=len(FULL)).count("│") == 5


@pytest.mark.parametrize(
    ("value", "code"), [(69.9, bar.GREEN), (70, bar.YELLOW), (89.9, bar.YELLOW), (90, bar.RED)]
)
def test_usage_colour_bands(value: float, code: str) -> None:
    view = bar.HudView(windows=[("5h", value, 600.0, True)])
    reset = "" if value < 70 else "(10m)"  # the reset time shows from the warning band on
    assert bar.render(view) == f"{code}5h:{usage.percent(value)}%{reset}{bar.RESET}"


def test_bands_follow_the_configured_thresholds() -> None:
    view = bar.HudView(windows=[("5h", 65.0, None, True)], warn_at=60, alert_at=65)
    assert bar.render(view) == f"{bar.RED}5h:65%{bar.RESET}"


def test_with_chained() -> None:
    assert bar.with_chained("5h:?", "") == "5h:?"
    assert bar.with_chained("5h:?", " \n") == "5h:?"
    assert bar.with_chained("5h:?", "~/proj main\n") == "5h:? │ ~/proj main"
    assert bar.with_chained("5h:?", "top\nsecond\n") == "5h:? │ top\nsecond"


def test_minimal_line() -> None:
    assert bar.minimal_line() == "omcm: status unavailable"
    assert bar.minimal_line(ValueError("bad\nmore")) == "omcm: status unavailable (bad)"
    assert bar.minimal_line(KeyError()) == "omcm: status unavailable (KeyError)"
    assert bar.minimal_line("x" * 80) == f"omcm: status unavailable ({'x' * 57}...)"


def test_hud_imports_nothing_heavy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, omcm.hud.bar, omcm.routing.usage; "
        "print(','.join(m for m in ('typing', 'dataclasses', 'datetime', 'subprocess', "
        "'pathlib', 'pydantic', 'platformdirs') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    # typing comes only through omcm.core.fastjson (``from typing import Any``), a shared module
    assert set(filter(None, out.stdout.strip().split(","))) <= {"typing"}


def test_background_jobs_running_and_unread() -> None:
    from omcm.hud.bar import HudView, render

    view = HudView(windows=[("5h", 40.0, None, True)], jobs=(2, 1), routed=1, calls=3)
    assert render(view, color=False) == "5h:40% │ ⇄1/3 │ ⚙2 ✓1"
    assert render(HudView(jobs=(0, 3)), color=False) == "✓3"
    assert render(HudView(jobs=(0, 0)), color=False) == ""

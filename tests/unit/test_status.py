from __future__ import annotations

import time

from omcm.cli import status
from omcm.routing import gauges, usage


def test_status_says_where_each_figure_came_from_and_how_old_it_is() -> None:
    now = time.time()

    def seed(limits: usage.ProviderLimits) -> None:
        limits.five_hour = usage.UsageWindow(
            used_percentage=92.0, resets_at=now + 3600, observed_at=now - 120
        )
        limits.providers["gemini"] = usage.ProviderHealth(
            cooldown_until=now + 600, cooldown_reason="rate-limited", last_error="429"
        )

    gauges.update(seed)
    text = status.render(status.collect(now))
    assert (
        "claude 5-hour: 92% — from the status line's rate_limits, observed 2m ago, resets in 1h"
    ) in text
    assert "claude weekly: unknown — no status-line reading yet" in text
    assert "claude usage used for routing: 92% (5-hour)" in text
    assert "gemini:    cooling down 10m (rate-limited); last error: 429" in text
    assert "fallback:  inactive" in text


def test_status_of_a_fresh_install() -> None:
    text = status.render(status.collect())
    assert "(missing: defaults in use)" in text
    assert "0 subagent calls, 0 routed" in text

"""MCP calls counted as their own door: the counters, the status line and ``omcm stats``."""

from __future__ import annotations

import time
from typing import Any

import pytest

from omcm.calls import counters, routing_log
from omcm.calls.counters import Counters
from omcm.calls.routing_log import AttemptEntry, CallEntry, Tokens
from omcm.config import Config
from omcm.hud import bar
from omcm.routing.usage import FallbackState, ProviderLimits
from omcm.stats import report as stats
from omcm.stats.filters import Filters
from omcm.stats.reading import Log
from omcm.stats.render import render

NOW = 1_800_000_000.0


def call(source: str, outcome: str = "routed", session: str = "s-1", **kw: Any) -> CallEntry:
    tokens = Tokens(input=1000, cached=100, output=50)
    attempts = [AttemptEntry(provider="codex", model="m", outcome="ok", tokens=tokens)]
    routed = outcome == "routed"
    return CallEntry(
        time=kw.pop("when", time.time()),
        source=source,
        session_id=session,
        agent="general-purpose",
        tier="medium",
        decision="providers" if routed else "claude",
        outcome=outcome,
        provider="codex" if routed else "",
        attempts=attempts if routed else [],
        tokens=tokens if routed else Tokens(),
        **kw,
    )


@pytest.fixture(autouse=True)
def no_indexer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing_log, "_index_later", lambda path: None)


def test_the_counters_keep_each_door_apart() -> None:
    for entry in (
        call("hook"),
        call("hook", "claude"),
        call("mcp"),
        call("mcp"),
        call("cli", session=""),
    ):
        counters.count(entry.session_id, NOW, entry)
    found = counters.load()
    session = found.sessions["s-1"]
    assert (session.calls, session.routed) == (4, 3)
    assert {k: (v.calls, v.routed) for k, v in session.doors.items()} == {
        "hook": (2, 1),
        "mcp": (2, 2),
    }
    assert {k: v.calls for k, v in found.total.doors.items()} == {"hook": 2, "mcp": 2, "cli": 1}


def test_the_status_line_shows_mcp_calls_apart_from_subagent_calls() -> None:
    mine = Counters()
    for entry in (call("hook"), call("hook", "claude"), call("mcp"), call("mcp")):
        counters.add_call(mine, entry)
    view = bar.build_view(None, ProviderLimits(), FallbackState(), mine, NOW)
    assert bar.render(view, color=False) == "5h:? wk:? │ O:3k↓ 150↑ │ ⇄1/2 mcp:2"
    only_asked = Counters()
    counters.add_call(only_asked, call("mcp"))
    view = bar.build_view(None, ProviderLimits(), FallbackState(), only_asked, NOW)
    assert bar.render(view, color=False).endswith(" │ mcp:1")


def test_counters_from_before_doors_count_as_subagent_calls() -> None:
    old = Counters.parse({"calls": 5, "routed": 2}, "old counters")
    view = bar.build_view(None, ProviderLimits(), FallbackState(), old, NOW)
    assert bar.render(view, color=False) == "5h:? wk:? │ ⇄2/5"


def report(**filters: Any) -> dict[str, Any]:
    rows, damaged, lines, files = Log().read()
    return stats.report(
        rows,
        Config(),
        by="day",
        filters=Filters(**filters),
        damaged=damaged,
        lines=lines,
        files=files,
    )


def test_stats_count_calls_per_source_and_filter_by_it() -> None:
    for entry in (call("hook"), call("mcp"), call("mcp", "fell-back"), call("cli")):
        routing_log.append(entry)
    # a line written before calls had a source is a subagent call
    routing_log.append(call("", when=time.time()))
    found = report()
    assert found["total"]["sources"] == {
        "cli": {"calls": 1, "routed": 1},
        "hook": {"calls": 2, "routed": 2},
        "mcp": {"calls": 2, "routed": 1},
    }
    assert report(source="mcp")["total"]["calls"] == 2
    text = render(found)
    assert "sources (hook: subagent calls; cli: omcm run; mcp: the ask tools; …):" in text
    assert "  mcp                           2 calls       1 routed" in text


def test_stats_of_subagent_calls_only_say_nothing_of_sources() -> None:
    routing_log.append(call("hook"))
    assert "sources (" not in render(report())

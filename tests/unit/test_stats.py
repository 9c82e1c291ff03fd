"""``omcm stats`` and ``omcm savings`` over generated routing logs."""

from __future__ import annotations

import contextlib
import json
import marshal
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omcm.calls import routing_log
from omcm.calls.routing_log import AttemptEntry, CallEntry, SubagentEntry, Tokens
from omcm.config import Config
from omcm.core import fastjson, paths
from omcm.core.errors import OmcmError
from omcm.stats import html as stats_html
from omcm.stats import index as stats_index
from omcm.stats import lines as stats_lines
from omcm.stats import reading
from omcm.stats import report as stats_report
from omcm.stats.filters import Filters, parse_when
from omcm.stats.reading import Log
from omcm.stats.render import render
from omcm.stats.rows import CALL, AttemptRow, CallRow, SubagentRow, plain, typed
from omcm.stats.savings import render_savings, savings, savings_log
from omcm.stats.tally import Tally, tally

PROVIDERS = ("codex", "gemini", "opencode", "ollama")
MODELS = {
    "codex": "gpt-5.1-codex-mini",
    "gemini": "gemini-2.5-flash",
    "opencode": "openrouter/qwen/qwen3-coder",
    "ollama": "qwen3:8b",
}


def routed(
    when: float, provider: str, *, agent: str = "explore", tier: str = "low", **kw: Any
) -> CallEntry:
    tokens = Tokens(input=1000, cached=100, output=50, reasoning=5)
    attempt = AttemptEntry(
        provider=provider, model=MODELS[provider], outcome="ok", duration=2.0, tokens=tokens
    )
    values: dict[str, Any] = {
        "time": when,
        "session_id": "s-1",
        "agent": agent,
        "tier": tier,
        "decision": "providers",
        "outcome": "routed",
        "provider": provider,
        "model": MODELS[provider],
        "duration": 2.5,
        "attempts": [attempt],
        "tokens": tokens,
        "mode": "hulw",
    }
    return CallEntry(**(values | kw))


def stayed(when: float, agent: str = "executor", tier: str = "medium") -> CallEntry:
    return CallEntry(time=when, session_id="s-1", agent=agent, tier=tier, duration=0.01)


def on_claude(when: float, agent: str, tier: str, total: int) -> SubagentEntry:
    return SubagentEntry(
        time=when,
        session_id="s-1",
        agent=agent,
        tier=tier,
        model="claude-opus-5-5",
        input=total // 10,
        cache_read=total - total // 10 - 100,
        output=100,
        total=total,
    )


def report(by: str = "day", **filters: Any) -> dict[str, Any]:
    rows, damaged, lines, files = Log().read()
    return stats_report.report(
        rows,
        Config(),
        by=by,
        filters=Filters(**filters),
        damaged=damaged,
        lines=lines,
        files=files,
    )


@pytest.fixture(autouse=True)
def no_indexer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are written by the report in these tests, not by detached indexers."""
    monkeypatch.setattr(routing_log, "_index_later", lambda path: None)


def test_totals_equal_the_log_across_rotation_and_damaged_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen = random.Random(7)
    now = time.time()
    log = Path(paths.routing_log())
    log.parent.mkdir(parents=True, exist_ok=True)
    # a file of an older release (.1) and many rotations of this one
    old = [routed(now - 90000 + i, "codex") for i in range(5)]
    Path(f"{log}.1").write_text("".join(json.dumps(e.dump()) + "\n" for e in old))
    monkeypatch.setattr(routing_log, "MAX_BYTES", 20_000)
    written = list(old)
    for i in range(600):
        entry = (
            routed(now - 80000 + i * 100, chosen.choice(PROVIDERS))
            if i % 3
            else stayed(now - 80000 + i * 100)
        )
        routing_log.append(entry)
        written.append(entry)
        if i % 97 == 0:
            with open(log, "a") as handle:
                handle.write('{"event": "call", "time": "not a number"}\n{broken\n')
    assert len(routing_log.files()) > 5
    found = report(since=None)
    total = found["total"]
    calls = [e for e in written if isinstance(e, CallEntry)]
    assert total["calls"] == len(calls)
    assert total["routed"] == sum(e.outcome == "routed" for e in calls)
    assert found["damaged_lines"] == 2 * len(range(0, 600, 97))
    for provider in PROVIDERS:
        runs = [a for e in calls for a in e.attempts if a.provider == provider]
        assert total["providers"][provider]["runs"] == len(runs)
        assert total["providers"][provider]["tokens"]["input"] == sum(a.tokens.input for a in runs)
        assert total["providers"][provider]["tokens"]["output"] == sum(
            a.tokens.output for a in runs
        )
    # a second read takes the rotated files' saved rows: their JSON is not parsed again
    monkeypatch.setattr(stats_index, "parse", lambda path: pytest.fail(f"{path} parsed again"))
    again = Log().read()[0]
    assert sum(isinstance(r, CallRow) for r in again) == len(calls)


def test_rows_are_typed_and_keep_their_fields_through_their_stored_form() -> None:
    """Every field of every kind of row, each a value of its own (rows are built by
    position: a field out of place would show here)."""
    now = time.time()
    tried = [
        AttemptEntry(
            provider="gemini",
            model="gemini-2.5-flash",
            outcome="failed",
            duration=1.25,
            tokens=Tokens(input=11, cached=12, output=13, reasoning=14),
            warm="started",
        ),
        AttemptEntry(provider="codex", model=MODELS["codex"], outcome="ok", duration=3.5),
    ]
    call = CallEntry(
        time=now - 10,
        session_id="s-9",
        agent="writer",
        tier="medium",
        mode="ulw",
        decision="providers",
        outcome="routed",
        reason="ulw-mode",
        provider="codex",
        model="gpt-from-the-call",
        duration=4.75,
        cache_hit=True,
        job_id="job-1",
        source="mcp",
        attempts=tried,
    )
    subagent = SubagentEntry(
        time=now,
        session_id="s-8",
        agent="explore",
        tier="low",
        mode="hulw",
        model="claude-opus-5-5",
        background=True,
        input=21,
        cache_creation=22,
        cache_read=23,
        output=24,
        total=90,
        duration_ms=25,
    )
    for entry in (call, stayed(now - 5), subagent):
        routing_log.append(entry)
    rows = stats_index.parse(paths.routing_log()).rows
    assert rows is not None
    assert rows[0] == CallRow(
        time=now - 10,
        session="s-9",
        agent="writer",
        tier="medium",
        mode="ulw",
        outcome="routed",
        reason="ulw-mode",
        provider="codex",
        model="gpt-from-the-call",
        duration=4.75,
        cache_hit=True,
        job=True,
        source="mcp",
        attempts=(
            AttemptRow(
                provider="gemini",
                model="gemini-2.5-flash",
                outcome="failed",
                input=11,
                cached=12,
                output=13,
                reasoning=14,
                duration=1.25,
                warm="started",
            ),
            AttemptRow(
                provider="codex",
                model=MODELS["codex"],
                outcome="ok",
                input=0,
                cached=0,
                output=0,
                reasoning=0,
                duration=3.5,
                warm="",
            ),
        ),
    )
    assert isinstance(rows[1], CallRow)
    assert (rows[1].outcome, rows[1].attempts, rows[1].job) == ("claude", (), False)
    assert rows[2] == SubagentRow(
        time=now,
        session="s-8",
        agent="explore",
        tier="low",
        mode="hulw",
        model="claude-opus-5-5",
        input=21,
        cache_creation=22,
        cache_read=23,
        output=24,
        total=90,
        duration_ms=25,
        background=True,
    )
    again = typed(plain(rows))
    assert again == rows
    assert [type(r) for r in again] == [CallRow, CallRow, SubagentRow]
    assert isinstance(again[0], CallRow)
    assert [type(a) for a in again[0].attempts] == [AttemptRow, AttemptRow]


def test_rows_saved_by_an_older_omcm_are_rebuilt_not_misread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = time.time()
    monkeypatch.setattr(routing_log, "MAX_BYTES", 2_000)
    for i in range(20):
        routing_log.append(routed(now - 100 + i, PROVIDERS[i % 4]))
    rotated = routing_log.files()[0]
    fresh = stats_index.cached(rotated)
    with open(rotated + ".rows", "rb") as handle:
        head = marshal.load(handle)
    old = head | {"version": stats_index.VERSION - 1}
    body = []  # as version 2 stored rows: one tuple each, its kind first
    for row in fresh.rows or []:
        assert isinstance(row, CallRow)
        *fields, tried = row
        body.append((CALL, *fields, tuple(map(tuple, tried))))
    Path(rotated + ".rows").write_bytes(marshal.dumps(old) + marshal.dumps(body))
    assert stats_index.saved(rotated) is None
    assert stats_index.cached(rotated).rows == fresh.rows
    assert stats_index.saved(rotated) is not None  # rebuilt at this version


@contextlib.contextmanager
def local_zone(name: str) -> Iterator[None]:
    """Local time in the zone ``name`` (worker processes inherit it)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.fixture
def new_york() -> Iterator[None]:
    """Local time in New York, where daylight saving time ends on 1 November 2026 at 2:00."""
    with local_zone("America/New_York"):
        yield


def test_periods_are_local_across_midnight_and_the_end_of_dst(new_york: None) -> None:
    midnight = time.mktime((2026, 11, 1, 0, 0, 0, 0, 0, -1))
    first_one_am = midnight + 3600  # 01:00 EDT (UTC-4)
    second_one_am = first_one_am + 3600  # 01:00 EST (UTC-5): the hour repeats
    for when in (midnight - 60, midnight + 60, first_one_am + 600, second_one_am + 600):
        routing_log.append(routed(when, "codex"))
    routing_log.append(routed(midnight + 86400 + 3600 + 60, "codex"))  # 2 Nov, 25 h later
    days = report(by="day", since=None)
    assert [(p["period"], p["calls"]) for p in days["periods"]] == [
        ("2026-10-31", 1),
        ("2026-11-01", 3),
        ("2026-11-02", 1),
    ]
    hours = report(by="hour", since=None)
    assert [p["period"] for p in hours["periods"]] == [
        "2026-10-31 23:00-0400",
        "2026-11-01 00:00-0400",
        "2026-11-01 01:00-0400",
        "2026-11-01 01:00-0500",
        "2026-11-02 00:00-0500",
    ]
    weeks = report(by="week", since=None)
    assert [p["period"] for p in weeks["periods"]] == ["2026-W44", "2026-W45"]
    assert sum(p["calls"] for p in report(by="minute", since=None)["periods"]) == 5


def test_cost_for_known_unknown_local_and_configured_models() -> None:
    now = time.time()
    routing_log.append(routed(now, "codex"))
    routing_log.append(routed(now, "ollama"))
    unknown = routed(now, "gemini")
    unknown.attempts[0].model = "gemini-from-the-future"
    routing_log.append(unknown)
    found = report()["total"]["providers"]
    assert found["codex"]["cost_usd"] > 0
    assert found["codex"]["prices"]["gpt-5.1-codex-mini"].startswith("genai-prices ")
    assert (found["ollama"]["cost_usd"], found["ollama"]["prices"]["qwen3:8b"]) == (0.0, "local")
    assert found["gemini"]["cost_usd"] == 0.0
    assert found["gemini"]["unpriced_tokens"] == 1050
    assert found["gemini"]["prices"]["gemini-from-the-future"].startswith("no price")
    config = Config.parse(
        {
            "prices": {
                "gemini/gemini-from-the-future": {
                    "input": 2.0,
                    "output": 8.0,
                    "source": "our contract, 2026",
                }
            }
        },
        "config",
    )
    rows = Log().read()[0]
    priced = stats_report.report(rows, config)["total"]["providers"]["gemini"]
    assert priced["cost_usd"] == pytest.approx((900 * 2.0 + 100 * 2.0 + 50 * 8.0) / 1e6)
    assert priced["prices"]["gemini-from-the-future"] == "config: our contract, 2026"


def test_avoided_tokens_come_from_what_claude_was_seen_to_cost() -> None:
    now = time.time()
    for total in (30_000, 50_000):
        routing_log.append(on_claude(now - 500, "explore", "low", total))
    routing_log.append(on_claude(now - 400, "writer", "low", 10_000))
    routing_log.append(routed(now, "codex", agent="explore", tier="low"))  # its own mean: 40k
    routing_log.append(routed(now, "codex", agent="doc-reader", tier="low"))  # its tier's: 30k
    routing_log.append(routed(now, "codex", agent="executor", tier="medium"))  # nothing seen
    total = report()["total"]
    assert total["claude_tokens_avoided"] == 40_000 + 30_000
    assert (total["avoided_estimated_calls"], total["avoided_unknown_calls"]) == (2, 1)
    assert total["claude_subagents"] == 3
    rows = Log().read()[0]
    saved = savings(rows, Config())
    assert saved["agents"]["explore"]["basis"] == "mean of 2 observed on Claude (agent explore)"
    assert saved["agents"]["doc-reader"]["basis"] == "mean of 3 observed on Claude (tier low)"
    assert saved["agents"]["executor"]["per_call"] is None
    assert saved["claude_cost_avoided_usd"] > 0
    assert "unknown for 1" in render_savings(saved)
    assert savings_log(Log(), Config()) == saved


def test_filters_and_windows() -> None:
    now = time.time()
    routing_log.append(routed(now - 3 * 3600, "codex", session_id="a", mode="ulw"))
    routing_log.append(routed(now - 600, "gemini", session_id="b", agent="writer"))
    routing_log.append(stayed(now - 60))
    assert report(since=now - 3600)["total"]["calls"] == 2
    assert report(session="a")["total"]["calls"] == 1
    assert report(provider="gemini")["total"]["calls"] == 1
    assert report(agent="writer")["total"]["calls"] == 1
    assert report(mode="ulw")["total"]["calls"] == 1
    assert report(mode="none")["total"]["calls"] == 1
    assert parse_when("2h", now) == now - 7200
    assert parse_when("2026-11-29", now, end=True) - parse_when("2026-11-29", now) in (
        82800,
        86400,
        90000,
    )
    with pytest.raises(Exception, match="not a duration"):
        parse_when("yesterday", now)


def test_the_text_report_shows_periods_providers_agents_and_savings() -> None:
    now = time.time()
    routing_log.append(on_claude(now - 100, "explore", "low", 20_000))
    routing_log.append(routed(now, "codex"))
    text = render(report())
    assert "total" in text and "providers:" in text and "agents:" in text
    assert "Claude tokens avoided: ~20k over 1 routed calls" in text
    assert "subagents on Claude: 1" in text


def test_the_html_page_is_self_contained_with_its_charts() -> None:
    now = time.time()
    for i in range(12):
        routing_log.append(routed(now - i * 3600, PROVIDERS[i % 4]))
        routing_log.append(stayed(now - i * 3600 - 60))
    routing_log.append(on_claude(now - 99_999, "explore", "low", 20_000))
    page = stats_html.page(report(by="hour", since=None))
    assert page.startswith("<!doctype html>")
    assert page.count("<svg") == 4
    assert page.count("class='bar'") >= 24 + 4
    assert "class='point'" in page and "<table class='sortable'>" in page
    for external in ("src=", "href=", "@import", "url("):
        assert external not in page


def test_the_log_report_reads_only_the_window_and_equals_the_full_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``omcm stats`` reads the rows of the files its window needs (on every core when there
    are many) and every file's observations; the figures equal a report over every row."""
    now = time.time()
    monkeypatch.setattr(routing_log, "MAX_BYTES", 8_000)
    for i in range(300):
        when = now - 30 * 86400 + i * 8000
        if i % 10 == 0:
            routing_log.append(on_claude(when, "explore", "low", 20_000 + i))
        routing_log.append(routed(when, PROVIDERS[i % 4]) if i % 3 else stayed(when))
    rotated = routing_log.files()[:-1]
    assert len(rotated) > 2 * Log.PARALLEL_FROM
    rows, damaged, lines, files = Log().read()  # writes every file's .rows
    config = Config()
    for by, filters in (
        ("day", Filters()),
        ("hour", Filters(since=now - 7 * 86400)),
        ("week", Filters(since=now - 20 * 86400, until=now - 10 * 86400, provider="codex")),
    ):
        full = stats_report.report(
            rows, config, by=by, filters=filters, damaged=damaged, lines=lines, files=files
        )
        assert stats_report.report_log(Log(), config, by=by, filters=filters) == full
    # a narrow window does not load the rows of the files before it
    loaded: list[str] = []
    real = stats_index.saved

    def spy(path: str, *, rows: bool = True, days: bool = False) -> stats_index.Rows | None:
        if rows:
            loaded.append(path)
        return real(path, rows=rows, days=days)

    monkeypatch.setattr(reading, "saved", spy)
    monkeypatch.setattr(reading, "cached", lambda path, **kw: spy(path, **kw) or pytest.fail(path))
    week = stats_report.report_log(Log(), config, filters=Filters(since=now - 3 * 86400))
    assert week["total"]["claude_tokens_avoided"] > 0  # every file's observations count
    assert 0 < len(loaded) < len(rotated) // 4


def a_month_of_rotated_log(monkeypatch: pytest.MonkeyPatch, *, damaged_every: int = 0) -> float:
    """A month of calls and subagents in many small rotated files, with a damaged line
    every ``damaged_every`` calls (they rotate with the rest); now."""
    now = time.time()
    monkeypatch.setattr(routing_log, "MAX_BYTES", 8_000)
    for i in range(300):
        when = now - 30 * 86400 + i * 8000
        if i % 10 == 0:
            routing_log.append(on_claude(when, "explore", "low", 20_000 + i))
        routing_log.append(routed(when, PROVIDERS[i % 4]) if i % 3 else stayed(when))
        if damaged_every and i % damaged_every == 0:
            with open(paths.routing_log(), "a") as handle:
                handle.write('{"event": "call", "time": "damaged"}\n')
    return now


def full_report(by: str, filters: Filters) -> dict[str, Any]:
    """The report over every row of the log, read in one piece."""
    rows, damaged, lines, files = Log().read()
    return stats_report.report(
        rows, Config(), by=by, filters=filters, damaged=damaged, lines=lines, files=files
    )


def forget_rows() -> None:
    """As after an upgrade, or when the detached indexer was killed: no ``.rows``."""
    for name in routing_log.files():
        Path(name + ".rows").unlink(missing_ok=True)


def test_the_first_report_and_the_indexed_one_are_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first report parses the rotated files (on every core) and saves their rows and
    days; the next reads those: the same figures, and both those of every row."""
    now = a_month_of_rotated_log(monkeypatch, damaged_every=37)
    rotated = routing_log.files()[:-1]
    assert len(rotated) > 2 * Log.PARALLEL_FROM
    cases = (
        ("day", Filters()),
        ("week", Filters(since=now - 20 * 86400)),
        ("day", Filters(since=now - 10 * 86400, until=now - 3 * 86400)),
        ("hour", Filters(since=now - 5 * 86400)),
        ("day", Filters(provider="codex")),
        ("week", Filters(mode="none")),
    )
    for by, filters in cases:
        forget_rows()
        first = stats_report.report_log(Log(), Config(), by=by, filters=filters)
        assert all(Path(name + ".rows").exists() for name in rotated)
        later = stats_report.report_log(Log(), Config(), by=by, filters=filters)
        assert later == first, (by, filters.dump())
        assert first == full_report(by, filters), (by, filters.dump())
    everything = stats_report.report_log(Log(), Config(), filters=Filters())
    assert everything["damaged_lines"] == len(range(0, 300, 37))
    assert everything["total"]["calls"] == 300
    assert everything["total"]["claude_subagents"] == 30


def test_a_damaged_line_in_a_rotated_file_is_skipped_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = time.time()
    monkeypatch.setattr(routing_log, "MAX_BYTES", 3_000)
    routing_log.append(routed(now - 7200, "codex"))
    with open(paths.routing_log(), "a") as handle:
        handle.write('{"event": "call", "time": 1.0, "agent": ["not", "a", "name"]}\n{broken\n')
    for i in range(12):
        routing_log.append(routed(now - 3600 + i, "gemini"))
    [damaged_file, *_] = routing_log.files()
    assert "{broken" in Path(damaged_file).read_text()
    for _ in ("first", "indexed"):
        found = stats_report.report_log(Log(), Config(), filters=Filters())
        assert (found["damaged_lines"], found["lines"]) == (2, 15)
        assert found["total"]["calls"] == 13
        assert found["total"]["providers"]["gemini"]["runs"] == 12
        assert Path(damaged_file + ".rows").exists()


def test_a_report_by_day_over_whole_files_adds_their_days_not_their_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each ``.rows`` keeps its file's tallies per local day: a report by day or week whose
    window holds whole files adds those up and loads the rows of none of them."""
    now = a_month_of_rotated_log(monkeypatch, damaged_every=50)
    Log().read()  # every file's .rows
    expected = {
        (by, since): full_report(by, Filters(since=since))
        for by in ("day", "week")
        for since in (None, now - 12 * 86400)
    }

    loaded: list[int] = []
    real = typed

    def count(stored: Any) -> Any:
        loaded.append(len(stored[0]))
        return real(stored)

    monkeypatch.setattr(stats_index, "typed", count)
    for (by, since), full in expected.items():
        found = stats_report.report_log(Log(), Config(), by=by, filters=Filters(since=since))
        assert found == full, (by, since)
        # no rows for the whole log; a window that starts inside a file: that file's
        assert len(loaded) == (0 if since is None else 1), (by, since)
        loaded.clear()


def test_days_cut_in_another_time_zone_are_cut_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file's days are local days: read in another zone (TZ changed, or the indexer ran
    with another), they are tallied again from its rows, and saved so."""
    with local_zone("Asia/Kolkata"):  # UTC+5:30
        a_month_of_rotated_log(monkeypatch)
        Log().read()
    rotated = routing_log.files()[:-1]
    with local_zone("America/New_York"):
        heads = [stats_index.saved(name, rows=False) for name in rotated]
        assert not any(head is None or head.cut_here() for head in heads)
        found = stats_report.report_log(Log(), Config(), filters=Filters())
        assert found == full_report("day", Filters())
        assert [p["period"] for p in found["periods"]] == sorted(
            {time.strftime("%Y-%m-%d", time.localtime(p["start"])) for p in found["periods"]}
        )
        heads = [stats_index.saved(name, rows=False) for name in rotated]
        assert all(head is not None and head.cut_here() for head in heads)


#: Lines of every kind, most of them odd or damaged in some way: a line msgspec decodes
#: gives the row the checked reading gives, and one it refuses is read that way.
ODD_LINES: list[bytes] = [
    line.encode() if isinstance(line, str) else line
    for line in (
        '{"event":"call","time":1.5}',
        '{"time":1.5,"agent":"explore"}',  # before the event field existed
        '{"event":"call","time":2}',
        '{"event":"call","time":true}',
        '{"event":"call","time":"1.5"}',
        '{"event":"call"}',
        '{"event":"call","time":NaN}',
        '{"event":"call","time":1e400}',
        '{"event":"call","time":1' + "0" * 400 + "}",
        '{"event":"call","time":1.5,"time":2.5}',
        '{"event":"call","time":1.5,"ag\\u0065nt":"writer"}',
        '{"event":"call","time":1.5,"agent":"a\\u00e9\\n\\ud800"}',
        '{"event":"call","time":1.5,"agent":"a\tb"}',
        b'{"event":"call","time":1.5,"agent":"\xff"}',
        '{"event":"call","time":1.5,"agent":null,"mode":null}',
        '{"event":"call","time":1.5,"agent":5}',
        '{"event":"call","time":1.5,"agent":"' + "x" * 100 + '"}',
        '{"event":"call","time":1.5,"outcome":""}',
        '{"event":"call","time":1.5,"outcome":0}',
        '{"event":"call","time":1.5,"outcome":"routed","duration":3}',
        '{"event":"call","time":1.5,"duration":true}',
        '{"event":"call","time":1.5,"duration":null}',
        '{"event":"call","time":1.5,"duration":"3"}',
        '{"event":"call","time":1.5,"cache_hit":"yes","job_id":""}',
        '{"event":"call","time":1.5,"cache_hit":true,"job_id":"job-1"}',
        '{"event":"call","time":1.5,"job_id":7}',
        '{"event":"call","time":1.5,"attempts":null}',
        '{"event":"call","time":1.5,"attempts":""}',
        '{"event":"call","time":1.5,"attempts":"codex"}',
        '{"event":"call","time":1.5,"attempts":{}}',
        '{"event":"call","time":1.5,"attempts":5}',
        '{"event":"call","time":1.5,"attempts":[5]}',
        '{"event":"call","time":1.5,"attempts":[{"provider":"codex","outcome":"ok",'
        '"duration":2,"tokens":{"input":10,"cached":1,"output":5,"reasoning":2},"warm":"hit"}]}',
        '{"event":"call","time":1.5,"attempts":[{"provider":null,"duration":null}]}',
        '{"event":"call","time":1.5,"attempts":[{"provider":"codex","tokens":"many"}]}',
        '{"event":"call","time":1.5,"attempts":[{"provider":"codex","tokens":{"input":1.5}}]}',
        '{"event":"call","time":1.5,"attempts":[{"provider":"codex","tokens":{"input":null}}]}',
        '{"event":"call","time":1.5,"attempts":[{"provider":"codex","tokens":{"input":true}}]}',
        '{"event":"call","time":1.5,"attempts":[{"provider":"codex","tokens":{"input":1e400}}]}',
        '{"event":"call","time":1.5,"attempts":[{"provider":"codex","warm":1}]}',
        '{"event":"call","time":1.5,"prompt_chars":"many","skipped":{"a":[1,2]}}',
        '{"event":"call","time":1.5,"total":"a subagent field, on a call"}',
        '{"event":"subagent","time":1.5,"total":10,"model":"claude-opus-5-5","background":true}',
        '{"event":"subagent","time":1.5,"total":10.5}',
        '{"event":"subagent","time":1.5,"total":null,"model":null}',
        '{"event":"subagent","time":1.5,"input":true}',
        '{"event":"subagent","time":1.5,"input":"1"}',
        '{"event":"subagent","time":1.5,"background":1,"agent":7}',
        '{"event":"fallback","time":1.5,"active":true,"reason":5}',
        '{"event":["call"],"time":1.5}',
        '{"event":5,"time":1.5}',
        '{"event":null,"time":1.5}',
        "[1, 2]",
        '"a string"',
        "{broken",
        '{"event":"call","time":1.5} and more',
        '  {"event":"call","time":1.5}  ',
    )
]


def test_a_line_msgspec_decodes_gives_the_row_the_checked_reading_gives() -> None:
    def read(build: Any, raw: bytes) -> Any:
        try:
            return build(raw + b"\n", sys.intern)
        except stats_lines.DAMAGED:
            return "damaged"

    def checked(raw: bytes, intern: Any) -> Any:
        data = fastjson.loads(raw.decode("utf-8"))
        return stats_lines.checked_row(data, intern) if isinstance(data, dict) else None

    for raw in ODD_LINES:
        found, expected = read(stats_lines.row_of, raw), read(checked, raw)
        assert repr(found) == repr(expected), raw  # repr: a NaN is not equal to itself
        assert type(found) is type(expected), raw
        if isinstance(found, CallRow) and isinstance(expected, CallRow):
            assert [type(a) for a in found.attempts] == [type(a) for a in expected.attempts]
    kinds = {type(read(stats_lines.row_of, raw)).__name__ for raw in ODD_LINES}
    assert kinds == {"CallRow", "SubagentRow", "str", "NoneType"}


def test_lines_as_omcm_writes_them_are_read_by_msgspec(monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    for n, provider in enumerate(PROVIDERS):
        routing_log.append(routed(now + n, provider, cache_hit=True, job_id="job-1"))
        routing_log.append(stayed(now + n))
        routing_log.append(on_claude(now + n, "explore", "low", 20_000))
    expected = stats_index.parse(paths.routing_log()).rows
    monkeypatch.setattr(stats_lines, "checked_row", lambda *a: pytest.fail(f"{a} not decoded"))
    assert stats_index.parse(paths.routing_log()).rows == expected


def test_a_tally_keeps_every_figure_through_its_stored_form() -> None:
    now = time.time()
    routing_log.append(routed(now, "codex", cache_hit=True, job_id="job-1"))
    routing_log.append(stayed(now))
    routing_log.append(on_claude(now, "explore", "low", 20_000))
    [day] = tally(Log().read()[0], "day", Filters()).values()
    assert set(vars(day)) == set(Tally.FIELDS)
    again = Tally.restored(marshal.loads(marshal.dumps(day.stored())))
    assert vars(again) == vars(day)
    unused = {"fell_back", "cancelled"}  # no call here fell back or was cancelled
    assert all(getattr(day, name) for name in Tally.FIELDS if name not in unused)


def test_an_unreadable_log_file_is_an_error_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from omcm.cli.main import main

    routing_log.append(stayed(time.time()))
    unreadable = f"{paths.routing_log()}.20260101T000000.000000"
    os.mkdir(unreadable)  # cannot be read as a file, even by root
    for command in (["stats", "--since", "all"], ["savings", "--since", "all"]):
        assert main(command) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"omcm: the routing log {unreadable} cannot be read (")
        assert "Traceback" not in err


def test_a_report_of_too_many_periods_is_refused_with_advice() -> None:
    now = time.time()
    routing_log.append(stayed(now - 30 * 86400))
    routing_log.append(stayed(now))
    with pytest.raises(OmcmError) as caught:
        stats_report.report_log(Log(), Config(), by="minute")
    assert "--by minute over 30 days of log is 43,201 periods (at most 20,000)" in str(caught.value)
    hour = stats_report.report_log(Log(), Config(), by="minute", filters=Filters(since=now - 3600))
    assert hour["total"]["calls"] == 1


def test_genai_prices_rates_are_kept_for_the_next_report(monkeypatch: pytest.MonkeyPatch) -> None:
    from omcm.stats import prices

    first = prices.Prices(Config())
    found = first.rates("codex", "gpt-5.1-codex-mini", time.time())
    assert not isinstance(found, str)
    first.save()
    monkeypatch.setattr(prices, "_genai_rates", lambda *a: pytest.fail("looked up again"))
    again = prices.Prices(Config()).rates("codex", "gpt-5.1-codex-mini", time.time())
    assert again == found
    # a damaged entry: looked up afresh, not an error
    cache = Path(paths.state_file(prices.CACHE))
    saved = json.loads(cache.read_text())
    cache.write_text(json.dumps(saved | {"rates": {key: {"input": "x"} for key in saved["rates"]}}))
    with pytest.raises(pytest.fail.Exception, match="looked up again"):
        prices.Prices(Config()).rates("codex", "gpt-5.1-codex-mini", time.time())
    cache.write_text(json.dumps(saved))
    # another genai-prices version: looked up afresh
    monkeypatch.setattr(prices, "_package_version", lambda: "9.9.9")
    with pytest.raises(pytest.fail.Exception, match="looked up again"):
        prices.Prices(Config()).rates("codex", "gpt-5.1-codex-mini", time.time())


def test_a_subagent_transcript_written_out_of_order_counts_each_response_once(
    tmp_path: Path,
) -> None:
    """A busy 2.1.62 wrote the answer before the tool call: the answer is still the last
    response (by its time), so the tool result's usage is found there and not added again."""
    from omcm.calls import ledger

    session = tmp_path / "s1.jsonl"
    agent = tmp_path / "s1" / "subagents" / "agent-a1.jsonl"
    agent.parent.mkdir(parents=True)

    def entry(ident: str, stamp: str, fresh: int, out: int) -> str:
        usage = {"input_tokens": fresh, "output_tokens": out}
        message = {"id": ident, "role": "assistant", "usage": usage, "content": []}
        return json.dumps({"type": "assistant", "timestamp": stamp, "message": message})

    agent.write_text(
        entry("msg_2", "2026-12-02T13:24:11.401Z", 1200, 80)
        + "\n"
        + entry("msg_1", "2026-12-02T13:24:11.111Z", 1000, 50)
        + "\n"
    )
    final = ledger.from_usage({"input_tokens": 1200, "output_tokens": 80})
    spent = ledger.subagent_usage(str(session), "a1", final=final, wait=0.2)
    assert spent is not None
    assert (spent.requests, spent.total, spent.last) == (2, 2330, final)

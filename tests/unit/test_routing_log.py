from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from omcm import paths, routing_log
from omcm.routing_log import AttemptEntry, CallEntry, FallbackEntry, LimitEntry, Tokens


def call(n: int, agent: str = "explore", pad: str = "") -> CallEntry:
    return CallEntry(time=float(n), tool_use_id=f"toolu_{n}", agent=agent, error=pad)


def numbers() -> list[int]:
    return [int(e["tool_use_id"].split("_")[1]) for e in routing_log.read()]


def test_append_and_read_back() -> None:
    routing_log.append(call(1))
    routing_log.append(call(2, agent="한국어"))
    assert numbers() == [1, 2]
    assert list(routing_log.read())[1]["agent"] == "한국어"


def test_damaged_line_is_skipped_on_read() -> None:
    routing_log.append(call(1))
    with open(paths.routing_log(), "a") as handle:
        handle.write('{"tool_use_id": "toolu_2", broken\n')
    routing_log.append(call(3))
    assert numbers() == [1, 3]


def test_rotation_by_size_keeps_every_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing_log, "MAX_BYTES", 300)
    for n in range(20):
        routing_log.append(call(n, pad="x" * 40))
    files = sorted(
        p
        for p in os.listdir(paths.state_dir())
        if p.startswith("routing-log.jsonl") and not p.endswith(".lock")
    )
    assert files == [
        "routing-log.jsonl",
        "routing-log.jsonl.1",
        "routing-log.jsonl.2",
        "routing-log.jsonl.3",
    ]
    assert Path(paths.routing_log()).stat().st_size <= 300
    found = numbers()
    assert found == sorted(found)
    assert found[-1] == 19


def test_each_kind_reads_back_as_its_record() -> None:
    attempt = AttemptEntry(provider="codex", outcome="ok", tokens=Tokens(input=5, output=2))
    written = [
        CallEntry(time=1.0, agent="explore", outcome="routed", attempts=[attempt]),
        FallbackEntry(time=2.0, active=True, usage=92.0, reason="r", threshold=90),
        LimitEntry(time=3.0, session_id="s", until=99.0, source="StopFailure"),
    ]
    for entry in written:
        routing_log.append(entry)
    assert list(routing_log.entries()) == written


def test_empty_fields_are_left_out_of_the_line_and_read_back_as_defaults() -> None:
    routing_log.append(CallEntry(time=1.0, agent="explore", tier="low", reason="default-claude"))
    [line] = routing_log.read()
    assert line == {
        "event": "call",
        "time": 1.0,
        "agent": "explore",
        "tier": "low",
        "decision": "claude",
        "reason": "default-claude",
        "outcome": "claude",
    }


def test_a_line_from_before_the_event_field_is_a_call() -> None:
    entry = routing_log.parse({"time": 1.0, "agent": "explore", "outcome": "routed"})
    assert isinstance(entry, CallEntry)
    assert entry.outcome == "routed"
    assert routing_log.parse({"event": "unknown-kind"}) is None
    assert routing_log.parse({"event": "call", "attempts": "not a list"}) is None


def _writer(state_dir: str, tag: int) -> None:
    os.environ["OMCM_STATE_DIR"] = state_dir
    for n in range(100):
        routing_log.append(CallEntry(time=float(n), agent=f"tag{tag}", error="y" * 500))


def test_parallel_writers_never_interleave_or_drop_lines() -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(paths.state_dir(), t)) for t in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    entries = list(routing_log.read())
    assert len(entries) == 400
    for tag in range(4):
        assert [e["time"] for e in entries if e["agent"] == f"tag{tag}"] == [
            float(n) for n in range(100)
        ]


def test_the_readme_lists_every_outcome() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = "<!-- outcome-reference:start (scripts/sync-readme) -->\n"
    end = "<!-- outcome-reference:end -->\n"
    shown = readme[readme.index(start) + len(start) : readme.index(end)]
    assert shown == routing_log.outcome_table(), "run scripts/sync-readme"

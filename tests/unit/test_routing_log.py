from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from omcm.calls import routing_log
from omcm.calls.routing_log import AttemptEntry, CallEntry, FallbackEntry, LimitEntry, Tokens
from omcm.core import paths


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
    monkeypatch.setattr(routing_log, "_index_later", lambda path: None)
    for n in range(20):
        routing_log.append(call(n, pad="x" * 40))
    rotated = [
        p
        for p in os.listdir(paths.state_dir())
        if p.startswith("routing-log.jsonl.") and not p.endswith((".lock", ".rows"))
    ]
    assert len(rotated) >= 6  # no file is ever dropped
    assert Path(paths.routing_log()).stat().st_size <= 300
    assert numbers() == list(range(20))  # every line, in order
    assert routing_log.files()[-1] == paths.routing_log()


def test_rotated_files_of_older_releases_are_read_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing_log, "_index_later", lambda path: None)
    log = Path(paths.routing_log())
    log.parent.mkdir(parents=True, exist_ok=True)
    for suffix, n in ((".3", 0), (".2", 1), (".1", 2)):
        Path(f"{log}{suffix}").write_text(json.dumps(call(n).dump()) + "\n")
    monkeypatch.setattr(routing_log, "MAX_BYTES", 1)  # every append rotates
    routing_log.append(call(3))
    routing_log.append(call(4))
    assert numbers() == [0, 1, 2, 3, 4]


def test_a_rotated_file_is_indexed_for_stats_by_a_detached_process(tmp_path: Path) -> None:
    """The hook that rotates the log does not parse it: a detached indexer writes its rows."""
    import time

    routing_log.MAX_BYTES, saved = 600, routing_log.MAX_BYTES
    try:
        for n in range(8):
            routing_log.append(call(n, pad="x" * 40))
    finally:
        routing_log.MAX_BYTES = saved
    rotated = routing_log.files()[:-1]
    assert rotated
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(Path(f + ".rows").exists() for f in rotated):
        time.sleep(0.05)
    assert all(Path(f + ".rows").exists() for f in rotated)


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

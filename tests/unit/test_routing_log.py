from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from omcm import paths, routing_log


def test_append_and_read_back() -> None:
    routing_log.append({"n": 1, "agent": "explore"})
    routing_log.append({"n": 2, "agent": "한국어"})
    assert [e["n"] for e in routing_log.read()] == [1, 2]
    assert list(routing_log.read())[1]["agent"] == "한국어"


def test_damaged_line_is_skipped_on_read() -> None:
    routing_log.append({"n": 1})
    with open(paths.routing_log(), "a") as handle:
        handle.write('{"n": 2, broken\n')
    routing_log.append({"n": 3})
    assert [e["n"] for e in routing_log.read()] == [1, 3]


def test_rotation_by_size_keeps_every_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing_log, "MAX_BYTES", 200)
    for n in range(20):
        routing_log.append({"n": n, "pad": "x" * 40})
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
    assert Path(paths.routing_log()).stat().st_size <= 200
    numbers = [e["n"] for e in routing_log.read()]
    assert numbers == sorted(numbers)
    assert numbers[-1] == 19


def _writer(state_dir: str, tag: int) -> None:
    os.environ["OMCM_STATE_DIR"] = state_dir
    for n in range(100):
        routing_log.append({"tag": tag, "n": n, "pad": "y" * 500})


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
        assert [e["n"] for e in entries if e["tag"] == tag] == list(range(100))

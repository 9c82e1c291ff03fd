from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from omcm.calls import counters
from omcm.core import paths, state
from tests.conftest import read_only


def _path() -> str:
    return paths.state_file(counters.FILE)


def test_missing_file_means_defaults_and_nothing_written() -> None:
    assert state.load(_path(), counters.FusionState) == counters.FusionState()
    assert not os.path.exists(_path())


def test_update_writes_versioned_json_and_returns_the_result() -> None:
    def bump(fusion: counters.FusionState) -> int:
        fusion.total.calls += 1
        return fusion.total.calls

    assert state.update(_path(), counters.FusionState, bump) == 1
    assert state.update(_path(), counters.FusionState, bump) == 2
    data = json.loads(Path(_path()).read_text())
    assert data["version"] == 1
    assert data["total"]["calls"] == 2
    assert not [p for p in os.listdir(paths.state_dir()) if ".tmp-" in p]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{not json", "is damaged (not valid JSON"),
        ('{"version": 1, "total": {"calls": "many"}}', "total.calls: expected an integer"),
        ('{"version": 7}', "is damaged (version 7, this OMCM reads 1)"),
        ("[]", "expected an object"),
    ],
)
def test_corrupt_file_is_moved_aside_and_reported(content: str, why: str) -> None:
    os.makedirs(paths.state_dir())
    Path(_path()).write_text(content)
    loaded = state.load(_path(), counters.FusionState)
    assert loaded == counters.FusionState()
    aside = [p for p in os.listdir(paths.state_dir()) if p.startswith("fusion-state.json.corrupt-")]
    assert len(aside) == 1
    assert (Path(paths.state_dir()) / aside[0]).read_text() == content
    assert len(state.NOTICES) == 1
    assert why in state.NOTICES[0]
    assert aside[0] in state.NOTICES[0]
    assert why in Path(paths.error_log()).read_text()


def test_two_corrupt_files_in_one_second_both_survive() -> None:
    os.makedirs(paths.state_dir())
    for text in ("{1", "{2"):
        Path(_path()).write_text(text)
        state.load(_path(), counters.FusionState)
    kept = sorted(
        Path(paths.state_dir(), p).read_text()
        for p in os.listdir(paths.state_dir())
        if ".corrupt-" in p
    )
    assert kept == ["{1", "{2"]


def _increment_many(state_dir: str, times: int) -> None:
    os.environ["OMCM_STATE_DIR"] = state_dir

    def bump(fusion: counters.FusionState) -> None:
        fusion.total.calls += 1
        session = fusion.sessions.setdefault("s", counters.Counters())
        session.routed += 1

    for _ in range(times):
        state.update(paths.state_file(counters.FILE), counters.FusionState, bump)


def test_concurrent_processes_lose_no_update() -> None:
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_increment_many, args=(paths.state_dir(), 50)) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    fusion = state.load(_path(), counters.FusionState)
    assert fusion.total.calls == 400
    assert fusion.sessions["s"].routed == 400
    assert state.NOTICES == []


def test_session_file_names_are_validated() -> None:
    assert state.session_file("abc", "mode.json").endswith(
        os.path.join("sessions", "abc", "mode.json")
    )
    with pytest.raises(Exception, match="invalid session file"):
        state.session_file("abc", "../x")


def test_a_read_needs_no_write_access() -> None:
    """Readers took the write lock, so a read-only state dir made them fail (issue 17, 2)."""
    os.makedirs(paths.state_dir())
    state.update(_path(), counters.FusionState, lambda f: setattr(f.total, "calls", 4))
    os.unlink(_path() + ".lock")
    with read_only(paths.state_dir()):
        assert state.load(_path(), counters.FusionState).total.calls == 4
        with pytest.raises(PermissionError, match=r"Operation not permitted|Permission denied"):
            state.update(_path(), counters.FusionState, lambda f: None)


def test_read_raises_damage_with_where_it_went() -> None:
    os.makedirs(paths.state_dir())
    Path(_path()).write_text("{half")
    with pytest.raises(state.Damaged) as raised:
        state.read(_path(), counters.FusionState)
    assert raised.value.aside.startswith(_path() + ".corrupt-")
    assert "is damaged (not valid JSON" in str(raised.value)
    assert state.read(_path(), counters.FusionState) == counters.FusionState()


def test_an_update_of_a_damaged_file_starts_from_the_copy_held() -> None:
    os.makedirs(paths.state_dir())
    held = counters.FusionState()
    held.total.calls = 9
    Path(_path()).write_text("{half")

    def bump(fusion: counters.FusionState) -> None:
        fusion.total.calls += 1

    state.update(_path(), counters.FusionState, bump, held=held)
    assert state.read(_path(), counters.FusionState).total.calls == 10
    assert held.total.calls == 9  # the caller's copy is not changed behind its back

"""The mode table: one declaration that the detector, the engine, ``omcm mode`` and the notes read."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from omcm.cli import main
from omcm.config import Config
from omcm.routing import agents, gauges, keywords, modes, session_mode, usage
from omcm.routing.engine import Call, EngineState, decide

SESSION = "mode-table-session"
USAGES = [None, 10.0, 72.0, 85.0, 95.0]
CASES = [
    (name, fusion, usage) for name in modes.MODES for fusion in (False, True) for usage in USAGES
]


def set_usage(percent: float | None) -> None:
    def mutate(limits: usage.ProviderLimits) -> None:
        limits.five_hour = usage.UsageWindow(
            used_percentage=percent, resets_at=time.time() + 3600, observed_at=time.time()
        )

    gauges.update(mutate)


def mode_show(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main.main(["mode", "show", "--session", SESSION, "--json"]) == 0
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    return report


def pinned(config: Config) -> set[str]:
    return {agents.normalise(a) for a in config.routing.prefer_claude}


@pytest.mark.parametrize(("name", "fusion", "usage"), CASES)
def test_mode_show_says_exactly_what_the_engine_routes(
    name: str, fusion: bool, usage: float | None, capsys: pytest.CaptureFixture[str]
) -> None:
    session_mode.set_mode(SESSION, name, fusion=fusion)
    set_usage(usage)
    shown = mode_show(capsys)
    record = session_mode.current(SESSION)
    engine_state = EngineState(mode=record.mode, mode_fusion=record.fusion, usage=usage)
    routed = [
        agent
        for agent in agents.tier_table()
        if decide(Call(agent_raw=agent), Config(), engine_state).routed
    ]
    assert shown["routed_agents"] == routed
    # What the table says the mode routes (its tiers and roles) is what the engine
    # routes, for every agent that config does not pin to Claude.
    tiers, roles = set(shown["routed_tiers"]), set(shown["routed_roles"])  # type: ignore[call-overload]
    by_table = [
        agent
        for agent, tier in agents.tier_table().items()
        if tier in tiers
        and (not roles or agents.role_of(agent) in roles)
        and agent not in pinned(Config())
    ]
    assert by_table == routed == modes.routed_agents(record, usage, Config())
    assert shown["mode"] == name


def test_the_table_and_the_engine_agree_with_fusion_default_on(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config(fusion_default=True)
    monkeypatch.setattr("omcm.config.load", lambda path=None: config)
    set_usage(50.0)
    for name in modes.MODES:
        session_mode.set_mode(SESSION, name)
        record = session_mode.current(SESSION)
        engine_state = EngineState(mode=record.mode, mode_fusion=record.fusion, usage=50.0)
        routed = [
            a for a in agents.tier_table() if decide(Call(agent_raw=a), config, engine_state).routed
        ]
        shown = mode_show(capsys)
        tiers, roles = set(shown["routed_tiers"]), set(shown["routed_roles"])  # type: ignore[call-overload]
        by_table = [
            a
            for a, tier in agents.tier_table().items()
            if tier in tiers
            and (not roles or agents.role_of(a) in roles)
            and a not in pinned(config)
        ]
        assert shown["routed_agents"] == routed == by_table, name


def test_save_tokens_note_names_the_roles_it_routes() -> None:
    record = session_mode.SessionMode(mode="save-tokens")
    text = modes.describe(record, 50.0, Config())
    assert "LOW and MEDIUM tier analysis, exploring, review or writing subagents" in text
    assert "every other subagent stays on Claude" in text
    assert "executor" not in text  # a builder: it stays on Claude


def test_ulw_note_follows_the_configured_band() -> None:
    config = Config()
    config.routing.usage_threshold = 60
    text = modes.describe(session_mode.SessionMode(mode="ulw"), 65.0, config)
    assert "from 60% LOW tier goes to providers, from 75% MEDIUM too, from 90% all" in text


@pytest.mark.parametrize("name", list(modes.MODES))
def test_every_alias_and_command_sets_its_mode(name: str) -> None:
    mode = modes.MODES[name]
    for alias in mode.aliases:
        found = keywords.detect(f"{alias}: tidy the docs")
        assert found is not None and found.mode == name, alias
    for command in mode.commands:
        found = keywords.detect(f"/omcm:{command} tidy the docs")
        assert found is not None and (found.mode, found.form) == (name, "slash"), command


@pytest.fixture
def fresh_patterns() -> Iterator[None]:
    keywords.reset()
    yield
    keywords.reset()


def test_an_alias_added_to_the_table_works_everywhere(
    monkeypatch: pytest.MonkeyPatch, fresh_patterns: None
) -> None:
    monkeypatch.setattr(modes.MODES["ulw"], "aliases", (*modes.MODES["ulw"].aliases, "ultra mode"))
    keywords.reset()
    for prompt in ("ultra mode: fix the tests", "fix the tests with ultra mode", "ultra-mode fix"):
        found = keywords.detect(prompt)
        assert found is not None and found.mode == "ulw", prompt
    cancel = keywords.detect("cancel ultra mode")
    assert cancel is not None and (cancel.mode, cancel.cancel) == ("ulw", True)
    assert keywords.detect("what does ultra mode do?") is None


def test_the_readme_table_is_the_mode_table() -> None:
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    start = "<!-- mode-reference:start (scripts/sync-readme) -->\n"
    end = "<!-- mode-reference:end -->\n"
    shown = readme[readme.index(start) + len(start) : readme.index(end)]
    assert shown == modes.reference_table(str(repo / "commands")), "run scripts/sync-readme"

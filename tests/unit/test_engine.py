from __future__ import annotations

from typing import Any

import pytest

from omcm.config.schema import AgentOverride, Config
from omcm.routing import agents, engine
from omcm.routing.engine import Call, Decision, EngineState, Health, decide


def conf(**changes: object) -> Config:
    config = Config()
    for dotted, value in changes.items():
        node: object = config
        parts = dotted.split("__")
        for part in parts[:-1]:
            node = getattr(node, part)
        setattr(node, parts[-1], value)
    return config


def run(agent: str, config: Config | None = None, model: str | None = None, **st: Any) -> Decision:
    return decide(Call(agent_raw=agent, model=model), config or Config(), EngineState(**st))


def test_default_stays_on_claude() -> None:
    d = run("executor")
    assert (d.target, d.reason, d.tier) == ("claude", "default-claude", "medium")


def test_routing_disabled_wins_over_everything() -> None:
    d = run("explore", conf(routing__enabled=False), fallback_active=True, mode="hulw")
    assert d.reason == "routing-disabled"


@pytest.mark.parametrize("agent", ["statusline-setup", "output-style-setup", "claude-code-guide"])
def test_claude_utility_agents_stay(agent: str) -> None:
    assert run(agent, fallback_active=True).reason == "claude-utility-agent"


def test_pinned_claude_beats_fallback_and_namespace_is_stripped() -> None:
    d = run("oh-my-claudecode:Architect", fallback_active=True)
    assert (d.agent, d.reason, d.target) == ("architect", "pinned-claude", "claude")


def test_pin_by_agent_override_provider_claude() -> None:
    config = Config(agents={"explore": AgentOverride(provider="claude")})
    assert run("explore", config, fallback_active=True).reason == "pinned-claude"


def test_pinned_provider_routes_even_without_mode() -> None:
    assert run("oh-my-claudecode:researcher").reason == "default-claude"
    d = run("oh-my-claudecode:researcher", conf(routing__prefer_providers=["Researcher"]))
    assert (d.target, d.reason) == ("providers", "pinned-provider")
    assert [r.provider for r in d.routes] == ["codex", "opencode", "gemini"]
    assert {r.sandbox for r in d.routes} == {"read-only"}


def test_fallback_routes_every_tier_and_high_gets_the_strongest_model() -> None:
    d = run("code-reviewer", fallback_active=True)
    assert (d.target, d.reason, d.tier) == ("providers", "fallback", "high")
    assert d.routes[0].provider == "codex"
    assert d.routes[0].model == Config().providers.codex.model.high
    low = run("explore-low-unknown", model="haiku", fallback_active=True)
    assert low.tier == "low"
    assert low.routes[0].provider == "gemini"
    assert low.routes[0].model == Config().providers.gemini.model.low


def test_claude_limited_routes_everything() -> None:
    assert run("planner-x", claude_limited=True).reason == "claude-limited"


@pytest.mark.parametrize(
    ("agent", "target", "reason"),
    [
        ("explore-medium", "providers", "mode-hulw"),
        ("executor-low", "providers", "mode-hulw"),
        ("critic", "claude", "tier-stays-on-claude"),
    ],
)
def test_hulw_routes_medium_and_low(agent: str, target: str, reason: str) -> None:
    d = run(agent, mode="hulw")
    assert (d.target, d.reason) == (target, reason)


def test_autopilot_routes_only_with_fusion() -> None:
    assert run("executor", mode="autopilot").reason == "default-claude"
    assert run("executor", mode="autopilot", mode_fusion=True).reason == "mode-autopilot"


@pytest.mark.parametrize(
    ("usage", "low", "medium", "high"),
    [
        (None, "ulw-below-band", "ulw-below-band", "ulw-below-band"),
        (69.9, "ulw-below-band", "ulw-below-band", "ulw-below-band"),
        (70, "mode-ulw", "tier-stays-on-claude", "tier-stays-on-claude"),
        (79.9, "mode-ulw", "tier-stays-on-claude", "tier-stays-on-claude"),
        (80, "mode-ulw", "mode-ulw", "tier-stays-on-claude"),
        (89.9, "mode-ulw", "mode-ulw", "tier-stays-on-claude"),
        (90, "mode-ulw", "mode-ulw", "mode-ulw"),
    ],
)
def test_ulw_bands(usage: float | None, low: str, medium: str, high: str) -> None:
    assert run("executor-low", mode="ulw", usage=usage).reason == low
    assert run("executor", mode="ulw", usage=usage).reason == medium
    assert run("security-reviewer", mode="ulw", usage=usage).reason == high


def test_ulw_band_follows_config() -> None:
    config = conf(routing__usage_threshold=50)
    assert run("executor-low", config, mode="ulw", usage=55).reason == "mode-ulw"
    assert run("executor", config, mode="ulw", usage=55).reason == "tier-stays-on-claude"
    assert run("executor", config, mode="ulw", usage=71).reason == "mode-ulw"


@pytest.mark.parametrize(
    ("agent", "routed"),
    [
        ("explore", True),
        ("architect-medium", True),
        ("code-reviewer-low", True),
        ("writer", True),
        ("executor", False),
        ("designer-low", False),
        ("critic", False),
    ],
)
def test_save_tokens_routes_reading_and_writing_agents(agent: str, routed: bool) -> None:
    d = run(agent, mode="save-tokens")
    assert d.routed is routed
    assert d.reason == ("mode-save-tokens" if routed else "tier-stays-on-claude")


def test_fusion_default_routes_medium_and_low() -> None:
    config = conf(fusion_default=True)
    assert run("executor-low", config).reason == "fusion-default"
    assert run("architect", config).reason == "pinned-claude"
    assert run("executor-high", config).reason == "pinned-claude"
    assert run("qa-tester-high", config).reason == "tier-stays-on-claude"


def test_mode_beats_fusion_default() -> None:
    config = conf(fusion_default=True)
    assert run("executor", config, mode="ulw", usage=10).reason == "ulw-below-band"


def test_auto_delegate_off_leaves_only_pins_and_fallback() -> None:
    config = conf(routing__auto_delegate=False)
    assert run("executor", config, mode="hulw").reason == "default-claude"
    assert run("executor", config, fallback_active=True).reason == "fallback"


@pytest.mark.parametrize(
    ("agent", "model", "tier", "source"),
    [
        ("Explore", None, "low", "agent table"),
        ("general-purpose", "opus", "medium", "agent table"),
        ("Plan", None, "high", "agent table"),
        ("my-plugin:custom-helper", "haiku", "low", "model haiku"),
        ("custom", "sonnet", "medium", "model sonnet"),
        ("custom", "opus", "high", "model opus"),
        ("custom", "fable", "high", "model fable"),
        ("custom", None, "medium", "unknown agent, default"),
    ],
)
def test_tier_resolution(agent: str, model: str | None, tier: str, source: str) -> None:
    d = run(agent, model=model)
    assert (d.tier, d.tier_source) == (tier, source)


def test_the_seed_table_has_35_agents_in_13_10_12() -> None:
    table = agents.tier_table()
    seed = {k: v for k, v in table.items() if k not in ("general-purpose", "plan")}
    assert len(seed) == 35
    assert [list(seed.values()).count(t) for t in ("high", "medium", "low")] == [13, 10, 12]


def test_agent_overrides_tier_provider_model_and_sandbox() -> None:
    config = Config(
        agents={
            "executor": AgentOverride(
                tier="low", provider="opencode", model="stub/x", sandbox="read-only"
            )
        }
    )
    d = run("executor", config, mode="hulw")
    assert d.tier == "low"
    assert d.routes[0] == engine.Route(provider="opencode", model="stub/x", sandbox="read-only")
    assert [r.provider for r in d.routes] == ["opencode", "gemini", "codex"]


def test_builders_get_write_access_readers_do_not() -> None:
    assert run("executor", mode="hulw").routes[0].sandbox == "workspace-write"
    assert run("explore", mode="hulw").routes[0].sandbox == "read-only"


def test_unavailable_and_disabled_providers_are_skipped_with_reasons() -> None:
    config = conf(providers__gemini__enabled=False)
    d = run(
        "explore",
        config,
        mode="hulw",
        health={"codex": Health(available=False, reason="rate-limited for 12m")},
    )
    assert [r.provider for r in d.routes] == ["opencode"]
    assert d.skipped == {"gemini": "disabled in config", "codex": "rate-limited for 12m"}


def test_no_provider_left_stays_on_claude_with_reasons() -> None:
    down = Health(available=False, reason="not installed")
    d = run("explore", mode="hulw", health={p: down for p in ("codex", "gemini", "opencode")})
    assert (d.target, d.reason) == ("claude", "no-provider-available")
    assert d.skipped == {
        "gemini": "not installed",
        "codex": "not installed",
        "opencode": "not installed",
    }


@pytest.mark.parametrize(
    ("strategy", "balance", "order"),
    [
        ("priority", {}, ["codex", "opencode", "gemini"]),
        ("round-robin", {"turn": 1}, ["opencode", "gemini", "codex"]),
        ("weighted", {"draw": 0.9}, ["opencode", "codex", "gemini"]),
        ("weighted", {"draw": 0.1}, ["codex", "opencode", "gemini"]),
        ("latency", {"latency": {"gemini": 1.0, "codex": 3.0}}, ["gemini", "codex", "opencode"]),
        (
            "usage",
            {"tokens": {"codex": 500, "opencode": 10, "gemini": 99}},
            ["opencode", "gemini", "codex"],
        ),
    ],
)
def test_balancing_strategies_order_the_chain(
    strategy: str, balance: dict[str, Any], order: list[str]
) -> None:
    config = conf(balancing__strategy=strategy)
    config.balancing.weights = {"codex": 1.0, "opencode": 1.0, "gemini": 0.0}
    d = run("executor", config, mode="hulw", balance=engine.Balance(**balance))
    assert [r.provider for r in d.routes] == order


def test_every_reason_code_is_documented() -> None:
    import inspect

    source = inspect.getsource(engine)
    used = set(__import__("re").findall(r'(?:stay|route)\("([a-z-]+)"', source))
    used |= {"no-provider-available", "mode-autopilot"}
    assert used <= set(engine.REASONS)


def test_every_reason_code_is_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    missing = [code for code in engine.REASONS if f"| `{code}` |" not in readme]
    assert not missing, f"README's reason-code table lacks {missing}"

"""The routing decision: does this subagent call stay on Claude or go to a provider?

:func:`decide` is pure: the clock, Claude's usage, the session's mode and each
provider's health arrive in :class:`EngineState`; nothing is read from files,
the environment or the clock. The first matching rule wins, and every outcome
carries a stable reason code (listed in :data:`REASONS` and in the README).
"""

from __future__ import annotations

from omcm.core.records import Record
from omcm.providers import REGISTERED
from omcm.routing import agents
from omcm.routing.modes import MODES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from omcm.config import Config

CLAUDE, PROVIDER = "claude", "providers"

REASONS: dict[str, str] = {
    "routing-disabled": "routing.enabled is false",
    "claude-utility-agent": "a Claude Code utility agent (it configures Claude Code itself)",
    "pinned-claude": "the agent is pinned to Claude (routing.prefer_claude or [agents.X])",
    "pinned-provider": "the agent is pinned to providers (routing.prefer_providers)",
    "claude-limited": "Claude rejected a request for its usage limit; until it resets "
    "every tier goes to providers",
    "fallback": "Claude's usage reached `threshold`; every tier goes to providers until it "
    "is back under `recovery_threshold`",
    **{mode.reason: f"{mode.name} mode: {mode.summary}" for mode in MODES.values()},
    "fusion-default": "fusion_default routes MEDIUM and LOW agents",
    "requested": "OMCM was asked to run the task itself (omcm run, omcm batch)",
    "tier-stays-on-claude": "the active rule does not route this agent's tier",
    "ulw-below-band": "ulw mode, but Claude usage is under routing.usage_threshold or unknown",
    "default-claude": "no rule routes this call",
    "no-provider-available": "a rule routes this call, but every provider is disabled or "
    "unavailable",
}


class Call(Record):
    """The subagent call being decided."""

    agent_raw: str
    model: str | None = None


class Health(Record):
    """Whether a provider can be tried now, and if not, why."""

    available: bool = True
    reason: str = ""


class Balance(Record):
    """Inputs of the balancing strategies (state kept by the caller)."""

    turn: int = 0  # round-robin position
    draw: float = 0.0  # a uniform number in [0, 1) for the weighted strategy
    latency: dict[str, float] = {}  # seconds, moving average per provider
    tokens: dict[str, int] = {}  # tokens used per provider


class EngineState(Record):
    """Everything outside the call and the config that the decision depends on."""

    fallback_active: bool = False
    claude_limited: bool = False
    usage: float | None = None  # Claude's usage %, the larger fresh window; None: unknown
    mode: str = ""  # "", "hulw", "ulw", "autopilot", "save-tokens"
    mode_fusion: bool = False  # autopilot asked for fusion
    health: dict[str, Health] = {}
    balance: Balance = Balance()


class Route(Record):
    provider: str
    model: str
    sandbox: str


class Decision(Record):
    target: str  # CLAUDE or PROVIDER
    reason: str  # a key of REASONS
    agent: str
    agent_raw: str
    tier: str
    tier_source: str
    role: str
    routes: list[Route] = []
    skipped: dict[str, str] = {}  # provider -> why it was left out

    @property
    def routed(self) -> bool:
        return self.target == PROVIDER

    def explain(self) -> str:
        return REASONS.get(self.reason, self.reason)


def decide(call: Call, config: Config, st: EngineState) -> Decision:
    agent = agents.normalise(call.agent_raw)
    override = config.agents.get(agent)
    tier, tier_source = agents.tier_of(agent, call.model)
    if override and override.tier:
        tier, tier_source = override.tier, f"[agents.{agent}] tier"
    role = agents.role_of(agent)

    def made(target: str, reason: str, routes: list[Route], skipped: dict[str, str]) -> Decision:
        return Decision(
            target=target,
            reason=reason,
            agent=agent,
            agent_raw=call.agent_raw,
            tier=tier,
            tier_source=tier_source,
            role=role,
            routes=routes,
            skipped=skipped,
        )

    def stay(reason: str) -> Decision:
        return made(CLAUDE, reason, [], {})

    def route(reason: str, model_tier: str = tier) -> Decision:
        routes, skipped = _routes(agent, tier, model_tier, config, st)
        if not routes:
            return made(CLAUDE, "no-provider-available", [], skipped)
        return made(PROVIDER, reason, routes, skipped)

    routing = config.routing
    if not routing.enabled:
        return stay("routing-disabled")
    if agent in agents.CLAUDE_UTILITY_AGENTS:
        return stay("claude-utility-agent")
    if agents.pinned_to_claude(agent, config):
        return stay("pinned-claude")
    if agent in agents.names_of(routing.prefer_providers):
        return route("pinned-provider")
    if st.claude_limited:
        return route("claude-limited", agents.HIGH if tier == agents.HIGH else tier)
    if st.fallback_active:
        return route("fallback", agents.HIGH if tier == agents.HIGH else tier)
    if not routing.auto_delegate:
        return stay("default-claude")
    mode = MODES.get(st.mode)
    if mode is not None:
        tiers = mode.tiers_at(st.usage, st.mode_fusion, routing.usage_threshold, config.threshold)
        if tiers is not None:  # the mode decides (autopilot without fusion leaves it below)
            if not tiers:
                return stay("ulw-below-band" if mode.by_usage else "tier-stays-on-claude")
            routed = mode.routes(tier, role, tiers)
            return route(mode.reason) if routed else stay("tier-stays-on-claude")
    if config.fusion_default:
        medium_and_low = (agents.LOW, agents.MEDIUM)
        return route("fusion-default") if tier in medium_and_low else stay("tier-stays-on-claude")
    return stay("default-claude")


def direct(
    call: Call, config: Config, st: EngineState, provider: str = "", model: str = ""
) -> Decision:
    """Route a task someone asked OMCM itself to run (``omcm run``): whatever its tier.

    The agent's tier picks the chain (or ``provider`` alone), with the usual health
    checks; ``model`` replaces every route's model.
    """
    agent = agents.normalise(call.agent_raw)
    tier, tier_source = agents.tier_of(agent, call.model)
    override = config.agents.get(agent)
    if override and override.tier:
        tier, tier_source = override.tier, f"[agents.{agent}] tier"
    routes, skipped = _routes(agent, tier, tier, config, st, model=model)
    if provider:
        if provider not in REGISTERED:
            known = ", ".join(REGISTERED)
            skipped = {provider: f"unknown provider (one of {known})"}
            routes = []
        else:
            skipped = {p: r for p, r in skipped.items() if p == provider}
            routes = [r for r in routes if r.provider == provider]
            if not routes and provider not in skipped:  # not in the tier's chain: asked for
                routes, skipped = _routes(
                    agent, tier, tier, _only(config, provider), st, model=model
                )
    return Decision(
        target=PROVIDER if routes else CLAUDE,
        reason="requested" if routes else "no-provider-available",
        agent=agent,
        agent_raw=call.agent_raw,
        tier=tier,
        tier_source=tier_source,
        role=agents.role_of(agent),
        routes=routes,
        skipped=skipped,
    )


def _only(config: Config, provider: str) -> Config:
    """``config`` with ``provider`` as the only provider of every tier's chain."""
    changed = type(config).parse(config.dump(), "config")
    for tier in (agents.LOW, agents.MEDIUM, agents.HIGH):
        setattr(changed.routing.chains, tier, [provider])
    return changed


def _routes(
    agent: str, tier: str, model_tier: str, config: Config, st: EngineState, *, model: str = ""
) -> tuple[list[Route], dict[str, str]]:
    """The chain's routes for ``agent`` and the providers left out, with why; ``model``
    (someone asked for it) replaces every provider's own."""
    override = config.agents.get(agent)
    chain = list(getattr(config.routing.chains, tier))
    if override and override.provider in REGISTERED:
        chain = [override.provider, *[p for p in chain if p != override.provider]]
    elif config.balancing.strategy != "priority":
        chain = _balance(chain, config, st.balance)
    role = agents.role_of(agent)
    sandbox = "read-only" if role in agents.READ_ONLY_ROLES else "workspace-write"
    if override and override.sandbox:
        sandbox = override.sandbox
    from omcm.providers import PROVIDERS as REGISTRY

    routes, skipped = [], {}
    for name in dict.fromkeys(chain):
        provider = config.providers[name]
        health = st.health.get(name, Health())
        chosen = (
            model
            or (override.model if override and override.model else "")
            or getattr(provider.model, model_tier)
        )
        if not provider.enabled:
            skipped[name] = "disabled in config"
        elif not chosen and REGISTRY[name].needs_model:
            skipped[name] = f"no model named for the {model_tier} tier ([providers.{name}.model])"
        elif not health.available:
            skipped[name] = health.reason or "unavailable"
        else:
            routes.append(Route(provider=name, model=chosen, sandbox=sandbox))
    return routes, skipped


def _balance(chain: list[str], config: Config, balance: Balance) -> list[str]:
    strategy = config.balancing.strategy
    if not chain:
        return chain
    if strategy == "round-robin":
        turn = balance.turn % len(chain)
        return chain[turn:] + chain[:turn]
    if strategy == "weighted":
        weights = [max(0.0, config.balancing.weights.get(p, 1.0)) for p in chain]
        total = sum(weights)
        if total <= 0:
            return chain
        point, cumulative = balance.draw * total, 0.0
        for index, weight in enumerate(weights):
            cumulative += weight
            if point < cumulative:
                return [chain[index], *chain[:index], *chain[index + 1 :]]
        return chain
    if strategy == "latency":
        return sorted(chain, key=lambda p: balance.latency.get(p, float("inf")))
    if strategy == "usage":
        return sorted(chain, key=lambda p: balance.tokens.get(p, 0))
    return chain

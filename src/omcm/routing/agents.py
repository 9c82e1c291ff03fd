"""Subagent names: tiers, roles and what they may touch.

The tier table is the original OMCM's 35 agents (oh-my-claudecode's names)
plus Claude Code's built-ins. A role says what an agent does; it decides the
provider's sandbox (agents that only read run read-only) and which agents the
``save-tokens`` mode routes.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from omcm.config import Config

HIGH, MEDIUM, LOW = "high", "medium", "low"

# role: explore | analysis | planning | review | writing | build (modes.MODES may route by role)
_AGENTS: dict[str, tuple[str, str]] = {
    # HIGH: stays on Claude unless fallback routes every tier
    "architect": (HIGH, "analysis"),
    "planner": (HIGH, "planning"),
    "critic": (HIGH, "review"),
    "analyst": (HIGH, "analysis"),
    "executor-high": (HIGH, "build"),
    "explore-high": (HIGH, "explore"),
    "designer-high": (HIGH, "build"),
    "qa-tester-high": (HIGH, "build"),
    "security-reviewer": (HIGH, "review"),
    "code-reviewer": (HIGH, "review"),
    "scientist-high": (HIGH, "analysis"),
    "researcher-high": (HIGH, "analysis"),
    "build-fixer-high": (HIGH, "build"),
    # MEDIUM: a Codex-class model
    "architect-medium": (MEDIUM, "analysis"),
    "executor": (MEDIUM, "build"),
    "explore-medium": (MEDIUM, "explore"),
    "researcher": (MEDIUM, "analysis"),
    "designer": (MEDIUM, "build"),
    "vision": (MEDIUM, "analysis"),
    "qa-tester": (MEDIUM, "build"),
    "scientist": (MEDIUM, "analysis"),
    "build-fixer": (MEDIUM, "build"),
    "tdd-guide": (MEDIUM, "build"),
    # LOW: a Gemini-Flash-class model
    "architect-low": (LOW, "analysis"),
    "executor-low": (LOW, "build"),
    "explore": (LOW, "explore"),
    "writer": (LOW, "writing"),
    "designer-low": (LOW, "build"),
    "researcher-low": (LOW, "analysis"),
    "security-reviewer-low": (LOW, "review"),
    "build-fixer-low": (LOW, "build"),
    "code-reviewer-low": (LOW, "review"),
    "tdd-guide-low": (LOW, "build"),
    "scientist-low": (LOW, "analysis"),
    "qa-tester-low": (LOW, "build"),
    # Claude Code's built-in agents ("Explore" normalises to "explore" above)
    "general-purpose": (MEDIUM, "build"),
    "plan": (HIGH, "planning"),
}

#: Claude Code's own utility agents: they configure Claude Code itself.
CLAUDE_UTILITY_AGENTS = frozenset(
    {"statusline-setup", "output-style-setup", "claude-code-guide", "claude"}
)

READ_ONLY_ROLES = frozenset({"explore", "analysis", "planning", "review"})
MODEL_TIERS = {"haiku": LOW, "sonnet": MEDIUM, "opus": HIGH, "fable": HIGH}


def normalise(subagent_type: str) -> str:
    """``oh-my-claudecode:Explore`` → ``explore``: no plugin namespace, lower case."""
    name = subagent_type.strip().rsplit(":", 1)[-1]
    return name.strip().lower() or "general-purpose"


def known(agent: str) -> bool:
    return agent in _AGENTS


def tier_of(agent: str, model: str | None) -> tuple[str, str]:
    """(tier, how it was found) for a normalised agent name and the call's ``model``."""
    if agent in _AGENTS:
        return _AGENTS[agent][0], "agent table"
    if model and model.lower() in MODEL_TIERS:
        return MODEL_TIERS[model.lower()], f"model {model.lower()}"
    return MEDIUM, "unknown agent, default"


def role_of(agent: str) -> str:
    """The agent's role; unknown agents count as builders (they may change code)."""
    entry = _AGENTS.get(agent)
    return entry[1] if entry else "build"


def tier_table() -> dict[str, str]:
    return {name: tier for name, (tier, _role) in _AGENTS.items()}


def pinned_to_claude(agent: str, config: Config) -> bool:
    """``routing.prefer_claude`` or ``[agents.NAME] provider = "claude"`` keeps it on Claude."""
    override = config.agents.get(agent)
    return agent in names_of(config.routing.prefer_claude) or bool(
        override and override.provider == "claude"
    )


def names_of(names: list[str]) -> set[str]:
    """The agents named, normalised as :func:`normalise` does."""
    return {normalise(name) for name in names}

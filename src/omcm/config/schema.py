"""OMCM's configuration: ``config.toml`` in the config dir, and its schema.

The schema is declared once, below, as records: their annotations and defaults
are the contract, ``DOCS`` says what each key means and ``RULES`` bounds its
values. :mod:`omcm.config.validate` turns the same classes into pydantic models
(``extra="forbid"``) that validate the user's file and word the errors; hooks
read a validated snapshot (``config-cache.json`` in the state dir) so their hot
path needs neither tomllib nor pydantic. A missing file means the defaults.
"""

from __future__ import annotations

from omcm.core.errors import ConfigError
from omcm.core.records import Record, RecordError, Section, _compile, _Spec
from omcm.providers import REGISTERED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Self

    from omcm.providers.base import ProviderSettings

TIERS = ("low", "medium", "high")
#: The severities of a review finding, gravest first (the review format in the README).
SEVERITIES = ("critical", "high", "medium", "low", "info")


class ProvidersConfig(Section):
    """``[providers]``: one table per registered provider, declared by its module.

    Read lazily: its tables are parsed, and the provider modules imported, when a
    provider's settings are first looked at. A hook that keeps a call on Claude
    never does, so it never pays for them.
    """

    _raw: dict[str, Any] | None
    _where: str

    def __init__(self, **values: Any) -> None:
        object.__setattr__(self, "_raw", {})
        object.__setattr__(self, "_where", "providers")
        if values:
            self._materialise(values)

    @classmethod
    def _specs(cls) -> tuple[_Spec, ...]:
        specs: tuple[_Spec, ...] | None = cls.__dict__.get("_declared")
        if specs is None:
            from omcm.providers import PROVIDERS as REGISTRY

            kinds = {name: type(p.defaults) for name, p in REGISTRY.items()}
            specs = tuple(
                _Spec(name, _compile(kind.__name__, {kind.__name__: kind}), REGISTRY[name].defaults)
                for name, kind in kinds.items()
            )
            cls.__annotations__ = dict(kinds)  # for the pydantic schema (no class attributes:
            cls.DOCS = {n: p.summary for n, p in REGISTRY.items()}  # they would be shared)
            cls._declared = specs  # type: ignore[attr-defined]
        return specs

    @classmethod
    def _from(cls, data: dict[str, Any], prefix: str, problems: list[tuple[str, str]]) -> Self:
        found = cls.__new__(cls)
        object.__setattr__(found, "_raw", dict(data))
        object.__setattr__(found, "_where", prefix or "providers")
        return found

    def _copy(self) -> ProvidersConfig:
        if self._raw is None:
            return type(self)._from(self.dump(), self._where, [])
        return type(self)._from(self._raw, self._where, [])

    def _materialise(self, values: dict[str, Any] | None = None) -> None:
        """Parse the tables now (once); a value that does not fit is a :class:`ConfigError`."""
        raw = self._raw if values is None else {k: _plain(v) for k, v in values.items()}
        if raw is None:
            return
        problems: list[tuple[str, str]] = []
        parsed = Record._from.__func__(type(self), raw, self._where, problems)  # type: ignore[attr-defined]
        if problems:
            raise ConfigError(str(RecordError("config", problems)))
        for spec in self._specs():
            object.__setattr__(self, spec.name, getattr(parsed, spec.name))
        object.__setattr__(self, "_raw", None)

    def __getattr__(self, name: str) -> ProviderSettings:
        if name.startswith("_") or self.__dict__.get("_raw") is None:
            raise AttributeError(name)
        self._materialise()
        settings: ProviderSettings = object.__getattribute__(self, name)
        return settings

    def __getitem__(self, name: str) -> ProviderSettings:
        settings: ProviderSettings = getattr(self, name)
        return settings

    def dump(self) -> dict[str, Any]:
        self._materialise()
        return super().dump()


class TierChains(Section):
    DOCS = {
        "low": "Providers tried, in order, for LOW-tier agents (then Claude).",
        "medium": "Providers tried, in order, for MEDIUM-tier agents.",
        "high": "Providers tried, in order, for HIGH-tier agents (only under fallback or a pin).",
    }
    RULES = {tier: {"choices": REGISTERED} for tier in TIERS}
    low: list[str] = ["gemini", "codex", "opencode"]
    medium: list[str] = ["codex", "opencode", "gemini"]
    high: list[str] = ["codex", "opencode", "gemini"]

    def named(self) -> list[str]:
        """Every provider some tier's chain names, in the order first named."""
        return list(dict.fromkeys([*self.low, *self.medium, *self.high]))


class RoutingConfig(Section):
    DOCS = {
        "enabled": "Master switch: false keeps every subagent call on Claude.",
        "usage_threshold": "ulw mode starts routing LOW-tier agents at this Claude usage %.",
        "max_workers": "Most provider processes running at once, across all Claude sessions.",
        "prefer_claude": "Agents that always stay on Claude.",
        "prefer_providers": 'Agents that always go to a provider (e.g. ["explore", "writer"]).',
        "auto_delegate": "Route by agent tier when a mode or fusion_default asks for routing "
        "(false: only pins and fallback route).",
        "chains": "Provider order per agent tier.",
    }
    RULES = {"usage_threshold": {"ge": 0, "le": 100}, "max_workers": {"ge": 1, "le": 32}}
    enabled: bool = True
    usage_threshold: int = 70
    max_workers: int = 3
    prefer_claude: list[str] = ["architect", "executor-high", "planner"]
    prefer_providers: list[str] = []
    auto_delegate: bool = True
    chains: TierChains = TierChains()


class AgentOverride(Section):
    DOCS = {
        "tier": "Tier to treat the agent as (low, medium, high).",
        "provider": "Provider to try first (codex, gemini, opencode), or `claude` to pin it.",
        "model": "Model to pass instead of the provider's model for the tier.",
        "sandbox": "`read-only` or `workspace-write` instead of the agent's default.",
    }
    RULES = {
        "tier": {"choices": ("", *TIERS)},
        "provider": {"choices": ("", *REGISTERED, "claude")},
        "sandbox": {"choices": ("", "read-only", "workspace-write")},
    }
    tier: str = ""
    provider: str = ""
    model: str = ""
    sandbox: str = ""


class DelegationConfig(Section):
    DOCS = {
        "hook_budget": "Seconds one routed subagent call may take in all (attempts, retries, "
        "waiting for a worker slot); below the hook's own timeout in hooks/hooks.json.",
        "max_answer_chars": "Longer answers are cut here for Claude; the full text is saved.",
        "repeat_window": "Seconds an identical call (same session, agent and prompt) is "
        "answered from the stored answer instead of a new run (0: never).",
        "retry": "Retry a provider once after a timeout or crash when the budget allows.",
        "circuit_failures": "Consecutive failures after which a provider is skipped for a while.",
        "circuit_seconds": "How long a provider is skipped after `circuit_failures` failures.",
        "rate_limit_cooldown": "Seconds a rate-limited provider is skipped when its CLI "
        "gives no reset time.",
        "relay": "Hand a routed subagent call answered in the hook back as the subagent's "
        "ordinary result (through the plugin's relay agent: one small Claude request) where "
        "Claude Code allows it (2.1.197+, calls in the foreground); false: as a hook's deny.",
    }
    RULES = {
        "hook_budget": {"ge": 30, "le": 1700},
        "max_answer_chars": {"ge": 1000, "le": 10_000_000},
        "repeat_window": {"ge": 0, "le": 86400},
        "circuit_failures": {"ge": 1, "le": 100},
        "circuit_seconds": {"ge": 0, "le": 86400},
        "rate_limit_cooldown": {"ge": 0, "le": 86400},
    }
    hook_budget: int = 1500
    max_answer_chars: int = 40000
    repeat_window: int = 600
    retry: bool = True
    circuit_failures: int = 3
    circuit_seconds: int = 300
    rate_limit_cooldown: int = 900
    relay: bool = True


class AutopilotConfig(Section):
    DOCS = {
        "max_continuations": "While autopilot has open todos, the Stop hook continues the "
        "session at most this many times in a row.",
    }
    RULES = {"max_continuations": {"ge": 0, "le": 100}}
    max_continuations: int = 5


class WebhookConfig(Section):
    DOCS = {
        "url": "Where to POST one message when a job ends (empty: no webhook, unless `url_env` "
        "names a variable that is set).",
        "url_env": "The name of an environment variable holding the URL (it wins when set), so a "
        "secret URL stays out of this file.",
        "format": "`json` (the job's fields) or `slack` (a Slack incoming-webhook message).",
        "jobs": "Which jobs post: `outside-claude` (started from a terminal, a git hook or a "
        "schedule) or `all` (the jobs of Claude's routed subagent calls too).",
        "timeout": "Seconds one POST may take.",
        "retries": "POSTs tried again after a failed one (then the job's event log says why).",
    }
    RULES = {
        "format": {"choices": ("json", "slack")},
        "jobs": {"choices": ("outside-claude", "all")},
        "timeout": {"ge": 1, "le": 60},
        "retries": {"ge": 0, "le": 5},
    }
    url: str = ""
    url_env: str = ""
    format: str = "json"
    jobs: str = "outside-claude"
    timeout: int = 5
    retries: int = 2


class ReviewConfig(Section):
    DOCS = {
        "provider": "Who reviews: a provider name; empty: the local Ollama model if one is "
        "named, else the first ready provider of the LOW tier's chain.",
        "block_on": "The lowest severity that fails a commit or blocks a stop (critical, high, "
        "medium, low, info).",
        "max_diff_kb": "The most diff sent for one review, in KB; files beyond it are listed as "
        "not reviewed.",
        "timeout": "Seconds one review may take in all; a review that runs out of time follows "
        "`on_error` in a git hook and lets the stop through at the gate.",
        "on_error": "A review that could not be done or read: `fail` (the commit fails; the "
        "gate blocks the stop once, asking Claude to check its change itself) or `pass`.",
        "gate": "The review gate at Stop: false (off; `/omcm:review-gate on` turns it on per "
        "session), true (`provider` reviews each turn's change) or a provider name.",
        "gate_max_blocks": "The gate blocks at most this many stops in a row; then it lets the "
        "stop through and says so.",
    }
    RULES = {
        "provider": {"choices": ("", *REGISTERED)},
        "block_on": {"choices": SEVERITIES},
        "max_diff_kb": {"ge": 1, "le": 10240},
        "timeout": {"ge": 10, "le": 3600},
        "on_error": {"choices": ("fail", "pass")},
        "gate_max_blocks": {"ge": 1, "le": 7},
    }
    provider: str = ""
    block_on: str = "high"
    max_diff_kb: int = 200
    timeout: int = 300
    on_error: str = "fail"
    gate: bool | str = False
    gate_max_blocks: int = 2

    def gate_provider(self, session_switch: str = "") -> str | None:
        """Who reviews at the gate: None when it is off (``session_switch``: a session's
        ``/omcm:review-gate on|off``, "" to follow this table); "" for :attr:`provider`'s
        choice, else a provider name."""
        if session_switch == "off" or (session_switch != "on" and self.gate is False):
            return None
        if isinstance(self.gate, str) and self.gate:
            return self.gate
        return self.provider


class JobsConfig(Section):
    DOCS = {
        "background": "Run a routed subagent call that Claude Code sends to the background "
        "(Claude Code 2.1.198+) as a background job; false answers it in the hook, blocking.",
        "timeout": "Seconds one job may run in all (attempts, retries, waiting for a worker "
        "slot) before it is stopped as timed out; below the delivery hook's timeout in "
        "hooks/hooks.json.",
        "keep_days": "Finished jobs are kept this many days.",
        "keep": "At most this many finished jobs are kept (the oldest go first).",
        "notify": "A desktop notification (notify-send, osascript) when a job started from a "
        "terminal ends.",
        "webhook": "A message to a web hook (Slack or any JSON receiver) when a job ends.",
    }
    RULES = {
        "timeout": {"ge": 30, "le": 7000},
        "keep_days": {"ge": 0, "le": 3650},
        "keep": {"ge": 0, "le": 100_000},
    }
    background: bool = True
    timeout: int = 3600
    keep_days: int = 7
    keep: int = 200
    notify: bool = False
    webhook: WebhookConfig = WebhookConfig()


#: The MCP server's tools (``omcm.mcp``), in the order Claude sees them.
MCP_TOOLS = ("ask", "consensus", "jobs", "result", "cancel")


class McpConfig(Section):
    DOCS = {
        "enabled": "Offer OMCM's MCP tools (ask, consensus, jobs, result, cancel) to Claude "
        "Code; false: the plugin's MCP server offers none.",
        "tools": "The tools Claude sees; each one's name, description and schema cost Claude "
        "tokens on every request.",
        "consensus_max": "Most providers one `consensus` call asks (by default every ready "
        "provider, up to this many).",
        "timeout": "Seconds one `ask` or `consensus` answered in the call may run in all; "
        "a background `ask` has `jobs.timeout`.",
        "file_chars": "Characters of the files an `ask` names that go into the prompt; "
        "files past it are named by path for the provider to read.",
        "allow": "Let the tools run without a permission prompt (they do what a routed "
        "subagent call does, which asks none); false: Claude Code asks as for any MCP tool.",
    }
    RULES = {
        "tools": {"choices": MCP_TOOLS},
        "consensus_max": {"ge": 2, "le": 8},
        "timeout": {"ge": 30, "le": 7000},
        "file_chars": {"ge": 0, "le": 10_000_000},
    }
    enabled: bool = True
    tools: list[str] = list(MCP_TOOLS)
    consensus_max: int = 3
    timeout: int = 1800
    file_chars: int = 60000
    allow: bool = True


class ContextConfig(Section):
    DOCS = {
        "include_recent_files": "Put recently modified files in the handoff context.",
        "recent_files_limit": "At most this many recent files.",
        "include_todos": "Put the session's open todos in the handoff context.",
        "include_decisions": "Put `.omcm/notes/decisions.md` in the handoff context.",
        "max_context_length": "Characters of handoff context sent at most.",
    }
    RULES = {
        "recent_files_limit": {"ge": 0, "le": 1000},
        "max_context_length": {"ge": 0, "le": 10_000_000},
    }
    include_recent_files: bool = True
    recent_files_limit: int = 10
    include_todos: bool = True
    include_decisions: bool = True
    max_context_length: int = 50000


class NotificationsConfig(Section):
    DOCS = {
        "show_on_threshold": "Tell the user when fallback switches on or off.",
        "show_on_keyword": "Tell the user when a keyword sets a mode.",
        "quiet_mode": "Show only failures.",
    }
    show_on_threshold: bool = True
    show_on_keyword: bool = True
    quiet_mode: bool = False


class BalancingConfig(Section):
    DOCS = {
        "strategy": "How to order providers of equal standing: `priority` keeps the tier's "
        "chain order; `round-robin`, `weighted`, `latency` and `usage` reorder it.",
        "weights": "Provider weights for the `weighted` strategy.",
    }
    RULES = {"strategy": {"choices": ("priority", "round-robin", "weighted", "latency", "usage")}}
    strategy: str = "priority"
    weights: dict[str, float] = {"codex": 2.0, "gemini": 2.0, "opencode": 1.0}


def _plain(value: object) -> object:
    return value.dump() if isinstance(value, Record) else value


class PriceOverride(Section):
    DOCS = {
        "input": "USD per million input tokens.",
        "cached_input": "USD per million cached input tokens (default: the input price).",
        "output": "USD per million output tokens (reasoning included).",
        "source": "Where the figures come from (a URL or a note): shown with every cost.",
    }
    RULES = {"input": {"ge": 0}, "cached_input": {"ge": 0}, "output": {"ge": 0}}
    input: float
    cached_input: float | None = None
    output: float
    source: str


class Config(Section):
    DOCS = {
        "fusion_default": "Route MEDIUM and LOW agents to providers in every session.",
        "threshold": "Claude 5-hour or weekly usage % at which fallback routes every tier.",
        "recovery_threshold": "Fallback ends when usage is back below this %.",
        "auto_handoff": "When Claude rejects a request for its limit, write the handoff "
        "context and print the command to continue elsewhere.",
        "keywords": "Words in a prompt that ask for a handoff to another CLI.",
        "routing": "When and where subagent calls are routed.",
        "context": "What the handoff context holds.",
        "providers": "The provider CLIs.",
        "notifications": "What OMCM tells the user.",
        "balancing": "Choice among providers of one tier.",
        "agents": 'Per-agent overrides, e.g. `[agents.explore] provider = "codex"`.',
        "delegation": "How a routed call runs: time budget, answer size, repeats, failures.",
        "autopilot": "How autopilot keeps a session going.",
        "jobs": "Background jobs: routed subagent calls that run on after the hook.",
        "review": "Code review by a provider: the pre-commit hook, `omcm review` and the "
        "review gate at Stop.",
        "mcp": "The MCP server's tools: asking providers on purpose.",
        "prices": 'Prices for models genai-prices lacks: `[prices."codex/my-model"] input = '
        '1.25`, `output = 10.0`, `source = "…"` (USD per million tokens; `claude/MODEL` for '
        "Claude).",
    }
    RULES = {"threshold": {"ge": 1, "le": 100}, "recovery_threshold": {"ge": 0, "le": 100}}
    fusion_default: bool = False
    threshold: int = 90
    recovery_threshold: int = 85
    auto_handoff: bool = False
    keywords: list[str] = ["opencode", "handoff", "전환"]
    routing: RoutingConfig = RoutingConfig()
    context: ContextConfig = ContextConfig()
    providers: ProvidersConfig = ProvidersConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    balancing: BalancingConfig = BalancingConfig()
    agents: dict[str, AgentOverride] = {}
    delegation: DelegationConfig = DelegationConfig()
    autopilot: AutopilotConfig = AutopilotConfig()
    jobs: JobsConfig = JobsConfig()
    review: ReviewConfig = ReviewConfig()
    mcp: McpConfig = McpConfig()
    prices: dict[str, PriceOverride] = {}

"""What a provider module declares, and the shapes every provider shares.

A provider is one module in this package with one :class:`Provider` object,
``PROVIDER``, listed in :data:`omcm.providers.REGISTERED`. The object says
everything OMCM needs to know about its CLI: its name, label, HUD label and
install command; its ``config.toml`` table (a :class:`ProviderSettings` subclass
with its defaults: command, models per tier, timeout, anything of its own); how
to tell whether it is logged in and healthy; how to turn a :class:`ProviderRequest`
into an argv + stdin (real flags only, see the README's provider notes) and the
finished process (:class:`omcm.core.proc.ProcResult`) into a :class:`ProviderResult`:
the answer, the real token usage normalised to input / cached / output /
reasoning, or a classified failure; and, optionally, its warm mode
(:class:`omcm.providers.pool.WarmServer`). Structured output is trusted over exit codes.

Config is read on every hook, so provider modules are imported on the hooks'
hot path: at import they define classes only. Parsing helpers (``re``, ``json``)
and warm-mode machinery are imported inside the functions that need them.
"""

from __future__ import annotations

from omcm.core.records import Record, Section

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from threading import Event
    from typing import Any, ClassVar, Literal

    from omcm.core.proc import ProcResult

    Sandbox = Literal["read-only", "workspace-write"]
    Outcome = Literal[
        "ok",
        "not_installed",
        "auth",
        "rate_limited",
        "timeout",
        "crash",
        "api_error",
        "no_answer",
    ]

SANDBOXES = ("read-only", "workspace-write")

#: How one attempt ended. Everything but "ok" moves on to the next provider.
OUTCOMES: dict[str, str] = {
    "ok": "answered",
    "not_installed": "the program is not on PATH / cannot be executed",
    "auth": "no login / missing or rejected API key",
    "rate_limited": "429, quota, usage limit (reset_at when the CLI says when)",
    "timeout": "killed at the provider timeout",
    "crash": "exited abnormally without a structured error",
    "api_error": "the model API answered with an error (5xx, 4xx other than auth/limit)",
    "no_answer": "ran fine but produced no answer text",
}

RETRYABLE: frozenset[str] = frozenset({"timeout", "crash"})


class Usage(Record):
    """Tokens of one run. ``input`` includes ``cached``; ``output`` includes ``reasoning``."""

    input: int = 0
    cached: int = 0
    output: int = 0
    reasoning: int = 0

    def __init__(
        self, input: int = 0, cached: int = 0, output: int = 0, reasoning: int = 0
    ) -> None:
        super().__init__(input=input, cached=cached, output=output, reasoning=reasoning)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input=self.input + other.input,
            cached=self.cached + other.cached,
            output=self.output + other.output,
            reasoning=self.reasoning + other.reasoning,
        )


class ProviderRequest(Record):
    """One subagent task for a provider."""

    prompt: str  # the full text sent: task + handoff context + sandbox line
    model: str  # "" = the CLI's own default (no -m)
    sandbox: str  # one of SANDBOXES
    cwd: str  # the project directory
    title: str = "omcm subagent task"  # a short label (opencode --title)
    extra_args: list[str] = []  # user's [providers.X].args, put before OMCM's own
    #: a JSON Schema file the final answer must fit, for CLIs that take one (codex
    #: ``--output-schema``); the others are asked for the shape in the prompt
    output_schema: str = ""


class ProviderResult(Record):
    """What one attempt produced, classified (``outcome`` is a key of :data:`OUTCOMES`)."""

    outcome: str
    answer: str = ""
    usage: Usage = Usage()
    error: str = ""  # one line, fit for the user and the log
    reset_at: float | None = None  # unix time a rate limit lifts, when the CLI says
    model: str = ""  # the model that answered, when the output names it

    def __init__(
        self,
        outcome: str,
        *,
        answer: str = "",
        usage: Usage | None = None,
        error: str = "",
        reset_at: float | None = None,
        model: str = "",
    ) -> None:
        super().__init__(
            outcome=outcome,
            answer=answer,
            usage=usage if usage is not None else Usage(),
            error=error,
            reset_at=reset_at,
            model=model,
        )


class Login(Record):
    """Whether a provider CLI can authenticate, found without a network call or a write."""

    ready: bool
    detail: str  # how it authenticates, or what is missing: "logged in using ChatGPT"
    fix: str = ""  # the exact command that fixes it, when not ready

    def __init__(self, ready: bool, detail: str, fix: str = "") -> None:
        super().__init__(ready=ready, detail=detail, fix=fix)


# -- config tables --------------------------------------------------------------


class TierModels(Section):
    DOCS = {
        "low": "Model for LOW-tier agents (passed with `-m`; empty: the CLI's own default).",
        "medium": "Model for MEDIUM-tier agents.",
        "high": "Model for HIGH-tier agents (used when fallback routes every tier).",
    }
    low: str = ""
    medium: str = ""
    high: str = ""

    def named(self) -> list[str]:
        """The models named for any tier, each once."""
        return list(dict.fromkeys(m for m in (self.low, self.medium, self.high) if m))


class ProviderSettings(Section):
    """``[providers.NAME]``: what every provider's table has."""

    DOCS = {
        "enabled": "Whether OMCM may hand work to this provider.",
        "command": "Program to run (a name on PATH or an absolute path).",
        "args": "Extra arguments put before OMCM's own (e.g. a profile).",
        "model": 'Model per agent tier, or one string (`"provider/model"`) for all three.',
        "timeout": "Seconds one run may take before it is killed with its process group.",
    }
    RULES = {"timeout": {"ge": 5, "le": 3600}}
    enabled: bool = True
    command: str = ""
    args: list[str] = []
    model: TierModels = TierModels()
    timeout: int = 300


class PoolSettings(Section):
    DOCS = {
        "min": "Warm servers kept running while the pool is in use (started with the first "
        "call, or with the session when warm is on).",
        "max": "Most warm servers at once; a call that finds them all busy runs cold.",
        "idle_shutdown": "Seconds a warm server may sit unused before it is stopped; the pool "
        "stops entirely once all its servers have.",
    }
    RULES = {"min": {"ge": 0, "le": 8}, "max": {"ge": 1, "le": 8}, "idle_shutdown": {"ge": 10}}
    min: int = 1
    max: int = 2
    idle_shutdown: int = 600


class WarmSettings(ProviderSettings):
    """The table of a provider with a warm mode."""

    DOCS = ProviderSettings.DOCS | {
        "warm": "Keep warm servers of this CLI running and hand calls to them instead of "
        "starting the CLI for each call (falls back to a cold run when the pool cannot serve).",
        "pool": "Size and lifetime of the warm pool (one pool per project directory).",
    }
    warm: bool = False
    pool: PoolSettings = PoolSettings()


# -- the provider -----------------------------------------------------------------


class Provider:
    """One coding-agent CLI. Subclasses set the class attributes and the methods."""

    name: ClassVar[str]  # the config key and the name in logs: "codex"
    label: ClassVar[str]  # shown to users and Claude: "OpenAI Codex"
    hud: ClassVar[str]  # its mark in the status line: "O"
    install: ClassVar[str]  # the command that installs it
    summary: ClassVar[str]  # one line for the config reference: "OpenAI Codex CLI (`codex exec`)."
    defaults: ClassVar[ProviderSettings]  # its [providers.NAME] table, with its defaults
    #: runs on this machine: its cost is 0 in every report
    local: ClassVar[bool] = False
    #: it has no usable default model: a tier without a named model skips it
    needs_model: ClassVar[bool] = False
    #: its ``--version`` writes files (gemini's project registry): the doctor does not run it
    version_writes: ClassVar[bool] = False
    #: the vendor of its models in genai-prices (``openai``); "" when each model names its
    #: vendor (``vendor/model``, as OpenCode's do)
    prices: ClassVar[str] = ""

    def program(self, settings: ProviderSettings) -> str:
        """The program a call runs (the configured command)."""
        return settings.command or self.name

    def login(self, settings: ProviderSettings, env: Mapping[str, str]) -> Login:
        """Whether the CLI is logged in (or has its key) for the configured models.

        No network call beyond this machine and no writes; ``env`` is the environment
        the CLI will run with.
        """
        raise NotImplementedError

    def login_files(self, settings: ProviderSettings, env: Mapping[str, str]) -> list[str] | None:
        """The files :meth:`login` reads, when it is costly enough that its verdict is kept
        until one of them changes (``None``: :meth:`login` is cheap, ask it every time)."""
        return None

    def health(
        self, settings: ProviderSettings, models: list[str], env: Mapping[str, str], now: float
    ) -> str:
        """Why the provider cannot take a call for ``models`` now ("" when it can).

        Checked only once a call is about to be routed, so it may read a file or ask a
        local server; it must answer within about a second.
        """
        return ""

    def argv(self, request: ProviderRequest, settings: ProviderSettings) -> list[str]:
        """The full argv, starting with :meth:`program`."""
        raise NotImplementedError

    def stdin(self, request: ProviderRequest) -> str | None:
        """What to write on stdin before closing it (``None``: /dev/null).

        By default the whole prompt: argv strings are capped at 128 KiB.
        """
        return request.prompt

    def server_env(self, settings: ProviderSettings) -> dict[str, str]:
        """Variables every process of the CLI gets, a warm server's too: what no request
        changes (laid over ``omcm.core.proc.child_env()``; a pool's key includes them, so
        a pool started ahead of time is the one the calls find)."""
        return {}

    def env(self, request: ProviderRequest, settings: ProviderSettings) -> dict[str, str]:
        """Variables a cold run of ``request`` gets on top of :meth:`server_env`.

        Only what the sandbox or the route needs where the CLI has no flag for it;
        never anything that hides the user's own config. A warm server applies the
        request's sandbox per session instead (:meth:`WarmServer.call`).
        """
        return {}

    def cold_env(self, request: ProviderRequest, settings: ProviderSettings) -> dict[str, str]:
        """All a cold run of ``request`` lays over ``omcm.core.proc.child_env()``."""
        return self.server_env(settings) | self.env(request, settings)

    def progress(self, line: str) -> str:
        """What one line of the CLI's output, as it comes, says it is doing ("" for none):
        ``running: pytest -q``. Only CLIs that stream events have any."""
        return ""

    def parse(self, result: ProcResult, now: float) -> ProviderResult:
        """Classify a finished run; ``now`` anchors relative reset hints ("retry in 30s")."""
        raise NotImplementedError

    def warm(self, settings: ProviderSettings) -> type[WarmServer] | None:
        """Its warm mode (a :class:`WarmServer` class) for these settings, or None."""
        return None

    def report(self, settings: ProviderSettings, env: Mapping[str, str], now: float) -> list[str]:
        """Lines of its own for ``omcm status`` (its own usage limits, say)."""
        return []


class WarmError(Exception):
    """A warm server could not start or serve; the message says why (one line)."""


class WarmServer:
    """One long-running process of a provider CLI that runs many calls, one at a time.

    A pool supervisor (:mod:`omcm.providers.pool`) owns it: it calls :meth:`start` once,
    then :meth:`call` for each routed call given to it, :meth:`check` now and
    then while it is idle, and :meth:`close` to stop it. Every call gets a fresh
    session of the CLI (no context from an earlier call) with the request's
    sandbox, in the one project directory the server was started for.
    Subclasses set ``process`` (an :class:`omcm.providers.warm.Process`) in
    ``__init__``.
    """

    process: Any

    def __init__(
        self, settings: ProviderSettings, project: str, env: dict[str, str], log: str
    ) -> None:
        self.settings = settings
        self.project = project
        self.env = env
        self.log = log  # a file for the process's stderr

    @property
    def pid(self) -> int | None:
        """The process id (its group leader), once started."""
        pid: int | None = self.process.pid
        return pid

    def alive(self) -> bool:
        return bool(self.process.alive())

    def start(self, timeout: float) -> None:
        """Start the process and wait until it answers; raise :class:`WarmError` if not."""
        raise NotImplementedError

    def call(self, request: ProviderRequest, timeout: float, stop: Event) -> ProviderResult:
        """Run one call in a new session; a set ``stop`` aborts it at once.

        ``timeout`` elapsing aborts it too and gives a ``timeout`` result.
        """
        raise NotImplementedError

    def check(self) -> str:
        """Why the server is unhealthy ("" when it is fine); by default, whether it runs."""
        if self.process.alive():
            return ""
        return f"{self.process.argv[0]} {self.process.exit_note()}"

    def close(self) -> None:
        """Stop the process and everything it started."""
        self.process.close()

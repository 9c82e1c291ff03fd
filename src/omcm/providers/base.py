"""What every provider CLI module offers, and the shapes they share.

A provider turns a :class:`ProviderRequest` into an argv + stdin for its CLI
(real flags only, see the README's provider notes), and turns the finished
process (:class:`omcm.proc.ProcResult`) into a :class:`ProviderResult`: the
answer, the real token usage normalised to input / cached / output / reasoning,
or a classified failure. Structured output is trusted over exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

    from omcm.proc import ProcResult

Sandbox = Literal["read-only", "workspace-write"]

#: How one attempt ended. Everything but "ok" moves on to the next provider.
Outcome = Literal[
    "ok",
    "not_installed",  # the program is not on PATH / cannot be executed
    "auth",  # no login / missing or rejected API key
    "rate_limited",  # 429, quota, usage limit (reset_at when the CLI says when)
    "timeout",  # killed at the provider timeout
    "crash",  # exited abnormally without a structured error
    "api_error",  # the model API answered with an error (5xx, 4xx other than auth/limit)
    "no_answer",  # ran fine but produced no answer text
]

RETRYABLE: frozenset[str] = frozenset({"timeout", "crash"})


@dataclass(frozen=True)
class Usage:
    """Tokens of one run. ``input`` includes ``cached``; ``output`` includes ``reasoning``."""

    input: int = 0
    cached: int = 0
    output: int = 0
    reasoning: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input + other.input,
            self.cached + other.cached,
            self.output + other.output,
            self.reasoning + other.reasoning,
        )


@dataclass(frozen=True)
class ProviderRequest:
    """One subagent task for a provider."""

    prompt: str  # the full text sent: task + handoff context + sandbox line
    model: str  # "" = the CLI's own default (no -m)
    sandbox: Sandbox
    cwd: str  # the project directory
    title: str = "omcm subagent task"  # a short label (opencode --title)
    extra_args: tuple[str, ...] = ()  # user's [providers.X].args, put before OMCM's own


@dataclass(frozen=True)
class ProviderResult:
    """What one attempt produced, classified."""

    outcome: Outcome
    answer: str = ""
    usage: Usage = field(default_factory=Usage)
    error: str = ""  # one line, fit for the user and the log
    reset_at: float | None = None  # unix time a rate limit lifts, when the CLI says
    model: str = ""  # the model that answered, when the output names it


@dataclass(frozen=True)
class Login:
    """Whether a provider CLI can authenticate, found without a network call or a write."""

    ready: bool
    detail: str  # how it authenticates, or what is missing: "logged in using ChatGPT"
    fix: str = ""  # the exact command that fixes it, when not ready


class Provider(Protocol):
    """One coding-agent CLI."""

    name: str  # "codex" | "gemini" | "opencode"
    label: str  # shown to users and Claude: "OpenAI Codex"
    install: str  # the command that installs it

    def login(
        self, command: str, args: list[str], models: list[str], env: Mapping[str, str]
    ) -> Login:
        """Whether the CLI is logged in (or has its key) for ``models``; no network, no writes.

        ``command`` and ``args`` are the configured program and its extra arguments,
        ``env`` the environment the CLI will run with.
        """

    def argv(self, command: str, request: ProviderRequest) -> list[str]:
        """The full argv; ``command`` is the configured program (name or path)."""

    def stdin(self, request: ProviderRequest) -> str | None:
        """What to write on stdin before closing it (``None``: /dev/null)."""

    def env(self, request: ProviderRequest) -> dict[str, str]:
        """Variables to lay over the child's environment (``omcm.proc.child_env(extra)``).

        Only what the sandbox needs where the CLI has no flag for it (opencode's
        read-only permissions); never anything that hides the user's own config.
        """

    def parse(self, result: ProcResult, now: float) -> ProviderResult:
        """Classify a finished run; ``now`` anchors relative reset hints ("retry in 30s")."""

"""The routed-call value every door builds once, how a run of it is controlled, what it gave.

A :class:`RoutedCall` is who asked (:class:`Source`), the task (:class:`Task`),
the engine's :class:`~omcm.routing.engine.Decision` and the config it was decided
under. :class:`Controls` (deadline, cancel, progress) travel beside it as one
record; a run gives an :class:`Outcome`. The steps over them are in
:mod:`omcm.calls.pipeline`.
"""

from __future__ import annotations

import time

from omcm.calls.routing_log import AttemptEntry, Tokens
from omcm.core.records import Record
from omcm.routing.engine import Decision

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from omcm.config import Config

#: The doors a routed call comes through (its routing-log line's ``source``).
DOORS = ("hook", "cli", "batch", "mcp", "review", "schedule")


class Source(Record):
    """Who asked: the door, and where the call came from."""

    door: str = "hook"  # one of DOORS
    session_id: str = ""  # the Claude Code session, if any
    tool_use_id: str = ""  # the subagent call's id (hook); BATCH:TASK (batch)
    tool_name: str = ""  # Agent / Task (hook), "omcm run", "omcm batch"
    cwd: str = ""  # the project the provider works in
    transcript_path: str = ""  # the session's transcript (the handoff context reads it)
    batch_id: str = ""


class Task(Record):
    """What to do: a subagent call's input, or a task handed to OMCM directly."""

    prompt: str
    description: str = ""
    agent: str = "general-purpose"  # the subagent type: it decides the tier and the chain
    model: str | None = None  # the Claude model the call named (a tier hint)
    output_schema: str = ""  # a JSON Schema file the answer must fit (codex --output-schema)

    @property
    def title(self) -> str:
        """A short name for lists: the description, else the prompt's first line."""
        first = next((line for line in self.prompt.splitlines() if line.strip()), "")
        return (self.description or first.strip())[:120]


class RoutedCall(Record):
    """One routed call, built once at its door (:func:`omcm.calls.pipeline.decide`).

    The config is the one it was decided under, and :attr:`began` this process's
    monotonic clock when its door took it (its duration counts from there);
    neither is stored with a job, whose worker reads the config anew.
    """

    source: Source
    task: Task
    decision: Decision
    mode: str = ""  # the session's mode when it was decided
    context_path: str = ""  # the handoff context written for it (pipeline.prepare)

    def bind(self, config: Config, began: float | None = None) -> RoutedCall:
        """Attach what is not stored: the config, and the clock its door started on."""
        self._config: Config = config
        self._began: float = time.monotonic() if began is None else began
        return self

    @property
    def config(self) -> Config:
        return self._config

    @property
    def began(self) -> float:
        return self._began

    @property
    def routed(self) -> bool:
        return self.decision.routed


class Step(Record):
    """One step of a run as it happens, for whoever follows it (:attr:`Controls.progress`)."""

    kind: str  # "sent": a prompt went out; "started": a provider process; "output": what it
    # says it is doing (its CLI's progress events); "ended": an attempt
    provider: str = ""
    model: str = ""
    pgid: int = 0  # "started": the provider's process group
    prompt: str = ""  # "sent": the prompt exactly as sent
    outcome: str = ""  # "ended": how the attempt ended
    text: str = ""  # "output": e.g. "running: pytest -q"


class Controls:
    """How one run is controlled, handed down whole.

    ``deadline`` (monotonic) is when the run must have ended, any margin its door
    needs already taken off. ``cancel()`` says why to stop ("" to go on); it is
    polled while a provider runs. ``progress(step)`` hears each :class:`Step`.
    ``epitaph(attempts)`` is the line the watchdog writes should this process die
    mid-run (by default, the call's own routing-log line). ``output_path`` is where
    the answer is kept (by default, beside the session's other outputs).
    """

    __slots__ = ("cancel", "deadline", "epitaph", "output_path", "progress")

    def __init__(
        self,
        deadline: float,
        *,
        cancel: Callable[[], str] | None = None,
        progress: Callable[[Step], None] | None = None,
        epitaph: Callable[[list[AttemptEntry]], str] | None = None,
        output_path: str = "",
    ) -> None:
        self.deadline = deadline
        self.cancel = cancel
        self.progress = progress
        self.epitaph = epitaph
        self.output_path = output_path

    def tell(self, kind: str, **fields: Any) -> None:
        if self.progress is not None:
            self.progress(Step(kind=kind, **fields))


class Outcome(Record):
    """What a run gave: the answer, or why there is none."""

    ended: str = "claude"  # the routing-log outcome (routing_log.OUTCOMES)
    attempts: list[AttemptEntry] = []
    provider: str = ""  # the one that answered
    model: str = ""
    tokens: Tokens = Tokens()
    text: str = ""  # the provider's whole answer
    answer_chars: int = 0
    output_path: str = ""  # where the whole answer is kept
    context_path: str = ""  # the handoff context sent along
    reason: str = ""  # why it was not answered: fell back, cancelled, timed out
    out_of_time: bool = False  # the chain stopped at its deadline
    job_id: str = ""  # a background job ran it
    duration: float = 0.0  # seconds from the door to the end
    took: float = 0.0  # seconds the answer took (a reused one: when it was first given)
    age: float = 0.0  # a reused answer: seconds since it was first given

    @property
    def answered(self) -> bool:
        return self.ended in ("routed", "cache")

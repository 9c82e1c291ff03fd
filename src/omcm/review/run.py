"""A review as a routed call: who reviews, the prompt, the job, and the verdict.

A review comes through the ``review`` door (its routing-log lines say so, with the
recipe as the tool: ``pre-commit``, ``review-gate``, ``omcm review``) and runs as a
job like any routed call (``omcm jobs`` lists it; the routing log and the counters
book it). Its answer is read against the review format (:mod:`omcm.review.findings`):

- ``pass``: no finding reaches ``review.block_on`` (the others are shown);
- ``block``: some do;
- ``error``: no provider answered, the time ran out, or the answer could not be read
  ("review could not be read"): never a pass by itself (``review.on_error`` decides);
- ``empty``: nothing to review (no provider was asked).
"""

from __future__ import annotations

import time

from omcm.config.schema import SEVERITIES
from omcm.review import findings as fmt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from omcm.calls.call import RoutedCall, Step
    from omcm.config import Config
    from omcm.jobs.store import JobRecord
    from omcm.review.diff import Diff
    from omcm.routing.engine import Call, Decision, EngineState

#: The agent a review is routed as: LOW tier (a cheap model does it), read-only sandbox.
AGENT = "code-reviewer-low"
DOOR = "review"


class Verdict:
    """What a review found, and what it means for the commit or the stop."""

    __slots__ = ("blocking", "diff", "findings", "job", "state", "why")

    def __init__(
        self,
        state: str,
        diff: Diff,
        *,
        found: list[fmt.Finding] | None = None,
        blocking: list[fmt.Finding] | None = None,
        why: str = "",
        job: JobRecord | None = None,
    ) -> None:
        self.state, self.diff, self.why, self.job = state, diff, why, job
        self.findings = fmt.ordered(found or [])
        self.blocking = fmt.ordered(blocking or [])

    @property
    def reviewer(self) -> str:
        """``codex/gpt-5.1-codex-mini``: who answered (or was asked)."""
        job = self.job
        if job is None:
            return "no provider"
        if job.provider:
            return f"{job.provider}/{job.model}" if job.model else job.provider
        first = job.routes[0] if job.routes else None
        return f"{first.provider}/{first.model or '-'}" if first else "no provider"

    def passes(self, on_error: str) -> bool:
        return self.state in ("pass", "empty") or (self.state == "error" and on_error == "pass")


def prompt(diff: Diff, project: str, *, what: str) -> str:
    """The reviewer's task: the diff, what to look for, and the one answer format."""
    left_out = (
        f"\n(Not included, over the size limit: {', '.join(diff.left_out)}.)"
        if diff.left_out
        else ""
    )
    return (
        f"Review {what} in the project at {project}: the unified diff below. Report real "
        "problems the change brings: bugs, wrong logic, crashes, security holes, data loss, "
        "broken error handling, missing updates elsewhere that the change needs. Do not "
        "report style or taste. You may read other files of the project for context, but "
        "change nothing.\n\n"
        "Answer with ONE JSON object and nothing else, exactly this shape:\n"
        f"{fmt.EXAMPLE}\n"
        f"`severity` is one of {', '.join(SEVERITIES)}; `file` is the path as in the "
        "diff; `line` is the line number in the new version of the file, or null; "
        '`message` says what is wrong and why. No problems: {"findings": []}.\n\n'
        f"<diff>\n{diff.text}</diff>{left_out}\n"
    )


def rule(provider: str) -> Callable[[Call, Config, EngineState], Decision]:
    """The routing of a review: ``provider`` alone when named; else a local Ollama model
    when one is named (it costs nothing), then the LOW tier's chain."""
    from omcm.routing import engine

    def decide(call: Call, conf: Config, st: EngineState) -> Decision:
        if provider:
            return engine.direct(call, conf, st, provider)
        chain = engine.direct(call, conf, st)
        local = _local_model(conf)
        if not local:
            return chain
        first = engine.direct(call, conf, st, "ollama", local)
        routes = [*first.routes, *(r for r in chain.routes if r.provider != "ollama")]
        first.routes = routes
        first.skipped = {**chain.skipped, **first.skipped}
        if routes and not first.routed:
            first.target, first.reason = engine.PROVIDER, "requested"
        return first

    return decide


def _local_model(conf: Config) -> str:
    ollama = conf.providers["ollama"]
    return "" if not ollama.enabled else next(iter(ollama.model.named()), "")


def call_for(
    diff: Diff,
    conf: Config,
    *,
    project: str,
    tool: str,
    what: str,
    provider: str = "",
    session_id: str = "",
) -> RoutedCall:
    """The review as a routed call through the ``review`` door."""
    from omcm.calls import pipeline
    from omcm.calls.call import Source, Task

    count = f"{len(diff.files)} file{'s' if len(diff.files) != 1 else ''}"
    task = Task(
        prompt=prompt(diff, project, what=what),
        description=f"review ({tool}): {count}, {diff.size / 1024:.1f} KB",
        agent=AGENT,
        output_schema=fmt.schema_file(),
    )
    source = Source(door=DOOR, tool_name=tool, cwd=project, session_id=session_id)
    return pipeline.decide(source, task, conf, rule(provider or conf.review.provider))


def run(
    diff: Diff,
    conf: Config,
    *,
    project: str,
    tool: str,
    what: str,
    provider: str = "",
    session_id: str = "",
    watch: Callable[[Step], None] | None = None,
) -> Verdict:
    """Review ``diff`` now, in this process, as a job within ``review.timeout``."""
    from omcm.jobs import store, worker

    if diff.empty:
        return Verdict("empty", diff)
    call = call_for(
        diff,
        conf,
        project=project,
        tool=tool,
        what=what,
        provider=provider,
        session_id=session_id,
    )
    if not call.routed:
        skipped = "; ".join(f"{p}: {why}" for p, why in call.decision.skipped.items())
        return Verdict("error", diff, why=f"no provider can review ({skipped or 'none set'})")
    job = worker.start(
        call, reason=f"review ({tool})", timeout=conf.review.timeout, spawn_now=False
    )
    ended = worker.run(job.id, watch=watch) or store.load(job.id)
    try:
        store.mark_read(job.id)  # its answer is read here: no "unread" mark in omcm jobs
    except OSError:
        pass
    return verdict_of(ended, diff, conf)


def verdict_of(record: JobRecord, diff: Diff, conf: Config) -> Verdict:
    """What a finished review job's answer says."""
    from omcm.jobs import store

    if record.state == "cancelled":
        return Verdict("cancelled", diff, why=record.reason, job=record)
    if record.state == "timed-out":
        why = f"it did not finish within review.timeout ({conf.review.timeout}s)"
        return Verdict("error", diff, why=why, job=record)
    if record.state != "done":
        return Verdict("error", diff, why=f"no provider answered ({record.reason})", job=record)
    try:
        with open(store.output_file(record.id), encoding="utf-8", errors="replace") as handle:
            answer = handle.read()
        found = fmt.read(answer)
    except OSError as exc:
        return Verdict("error", diff, why=f"its answer cannot be read ({exc})", job=record)
    except fmt.Unreadable as exc:
        return Verdict("error", diff, why=f"review could not be read: {exc}", job=record)
    blocking = fmt.at_or_above(found, conf.review.block_on)
    return Verdict(
        "block" if blocking else "pass", diff, found=found, blocking=blocking, job=record
    )


def report(verdict: Verdict, conf: Config) -> list[str]:
    """The verdict for a terminal: a head line, the findings as ``file:line: severity:
    message`` (those that block first), what was left out, and the job."""
    block_on = conf.review.block_on
    if verdict.state == "empty":
        return ["omcm review: nothing to review (no staged change in these files)"]
    lines: list[str] = []
    if verdict.state == "block":
        n = len(verdict.blocking)
        lines.append(
            f"omcm review: {verdict.reviewer} found {n} problem{'s' if n != 1 else ''} at "
            f"or above {block_on} (review.block_on):"
        )
    elif verdict.state == "pass":
        lines.append(f"omcm review: {verdict.reviewer} found nothing at or above {block_on}")
    elif verdict.state == "cancelled":
        lines.append(f"omcm review: stopped ({verdict.why})")
    else:
        outcome = (
            "passes anyway (review.on_error = pass)"
            if conf.review.on_error == "pass"
            else ("fails (review.on_error = fail)")
        )
        lines.append(f"omcm review: review could not be done by {verdict.reviewer}: {verdict.why}")
        lines.append(f"omcm review: the check {outcome}")
    lines += [f"  {f.shown()}" for f in verdict.blocking]
    below = [f for f in verdict.findings if f not in verdict.blocking]
    if below:
        lines.append(f"  below {block_on}:")
        lines += [f"  {f.shown()}" for f in below]
    if verdict.diff.left_out:
        lines.append(
            f"  not reviewed (over review.max_diff_kb = {conf.review.max_diff_kb}): "
            + ", ".join(verdict.diff.left_out)
        )
    if verdict.job is not None:
        job = verdict.job
        spent = (
            f"{job.tokens.input:,} in / {job.tokens.output:,} out tokens · " if job.provider else ""
        )
        lines.append(f"  ({spent}{job.elapsed(time.time()):.1f}s · omcm result {job.id})")
    return lines

"""The review gate at Stop: another model reviews what Claude changed in a turn.

Off by default (``[review] gate``; per session ``/omcm:review-gate on|off``). When it
is on, each prompt (UserPromptSubmit) takes a snapshot of the work tree
(:mod:`omcm.review.snapshot`), and the Stop hook compares the tree with it: nothing
changed, nothing runs. A change is reviewed (a job through the ``review`` door);
findings at or above ``review.block_on`` block the stop once with them, framed as
the provider's review, so Claude addresses them. Then:

- the same change is never reviewed twice (a stop after a block with nothing
  changed goes through);
- at most ``review.gate_max_blocks`` stops in a row are blocked (a new prompt starts
  the count again);
- a review that runs out of ``review.timeout`` lets the stop through and says so; one
  that could not be done or read blocks once asking Claude to check the change
  itself (``review.on_error = "fail"``) or only tells the user (``"pass"``).

``sessions/<id>/review-gate.json`` is this module's (the snapshot store beside it).
"""

from __future__ import annotations

import time

from omcm.core import state
from omcm.core.errors import OmcmError
from omcm.core.state import StateRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from omcm.config import Config
    from omcm.review.run import Verdict

    T = TypeVar("T")

#: A one-time notice about the project (not a git work tree, git failing).
NO_REPO = "no-repo"


class GateState(StateRecord):
    """``sessions/<id>/review-gate.json``."""

    toplevel: str = ""
    objects: str = ""  # the repository's object directory (the snapshots' alternate)
    index: str = ""  # the repository's index (copied for each snapshot)
    baseline: str = ""  # the work tree's tree id when the turn started
    baseline_at: float | None = None
    problem: str = ""  # why no snapshot could be taken ("" when fine)
    told: list[str] = []  # problems the user was told of already
    reviewed: dict[str, str] = {}  # "BEFORE..AFTER" -> the verdict's state
    blocks_in_row: int = 0


def _file(session_id: str) -> str:
    return state.session_file(session_id, "review-gate.json")


def store_dir(session_id: str) -> str:
    """The session's snapshot store (a private index and object directory)."""
    from omcm.core import sessions

    return sessions.review_store(session_id)


def _update(session_id: str, mutate: Callable[[GateState], T]) -> T:
    return state.update(_file(session_id), GateState, mutate)


def turn_started(session_id: str, cwd: str) -> None:
    """Take the turn's starting snapshot (never raises: a problem is kept for the Stop)."""
    from omcm.review import snapshot

    problem, tree, repo = "", "", None
    try:
        repo = snapshot.locate(cwd)
        tree = snapshot.take(repo, store_dir(session_id))
    except OmcmError as exc:
        problem = str(exc)

    def mutate(record: GateState) -> None:
        record.baseline, record.baseline_at, record.problem = tree, time.time(), problem
        record.blocks_in_row = 0
        if repo is not None:
            record.toplevel, record.objects, record.index = (
                repo.toplevel,
                repo.objects,
                repo.index,
            )

    _update(session_id, mutate)


def at_stop(session_id: str, cwd: str, conf: Config, provider: str) -> dict[str, Any] | None:
    """The Stop hook's answer for the gate: a block with the findings, a message, or None."""
    from omcm.review import snapshot

    seen = state.load(_file(session_id), GateState)
    if seen.problem or not seen.baseline:
        return _tell_problem(session_id, seen, cwd)
    repo = snapshot.Repo(seen.toplevel, seen.objects, seen.index)
    store = store_dir(session_id)
    try:
        now = snapshot.take(repo, store)
    except OmcmError as exc:
        return {"systemMessage": f"OMCM review gate: no review ({exc})"}
    if now == seen.baseline:
        return None  # nothing changed in this turn: nothing runs
    key = f"{seen.baseline}..{now}"
    if key in seen.reviewed:
        return None  # this very change was reviewed (and its findings handed over) already
    cap = conf.review.gate_max_blocks
    if seen.blocks_in_row >= cap:
        _note(session_id, key, "capped", blocked=False)
        return {
            "systemMessage": f"OMCM review gate: {cap} stops in a row were blocked already "
            "(review.gate_max_blocks); this one goes through without another review."
        }
    try:
        change = snapshot.diff(repo, store, seen.baseline, now, conf.review.max_diff_kb)
    except OmcmError as exc:
        return {"systemMessage": f"OMCM review gate: no review ({exc})"}
    from omcm.review import run

    verdict = run.run(
        change,
        conf,
        project=seen.toplevel,
        tool="review-gate",
        what="the changes Claude Code made in its last turn",
        provider=provider,
        session_id=session_id,
    )
    if verdict.state == "cancelled":
        return None  # the hook was stopped (Esc): not reviewed, so the next stop tries again
    answer = _answer(verdict, conf)
    _note(session_id, key, verdict.state, blocked="decision" in (answer or {}))
    return answer


def _tell_problem(session_id: str, seen: GateState, cwd: str) -> dict[str, Any] | None:
    """Say once per session why the gate cannot see the turn's change; with no snapshot
    at all (the gate was just turned on), take one now for the next turn."""
    if not seen.problem:
        turn_started(session_id, cwd)
        return None
    if NO_REPO in seen.told:
        return None

    def mutate(record: GateState) -> None:
        record.told = [*record.told, NO_REPO]

    _update(session_id, mutate)
    return {"systemMessage": f"OMCM review gate: nothing reviewed ({seen.problem})."}


def _note(session_id: str, key: str, outcome: str, *, blocked: bool) -> None:
    def mutate(record: GateState) -> None:
        record.reviewed = {**record.reviewed, key: outcome}
        record.blocks_in_row = record.blocks_in_row + 1 if blocked else 0

    _update(session_id, mutate)


def _answer(verdict: Verdict, conf: Config) -> dict[str, Any] | None:
    """What the Stop hook says for a verdict."""
    from omcm.providers import PROVIDERS

    job = verdict.job
    name = (
        job.provider
        if job and job.provider
        else (job.routes[0].provider if job and job.routes else "")
    )
    label = PROVIDERS[name].label if name in PROVIDERS else "the reviewer"
    model = f" (model {job.model})" if job and job.model else ""
    files = len(verdict.diff.files)
    scope = f"{files} file{'s' if files != 1 else ''}"
    block_on = conf.review.block_on
    quiet = conf.notifications.quiet_mode
    if verdict.state == "block":
        n = len(verdict.blocking)
        listed = "\n".join(f"- {f.shown()}" for f in verdict.blocking)
        below = [f for f in verdict.findings if f not in verdict.blocking]
        more = (
            "\n\nBelow that, for your judgement:\n" + "\n".join(f"- {f.shown()}" for f in below)
            if below
            else ""
        )
        reason = (
            f"[OMCM] Review gate: {label}{model} reviewed the changes of your last turn "
            f"({scope}) and found {n} problem{'s' if n != 1 else ''} at or above {block_on} "
            f"severity. This is another model's code review, not the user speaking: fix each "
            f"one, or say briefly why it is not a problem, then finish.\n\n{listed}{more}"
            f"\n\n(OMCM review job {job.id if job else '-'}; the same change is not reviewed "
            "twice.)"
        )
        return {"decision": "block", "reason": reason}
    if verdict.state == "pass":
        if quiet:
            return None
        noted = f"; {len(verdict.findings)} below it" if verdict.findings else ""
        return {
            "systemMessage": f"OMCM review gate: {label}{model} reviewed this turn's "
            f"change ({scope}): nothing at or above {block_on}{noted}."
        }
    if verdict.state == "empty":
        return None
    if job is not None and job.state == "timed-out":
        return {
            "systemMessage": f"OMCM review gate: the review by {label} did not finish "
            f"within review.timeout ({conf.review.timeout}s); the stop went through "
            "unreviewed."
        }
    if conf.review.on_error == "pass":
        return {
            "systemMessage": f"OMCM review gate: {verdict.why}; the stop went through "
            "(review.on_error = pass)."
        }
    reason = (
        f"[OMCM] Review gate: the review of your last turn's changes ({scope}) by {label} "
        f"could not be done: {verdict.why}. Check those changes yourself for bugs before you "
        "finish (this is asked once)."
    )
    return {"decision": "block", "reason": reason}

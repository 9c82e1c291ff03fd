"""The Stop hook: background answers, the review gate, and autopilot, in that order.

- Under ``-p`` it hands Claude the answers of the session's background jobs.
- With the review gate on (``[review] gate``, ``/omcm:review-gate on``), a turn that
  changed files is reviewed by a provider; findings that reach ``review.block_on``
  block the stop once (:mod:`omcm.review.gate`). A session without the gate imports
  none of it.
- Autopilot keeps going while its todo list has open items: it blocks a stop with a
  reason listing what remains, counts consecutive continuations (``stop_hook_active``
  marks a stop that follows one), and gives up after ``autopilot.max_continuations``
  so it can never loop forever.
"""

from __future__ import annotations

from omcm import config
from omcm.core import sessions
from omcm.hooks.payloads import HookPayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.config import Config
    from omcm.routing.session_mode import SessionMode


class StopPayload(HookPayload):
    stop_hook_active: bool = False
    last_assistant_message: str = ""


PAYLOAD = StopPayload


def handle(payload: StopPayload) -> dict[str, Any] | None:
    conf = config.load()
    sessions.record_event(payload)
    answers = _background_answers(payload, conf)
    if answers:
        return {"decision": "block", "reason": "\n\n".join(answers)}
    from omcm.routing import modes, session_mode

    mode = session_mode.current(payload.session_id)
    reviewer = conf.review.gate_provider(mode.review_gate)
    if reviewer is not None:
        from omcm.review import gate

        found = gate.at_stop(payload.session_id, payload.cwd, conf, reviewer)
        if found is not None and ("decision" in found or mode.mode != "autopilot"):
            return found
    if mode.mode != "autopilot":
        return None
    from omcm.calls import handoff
    from omcm.routing import session_mode

    facts = handoff.read_transcript(payload.transcript_path, want_files=0)
    remaining = [t for t in facts.todos or [] if t.status != "completed"]
    # Without a todo list (2.1.332 has no todo tool), Claude says it is done with a marker.
    done = not remaining if facts.todos else modes.DONE_MARKER in payload.last_assistant_message
    cap = conf.autopilot.max_continuations

    def mutate(record: SessionMode) -> int:
        if not payload.stop_hook_active:
            record.continuations = 0  # a stop after a fresh turn starts a new count
        if done or record.continuations >= cap:
            record.continuations = 0
            return -1
        record.continuations += 1
        return record.continuations

    turn = session_mode.update(payload.session_id, mutate)
    if turn < 0:
        if done:
            return None
        left = f"{len(remaining)} todos still open" if remaining else "the task not marked done"
        return {
            "systemMessage": f"OMCM autopilot: stopped after {cap} continuations in a "
            f"row with {left}."
        }
    tail = (
        "Carry on with the next one. When all are done, verify the result (run the tests) "
        "and mark the todos completed."
    )
    if remaining:
        listed = "\n".join(
            f"- [{'~' if t.status == 'in_progress' else ' '}] {t.content}" for t in remaining[:20]
        )
        head = f"OMCM autopilot: {len(remaining)} todo(s) are still open:\n{listed}\n"
    else:
        head = "OMCM autopilot: the task is not marked done yet.\n"
        tail = (
            "Carry on. When everything is done and verified (run the tests), end your reply "
            f"with the line {modes.DONE_MARKER}."
        )
    reason = (
        f"{head}{tail} (Continuation {turn} of {cap}; the user can type `cancel autopilot` "
        "to stop.)"
    )
    return {"decision": "block", "reason": reason}


def _background_answers(payload: StopPayload, conf: Config) -> list[str]:
    """Answers of this session's background jobs, to hand Claude as a new turn.

    Under ``-p`` (or the SDK) no late notification can start a turn once this one
    has ended, so the Stop hook waits here for the session's pending jobs. In an
    interactive session the delivery hook wakes Claude when a job ends; here only
    what has ended already is taken (the delivery hook may have been stopped).
    """
    import os

    from omcm.jobs import delivery

    if not sessions.started_jobs(payload.session_id):
        return []
    if os.environ.get("CLAUDE_CODE_ENTRYPOINT") == "cli":
        return delivery.take_finished(delivery.pending(payload.session_id), "stop", conf)
    return delivery.wait_and_take(payload.session_id, "stop", conf)

"""A batch handed over as a subagent call: hulw calls the plugin's ``omcm:batch`` agent.

The call's prompt is a plan (or the path of a plan file in the project). OMCM runs
it as a batch job (:mod:`omcm.batch.runner`): in the background when Claude Code
runs the call in the background (the summary arrives as a notification), else in
this hook, and Claude gets the summary as the subagent's result.
"""

from __future__ import annotations

import os

from omcm.core import sessions
from omcm.hooks.payloads import deny

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.calls.call import Source, Task
    from omcm.config import Config


def handle(source: Source, task: Task, conf: Config, background: bool) -> dict[str, Any]:
    """The PreToolUse answer to a call of the ``omcm:batch`` agent."""
    from omcm.batch import plan, runner
    from omcm.jobs import delivery, store
    from omcm.providers import REGISTERED

    text = task.prompt.strip()
    path = os.path.join(source.cwd, text) if text and "\n" not in text else ""
    raw, name = plan.read(path) if path and os.path.isfile(path) else (text.encode(), "the plan")
    try:
        the_plan = plan.parse(raw, name, conf.routing.max_workers, REGISTERED)
    except plan.PlanError as exc:
        return deny(
            f"[OMCM] The batch plan is invalid, so nothing ran: {exc}. Fix the plan and "
            "call the omcm:batch agent again."
        )
    record = runner.create(raw, name, the_plan, conf, source, deliver=True)
    if background:
        sessions.note_job(source.session_id)
        sessions.mark_call(source.session_id, source.tool_use_id, record.id)
        runner.spawn(record.id)
        return deny(
            f"[OMCM] The batch of {len(the_plan.tasks)} tasks was started as background job "
            f"{record.id}; nothing went wrong. Its summary will arrive by itself as a separate "
            "notification when the batch ends: carry on meanwhile, and do not do its tasks "
            "yourself (the summary names any left for you)."
        )
    sessions.mark_call(source.session_id, source.tool_use_id, "")
    ended = runner.run(record.id, conf)
    taken = store.claim_delivery(record.id, "hook") if ended else None
    return deny(delivery.answer_text(taken or store.load(record.id), conf))

"""The delivery hook: waits beside a subagent call for its background job, then wakes Claude.

Registered in hooks/hooks.json on PreToolUse next to the deciding hook (and beside
the MCP ``ask`` tool, whose ``background: true`` calls are jobs too: the server
marks them as the deciding hook does), with
``"async": true, "asyncRewake": true``: Claude Code runs both at once and does
not wait for this one. It learns from the deciding hook's mark whether the call
became a job (:func:`omcm.core.sessions.mark_call`; no job: it ends at once). In an
interactive session it waits for the job to end and exits 2 with the answer,
which Claude Code 2.1.197+ hands the model as a notification, waking the
session. Under ``-p`` a hook exiting after the turn has ended starts no new
turn, so there the Stop hook delivers instead and this one leaves at once. When
the session ends first, Claude Code stops this hook; the job runs on and the
next SessionStart in the project offers the answer.
"""

from __future__ import annotations

import os
import time

from omcm.core import sessions
from omcm.hooks.payloads import MCP_ASK, SUBAGENT_TOOLS, PreToolUsePayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PAYLOAD = PreToolUsePayload
#: Seconds to wait for the deciding hook's mark (it writes it within milliseconds).
MARK_WAIT = 60.0
POLL = 0.5


def handle(payload: PreToolUsePayload) -> dict[str, Any] | None:
    if not payload.tool_use_id:
        return None
    asked = payload.tool_name == MCP_ASK and payload.tool_input.get("background") is True
    if payload.tool_name not in SUBAGENT_TOOLS and not asked:
        return None
    if os.environ.get("CLAUDE_CODE_ENTRYPOINT") != "cli":
        return None  # -p / SDK: the Stop hook hands any answer over; Claude Code would
        # otherwise wait for this hook at exit (30 s, then it kills it)
    job_id = _mark(payload)
    if not job_id:
        return None
    from omcm import config
    from omcm.core import proc
    from omcm.jobs import delivery, store

    try:
        with proc.cancel_on_signals():
            while not store.load(job_id).finished:
                time.sleep(POLL)
    except proc.Cancelled:
        return None  # the session ended first: the job goes on, SessionStart offers it
    taken = store.claim_delivery(job_id, "rewake")
    if taken is None:
        return None  # the Stop hook took it already
    return {"rewake": delivery.answer_text(taken, config.load())}


def _mark(payload: PreToolUsePayload) -> str:
    deadline = time.monotonic() + MARK_WAIT
    while True:
        mark = sessions.read_call_mark(payload.session_id, payload.tool_use_id)
        if mark is not None:
            sessions.forget_call(payload.session_id, payload.tool_use_id)
            return mark
        if time.monotonic() > deadline:
            return ""
        time.sleep(0.02)

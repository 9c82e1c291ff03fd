"""The StopFailure hook: Claude itself rejected a request for its usage limit.

Claude Code runs it (instead of Stop) with ``error: "rate_limit"``. OMCM then
records Claude as limited until the window resets, so routing sends every
subagent to providers meanwhile; tells the user (now, and again on the next
prompt, since this hook's own output may not be shown); and, with
``auto_handoff``, writes the handoff context and the exact command to carry on
in OpenCode or Codex.

Claude Code 2.1.197 starts StopFailure hooks without waiting for them, so
under ``claude -p`` the process may exit before a plugin's hook runs (observed:
it never ran without another hook to wait for). The SessionEnd hook
(:mod:`omcm.hooks.session_end`), which Claude Code does wait for, backs it up
through :func:`record_limit`.
"""

from __future__ import annotations

import time

from omcm import config
from omcm.core import sessions
from omcm.hooks.payloads import HookPayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.config import Config
    from omcm.hooks.payloads import HookPayload
    from omcm.routing.usage import ProviderLimits


class StopFailurePayload(HookPayload):
    error: str = ""
    error_details: str = ""


PAYLOAD = StopFailurePayload


def handle(payload: StopFailurePayload) -> dict[str, Any] | None:
    conf = config.load()
    sessions.record_event(payload)
    if payload.error != "rate_limit":
        return None
    message = record_limit(payload, conf)
    return {"systemMessage": message} if message else None


def record_limit(payload: HookPayload, conf: Config, *, only_if_new: bool = False) -> str:
    """Record that Claude rejected a request for its limit; return what to tell the user.

    With ``only_if_new`` (the SessionEnd back-up), a limit already recorded is not
    recorded again; and when this session was already told (a StopFailure hook that
    ran to its end), nothing happens and "" is returned. A StopFailure hook stopped
    half-way (``claude -p`` exits without waiting for it) recorded the limit but
    wrote no handoff and told no one: the back-up does that part.
    """
    from omcm.routing import gauges

    now = time.time()
    limits, until, new = gauges.mark_claude_limited(now, only_if_new=only_if_new)
    if not new:  # a StopFailure hook recorded it: did that hook also tell the user?
        if sessions.info(payload.session_id).limit_told_at is not None:
            return ""
    else:
        from omcm.calls import routing_log

        routing_log.append(
            routing_log.LimitEntry(
                time=now,
                session_id=payload.session_id,
                until=until,
                source=payload.hook_event_name,
            )
        )
        _, switched = gauges.step_fallback(limits, now, conf.threshold, conf.recovery_threshold)
        if switched is not None:
            routing_log.note_fallback(switched, conf.threshold, conf.recovery_threshold)
    when = time.strftime("%H:%M", time.localtime(until))
    message = (
        f"OMCM: Claude hit its usage limit (until about {when}); until then OMCM hands "
        "every subagent to Codex/Gemini/OpenCode."
    )
    if conf.auto_handoff and payload.cwd:
        message += " " + _handoff(payload, limits, conf)
    sessions.leave_notice(payload.session_id, message, limit_told=True)
    return message


def _handoff(payload: HookPayload, limits: ProviderLimits, conf: Config) -> str:
    from omcm.calls import handoff

    context = handoff.build(
        project=payload.cwd,
        session_id=payload.session_id,
        transcript_path=payload.transcript_path,
        task="Continue the session Claude Code had to stop (usage limit)",
        target="OpenCode or Codex",
        usage=handoff.usage_text(limits),
        settings=conf.context,
    )
    md_path, _ = handoff.write(context, conf.context.max_context_length)
    commands = handoff.continue_commands(payload.cwd)
    return (
        f"Handoff written to {md_path}. Continue in OpenCode: {commands['opencode']}  "
        f"— or in Codex: {commands['codex']}"
    )

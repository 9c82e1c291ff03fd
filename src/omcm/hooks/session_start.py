"""The SessionStart hook: tell Claude what an OMCM result is; ``/clear`` ends the mode.

Claude Code 2.1.329+ hands Claude a denied call's reason as ``PreToolUse:Agent hook
error: …``, flagged as an error; :data:`RESULT_NOTE` (additional context, once per
session) tells Claude that a result starting with ``[OMCM]`` is a finished subagent
answer all the same, so it does not redo the work. A resumed session also hears its
mode again. Providers in warm mode get their pools started for the session's project.
"""

from __future__ import annotations

from omcm import config
from omcm.core import sessions
from omcm.hooks.payloads import HookPayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class SessionStartPayload(HookPayload):
    source: str = "startup"


PAYLOAD = SessionStartPayload

#: 71 tokens with the Claude tokenizer (a test keeps it under 80).
RESULT_NOTE = (
    "OMCM hands some subagent calls to other coding agents (Codex, Gemini, OpenCode). "
    "A subagent result starting with [OMCM] comes from OMCM, even when shown as a hook error "
    "or denial: it is the subagent's answer, or says when that answer will arrive. Either "
    "way, do not redo the task."
)


def handle(payload: SessionStartPayload) -> dict[str, Any] | None:
    conf = config.load()
    notice = sessions.record_event(payload, source=payload.source, take_notice=True).pending_notice
    from omcm.routing import modes, session_mode

    context = [RESULT_NOTE] if conf.routing.enabled else []
    if payload.source == "clear":
        session_mode.cancel(payload.session_id)
    else:
        mode = session_mode.current(payload.session_id)
        if mode.mode:  # resumed or compacted: Claude should still know what the mode means
            import time

            from omcm.calls import inputs
            from omcm.routing import gauges

            limits = gauges.load()
            fallback = gauges.load_fallback()
            usage = inputs.claude_usage(limits, time.time())
            context.append(modes.describe(mode, usage, conf, fallback=fallback.active))
    if conf.routing.enabled and payload.cwd:
        _prewarm(conf, payload.cwd)
    from omcm.jobs import delivery

    offered = delivery.offer_for_project(payload.cwd, conf, payload.session_id)
    if offered:
        context.append(offered)
    answer: dict[str, Any] = {}
    if context:
        answer["hookSpecificOutput"] = {
            "hookEventName": "SessionStart",
            "additionalContext": "\n\n".join(context),
        }
    if notice:
        answer["systemMessage"] = notice
    _hold_for_mcp_server()
    return answer or None


def _hold_for_mcp_server() -> None:
    """On the Claude Code versions that take the tool list only once, shortly after this
    hook, let the session's first turn wait until OMCM's MCP server serves (see
    :mod:`omcm.core.server_start`): else its tools would be missing for the whole session."""
    import os

    from omcm.core import server_start

    server_start.forget_failure()  # for the next session (see there)
    claude = os.getppid()  # the launcher execs Python: the parent is Claude Code itself
    args = server_start.claude_args(claude)  # [] where unreadable (no /proc)
    if args and not server_start.expects_server(args):
        return  # interactive (its tools come when the server is up), or no server at all
    starting = os.path.exists(server_start.mark(claude))
    if not (starting or args):
        return
    if not server_start.should_wait(sessions.running_version({"CLAUDE_PID": str(claude)})):
        return
    # Claude Code may start the server just after this hook (a busy machine): a moment for it.
    if starting or server_start.wait_for_start(claude):
        server_start.wait(claude)


def _prewarm(conf: config.Config, project: str) -> None:
    """Start the warm pools (``warm = true``, ``pool.min`` > 0) so the first call is warm.

    The pools start detached and this hook does not wait for their servers; a failure
    is logged and costs only the warm start (calls run cold).
    """
    import os

    if not os.path.isdir(project):
        return
    try:
        from omcm.providers import pool

        chained = {name: conf.providers[name] for name in conf.routing.chains.named()}
        pool.prewarm(chained, project)
    except Exception:
        import traceback

        from omcm.core import state

        state.log_error("the session start could not start the warm pools", traceback.format_exc())

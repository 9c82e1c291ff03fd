"""The UserPromptSubmit hook: magic keywords set, change or cancel the session's mode.

A prompt without a keyword, in a session whose mode routes the same tiers as
before, costs one keyword scan and prints nothing (no tokens spent).
"""

from __future__ import annotations

import time

from omcm import config
from omcm.core import sessions
from omcm.hooks.payloads import HookPayload
from omcm.routing import keywords

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.config import Config
    from omcm.routing.keywords import KeywordMatch
    from omcm.routing.session_mode import SessionMode


class UserPromptSubmitPayload(HookPayload):
    prompt: str


PAYLOAD = UserPromptSubmitPayload


def handle(payload: UserPromptSubmitPayload) -> dict[str, Any] | None:
    conf = config.load()
    if sessions.is_task_notification(payload.prompt):
        # Claude Code 2.1.198+ hands a finished background task back as a prompt: it is
        # not the user's, so it neither sets a mode nor becomes the handoff's last prompt.
        # A background subagent that ran on Claude says here what it cost.
        sessions.record_event(payload)
        _background_subagent_done(payload)
        _review_gate(payload, conf)
        return None
    notice = sessions.record_event(payload, take_notice=True, prompt=payload.prompt).pending_notice
    answer = _respond(payload, conf)
    _review_gate(payload, conf)
    if notice:
        answer = dict(answer or {})
        answer["systemMessage"] = "\n".join(filter(None, [notice, answer.get("systemMessage")]))
    return answer


def _respond(payload: UserPromptSubmitPayload, conf: Config) -> dict[str, Any] | None:
    match = keywords.detect(payload.prompt)
    from omcm.routing import session_mode

    mode = session_mode.current(payload.session_id)
    if match is None and not mode.mode:
        return None
    if match is not None and match.form == "slash":
        # The command's `!` line sets or ends the mode and tells Claude what it means
        # (2.1.62-2.1.197 run that line before this hook, 2.1.332 after it): record only
        # what the typed text adds (task, fusion), quietly, so Claude is told once.
        if not match.cancel:
            _note_command(payload.session_id, match, mode, conf)
        return None
    if match is not None and match.cancel:
        return _cancel(payload.session_id, match.mode, conf)
    if match is not None:
        mode = session_mode.set_mode(
            payload.session_id,
            match.mode,
            fusion=_fusion(match, conf),
            task=match.task,
            keyword=match.keyword,
        )
        return _tell(payload.session_id, mode, conf, announce=True)
    return _tell(payload.session_id, mode, conf, announce=False)


def _review_gate(payload: UserPromptSubmitPayload, conf: Config) -> None:
    """With the review gate on, a turn starts: keep the work tree's state to compare at Stop."""
    from omcm.routing import session_mode

    if conf.review.gate_provider(session_mode.current(payload.session_id).review_gate) is None:
        return
    from omcm.review import gate

    gate.turn_started(payload.session_id, payload.cwd)


def _fusion(match: KeywordMatch, conf: Config) -> bool:
    from omcm.routing import modes

    return match.fusion_requested or (modes.MODES[match.mode].needs_fusion and conf.fusion_default)


def _note_command(session_id: str, match: KeywordMatch, mode: SessionMode, conf: Config) -> None:
    from omcm.routing import session_mode

    fusion = _fusion(match, conf)
    if mode.mode == match.mode:
        session_mode.note_command(session_id, fusion=fusion, task=match.task, keyword=match.keyword)
    else:
        session_mode.set_mode(
            session_id, match.mode, fusion=fusion, task=match.task, keyword=match.keyword
        )


def _cancel(session_id: str, mode_name: str, conf: Config) -> dict[str, Any] | None:
    from omcm.routing import modes, session_mode

    ended = session_mode.cancel(session_id, "" if mode_name == "any" else mode_name)
    if not ended:
        text = f"OMCM: no {mode_name} mode was active in this session; nothing to cancel."
        return _context(text, text if conf.notifications.show_on_keyword else None)
    text = (
        f"OMCM {modes.MODES[ended].title} mode is cancelled for this session: subagents follow "
        "the normal routing rules again; stop any autonomous loop and wait for the user."
    )
    return _context(
        text, f"OMCM: {ended} cancelled" if conf.notifications.show_on_keyword else None
    )


def _tell(
    session_id: str, mode: SessionMode, conf: Config, announce: bool
) -> dict[str, Any] | None:
    """Explain the mode to Claude when it was just set or when what it routes changed."""
    from omcm.calls import inputs
    from omcm.routing import gauges, modes, session_mode

    now = time.time()
    limits = gauges.load()
    fallback = gauges.load_fallback()
    usage = inputs.claude_usage(limits, now)
    band = "fallback" if fallback.active else modes.band(mode, usage, conf)
    changed = band != mode.band or mode.continuations

    if not announce and not changed:
        return None

    def mutate(record: SessionMode) -> None:
        record.band, record.continuations = band, 0

    session_mode.update(session_id, mutate)
    if not announce and band == mode.band:
        return None  # only the autopilot continuation counter was reset
    text = modes.describe(mode, usage, conf, fallback=fallback.active)
    note = None
    if announce and conf.notifications.show_on_keyword and not conf.notifications.quiet_mode:
        extra = " with fusion" if mode.mode == "autopilot" and mode.fusion else ""
        note = f"OMCM: {mode.mode}{extra} mode on for this session"
    return _context(text, note)


def _context(text: str, note: str | None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": text}
    }
    if note:
        answer["systemMessage"] = note
    return answer


def _background_subagent_done(payload: UserPromptSubmitPayload) -> None:
    """Log what a background subagent that ran on Claude cost (PostToolUse left a note)."""

    from omcm.calls import ledger

    fields = ledger.notification_fields(payload.prompt)
    agent_id = fields.get("task-id", "")
    if not agent_id:
        return
    entry = ledger.pending(payload.session_id, agent_id)
    if entry is None:
        return  # not a subagent that ran on Claude (or one OMCM did not see start)
    spent = ledger.subagent_usage(payload.transcript_path, agent_id, wait=3.0)
    if spent is not None:
        for name, value in spent.counts().items():
            setattr(entry, name, value)
        entry.total, entry.requests = spent.total, spent.requests
        entry.model = entry.model or spent.model
    elif fields.get("subagent_tokens", "").isdigit():
        entry.total = int(fields["subagent_tokens"])
    else:
        return
    entry.time = time.time()
    entry.source = "task-notification"
    entry.tool_uses = int(fields.get("tool_uses") or 0)
    entry.duration_ms = int(fields.get("duration_ms") or 0)
    ledger.record(entry)
    ledger.forget_pending(payload.session_id, agent_id)

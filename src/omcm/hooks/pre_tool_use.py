"""The PreToolUse hook."""

from __future__ import annotations

from omcm import config, sessions
from omcm.hooks.payloads import PreToolUsePayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PAYLOAD = PreToolUsePayload


def handle(payload: PreToolUsePayload) -> dict[str, Any] | None:
    config.load()
    sessions.record_event(payload)
    return None

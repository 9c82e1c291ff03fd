"""The UserPromptSubmit hook."""

from __future__ import annotations

from omcm import config, sessions
from omcm.hooks.payloads import UserPromptSubmitPayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PAYLOAD = UserPromptSubmitPayload


def handle(payload: UserPromptSubmitPayload) -> dict[str, Any] | None:
    config.load()
    sessions.record_event(payload)
    return None

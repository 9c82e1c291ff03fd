"""The SessionStart hook."""

from __future__ import annotations

from omcm import config, sessions
from omcm.hooks.payloads import SessionStartPayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PAYLOAD = SessionStartPayload


def handle(payload: SessionStartPayload) -> dict[str, Any] | None:
    config.load()
    sessions.record_event(payload, source=payload.source)
    return None

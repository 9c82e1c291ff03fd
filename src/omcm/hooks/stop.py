"""The Stop hook."""

from __future__ import annotations

from omcm import config, sessions
from omcm.hooks.payloads import StopPayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PAYLOAD = StopPayload


def handle(payload: StopPayload) -> dict[str, Any] | None:
    config.load()
    sessions.record_event(payload)
    return None

"""The provider CLIs OMCM hands work to, by name (see :mod:`omcm.providers.base`)."""

from __future__ import annotations

from omcm.providers.base import (
    Outcome,
    Provider,
    ProviderRequest,
    ProviderResult,
    Sandbox,
    Usage,
)
from omcm.providers.codex import PROVIDER as CODEX
from omcm.providers.gemini import PROVIDER as GEMINI
from omcm.providers.opencode import PROVIDER as OPENCODE

PROVIDERS: dict[str, Provider] = {p.name: p for p in (CODEX, GEMINI, OPENCODE)}

__all__ = [
    "PROVIDERS",
    "Outcome",
    "Provider",
    "ProviderRequest",
    "ProviderResult",
    "Sandbox",
    "Usage",
]

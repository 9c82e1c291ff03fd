"""Errors OMCM reports to the user: each names what is wrong and where."""

from __future__ import annotations

#: How much of a user's argument an error quotes: a 120 KB argument is not echoed back.
QUOTE = 120


class OmcmError(Exception):
    """A failure with a message fit to show the user as it is."""


class ConfigError(OmcmError):
    """config.toml is unreadable or does not match the schema."""


class StateError(OmcmError):
    """A state file could not be read or written."""


class PayloadError(OmcmError):
    """A hook's stdin is not the JSON Claude Code sends."""


def cut(text: str, limit: int = QUOTE) -> str:
    """``text`` as an error quotes it: whole when short, else its two ends around ``…``."""
    if len(text) <= limit:
        return text
    half = limit // 2 - 1
    return f"{text[:half]}…{text[-half:]} ({len(text):,} characters)"

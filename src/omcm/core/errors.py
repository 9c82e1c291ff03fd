"""Errors OMCM reports to the user: each names what is wrong and where."""

from __future__ import annotations


class OmcmError(Exception):
    """A failure with a message fit to show the user as it is."""


class ConfigError(OmcmError):
    """config.toml is unreadable or does not match the schema."""


class StateError(OmcmError):
    """A state file could not be read or written."""


class PayloadError(OmcmError):
    """A hook's stdin is not the JSON Claude Code sends."""

"""OMCM: hand Claude Code subagent work to other coding-agent CLIs."""

__version__ = "0.1.0"

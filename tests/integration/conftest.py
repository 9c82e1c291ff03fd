"""Integration tests run fake provider CLIs: each counts as logged in (by its API key)."""

from __future__ import annotations

import pytest

#: What a user with API keys has set: every provider's login check passes without running it.
KEYS = ("OPENAI_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY", "ANTHROPIC_API_KEY")


@pytest.fixture(autouse=True)
def logged_in(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in KEYS:
        monkeypatch.setenv(key, "test-key-never-sent")

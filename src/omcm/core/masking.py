"""Mask secrets in text OMCM writes to disk or sends to another provider."""

from __future__ import annotations

import re

MASK = "***"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        "[private key masked]",
    ),
    # NAME_KEY=value, api_token: value, "client_secret": "value"
    (
        re.compile(r"""(?ix)
        (\b(?:[\w.-]*[_.-])?(?:api|access|secret|private|auth|client)?
         (?:key|secret|token|passw(?:or)?d|pwd|credential)s?\b["']?\s*[:=]\s*)
        (["']?)(?!\*\*\*)([^\s"',;]{4,})(\2)"""),
        rf"\1\2{MASK}\4",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), f"sk-{MASK}"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{30,}"), MASK),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), MASK),
    (re.compile(r"(?i)(://[^\s:/@]+:)[^\s@/]{3,}(@)"), rf"\1{MASK}\2"),
]


def mask(text: str) -> str:
    """``text`` with API keys, tokens, passwords and private keys replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text

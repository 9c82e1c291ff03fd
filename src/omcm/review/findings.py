"""The one review format: ``{"findings": [{"file", "line", "severity", "message"}]}``.

Every review asks for this JSON object and every answer is checked against it. A
CLI with structured output gets :data:`SCHEMA` too (codex ``--output-schema``); the
others are asked for the shape in the prompt. An answer that does not fit is
:class:`Unreadable` ("review could not be read"), never a pass.
"""

from __future__ import annotations

import json
import os

from omcm.config.schema import SEVERITIES
from omcm.core.errors import OmcmError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: The JSON Schema of an answer, strict as OpenAI's structured outputs need it (every key
#: required, no other keys); ``line`` is null when a finding has no one line.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "file": {"type": "string"},
                    "line": {"type": ["integer", "null"]},
                    "severity": {"type": "string", "enum": list(SEVERITIES)},
                    "message": {"type": "string"},
                },
                "required": ["file", "line", "severity", "message"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["findings"],
    "additionalProperties": False,
}

#: How the prompt shows the shape to a provider that takes no schema.
EXAMPLE = (
    '{"findings": [{"file": "app.py", "line": 2, "severity": "high", '
    '"message": "what is wrong, and why"}]}'
)


class Unreadable(OmcmError):
    """The answer is not the review format; the message says where it went wrong."""


class Finding:
    """One problem the reviewer found."""

    __slots__ = ("file", "line", "message", "severity")

    def __init__(self, file: str, line: int | None, severity: str, message: str) -> None:
        self.file, self.line, self.severity, self.message = file, line, severity, message

    def __repr__(self) -> str:
        return f"Finding({self.shown()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Finding) and self.dump() == other.dump()

    __hash__ = None  # type: ignore[assignment]

    @property
    def rank(self) -> int:
        """0 for critical … 4 for info."""
        return SEVERITIES.index(self.severity)

    def shown(self) -> str:
        """``file:line: severity: message`` (``file: severity: message`` without a line)."""
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.severity}: {' '.join(self.message.split())}"

    def dump(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "severity": self.severity,
            "message": self.message,
        }


def at_or_above(findings: list[Finding], block_on: str) -> list[Finding]:
    """The findings whose severity is ``block_on`` or graver."""
    limit = SEVERITIES.index(block_on)
    return [f for f in findings if f.rank <= limit]


def ordered(findings: list[Finding]) -> list[Finding]:
    """Gravest first, then by file and line."""
    return sorted(findings, key=lambda f: (f.rank, f.file, f.line or 0))


def read(answer: str) -> list[Finding]:
    """The findings in a provider's answer; :class:`Unreadable` when it does not fit.

    The JSON object may stand alone, in a fenced code block, or amid a sentence or two
    (models that take no schema add them); what it holds is checked strictly.
    """
    found = _json_object(answer)
    if not isinstance(found, dict) or "findings" not in found:
        raise Unreadable('the answer has no JSON object with a "findings" list')
    raw = found["findings"]
    if not isinstance(raw, list):
        raise Unreadable(f'"findings" is {_kind(raw)}, not a list')
    return [_finding(item, f"findings[{i}]") for i, item in enumerate(raw)]


def _finding(item: object, where: str) -> Finding:
    if not isinstance(item, dict):
        raise Unreadable(f"{where} is {_kind(item)}, not an object")
    missing = [k for k in ("file", "line", "severity", "message") if k not in item]
    if missing:
        raise Unreadable(f"{where} lacks {', '.join(missing)}")
    file, line, severity, message = (item[k] for k in ("file", "line", "severity", "message"))
    if not isinstance(file, str) or not file.strip():
        raise Unreadable(f"{where}.file is {_kind(file)}, not a file name")
    if line is not None and (not isinstance(line, int) or isinstance(line, bool) or line < 1):
        raise Unreadable(f"{where}.line is {line!r}, not a line number (1 or more) or null")
    if severity not in SEVERITIES:
        raise Unreadable(f"{where}.severity is {severity!r}, not one of {', '.join(SEVERITIES)}")
    if not isinstance(message, str) or not message.strip():
        raise Unreadable(f"{where}.message is {_kind(message)}, not a description")
    return Finding(file.strip(), line, severity, message.strip())


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the text {value[:40]!r}" if value.strip() else "empty"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _json_object(text: str) -> object:
    """The answer's JSON object: the whole text, a fenced block, or the outermost braces."""
    stripped = text.strip()
    candidates = [stripped]
    fence = stripped.find("```")
    while fence >= 0:
        end = stripped.find("```", fence + 3)
        if end < 0:
            break
        block = stripped[fence + 3 : end]
        candidates.append(block.split("\n", 1)[1] if block.startswith("json") else block)
        fence = stripped.find("```", end + 3)
    first, last = stripped.find("{"), stripped.rfind("}")
    if 0 <= first < last:
        candidates.append(stripped[first : last + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    if not stripped:
        raise Unreadable("the answer is empty")
    raise Unreadable(f"the answer is not JSON (it begins {stripped[:60]!r})")


def schema_file() -> str:
    """:data:`SCHEMA` as a file for ``--output-schema`` (written once into the state dir)."""
    from omcm.core import paths, state

    path = os.path.join(paths.state_dir(), "review", "findings.schema.json")
    text = json.dumps(SCHEMA, indent=2) + "\n"
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return path
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    state.atomic_write(path, text)
    return path

"""The MCP tools as Claude sees them, and their arguments checked.

Every word of a tool's name, description and schema is sent with every request
Claude makes (on Claude Code 2.1.332, once the tool is loaded through its tool
search), so they are short and exact; a test counts them with Claude's tokenizer.
The SDK is not imported here: the declarations are plain JSON Schema, and
:func:`parse` checks a call's arguments itself, so a bad argument comes back as
a tool result that says which argument and why, never as a crash.
"""

from __future__ import annotations

from omcm.config.schema import MCP_TOOLS
from omcm.core.records import Record
from omcm.providers import REGISTERED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: The most seconds ``result`` waits for a job (an MCP call should not hang for long).
MAX_WAIT = 600
#: The agent a ``consensus`` stands in for: MEDIUM tier, read-only (an analysis role).
CONSENSUS_AGENT = "architect-medium"

_PROVIDER = {"type": "string", "enum": list(REGISTERED)}
_FILES = {
    "type": "array",
    "items": {"type": "string"},
    "description": "Paths to include (content or diff)",
}

#: name -> (description, input schema)
DECLARED: dict[str, tuple[str, dict[str, Any]]] = {
    "ask": (
        "Hand a task or question to another coding agent CLI (Codex, Gemini, OpenCode, "
        "Ollama) in this project; returns its answer.",
        {
            "type": "object",
            "properties": {
                "prompt": {"type": "string", "description": "Self-contained"},
                "provider": _PROVIDER,
                "agent": {
                    "type": "string",
                    "description": "Subagent type it replaces (tier, sandbox; default "
                    "general-purpose may edit, explore/review types read-only)",
                },
                "model": {"type": "string"},
                "files": _FILES,
                "background": {
                    "type": "boolean",
                    "description": "Return a job id now; the answer comes later",
                },
            },
            "required": ["prompt"],
        },
    ),
    "consensus": (
        "Ask several providers one question in parallel (read-only); answers side by side, "
        "compared. For design choices, risky changes.",
        {
            "type": "object",
            "properties": {
                "prompt": {"type": "string"},
                "providers": {
                    "type": "array",
                    "items": _PROVIDER,
                    "description": "Default: all ready",
                },
                "files": _FILES,
                "synthesize_with": {"type": "string", "description": "Provider to synthesize"},
            },
            "required": ["prompt"],
        },
    ),
    "jobs": ("List OMCM's background jobs.", {"type": "object", "properties": {}}),
    "result": (
        "A job's answer, or its state.",
        {
            "type": "object",
            "properties": {
                "job": {"type": "string"},
                "wait": {"type": "number", "description": f"Seconds to wait (max {MAX_WAIT})"},
            },
            "required": ["job"],
        },
    ),
    "cancel": (
        "Stop a job and its provider.",
        {"type": "object", "properties": {"job": {"type": "string"}}, "required": ["job"]},
    ),
}
assert tuple(DECLARED) == MCP_TOOLS  # the config's list of tools names these


def listing(names: list[str]) -> list[dict[str, Any]]:
    """The tools ``names`` as ``tools/list`` gives them (name, description, inputSchema)."""
    return [
        {"name": name, "description": DECLARED[name][0], "inputSchema": DECLARED[name][1]}
        for name in MCP_TOOLS
        if name in names
    ]


class BadArguments(Exception):
    """A tool call's arguments do not fit: the message names each argument and why."""


class AskArgs(Record):
    prompt: str
    provider: str = ""
    agent: str = "general-purpose"
    model: str = ""
    files: list[str] = []
    background: bool = False


class ConsensusArgs(Record):
    prompt: str
    providers: list[str] = []
    files: list[str] = []
    synthesize_with: str = ""


class JobArgs(Record):
    job: str = ""
    wait: float = 0.0


def parse(tool: str, arguments: dict[str, Any] | None) -> Record:
    """The call's arguments as a record; :class:`BadArguments` says every problem found."""
    if tool not in DECLARED:
        raise BadArguments(f"there is no tool {tool!r} (tools: {', '.join(DECLARED)})")
    given = dict(arguments or {})
    problems = _problems(tool, given)
    if problems:
        raise BadArguments(f"{tool}: " + "; ".join(problems))
    kinds: dict[str, type[Record]] = {"ask": AskArgs, "consensus": ConsensusArgs}
    return kinds.get(tool, JobArgs).parse({k: v for k, v in given.items() if v is not None}, tool)


def _problems(tool: str, given: dict[str, Any]) -> list[str]:
    schema = DECLARED[tool][1]
    known, problems = schema["properties"], []
    for name in sorted(set(given) - set(known)):
        allowed = ", ".join(known) or "none"
        problems.append(f"`{name}` is not an argument of {tool} (arguments: {allowed})")
    problems += [
        f"`{name}` is required" for name in schema.get("required", []) if name not in given
    ]
    for name, value in given.items():
        problem = _check(name, value, known[name]) if name in known else ""
        if problem:
            problems.append(problem)
    prompt, wait = given.get("prompt"), given.get("wait")
    if tool in ("ask", "consensus") and isinstance(prompt, str) and not prompt.strip():
        problems.append("`prompt` is empty")
    if tool == "ask" and given.get("model") and not given.get("provider"):
        problems.append("`model` needs `provider` (a model name belongs to one provider)")
    if tool == "result" and isinstance(wait, (int, float)) and not 0 <= wait <= MAX_WAIT:
        problems.append(f"`wait` must be between 0 and {MAX_WAIT} seconds")
    return problems


def _check(name: str, value: Any, rule: dict[str, Any]) -> str:
    """Why ``value`` does not fit argument ``name``'s schema ``rule``, or ""."""
    kind = rule.get("type")
    if value is None and name not in ("prompt", "job"):
        return ""  # an optional argument given as null: its default
    if kind == "string" and not isinstance(value, str):
        return f"`{name}` must be a string (got {_kind(value)})"
    if kind == "boolean" and not isinstance(value, bool):
        return f"`{name}` must be true or false (got {_kind(value)})"
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"`{name}` must be a number (got {_kind(value)})"
    if kind == "array":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"`{name}` must be a list of strings (got {_kind(value)})"
        choices = rule["items"].get("enum")
        wrong = [v for v in value if choices and v not in choices]
        if wrong:
            return f"`{name}` names {', '.join(map(repr, wrong))}: not one of {', '.join(choices)}"
        if len(set(value)) != len(value):
            return f"`{name}` names one more than once"
        return ""
    choices = rule.get("enum") or (REGISTERED if name == "synthesize_with" else ())
    if choices and value not in choices:
        return f"`{name}` is {value!r}: not one of {', '.join(choices)}"
    return ""


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)

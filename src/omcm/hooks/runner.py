"""The one place that speaks Claude Code's hook protocol.

It reads stdin, checks the payload against the event's record, calls that
event's adapter, writes the single JSON answer on stdout and exits 0 (only the
delivery hook exits 2, with an answer for Claude on stderr). Hooks fail
open: when anything goes wrong, Claude carries on as if OMCM were not there,
but never silently: the user gets a one-line ``systemMessage`` naming the cause
and the log that holds the details.
"""

from __future__ import annotations

import os
import sys
import time

from omcm.core import fastjson, paths
from omcm.core.errors import OmcmError, PayloadError
from omcm.core.records import RecordError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: command-line name → (Claude Code event name, adapter module)
EVENTS: dict[str, tuple[str, str]] = {
    "session-start": ("SessionStart", "omcm.hooks.session_start"),
    "user-prompt-submit": ("UserPromptSubmit", "omcm.hooks.user_prompt_submit"),
    "pre-tool-use": ("PreToolUse", "omcm.hooks.pre_tool_use"),
    "pre-tool-use-wait": ("PreToolUse", "omcm.hooks.pre_tool_use_wait"),
    "post-tool-use": ("PostToolUse", "omcm.hooks.post_tool_use"),
    "stop": ("Stop", "omcm.hooks.stop"),
    "stop-failure": ("StopFailure", "omcm.hooks.stop_failure"),
    "session-end": ("SessionEnd", "omcm.hooks.session_end"),
    "pre-tool-use-mcp": ("PreToolUse", "omcm.hooks.pre_tool_use_mcp"),
}

MAX_STDIN = 64 * 1024 * 1024
#: Hooks that share a Claude Code event with another, as the payload trace names them.
TRACE_NAMES = {"pre-tool-use-wait": "PreToolUseWait", "pre-tool-use-mcp": "PreToolUseMcp"}
#: The exit status of the delivery hook handing Claude an answer (``asyncRewake``).
REWAKE = 2


def run() -> None:
    """Entry point of the launcher: ``python -c "from omcm.hooks.runner import run; run()" EVENT``.

    ``-c`` rather than ``-m omcm.hooks`` spares every hook the import of runpy, and the
    process ends without the interpreter's teardown (:func:`omcm.core.exit_now`).
    """
    from omcm.core import exit_now

    exit_now(main(sys.argv[1:]))


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in EVENTS:
        known = ", ".join(EVENTS)
        emit(
            {
                "systemMessage": f"OMCM: the hook launcher was called with {argv!r}; "
                f"expected one of: {known}. Reinstall the plugin (hooks/hooks.json)."
            }
        )
        return 0
    event, module_name = EVENTS[argv[0]]
    answer: dict[str, Any] | None
    try:
        raw = sys.stdin.buffer.read(MAX_STDIN + 1)
        data = decode(raw, event)
        _trace(argv[0], data)
        module = __import__(module_name, fromlist=["handle"])
        payload = module.PAYLOAD.parse(data, f"{event} hook stdin")
        if payload.hook_event_name != event:
            raise PayloadError(
                f"{event} hook stdin says hook_event_name {payload.hook_event_name!r}; "
                "hooks/hooks.json calls this hook for another event"
            )
        answer = module.handle(payload)
        if answer and "rewake" in answer:
            # The delivery hook: exit 2 with the text on stderr wakes Claude with it.
            sys.stderr.write(answer["rewake"] + "\n")
            sys.stderr.flush()
            return REWAKE
    except (PayloadError, RecordError) as exc:
        answer = {"systemMessage": _failure(f"OMCM could not read the {event} hook's input: {exc}")}
    except OmcmError as exc:
        answer = {"systemMessage": _failure(f"OMCM ({event} hook): {exc}")}
    except Exception as exc:
        import traceback

        log = _log(f"{event} hook crashed", traceback.format_exc())
        summary = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        answer = {
            "systemMessage": f"OMCM: the {event} hook failed ({summary}); Claude carries "
            f"on without it. Details: {log}"
        }
    emit(_with_notices(answer))
    return 0


def decode(raw: bytes, event: str) -> Any:
    if len(raw) > MAX_STDIN:
        raise PayloadError(f"{event} hook stdin is larger than {MAX_STDIN} bytes")
    if not raw.strip():
        raise PayloadError(f"{event} hook stdin is empty; Claude Code sends a JSON object")
    try:
        return fastjson.loads(raw)
    except (fastjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(f"{event} hook stdin is not JSON ({exc})") from exc


def emit(answer: dict[str, Any] | None) -> None:
    """Write the hook's answer: one JSON object, or nothing at all."""
    if answer:
        sys.stdout.write(fastjson.dumps(answer) + "\n")
        sys.stdout.flush()


def _failure(message: str) -> str:
    log = _log(message)
    return f"{message} (logged in {log})"


def _log(message: str, detail: str = "") -> str:
    from omcm.core.state import log_error

    return log_error(message, detail)


def _with_notices(answer: dict[str, Any] | None) -> dict[str, Any] | None:
    from omcm.core.state import NOTICES

    if not NOTICES:
        return answer
    answer = dict(answer or {})
    previous = answer.get("systemMessage")
    answer["systemMessage"] = "\n".join([*([previous] if previous else []), *NOTICES])
    return answer


def _trace(hook: str, data: object) -> None:
    """With ``OMCM_DEBUG_PAYLOADS=1``, keep every payload received (troubleshooting, tests)."""
    if os.environ.get("OMCM_DEBUG_PAYLOADS") != "1":
        return
    trace = os.path.join(paths.state_dir(), "debug", "hook-payloads.jsonl")
    os.makedirs(os.path.dirname(trace), exist_ok=True)
    line = {
        "event": TRACE_NAMES.get(hook, EVENTS[hook][0]),
        "received_at": time.time(),
        "python": sys.executable,
        "plugin_root": os.environ.get("CLAUDE_PLUGIN_ROOT", ""),
        "payload": data,
    }
    with open(trace, "a", encoding="utf-8") as handle:
        handle.write(fastjson.dumps(line) + "\n")

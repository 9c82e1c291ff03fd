"""OpenAI Codex CLI: ``codex exec --json``, the prompt on stdin.

argv: ``codex exec [ARGS] --json --skip-git-repo-check -s SANDBOX [-m MODEL] -C CWD -``.
``-`` reads the prompt from stdin. No ``-o FILE``: the JSONL stream already
carries every ``agent_message``, so no temp file is needed. Retries: codex
retries per model provider (``request_max_retries`` / ``stream_max_retries`` in
the user's config.toml); the built-in OpenAI provider cannot be changed with
``-c``, so OMCM leaves them to the user and relies on its own timeout.

stdout is JSONL (codex-cli 0.169.0): the answer is the last ``agent_message``
item; ``turn.completed`` carries the usage (``input_tokens`` includes cached,
``output_tokens`` includes reasoning); a failed turn ends with ``turn.failed``.
``error`` events also appear on runs that later succeed ("Reconnecting... 2/5").
"""

from __future__ import annotations

import re

from omcm.providers.base import ProviderResult, Usage
from omcm.providers.common import (
    PromptOnStdin,
    as_dict,
    as_int,
    classify,
    crash,
    failure,
    json_lines,
    process_failure,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.proc import ProcResult
    from omcm.providers.base import ProviderRequest

_MESSAGE_TYPES = ("agent_message", "assistant_message")  # the latter: older builds
_URL_SUFFIX = re.compile(r",? url: \S+$")  # "…: Incorrect API key provided., url: http://…"


class Codex(PromptOnStdin):
    """``codex exec``."""

    name = "codex"
    label = "OpenAI Codex"

    def argv(self, command: str, request: ProviderRequest) -> list[str]:
        argv = [
            command,
            "exec",
            *request.extra_args,
            "--json",
            "--skip-git-repo-check",
            "-s",
            request.sandbox,
        ]
        if request.model:
            argv += ["-m", request.model]
        return [*argv, "-C", request.cwd, "-"]

    def parse(self, result: ProcResult, now: float) -> ProviderResult:
        early = process_failure(result)
        if early:
            return early
        events = _Events(result.stdout)
        if events.failed is not None:
            message = _URL_SUFFIX.sub("", events.failed)
            return failure(classify(message), message, now)
        if events.answer:
            return ProviderResult("ok", answer=events.answer, usage=events.usage)
        if result.returncode == 0:
            return ProviderResult(
                "no_answer", usage=events.usage, error="codex finished without an answer"
            )
        if events.last_error:
            message = _URL_SUFFIX.sub("", events.last_error)
            return failure(classify(message), message, now)
        return crash(result)


class _Events:
    """What one ``codex exec --json`` stream says."""

    def __init__(self, stdout: str) -> None:
        self.answer = ""
        self.usage = Usage()
        self.failed: str | None = None
        self.last_error = ""
        for event in json_lines(stdout):
            self._read(event)

    def _read(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "item.completed":
            item = as_dict(event.get("item"))
            if (item.get("type") or item.get("item_type")) in _MESSAGE_TYPES:
                self.answer = str(item.get("text") or "").strip() or self.answer
        elif kind == "turn.completed":
            self.usage += _usage(as_dict(event.get("usage")))
        elif kind == "turn.failed":
            self.failed = str(as_dict(event.get("error")).get("message") or "turn failed")
        elif kind == "error":
            self.last_error = str(event.get("message") or "")


def _usage(raw: dict[str, Any]) -> Usage:
    return Usage(
        input=as_int(raw.get("input_tokens")),
        cached=as_int(raw.get("cached_input_tokens")),
        output=as_int(raw.get("output_tokens")),
        reasoning=as_int(raw.get("reasoning_output_tokens")),
    )


PROVIDER = Codex()

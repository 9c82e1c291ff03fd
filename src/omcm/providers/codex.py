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

from omcm.providers.base import Login, ProviderResult, Usage
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
    from collections.abc import Mapping
    from typing import Any

    from omcm.proc import ProcResult
    from omcm.providers.base import ProviderRequest

_MESSAGE_TYPES = ("agent_message", "assistant_message")  # the latter: older builds
_PROVIDER_ARG = re.compile(r"^model_provider\s*=\s*\"?([\w.-]+)\"?$")
_URL_SUFFIX = re.compile(r",? url: \S+$")  # "…: Incorrect API key provided., url: http://…"


class Codex(PromptOnStdin):
    """``codex exec``."""

    name = "codex"
    label = "OpenAI Codex"
    install = "npm install -g @openai/codex"

    def login(
        self, command: str, args: list[str], models: list[str], env: Mapping[str, str]
    ) -> Login:
        """``codex login status`` (reads ``$CODEX_HOME/auth.json``, no request, no write).

        A model provider of the user's own (``-c model_provider=X`` in the configured
        args) authenticates with its ``env_key`` variable instead.
        """
        own = _own_model_provider(args, env)
        if own is not None:
            name, key = own
            if not key:
                return Login(True, f"model provider {name} (needs no key)")
            if env.get(key):
                return Login(True, f"model provider {name}, key from ${key}")
            return Login(
                False, f"model provider {name} needs ${key}, which is not set", f"export {key}=…"
            )
        for key in ("CODEX_API_KEY", "OPENAI_API_KEY"):
            if env.get(key):
                return Login(True, f"API key from ${key}")
        from omcm import proc

        done = proc.run([command, "login", "status"], env=dict(env), timeout=20)
        said = (done.stderr + "\n" + done.stdout).strip()
        lines = [ln for ln in said.splitlines() if ln.strip() and not ln.startswith("WARNING")]
        detail = lines[0].strip() if lines else "no answer"
        if done.ok:
            return Login(True, f"codex login status: {detail}")
        if done.not_found:
            return Login(False, done.error, self.install)
        return Login(False, "not logged in", "codex login")

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


def _own_model_provider(args: list[str], env: Mapping[str, str]) -> tuple[str, str] | None:
    """(name, env_key) of the model provider codex uses, when it is not OpenAI's.

    ``-c model_provider=NAME`` in the configured ``args`` wins over the user's
    ``$CODEX_HOME/config.toml`` (default ``~/.codex``), as it does for codex.
    """
    values = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("-c", "--config")]
    values += [a.split("=", 1)[1] for a in args if a.startswith("--config=")]
    name = next((m.group(1) for v in values if (m := _PROVIDER_ARG.match(v.strip()))), None)
    file = _codex_config(env)
    if name is None:
        name = str(file.get("model_provider") or "")
    if not name or name == "openai":
        return None
    table = file.get("model_providers", {}).get(name, {})
    key = str(table.get("env_key") or "") if isinstance(table, dict) else ""
    for value in values:
        if value.startswith(f"model_providers.{name}"):
            found = re.search(r"env_key\s*=\s*\"([^\"]+)\"", value)
            key = found.group(1) if found else key
    return name, key


def _codex_config(env: Mapping[str, str]) -> dict[str, Any]:
    import os
    import tomllib

    home = env.get("CODEX_HOME") or os.path.join(env.get("HOME") or "~", ".codex")
    try:
        with open(os.path.join(os.path.expanduser(home), "config.toml"), "rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def _usage(raw: dict[str, Any]) -> Usage:
    return Usage(
        input=as_int(raw.get("input_tokens")),
        cached=as_int(raw.get("cached_input_tokens")),
        output=as_int(raw.get("output_tokens")),
        reasoning=as_int(raw.get("reasoning_output_tokens")),
    )


PROVIDER = Codex()

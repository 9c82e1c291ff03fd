"""OpenCode: ``opencode run --format json``, the prompt on stdin.

argv: ``opencode run [ARGS] --format json [-m PROVIDER/MODEL] --title TITLE --dir CWD
--print-logs --log-level ERROR``. Checked with opencode 1.18.33:

- With no message argument, ``opencode run`` reads the message from a piped
  stdin (with one, stdin is appended to it), so the prompt goes on stdin and
  is not capped at 128 KiB like an argv string.
- ``--dir``: opencode takes its project directory from ``$PWD``, not from the
  process's working directory, so without it the project is the caller's.
- ``--title``: without one, opencode first asks the model for a session title.
- ``--print-logs --log-level ERROR``: some failures only say "Unexpected server
  error" on stdout with a ``ref``; the ERROR log line with that ref on stderr
  names the cause ("ProviderModelNotFoundError: Model not found: …").
- Read-only: opencode has no sandbox flag, and its ``plan`` agent still runs
  bash. ``OPENCODE_PERMISSION`` (merged over the user's config, last rule wins
  for every agent) set to deny ``edit`` (write, edit, patch) and ``bash`` does it;
  a denied call returns an error to the model and the run goes on.
- Retries: 429 and 5xx are retried 5 times, waiting what ``retry-after(-ms)``
  says (uncapped) or 2 s doubling up to 30 s; no flag or variable bounds it, so
  OMCM's timeout does.

stdout is JSONL: ``text`` parts, ``step_finish`` with tokens per step (input
excludes cache reads and writes, output excludes reasoning), or one ``error``
event (exit 1; some releases exit 0, so the event decides).
"""

from __future__ import annotations

import json
import os
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

READ_ONLY_PERMISSION = {"edit": "deny", "bash": "deny"}
_LOG_ERROR = re.compile(r'ref=(?P<ref>\S+) error="(?P<error>(?:[^"\\]|\\.)*)"')
_NOT_FOUND = re.compile(r"ProviderModelNotFoundError: Model not found: (\S+?)\.?(?:\s|$)")


class OpenCode(PromptOnStdin):
    """``opencode run``."""

    name = "opencode"
    label = "OpenCode"
    install = "npm install -g opencode-ai"

    def login(
        self, command: str, args: list[str], models: list[str], env: Mapping[str, str]
    ) -> Login:
        """Credentials for the providers of the configured models (``PROVIDER/MODEL``).

        Read from opencode's ``auth.json`` (what ``opencode auth login`` stores), the
        providers its config declares with a key or a local base URL, and the usual
        API-key variables. Nothing is run: ``opencode auth list`` may go online.
        """
        known = _credentials(env)
        wanted = sorted({m.split("/", 1)[0] for m in models if "/" in m})
        if wanted:
            missing = [p for p in wanted if p not in known]
            if not missing:
                return Login(True, ", ".join(f"{p}: {known[p]}" for p in wanted))
            return Login(
                False,
                f"no credentials for {', '.join(missing)} (the configured models' providers)",
                f"opencode auth login  (choose {missing[0]})",
            )
        if known:
            return Login(True, ", ".join(f"{p}: {how}" for p, how in sorted(known.items())))
        return Login(False, "not logged in to any model provider", "opencode auth login")

    def argv(self, command: str, request: ProviderRequest) -> list[str]:
        argv = [command, "run", *request.extra_args, "--format", "json"]
        if request.model:
            argv += ["-m", request.model]
        return [
            *argv,
            "--title",
            request.title,
            "--dir",
            request.cwd,
            "--print-logs",
            "--log-level",
            "ERROR",
        ]

    def env(self, request: ProviderRequest) -> dict[str, str]:
        if request.sandbox != "read-only":
            return {}
        # Keep the user's own OPENCODE_PERMISSION, with the read-only rules on top.
        try:
            permission = json.loads(os.environ.get("OPENCODE_PERMISSION") or "{}")
        except ValueError:
            permission = {}
        if not isinstance(permission, dict):
            permission = {}
        return {"OPENCODE_PERMISSION": json.dumps(permission | READ_ONLY_PERMISSION)}

    def parse(self, result: ProcResult, now: float) -> ProviderResult:
        early = process_failure(result)
        if early:
            return early
        events = _Events(result.stdout)
        if events.error is not None:
            return _error(events.error, result.stderr, now)
        if events.answer:
            return ProviderResult("ok", answer=events.answer, usage=events.usage)
        if result.returncode == 0:
            return ProviderResult(
                "no_answer", usage=events.usage, error="opencode finished without an answer"
            )
        return crash(result)


class _Events:
    """What one ``opencode run --format json`` stream says."""

    def __init__(self, stdout: str) -> None:
        self.usage = Usage()
        self.error: dict[str, Any] | None = None
        texts: dict[str, list[str]] = {}
        for event in json_lines(stdout):
            part = as_dict(event.get("part"))
            kind = event.get("type")
            if kind == "text":
                texts.setdefault(str(part.get("messageID")), []).append(str(part.get("text") or ""))
            elif kind == "step_finish":
                self.usage += _usage(as_dict(part.get("tokens")))
            elif kind == "error":
                self.error = as_dict(event.get("error"))
        # The answer is the text of the last message that has any; earlier steps'
        # text is narration before tool calls.
        last = [t for t in texts.values() if "".join(t).strip()]
        self.answer = "".join(last[-1]).strip() if last else ""


#: API-key variables opencode reads, by its provider id (from models.dev's provider list).
_KEY_VARS = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "google": ("GOOGLE_GENERATIVE_AI_API_KEY", "GEMINI_API_KEY"),
    "openrouter": ("OPENROUTER_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
    "github-copilot": ("GITHUB_TOKEN",),
}


def _credentials(env: Mapping[str, str]) -> dict[str, str]:
    """provider id → where its credentials come from."""
    found: dict[str, str] = {}
    data = env.get("XDG_DATA_HOME") or os.path.join(env.get("HOME") or "~", ".local", "share")
    stored = _json_file(os.path.join(os.path.expanduser(data), "opencode", "auth.json"))
    for provider in stored:
        found[provider] = "opencode auth login"
    for provider, names in _KEY_VARS.items():
        for name in names:
            if env.get(name):
                found.setdefault(provider, f"${name}")
    for config in _configs(env):
        for provider, table in as_dict(config.get("provider")).items():
            options = as_dict(as_dict(table).get("options"))
            if options.get("apiKey"):
                found.setdefault(str(provider), "apiKey in opencode config")
            elif options.get("baseURL"):
                found.setdefault(str(provider), f"server at {options['baseURL']}")
    return found


def _configs(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """opencode's global configs and ``OPENCODE_CONFIG_CONTENT`` (comments allowed)."""
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or "~", ".config")
    files = [
        os.path.join(os.path.expanduser(base), "opencode", f"opencode.{ext}")
        for ext in ("json", "jsonc")
    ]
    if env.get("OPENCODE_CONFIG"):
        files.append(env["OPENCODE_CONFIG"])
    found = [_json_file(path) for path in files]
    if env.get("OPENCODE_CONFIG_CONTENT"):
        found.append(_json_text(env["OPENCODE_CONFIG_CONTENT"]))
    return [c for c in found if c]


def _json_file(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            return _json_text(handle.read())
    except OSError:
        return {}


def _json_text(text: str) -> dict[str, Any]:
    text = re.sub(
        r'("(?:[^"\\]|\\.)*")|//[^\n]*|/\*.*?\*/', lambda m: m.group(1) or "", text, flags=re.S
    )
    try:
        return as_dict(json.loads(text))
    except ValueError:
        return {}


def _usage(tokens: dict[str, Any]) -> Usage:
    cache = as_dict(tokens.get("cache"))
    read = as_int(cache.get("read"))
    reasoning = as_int(tokens.get("reasoning"))
    return Usage(
        input=as_int(tokens.get("input")) + read + as_int(cache.get("write")),
        cached=read,
        output=as_int(tokens.get("output")) + reasoning,
        reasoning=reasoning,
    )


def _error(error: dict[str, Any], stderr: str, now: float) -> ProviderResult:
    """Classify an ``error`` event: API errors carry the status and response headers."""
    name = str(error.get("name") or "")
    data = as_dict(error.get("data"))
    message = str(data.get("message") or name or "error")
    status = as_int(data.get("statusCode"))
    headers = {str(k): str(v) for k, v in as_dict(data.get("responseHeaders")).items()}
    logged = _logged_error(stderr, str(data.get("ref") or ""))
    if logged:
        missing = _NOT_FOUND.search(logged)
        if missing:
            return ProviderResult(
                "auth",
                error=f"model {missing.group(1)} is not available: its provider is "
                "not logged in or the model is unknown (see `opencode models`)",
            )
        message = logged
    if name == "ProviderAuthError":
        return failure("auth", message, now)
    return failure(classify(message, status), message, now, headers)


def _logged_error(stderr: str, ref: str) -> str:
    """The ``error="…"`` of the ERROR log line for ``ref`` (from ``--print-logs``)."""
    if not ref:
        return ""
    for match in _LOG_ERROR.finditer(stderr):
        if match.group("ref") == ref:
            try:
                return str(json.loads(f'"{match.group("error")}"'))
            except ValueError:
                return match.group("error")
    return ""


PROVIDER = OpenCode()

"""Google Gemini CLI: ``gemini -p`` in JSON mode, the prompt on stdin.

argv: ``gemini [ARGS] --output-format json --skip-trust --approval-mode MODE [-m MODEL]
-p INSTRUCTION``. gemini puts stdin text before the ``-p`` text, so the whole
prompt goes on stdin and ``-p`` carries one short line (an argv string is capped
at 128 KiB). ``--skip-trust`` trusts the project for this run only (an untrusted
folder exits 55 in headless mode).

Sandbox, checked with gemini 0.61.0: headless ``--approval-mode default`` does not
offer the model any tool that needs approval (no write_file, replace or shell:
a call to one fails "Tool not found"), so read-only is ``default``.
``auto_edit`` adds the file edit tools (confined to the workspace) but still no
shell; ``yolo`` would add an unsandboxed shell, so workspace-write is ``auto_edit``.
(``plan`` is a planning mode whose write_file writes plans under ~/.gemini.)

Retries: only ``general.maxAttempts`` in the user's settings.json (default 10,
backing off from 5 s: about 4 minutes on a lasting 429); there is no flag or
variable, so OMCM's timeout bounds them.

Output: success prints one JSON object on stdout (``response`` and
``stats.models``: sum every model, auto routing uses several). Failure prints
nothing on stdout; stderr ends with ``{"session_id", "error": {"message", "code"}}``
where ``code`` is the HTTP status or gemini's exit code, and the process exits
with the HTTP status mod 256 (429 → 173, 401 → 145, 500 → 244) or 41 for auth.
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
    last_json_object,
    process_failure,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from omcm.proc import ProcResult
    from omcm.providers.base import Outcome, ProviderRequest

INSTRUCTION = "Carry out the task above and reply with the result."
APPROVAL_MODES = {"read-only": "default", "workspace-write": "auto_edit"}
# Exit codes when no structured error was printed: the HTTP status mod 256 and
# gemini's FatalAuthenticationError.
_EXIT_CODES: dict[int, Outcome] = {41: "auth", 145: "auth", 147: "auth", 173: "rate_limited"}
_RETRY_DELAY = re.compile(r"retryDelayMs: (\d+)")


class Gemini(PromptOnStdin):
    """``gemini -p``."""

    name = "gemini"
    label = "Google Gemini"
    install = "npm install -g @google/gemini-cli"

    def login(
        self, command: str, args: list[str], models: list[str], env: Mapping[str, str]
    ) -> Login:
        """The auth method in gemini's settings.json and what it needs (gemini 0.61 rules).

        ``oauth-personal`` (Login with Google) needs ``oauth_creds.json`` next to the
        settings; ``gemini-api-key`` needs ``GEMINI_API_KEY`` (also read from
        ``~/.gemini/.env``); ``vertex-ai`` needs ``GOOGLE_CLOUD_PROJECT`` and
        ``GOOGLE_CLOUD_LOCATION``, or ``GOOGLE_API_KEY``. With no method chosen, a
        headless run takes an API key from the environment.
        """
        home = _gemini_home(env)
        method = _auth_method(home)
        keys = _with_dotenv(env, home)
        fix = "gemini  (once, interactively: choose Login with Google), or export GEMINI_API_KEY=…"
        if method == "oauth-personal":
            if os.path.exists(os.path.join(home, "oauth_creds.json")):
                return Login(True, "Login with Google")
            return Login(False, "Login with Google is chosen but no login is stored", fix)
        if method in ("compute-default-credentials", "cloud-shell"):
            return Login(True, f"auth method {method}")
        if method == "vertex-ai":
            if keys.get("GOOGLE_API_KEY") or (
                keys.get("GOOGLE_CLOUD_PROJECT") and keys.get("GOOGLE_CLOUD_LOCATION")
            ):
                return Login(True, "Vertex AI")
            return Login(
                False,
                "Vertex AI is chosen but GOOGLE_CLOUD_PROJECT and "
                "GOOGLE_CLOUD_LOCATION (or GOOGLE_API_KEY) are not set",
                "export GOOGLE_CLOUD_PROJECT=… GOOGLE_CLOUD_LOCATION=…",
            )
        if keys.get("GEMINI_API_KEY"):
            return Login(True, "API key from $GEMINI_API_KEY")
        if method == "gemini-api-key":
            return Login(
                False,
                "the Gemini API key method is chosen but GEMINI_API_KEY is not set",
                "export GEMINI_API_KEY=…",
            )
        return Login(False, "not logged in (no auth method chosen, no GEMINI_API_KEY)", fix)

    def argv(self, command: str, request: ProviderRequest) -> list[str]:
        argv = [
            command,
            *request.extra_args,
            "--output-format",
            "json",
            "--skip-trust",
            "--approval-mode",
            APPROVAL_MODES[request.sandbox],
        ]
        if request.model:
            argv += ["-m", request.model]
        return [*argv, "-p", INSTRUCTION]

    def parse(self, result: ProcResult, now: float) -> ProviderResult:
        early = process_failure(result)
        if early:
            return early
        out = last_json_object(result.stdout) or {}
        err = as_dict(out.get("error")) or as_dict(
            (last_json_object(result.stderr) or {}).get("error")
        )
        if err:
            return _error(err, result.stderr, now)
        answer = str(out.get("response") or "").strip()
        usage, model = _stats(as_dict(out.get("stats")))
        if answer:
            return ProviderResult("ok", answer=answer, usage=usage, model=model)
        if result.returncode == 0:
            return ProviderResult(
                "no_answer", usage=usage, model=model, error="gemini finished without an answer"
            )
        outcome = _EXIT_CODES.get(result.returncode or 0)
        if outcome:
            return failure(outcome, f"exited with code {result.returncode}", now)
        return crash(result)


def _gemini_home(env: Mapping[str, str]) -> str:
    base = env.get("GEMINI_CLI_HOME") or env.get("HOME") or os.path.expanduser("~")
    return os.path.join(base, ".gemini")


def _auth_method(home: str) -> str:
    try:
        with open(os.path.join(home, "settings.json"), encoding="utf-8") as handle:
            settings = json.load(handle)
    except (OSError, ValueError):
        return ""
    if not isinstance(settings, dict):
        return ""
    auth = as_dict(as_dict(settings.get("security")).get("auth"))
    return str(auth.get("selectedType") or settings.get("selectedAuthType") or "")


def _with_dotenv(env: Mapping[str, str], home: str) -> dict[str, str]:
    """``env`` plus what gemini's ``~/.gemini/.env`` sets (the environment wins)."""
    found: dict[str, str] = {}
    try:
        with open(os.path.join(home, ".env"), encoding="utf-8") as handle:
            for line in handle:
                name, sep, value = line.strip().removeprefix("export ").partition("=")
                if sep and name and not name.startswith("#"):
                    found[name.strip()] = value.strip().strip("'\"")
    except OSError:
        pass
    return found | dict(env)


def _error(err: dict[str, Any], stderr: str, now: float) -> ProviderResult:
    """Classify gemini's ``error`` object; API errors nest the response body as JSON text."""
    message = str(err.get("message") or "")
    code = as_int(err.get("code"))
    status = ""
    if message.startswith("{"):
        try:
            inner = as_dict(as_dict(json.loads(message)).get("error"))
        except ValueError:
            inner = {}
        if inner:
            message = str(inner.get("message") or message)
            status = str(inner.get("status") or "")
            code = as_int(inner.get("code")) or code
    if code == 41 or status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        outcome: Outcome = "auth"
    elif status == "RESOURCE_EXHAUSTED":
        outcome = "rate_limited"
    else:
        outcome = classify(message, code if code >= 100 else 0)
    found = failure(outcome, message or f"error {code}", now)
    if outcome == "rate_limited" and found.reset_at is None:
        delay = _RETRY_DELAY.search(stderr)
        if delay:
            return ProviderResult(
                outcome, error=found.error, reset_at=now + int(delay.group(1)) / 1000
            )
    return found


def _stats(stats: dict[str, Any]) -> tuple[Usage, str]:
    """Usage summed over every model, and the model that did the main work."""
    total = Usage()
    main = ""
    models = as_dict(stats.get("models"))
    for name, entry in models.items():
        tokens = as_dict(as_dict(entry).get("tokens"))
        thoughts = as_int(tokens.get("thoughts"))
        # prompt includes cached; tool-use prompts are input too. candidates excludes thoughts.
        total += Usage(
            input=as_int(tokens.get("prompt")) + as_int(tokens.get("tool")),
            cached=as_int(tokens.get("cached")),
            output=as_int(tokens.get("candidates")) + thoughts,
            reasoning=thoughts,
        )
        if "main" in as_dict(as_dict(entry).get("roles")) or len(models) == 1:
            main = str(name)
    return total, main


PROVIDER = Gemini()

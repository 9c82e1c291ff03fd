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

import os

from omcm.core import fastjson
from omcm.providers.base import (
    Login,
    PoolSettings,
    Provider,
    ProviderResult,
    TierModels,
    Usage,
    WarmError,
    WarmServer,
    WarmSettings,
)
from omcm.providers.common import (
    as_dict,
    as_int,
    classify,
    crash,
    failure,
    last_json_object,
    process_failure,
    regex,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from threading import Event
    from typing import Any

    from omcm.core.proc import ProcResult
    from omcm.providers.base import Outcome, ProviderRequest, ProviderSettings

INSTRUCTION = "Carry out the task above and reply with the result."
APPROVAL_MODES = {"read-only": "default", "workspace-write": "auto_edit"}
# Exit codes when no structured error was printed: the HTTP status mod 256 and
# gemini's FatalAuthenticationError.
_EXIT_CODES: dict[int, Outcome] = {41: "auth", 145: "auth", 147: "auth", 173: "rate_limited"}
_RETRY_DELAY = r"retryDelayMs: (\d+)"


class Gemini(Provider):
    """``gemini -p``; warm: ``gemini --acp`` (:class:`AcpServer`)."""

    name = "gemini"
    label = "Google Gemini"
    hud = "G"
    install = "npm install -g @google/gemini-cli"
    summary = "Google Gemini CLI (`gemini -p`; warm: `gemini --acp`)."
    prices = "google"
    version_writes = True
    defaults = WarmSettings(
        command="gemini",
        model=TierModels(low="gemini-2.5-flash", medium="gemini-2.5-pro", high="gemini-2.5-pro"),
        pool=PoolSettings(),
    )

    def warm(self, settings: ProviderSettings) -> type[WarmServer] | None:
        return AcpServer

    def server_env(self, settings: ProviderSettings) -> dict[str, str]:
        """One process instead of two: gemini otherwise starts a second Node process of
        itself (to raise its heap limit to half the machine's memory) and waits on it,
        which costs ~2 s and ~1.7 s of CPU per call on the 2-core machine (gemini 0.61)."""
        return {"GEMINI_CLI_NO_RELAUNCH": "true"}

    def login(self, settings: ProviderSettings, env: Mapping[str, str]) -> Login:
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
        fix = (
            "run gemini once, interactively, and choose Login with Google; "
            "or export GEMINI_API_KEY=KEY"
        )
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
                "export GOOGLE_CLOUD_PROJECT=PROJECT GOOGLE_CLOUD_LOCATION=LOCATION",
            )
        if keys.get("GEMINI_API_KEY"):
            return Login(True, "API key from $GEMINI_API_KEY")
        if method == "gemini-api-key":
            return Login(
                False,
                "the Gemini API key method is chosen but GEMINI_API_KEY is not set",
                "export GEMINI_API_KEY=KEY",
            )
        return Login(False, "not logged in (no auth method chosen, no GEMINI_API_KEY)", fix)

    def argv(self, request: ProviderRequest, settings: ProviderSettings) -> list[str]:
        command = self.program(settings)
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
            return ProviderResult(outcome="ok", answer=answer, usage=usage, model=model)
        if result.returncode == 0:
            return ProviderResult(
                outcome="no_answer",
                usage=usage,
                model=model,
                error="gemini finished without an answer",
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
            settings = fastjson.loads(handle.read())
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
            inner = as_dict(as_dict(fastjson.loads(message)).get("error"))
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
        delay = regex(_RETRY_DELAY).search(stderr)
        if delay:
            return ProviderResult(
                outcome=outcome, error=found.error, reset_at=now + int(delay.group(1)) / 1000
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


class AcpServer(WarmServer):
    """``gemini --acp``: the Agent Client Protocol (JSON-RPC 2.0) on stdio, a session per call.

    Checked with gemini 0.61.0: ``session/new`` (the call's cwd), ``session/set_model``,
    then ``session/prompt``; the answer is the ``agent_message_chunk`` updates, the
    usage ``_meta.quota.token_count`` (input with cached, output **without** thoughts:
    ACP reports no cached or thought counts). Sandbox as ``gemini -p`` has it:
    read-only stays in mode ``default`` and every permission request (shell, file
    writes) is rejected; workspace-write is mode ``autoEdit`` (file edits inside
    the project, no shell: its requests are rejected too). A failed model request
    is the prompt's error, coded with the HTTP status. ``session/cancel`` aborts.
    """

    def __init__(
        self, settings: ProviderSettings, project: str, env: dict[str, str], log: str
    ) -> None:
        super().__init__(settings, project, env, log)
        from omcm.providers.warm import Process

        argv = [PROVIDER.program(settings), *settings.args, "--acp", "--skip-trust"]
        self.process = Process(argv, env, project, log)
        self.rpc: Any = None

    def start(self, timeout: float) -> None:
        import time

        from omcm.providers.warm import Rpc, RpcError

        self.rpc = Rpc(self.process, jsonrpc=True, on_request=_reject_permission)
        capabilities = {"fs": {"readTextFile": False, "writeTextFile": False}, "terminal": False}
        try:
            self.rpc.request(
                "initialize",
                {"protocolVersion": 1, "clientCapabilities": capabilities},
                time.monotonic() + timeout,
            )
        except RpcError as exc:
            raise WarmError(f"gemini --acp refused initialize: {exc.message}") from None

    def call(self, request: ProviderRequest, timeout: float, stop: Event) -> ProviderResult:
        import time

        from omcm.providers.warm import RpcError, Stopped

        deadline = time.monotonic() + timeout
        try:
            opened = self.rpc.request(
                "session/new", {"cwd": request.cwd, "mcpServers": []}, deadline, stop
            )
            session = opened.get("sessionId")
            if request.model:
                self.rpc.request(
                    "session/set_model", {"sessionId": session, "modelId": request.model}, deadline
                )
            mode = APPROVAL_MODES[request.sandbox].replace("auto_edit", "autoEdit")
            if mode != "default":
                self.rpc.request(
                    "session/set_mode", {"sessionId": session, "modeId": mode}, deadline
                )
        except RpcError as exc:
            return _error({"message": exc.message, "code": exc.code}, "", time.time())
        except Stopped:
            return ProviderResult("cancelled", error="cancelled")
        updates = self.rpc.subscribe(
            lambda m: (
                m.get("method") == "session/update"
                and as_dict(m.get("params")).get("sessionId") == session
            )
        )
        prompt = {"sessionId": session, "prompt": [{"type": "text", "text": request.prompt}]}
        try:
            done = self.rpc.request("session/prompt", prompt, deadline, stop)
        except RpcError as exc:
            return _error({"message": exc.message, "code": exc.code}, "", time.time())
        except Stopped:
            self.rpc.notify("session/cancel", {"sessionId": session})
            return ProviderResult("cancelled", error="cancelled")
        except WarmError:
            if not self.process.alive():
                raise
            self.rpc.notify("session/cancel", {"sessionId": session})
            return ProviderResult("timeout", error=f"timed out after {timeout:g}s")
        finally:
            self.rpc.unsubscribe(updates)
        answer = "".join(_chunks(updates)).strip()
        quota = as_dict(as_dict(done.get("_meta")).get("quota"))
        counts = as_dict(quota.get("token_count"))
        usage = Usage(
            input=as_int(counts.get("input_tokens")), output=as_int(counts.get("output_tokens"))
        )
        used = [as_dict(m) for m in quota.get("model_usage") or [] if isinstance(m, dict)]
        model = str(used[0].get("model") or "") if len(used) == 1 else ""
        if answer:
            return ProviderResult("ok", answer=answer, usage=usage, model=model)
        reason = str(done.get("stopReason") or "")
        return ProviderResult(
            "no_answer",
            usage=usage,
            model=model,
            error=f"gemini finished without an answer (stop reason {reason or 'none'})",
        )


def _chunks(updates: Any) -> list[str]:
    """The answer's text from the session's queued ``agent_message_chunk`` updates."""
    import queue

    texts: list[str] = []
    while True:
        try:
            message = updates.get_nowait()
        except queue.Empty:
            return texts
        update = as_dict(as_dict(message.get("params")).get("update"))
        if update.get("sessionUpdate") != "agent_message_chunk":
            continue
        content = as_dict(update.get("content"))
        text = str(content.get("text") or "") if content.get("type") == "text" else ""
        if not text.startswith("[MODE_UPDATE]"):
            texts.append(text)


def _reject_permission(message: dict[str, Any]) -> dict[str, Any] | None:
    """Answer ``session/request_permission`` with its reject option: the sandbox holds."""
    if message.get("method") != "session/request_permission":
        return None
    options = [as_dict(o) for o in as_dict(message.get("params")).get("options") or []]
    for kind in ("reject_once", "reject_always"):
        for option in options:
            if option.get("kind") == kind:
                return {"outcome": {"outcome": "selected", "optionId": option.get("optionId")}}
    return {"outcome": {"outcome": "cancelled"}}

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

import os

from omcm.core import fastjson
from omcm.providers.base import (
    Login,
    PoolSettings,
    Provider,
    ProviderResult,
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
    json_lines,
    process_failure,
    regex,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from threading import Event
    from typing import Any

    from omcm.core.proc import ProcResult
    from omcm.providers.base import ProviderRequest, ProviderSettings

READ_ONLY_PERMISSION = {"edit": "deny", "bash": "deny"}
_LOG_ERROR = r'ref=(?P<ref>\S+) error="(?P<error>(?:[^"\\]|\\.)*)"'
_NOT_FOUND = r"ProviderModelNotFoundError: Model not found: (\S+?)\.?(?:\s|$)"


class OpenCode(Provider):
    """``opencode run``; warm: ``opencode serve`` (:class:`Serve`)."""

    name = "opencode"
    label = "OpenCode"
    hud = "OC"
    install = "npm install -g opencode-ai"
    summary = "OpenCode (`opencode run`; warm: `opencode serve`)."
    defaults = WarmSettings(command="opencode", pool=PoolSettings())

    def warm(self, settings: ProviderSettings) -> type[WarmServer] | None:
        return Serve

    def login(self, settings: ProviderSettings, env: Mapping[str, str]) -> Login:
        """Credentials for the providers of the configured models (``PROVIDER/MODEL``).

        Read from opencode's ``auth.json`` (what ``opencode auth login`` stores), the
        providers its config declares with a key or a local base URL, and the usual
        API-key variables. Nothing is run: ``opencode auth list`` may go online.
        """
        known = _credentials(env)
        wanted = sorted({m.split("/", 1)[0] for m in settings.model.named() if "/" in m})
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

    def argv(self, request: ProviderRequest, settings: ProviderSettings) -> list[str]:
        command = self.program(settings)
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

    def env(self, request: ProviderRequest, settings: ProviderSettings) -> dict[str, str]:
        if request.sandbox != "read-only":
            return {}
        # Keep the user's own OPENCODE_PERMISSION, with the read-only rules on top.
        try:
            permission = fastjson.loads(os.environ.get("OPENCODE_PERMISSION") or "{}")
        except ValueError:
            permission = {}
        if not isinstance(permission, dict):
            permission = {}
        return {"OPENCODE_PERMISSION": fastjson.dumps(permission | READ_ONLY_PERMISSION)}

    def progress(self, line: str) -> str:
        """``opencode run --format json``'s events: a step starting, a tool in use."""
        if '"step_start"' in line:
            return "thinking"
        if '"tool_use"' not in line:
            return ""
        event = next(iter(json_lines(line)), {})
        tool = str(as_dict(event.get("part")).get("tool") or "")
        return f"using {tool}" if tool and tool != "invalid" else ""

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
    text = regex(r'(?s)("(?:[^"\\]|\\.)*")|//[^\n]*|/\*.*?\*/').sub(
        lambda m: m.group(1) or "", text
    )
    try:
        return as_dict(fastjson.loads(text))
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
        missing = regex(_NOT_FOUND).search(logged)
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
    for match in regex(_LOG_ERROR).finditer(stderr):
        if match.group("ref") == ref:
            try:
                return str(fastjson.loads(f'"{match.group("error")}"'))
            except ValueError:
                return match.group("error")
    return ""


PROVIDER = OpenCode()


#: Rules every warm session gets: what ``opencode run`` denies (questions, plan mode
#: switches), and paths outside the project (``run`` rejects such asks; a deny lets
#: the run go on, and an unanswered ask would hold the call).
_SESSION_RULES = ("question", "plan_enter", "plan_exit", "external_directory")


class Serve(WarmServer):
    """``opencode serve``: its HTTP API on 127.0.0.1, a new session per call.

    Checked with opencode 1.18.33: the server prints ``listening on URL`` when ready
    and, with ``OPENCODE_SERVER_PASSWORD`` set (a fresh random one per server), wants
    HTTP basic auth on every route. ``POST /session?directory=…`` makes a session in
    the call's project with its own permission rules (read-only: ``edit`` and
    ``bash`` denied, so the model is not even offered them, subagents included);
    ``POST /session/{id}/message`` runs the prompt and answers with the last
    assistant message; ``GET /session/{id}`` sums the tokens of every step (counted
    as ``opencode run`` counts them); ``POST /session/{id}/abort`` stops a run at
    once; ``DELETE /session/{id}`` drops it. A model error is HTTP 200 with
    ``info.error``; an unknown model is a 500 whose cause is in the server's log.
    Pending permission asks are rejected, as ``opencode run`` does. ``args`` are
    ``opencode run`` arguments, so a server is not started when they are set.
    """

    def __init__(
        self, settings: ProviderSettings, project: str, env: dict[str, str], log: str
    ) -> None:
        import secrets

        from omcm.providers.warm import Process, free_port

        super().__init__(settings, project, env, log)
        self.password = secrets.token_urlsafe(24)
        argv = [PROVIDER.program(settings), "serve", "--port", str(free_port())]
        argv += ["--hostname", "127.0.0.1", "--print-logs", "--log-level", "ERROR"]
        self.process = Process(
            argv, env | {"OPENCODE_SERVER_PASSWORD": self.password}, project, log
        )
        self.http: Any = None
        self._url = ""
        self._ready: Any = None

    def start(self, timeout: float) -> None:
        import threading

        from omcm.providers.warm import Http

        if self.settings.args:
            raise WarmError(
                "[providers.opencode] args are `opencode run` arguments; warm servers run "
                "only without them"
            )
        self._ready = threading.Event()
        self.process.start(stdin=False, on_stdout=self._on_line)
        if not self._ready.wait(timeout) or not self._url:
            note = self.process.exit_note()
            self.process.close()
            raise WarmError(f"opencode serve did not report its address ({note})")
        self.http = Http(
            self._url, self.env.get("OPENCODE_SERVER_USERNAME") or "opencode", self.password
        )
        trouble = self.check()
        if trouble:
            self.process.close()
            raise WarmError(trouble)
        # Load the project and its model providers now, not on the first call: that call
        # still takes about 0.7 s more than the next ones (1.8 s without this).
        from urllib.parse import quote

        where = quote(self.project, safe="")
        self.http.request("GET", f"/config/providers?directory={where}", timeout=60)

    def _on_line(self, line: str) -> None:
        found = regex(r"listening on (http://\S+)").search(line)
        if found:
            self._url = found.group(1).rstrip("/")
        if found or not line:
            self._ready.set()

    def check(self) -> str:
        if not self.process.alive():
            return f"opencode serve {self.process.exit_note()}"
        try:
            status, body = self.http.request("GET", "/global/health", timeout=5)
        except WarmError as exc:
            return f"opencode serve does not answer: {exc}"
        if status != 200 or not as_dict(body).get("healthy"):
            return f"opencode serve is unhealthy (GET /global/health: {status} {body})"
        return ""

    def call(self, request: ProviderRequest, timeout: float, stop: Event) -> ProviderResult:
        import time
        from urllib.parse import quote

        deadline = time.monotonic() + timeout
        where = f"?directory={quote(request.cwd, safe='')}"
        denied = list(_SESSION_RULES)
        if request.sandbox == "read-only":
            denied += list(READ_ONLY_PERMISSION)
        rules = [{"permission": p, "pattern": "*", "action": "deny"} for p in denied]
        status, made = self.http.request(
            "POST", f"/session{where}", {"title": request.title, "permission": rules}, timeout=30
        )
        session = as_dict(made).get("id")
        if status != 200 or not session:
            return self._refused(status, made, "POST /session")
        try:
            return self._run(
                f"/session/{session}",
                where,
                request,
                deadline=deadline,
                stop=stop,
                timeout=timeout,
            )
        finally:
            try:
                self.http.request("DELETE", f"/session/{session}{where}", timeout=10)
            except WarmError:
                pass

    def _run(
        self,
        path: str,
        where: str,
        request: ProviderRequest,
        *,
        deadline: float,
        stop: Event,
        timeout: float,
    ) -> ProviderResult:
        import threading
        import time

        body: dict[str, Any] = {"parts": [{"type": "text", "text": request.prompt}]}
        if request.model:
            provider, _, model = request.model.partition("/")
            body["model"] = {"providerID": provider, "modelID": model}
        reply: list[tuple[int, Any]] = []
        failed: list[str] = []

        def post() -> None:
            try:
                left = deadline - time.monotonic() + 10
                reply.append(self.http.request("POST", f"{path}/message{where}", body, left))
            except WarmError as exc:
                failed.append(str(exc))

        runner = threading.Thread(target=post, daemon=True)
        runner.start()
        next_look = time.monotonic() + 0.5
        while runner.is_alive():
            if stop.is_set() or time.monotonic() >= deadline:
                self._abort(path, where, runner)
                if stop.is_set():
                    return ProviderResult("cancelled", error="cancelled")
                return ProviderResult("timeout", error=f"timed out after {timeout:g}s")
            runner.join(0.1)
            if time.monotonic() >= next_look:
                self._reject_asks(where)
                next_look = time.monotonic() + 0.5
        if failed or not reply:
            raise WarmError(failed[0] if failed else "no answer from opencode serve")
        status, answer = reply[0]
        info = as_dict(as_dict(answer).get("info"))
        if status != 200:
            return self._refused(status, answer, "POST /message")
        if info.get("error"):
            return _error(as_dict(info["error"]), self.process.stderr_tail(), time.time())
        text = _texts(as_dict(answer).get("parts")) or self._last_text(path, where)
        usage = self._usage(path, where) or _usage(as_dict(info.get("tokens")))
        model = "/".join(str(info.get(k) or "") for k in ("providerID", "modelID")).strip("/")
        if text:
            return ProviderResult("ok", answer=text, usage=usage, model=model)
        return ProviderResult(
            "no_answer", usage=usage, model=model, error="opencode finished without an answer"
        )

    def _refused(self, status: int, body: Any, what: str) -> ProviderResult:
        """A non-200 answer: an unknown model (500, cause in the log) or a refused request."""
        import time

        data = as_dict(body)
        if data.get("name") or data.get("data"):
            return _error(data, self.process.stderr_tail(), time.time())
        return failure(
            "api_error", f"opencode serve: {what} answered {status}: {body}", time.time()
        )

    def _abort(self, path: str, where: str, runner: Any) -> None:
        try:
            self.http.request("POST", f"{path}/abort{where}", {}, timeout=5)
        except WarmError:
            return
        runner.join(5)

    def _reject_asks(self, where: str) -> None:
        """Reject pending permission asks: this server runs one call at a time, so they
        are this call's (or its subagents'); an unanswered ask would hold it."""
        try:
            status, asks = self.http.request("GET", f"/permission{where}", timeout=5)
        except WarmError:
            return
        for ask in asks if status == 200 and isinstance(asks, list) else []:
            ask_id = as_dict(ask).get("id")
            if ask_id:
                try:
                    self.http.request(
                        "POST", f"/permission/{ask_id}/reply{where}", {"reply": "reject"}, 5
                    )
                except WarmError:
                    pass

    def _usage(self, path: str, where: str) -> Usage | None:
        """Tokens of every step of the session (the message has the last step's only)."""
        try:
            status, session = self.http.request("GET", f"{path}{where}", timeout=10)
        except WarmError:
            return None
        tokens = as_dict(as_dict(session).get("tokens"))
        return _usage(tokens) if status == 200 and tokens else None

    def _last_text(self, path: str, where: str) -> str:
        """The text of the last message that has any (when the final step was a tool call)."""
        try:
            status, messages = self.http.request("GET", f"{path}/message{where}", timeout=10)
        except WarmError:
            return ""
        for message in reversed(messages if status == 200 and isinstance(messages, list) else []):
            if as_dict(as_dict(message).get("info")).get("role") != "assistant":
                continue
            text = _texts(as_dict(message).get("parts"))
            if text:
                return text
        return ""


def _texts(parts: object) -> str:
    found = [as_dict(p) for p in parts] if isinstance(parts, list) else []
    return "".join(str(p.get("text") or "") for p in found if p.get("type") == "text").strip()

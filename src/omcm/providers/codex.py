"""OpenAI Codex CLI: ``codex exec --json``, the prompt on stdin.

argv: ``codex exec [ARGS] --json --skip-git-repo-check -s SANDBOX [-m MODEL]
[--output-schema FILE] -C CWD -``.
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

_MESSAGE_TYPES = ("agent_message", "assistant_message")  # the latter: older builds
_PROVIDER_ARG = r"^model_provider\s*=\s*\"?([\w.-]+)\"?$"
_URL_SUFFIX = r",? url: \S+$"  # "…: Incorrect API key provided., url: http://…"


class Codex(Provider):
    """``codex exec``; warm: ``codex app-server`` (:class:`AppServer`)."""

    name = "codex"
    label = "OpenAI Codex"
    hud = "O"
    install = "npm install -g @openai/codex"
    summary = "OpenAI Codex CLI (`codex exec`; warm: `codex app-server`)."
    prices = "openai"
    defaults = WarmSettings(
        command="codex",
        model=TierModels(low="gpt-5.1-codex-mini", medium="gpt-5.2-codex", high="gpt-5.2-codex"),
        pool=PoolSettings(),
    )

    def warm(self, settings: ProviderSettings) -> type[WarmServer] | None:
        return AppServer

    def login(self, settings: ProviderSettings, env: Mapping[str, str]) -> Login:
        """``codex login status`` (reads ``$CODEX_HOME/auth.json``, no request, no write).

        A model provider of the user's own (``-c model_provider=X`` in the configured
        args) authenticates with its ``env_key`` variable instead.
        """
        own = _own_model_provider(list(settings.args), env)
        if own is not None:
            name, key = own
            if not key:
                return Login(ready=True, detail=f"model provider {name} (needs no key)")
            if env.get(key):
                return Login(ready=True, detail=f"model provider {name}, key from ${key}")
            return Login(
                ready=False,
                detail=f"model provider {name} needs ${key}, which is not set",
                fix=f"export {key}=KEY",
            )
        for key in ("CODEX_API_KEY", "OPENAI_API_KEY"):
            if env.get(key):
                return Login(ready=True, detail=f"API key from ${key}")
        from omcm.core import proc

        done = proc.run([self.program(settings), "login", "status"], env=dict(env), timeout=20)
        said = (done.stderr + "\n" + done.stdout).strip()
        lines = [ln for ln in said.splitlines() if ln.strip() and not ln.startswith("WARNING")]
        detail = lines[0].strip() if lines else "no answer"
        if done.ok:
            return Login(ready=True, detail=f"codex login status: {detail}")
        if done.not_found:
            return Login(ready=False, detail=done.error, fix=self.install)
        return Login(ready=False, detail="not logged in", fix="codex login")

    def login_files(self, settings: ProviderSettings, env: Mapping[str, str]) -> list[str] | None:
        """``codex login status`` is a Node start: its verdict is kept until the login
        (``auth.json``) or the config that may name a model provider changes."""
        import os

        home = os.path.expanduser(
            env.get("CODEX_HOME") or os.path.join(env.get("HOME") or "~", ".codex")
        )
        return [os.path.join(home, "auth.json"), os.path.join(home, "config.toml")]

    def health(
        self, settings: ProviderSettings, models: list[str], env: Mapping[str, str], now: float
    ) -> str:
        """Skip Codex while its own plan window (from its session files) is used up."""
        from omcm.core.humanize import minutes
        from omcm.providers import codex_limits

        seen = codex_limits.read(codex_limits.sessions_dir(env))
        until = seen.exhausted_until(now) if seen else None
        if until is None:
            return ""
        return f"Codex's own usage limit is reached; it resets in {minutes(until, now)}"

    def report(self, settings: ProviderSettings, env: Mapping[str, str], now: float) -> list[str]:
        """Codex's own plan windows, as its session files last logged them."""
        from omcm.core.humanize import duration
        from omcm.providers import codex_limits

        seen = codex_limits.read(codex_limits.sessions_dir(env))
        if seen is None:
            return []
        parts = [
            f"{label} {w.used_percent:.0f}%"
            for label, w in (("5-hour", seen.primary), ("weekly", seen.secondary))
            if w
        ]
        ago = duration(max(0.0, now - seen.observed_at))
        return [f"plan usage {', '.join(parts)} — from {seen.source} ({ago} ago)"]

    def argv(self, request: ProviderRequest, settings: ProviderSettings) -> list[str]:
        command = self.program(settings)
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
        if request.output_schema:
            argv += ["--output-schema", request.output_schema]
        return [*argv, "-C", request.cwd, "-"]

    def progress(self, line: str) -> str:
        """``codex exec --json``'s events: a command starting, the model thinking or writing."""
        if '"item.started"' not in line and '"turn.started"' not in line:
            return ""
        event = next(iter(json_lines(line)), {})
        if event.get("type") == "turn.started":
            return "thinking"
        item = as_dict(event.get("item"))
        kind = item.get("type") or item.get("item_type")
        if kind == "command_execution":
            command = str(item.get("command") or "")
            shell = regex(r"^/bin/(?:ba)?sh -l?c '(.*)'$").match(command)
            return f"running: {(shell.group(1) if shell else command)[:80]}"
        if kind in ("file_change", "patch"):
            return "editing files"
        if kind in ("web_search", "mcp_tool_call"):
            return str(kind).replace("_", " ")
        return ""

    def parse(self, result: ProcResult, now: float) -> ProviderResult:
        early = process_failure(result)
        if early:
            return early
        events = _Events(result.stdout)
        if events.failed is not None:
            message = regex(_URL_SUFFIX).sub("", events.failed)
            return failure(classify(message), message, now)
        if events.answer:
            return ProviderResult(outcome="ok", answer=events.answer, usage=events.usage)
        if result.returncode == 0:
            return ProviderResult(
                outcome="no_answer", usage=events.usage, error="codex finished without an answer"
            )
        if events.last_error:
            message = regex(_URL_SUFFIX).sub("", events.last_error)
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
    name = next((m.group(1) for v in values if (m := regex(_PROVIDER_ARG).match(v.strip()))), None)
    file = _codex_config(env)
    if name is None:
        name = str(file.get("model_provider") or "")
    if not name or name == "openai":
        return None
    table = file.get("model_providers", {}).get(name, {})
    key = str(table.get("env_key") or "") if isinstance(table, dict) else ""
    for value in values:
        if value.startswith(f"model_providers.{name}"):
            found = regex(r"env_key\s*=\s*\"([^\"]+)\"").search(value)
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


class AppServer(WarmServer):
    """``codex app-server``: JSON-RPC on stdio, one ephemeral thread per call.

    Checked with codex-cli 0.169.0: ``thread/start`` takes the call's cwd, model and
    sandbox (``read-only`` / ``workspace-write``, the same policies as ``exec -s``)
    with ``approvalPolicy: never``; ``turn/start`` runs the prompt (with ``outputSchema``,
    as ``exec --output-schema`` sends it, when the call has one); the answer is
    the last ``agentMessage`` item, the usage the last ``thread/tokenUsage/updated``
    total (fields as in ``exec --json``), a failure ``turn/completed`` with status
    ``failed``. ``turn/interrupt`` aborts a turn at once. The user's ``args``
    (``-c`` overrides, a profile) go to ``app-server`` as they go to ``exec``.
    """

    def __init__(
        self, settings: ProviderSettings, project: str, env: dict[str, str], log: str
    ) -> None:
        super().__init__(settings, project, env, log)
        from omcm.providers.warm import Process

        argv = [PROVIDER.program(settings), "app-server", *settings.args]
        self.process = Process(argv, env, project, log)
        self.rpc: Any = None

    def start(self, timeout: float) -> None:
        import time

        from omcm import __version__
        from omcm.providers.warm import Rpc, RpcError

        self.rpc = Rpc(self.process, jsonrpc=False, on_request=lambda _message: None)
        info = {"name": "omcm", "title": "OMCM", "version": __version__}
        try:
            self.rpc.request("initialize", {"clientInfo": info}, time.monotonic() + timeout)
        except RpcError as exc:
            raise WarmError(f"codex app-server refused initialize: {exc.message}") from None
        self.rpc.notify("initialized")

    def call(self, request: ProviderRequest, timeout: float, stop: Event) -> ProviderResult:
        import time

        from omcm.providers.warm import RpcError

        deadline = time.monotonic() + timeout
        params: dict[str, Any] = {
            "cwd": request.cwd,
            "sandbox": request.sandbox,
            "approvalPolicy": "never",
            "ephemeral": True,
        }
        if request.model:
            params["model"] = request.model
        try:
            thread = as_dict(self.rpc.request("thread/start", params, deadline, stop).get("thread"))
        except RpcError as exc:
            return failure(classify(exc.message), exc.message, time.time())
        thread_id = thread.get("id")
        model = str(thread.get("model") or request.model)
        events = self.rpc.subscribe(lambda m: as_dict(m.get("params")).get("threadId") == thread_id)
        try:
            result = self._turn(
                thread_id, request, events, deadline=deadline, stop=stop, timeout=timeout
            )
            return (
                result
                if result.model
                else type(result).parse(result.dump() | {"model": model}, "result")
            )
        except RpcError as exc:
            return failure(classify(exc.message), exc.message, time.time())
        finally:
            self.rpc.unsubscribe(events)

    def _turn(
        self,
        thread_id: object,
        request: ProviderRequest,
        events: Any,
        *,
        deadline: float,
        stop: Event,
        timeout: float,
    ) -> ProviderResult:
        import queue
        import time

        turn = self.rpc.request("turn/start", _turn_params(thread_id, request), deadline, stop)
        turn_id = as_dict(turn.get("turn")).get("id")
        answer, usage, error, status = "", Usage(), "", ""
        while not status:
            if stop.is_set() or time.monotonic() >= deadline:
                self._interrupt(thread_id, turn_id, events)
                if stop.is_set():
                    return ProviderResult(outcome="cancelled", error="cancelled")
                return ProviderResult(outcome="timeout", error=f"timed out after {timeout:g}s")
            try:
                message = events.get(timeout=0.2)
            except queue.Empty:
                continue
            if not message:
                raise WarmError(f"codex app-server exited ({self.process.exit_note()})")
            params = as_dict(message.get("params"))
            method = message.get("method")
            if method == "item/completed":
                item = as_dict(params.get("item"))
                if item.get("type") == "agentMessage" and str(item.get("text") or "").strip():
                    answer = str(item["text"]).strip()
            elif method == "thread/tokenUsage/updated":
                usage = _app_usage(as_dict(as_dict(params.get("tokenUsage")).get("total")))
            elif method == "error":
                error = _error_text(as_dict(params.get("error"))) or error
            elif method == "turn/completed":
                ended = as_dict(params.get("turn"))
                status = str(ended.get("status") or "completed")
                error = _error_text(as_dict(ended.get("error"))) or error
        if status == "failed" or (error and not answer):
            message_text = regex(_URL_SUFFIX).sub("", error or f"turn {status}")
            return failure(classify(message_text), message_text, time.time())
        if answer:
            return ProviderResult(outcome="ok", answer=answer, usage=usage)
        return ProviderResult(
            outcome="no_answer", usage=usage, error="codex finished without an answer"
        )

    def _interrupt(self, thread_id: object, turn_id: object, events: Any) -> None:
        """``turn/interrupt``, then wait (briefly) for the turn to end."""
        import queue
        import time

        from omcm.providers.warm import RpcError

        until = time.monotonic() + 5
        try:
            self.rpc.request("turn/interrupt", {"threadId": thread_id, "turnId": turn_id}, until)
        except (RpcError, WarmError):
            return
        while time.monotonic() < until:
            try:
                message = events.get(timeout=0.2)
            except queue.Empty:
                continue
            if not message or message.get("method") == "turn/completed":
                return


def _turn_params(thread_id: object, request: ProviderRequest) -> dict[str, Any]:
    """``turn/start``'s params: the prompt, and the answer's schema when the call has one
    (as ``exec --output-schema`` sends it; ``turn/start`` takes ``outputSchema``, 0.169.0)."""
    params: dict[str, Any] = {
        "threadId": thread_id,
        "input": [{"type": "text", "text": request.prompt}],
    }
    schema = _schema(request.output_schema) if request.output_schema else None
    if schema is not None:
        params["outputSchema"] = schema
    return params


def _schema(path: str) -> Any:
    """The JSON Schema in ``path``; None when it cannot be read (the prompt still asks for
    the shape, and the caller checks the answer)."""
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _app_usage(total: dict[str, Any]) -> Usage:
    return Usage(
        input=as_int(total.get("inputTokens")),
        cached=as_int(total.get("cachedInputTokens")),
        output=as_int(total.get("outputTokens")),
        reasoning=as_int(total.get("reasoningOutputTokens")),
    )


def _error_text(error: dict[str, Any]) -> str:
    """An app-server error's message, with its HTTP status when the message lacks it."""
    message = str(error.get("message") or "")
    for detail in as_dict(error.get("codexErrorInfo")).values():
        status = as_int(as_dict(detail).get("httpStatusCode"))
        if status and str(status) not in message:
            message = f"{message} (HTTP {status})"
    return message

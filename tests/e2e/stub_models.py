"""Stub model servers that the provider CLIs talk to in tests, on 127.0.0.1 only.

One threaded HTTP server speaks the three dialects the pinned CLIs use:

- OpenAI Responses API, ``POST /v1/responses`` (SSE): codex 0.169.0;
- OpenAI chat completions, ``POST /v1/chat/completions`` (streamed chunks, usage
  in the last chunk when ``stream_options.include_usage``): opencode 1.18.33
  through ``@ai-sdk/openai-compatible``;
- Gemini, ``POST /v1beta/models/MODEL:streamGenerateContent?alt=sse``: gemini 0.61.0.

Each test scripts what the model does (:class:`Reply`: answer text and exact
token usage, an HTTP error, a delay, or a hang), and reads back what was asked
(:attr:`StubModels.requests`) and how many model requests were in flight at
once (:attr:`StubModels.max_in_flight`). Use it as a context manager, or through
a pytest fixture that closes it; closing releases hanging requests.

The ``*_setup`` helpers return what each CLI needs to talk to the stub with a
throw-away HOME: environment variables, and the test-only arguments a test
passes as the provider's configured ``args`` (never built into the provider
modules, which must honour the user's own config).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from omcm.core.proc import ProcResult
    from omcm.providers.base import ProviderRequest

ANSWER = "STUB-ANSWER"


@dataclass(frozen=True)
class StubUsage:
    """Token usage the stub reports, in OMCM's normalised sense.

    ``input`` includes ``cached``; ``output`` includes ``reasoning``. Each
    dialect is sent the same numbers in its own convention (Gemini's
    ``candidatesTokenCount`` excludes thoughts, OpenAI's ``output_tokens``
    includes reasoning).
    """

    input: int = 1234
    cached: int = 100
    output: int = 56
    reasoning: int = 7


@dataclass(frozen=True)
class Reply:
    """What the stub model does with one request."""

    text: str = ANSWER
    usage: StubUsage = StubUsage()
    status: int = 200  # anything else: an error response in the dialect's shape
    message: str = ""  # error message; default: a realistic one per status
    body: dict[str, Any] | None = None  # the whole error body, instead of the default shape
    headers: tuple[tuple[str, str], ...] = ()  # extra response headers (e.g. retry-after)
    retry_after: int | None = None  # 429: seconds named in the message and Gemini's RetryInfo
    delay: float = 0.0  # seconds to wait before answering
    hang: bool = False  # never answer (until the stub is closed)
    tool: tuple[str, dict[str, Any]] | None = None  # call this tool (name, arguments) instead
    narration: str = ""  # with ``tool``: text said before the call ("Let me look.")

    @classmethod
    def rate_limited(cls, retry_after: int = 30) -> Reply:
        """A 429 with the retry hints each API sends: a ``retry-after`` header, the hint
        in the message ("Please try again in 30s."), and for Gemini a RetryInfo detail."""
        return cls(
            status=429, retry_after=retry_after, headers=(("retry-after", str(retry_after)),)
        )


@dataclass(frozen=True)
class Recorded:
    """One request the stub received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    dialect: str
    started: float
    finished: float = 0.0


_GEMINI_PATH = re.compile(
    r"^/v1beta/models/([^/:]+):(streamGenerateContent|generateContent|countTokens)$"
)
_DEFAULT_MESSAGES = {
    400: "Bad request.",
    401: "Incorrect API key provided: dummy.",
    403: "Permission denied.",
    404: "Not found.",
    429: "Rate limit reached for requests.",
    500: "The server had an error while processing your request.",
    503: "The service is temporarily unavailable.",
}
_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_GEMINI_MESSAGES = {
    401: "API key not valid. Please pass a valid API key.",
    429: "You exceeded your current quota, please check your plan and billing details.",
    500: "Internal error encountered.",
}
# Fits both of gemini 0.61's router schemas (numerical and flash/pro classifier).
_ROUTER_JSON = json.dumps(
    {
        "complexity_reasoning": "stub",
        "complexity_score": 30,
        "reasoning": "stub",
        "model_choice": "flash",
    }
)
_OPENAI_TYPES = {
    401: ("invalid_request_error", "invalid_api_key"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
}


class StubModels:
    """A stub model server; ``with StubModels() as stub: ... stub.url``.

    ``responder`` decides each model request's reply from the request itself (for a
    scripted multi-turn agent); without one, replies come from :meth:`script`, then
    ``default``.

    With ``ollama`` (the models it has), it is also an Ollama server: ``GET /api/tags``
    lists them, ``GET /api/version`` says ``ollama_version`` and ``GET /v1/models``
    answers, as ``codex --oss`` checks; ``POST /api/pull`` is recorded and refused
    (OMCM must never cause one).
    """

    def __init__(
        self,
        default: Reply | None = None,
        *,
        ollama: tuple[str, ...] | None = None,
        ollama_version: str = "0.13.5",
        responder: Callable[[Recorded], Reply] | None = None,
    ) -> None:
        self.ollama = ollama
        self.responder = responder
        self.ollama_version = ollama_version
        self.default = default or Reply()
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self._in_flight = 0
        self.max_in_flight = 0
        self.closing = threading.Event()
        self._ids = itertools.count(1)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="stub-models", daemon=True
        )
        self._started = False

    # -- life cycle ---------------------------------------------------------
    def start(self) -> StubModels:
        if not self._started:
            self._thread.start()
            self._started = True
        return self

    def close(self) -> None:
        """Stop serving, release hanging requests, and wait for the serving thread."""
        self.closing.set()
        if self._started:
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> StubModels:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting ----------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """Answer the next model requests with ``replies`` in order, then with ``default``."""
        with self._lock:
            self._queue.extend(replies)

    def next_reply(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    # -- observation --------------------------------------------------------
    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def model_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.dialect != "other"]

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def _begin(self, record: Recorded) -> int:
        with self._lock:
            self._requests.append(record)
            if record.dialect != "other":
                self._in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self._in_flight)
            return len(self._requests) - 1

    def _end(self, index: int) -> None:
        with self._lock:
            record = self._requests[index]
            self._requests[index] = replace(record, finished=time.time())
            if record.dialect != "other":
                self._in_flight -= 1

    def new_id(self) -> int:
        return next(self._ids)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: StubModels


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    _open: int | None = None  # the index of the request being answered, until it ends
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet; the stub records requests instead."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        stub = self.server.stub
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        dialect = _dialect(self.command, parts.path)
        record = Recorded(
            self.command,
            parts.path,
            parse_qs(parts.query),
            {k.lower(): v for k, v in self.headers.items()},
            body,
            dialect,
            time.time(),
        )
        index = stub._begin(record)
        self._open = index
        try:
            if dialect == "other" and stub.ollama is not None:
                self._send_ollama(parts.path)
                return
            if dialect == "other":
                self._send_json(404, {"error": {"message": f"stub: no route {parts.path}"}})
                return
            reply = stub.responder(record) if stub.responder else stub.next_reply()
            if reply.hang:
                stub.closing.wait()
                self.close_connection = True
                return
            if reply.delay and stub.closing.wait(reply.delay):
                return
            if reply.status != 200:
                self._send_error(dialect, reply)
            else:
                self._send_answer(dialect, reply, body, parts.path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self._done()

    def _done(self) -> None:
        """The request ends (for :attr:`StubModels.max_in_flight`) before the bytes a client
        can act on go out (a JSON reply's headers, a stream's last event): a client that has
        its answer may send the next request at once, and that one must not find this one
        still counted."""
        index, self._open = self._open, None
        if index is not None:
            self.server.stub._end(index)

    def _send_ollama(self, path: str) -> None:
        stub = self.server.stub
        if self.command == "GET" and path == "/api/tags":
            models = [{"name": m, "model": m, "size": 1} for m in stub.ollama or ()]
            self._send_json(200, {"models": models})
        elif self.command == "GET" and path == "/api/version":
            self._send_json(200, {"version": stub.ollama_version})
        elif self.command == "GET" and path == "/v1/models":
            data = [{"id": m, "object": "model"} for m in stub.ollama or ()]
            self._send_json(200, {"object": "list", "data": data})
        elif path == "/api/pull":
            self._send_json(500, {"error": "stub: a pull was asked for"})
        else:
            self._send_json(404, {"error": f"stub: no route {path}"})

    # -- responses ----------------------------------------------------------
    def _send_json(
        self, status: int, payload: object, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self._done()  # before the headers: a client may act on them without the body
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, dialect: str, reply: Reply) -> None:
        if reply.body is not None:
            payload: dict[str, Any] = reply.body
        elif dialect == "gemini":
            payload = _gemini_error(reply)
        else:
            kind, code = _OPENAI_TYPES.get(reply.status, ("api_error", None))
            message = reply.message or _DEFAULT_MESSAGES.get(reply.status, "Error.")
            if reply.retry_after is not None and not reply.message:
                message += f" Please try again in {reply.retry_after}s."
            payload = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        self._send_json(reply.status, payload, reply.headers)

    def _send_answer(self, dialect: str, reply: Reply, body: Any, path: str) -> None:
        stub = self.server.stub
        n = stub.new_id()
        request = body if isinstance(body, dict) else {}
        if dialect == "responses":
            events = _responses_events(reply, n, str(request.get("model", "")))
        elif dialect == "chat":
            if not request.get("stream"):
                self._send_json(200, _chat_completion(reply, n, str(request.get("model", ""))))
                return
            events = _chat_events(
                reply,
                n,
                str(request.get("model", "")),
                bool((request.get("stream_options") or {}).get("include_usage")),
            )
        else:
            match = _GEMINI_PATH.match(path)
            model, method = (match.group(1), match.group(2)) if match else ("", "")
            if method == "countTokens":
                self._send_json(200, {"totalTokens": reply.usage.input})
                return
            if method == "generateContent":
                # Utility calls (e.g. the `auto` model router) ask for JSON.
                config = request.get("generationConfig") or {}
                text = (
                    _ROUTER_JSON
                    if config.get("responseMimeType") == "application/json"
                    else reply.text
                )
                self._send_json(
                    200,
                    _gemini_chunks(reply, model)[-1]
                    | {"candidates": [_gemini_candidate(text, "STOP")]},
                )
                return
            events = [(None, chunk) for chunk in _gemini_chunks(reply, model)]
        self._send_sse(events)

    def _send_sse(self, events: list[tuple[str | None, Any]]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        for number, (name, data) in enumerate(events, 1):
            text = data if isinstance(data, str) else json.dumps(data)
            chunk = (f"event: {name}\n" if name else "") + f"data: {text}\n\n"
            if number == len(events):
                self._done()
            self.wfile.write(chunk.encode())
            self.wfile.flush()


def _dialect(method: str, path: str) -> str:
    if method != "POST":
        return "other"
    if path == "/v1/responses":
        return "responses"
    if path == "/v1/chat/completions":
        return "chat"
    if _GEMINI_PATH.match(path):
        return "gemini"
    return "other"


def _responses_events(reply: Reply, n: int, model: str) -> list[tuple[str | None, Any]]:
    u = reply.usage
    message = {
        "id": f"msg_{n}",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
    }
    response = {
        "id": f"resp_{n}",
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "status": "in_progress",
        "output": [],
    }
    usage = {
        "input_tokens": u.input,
        "input_tokens_details": {"cached_tokens": u.cached},
        "output_tokens": u.output,
        "output_tokens_details": {"reasoning_tokens": u.reasoning},
        "total_tokens": u.input + u.output,
    }
    if reply.tool:
        name, arguments = reply.tool
        call = {
            "id": f"fc_{n}",
            "type": "function_call",
            "status": "completed",
            "call_id": f"call_{n}",
            "name": name,
            "arguments": json.dumps(arguments),
        }
        said = message | {
            "content": [{"type": "output_text", "text": reply.narration, "annotations": []}]
        }
        output = [said, call] if reply.narration else [call]
        return [
            ("response.created", {"type": "response.created", "response": response}),
            *[
                (
                    "response.output_item.done",
                    {"type": "response.output_item.done", "output_index": i, "item": item},
                )
                for i, item in enumerate(output)
            ],
            (
                "response.completed",
                {
                    "type": "response.completed",
                    "response": response
                    | {"status": "completed", "output": output, "usage": usage},
                },
            ),
        ]
    done = response | {"status": "completed", "output": [message], "usage": usage}
    started = message | {"status": "in_progress", "content": []}
    events: list[tuple[str | None, Any]] = [
        ("response.created", {"type": "response.created", "response": response}),
        (
            "response.output_item.added",
            {"type": "response.output_item.added", "output_index": 0, "item": started},
        ),
        (
            "response.output_text.delta",
            {
                "type": "response.output_text.delta",
                "item_id": f"msg_{n}",
                "output_index": 0,
                "content_index": 0,
                "delta": reply.text,
            },
        ),
        (
            "response.output_item.done",
            {"type": "response.output_item.done", "output_index": 0, "item": message},
        ),
        ("response.completed", {"type": "response.completed", "response": done}),
    ]
    return events


def _chat_usage(u: StubUsage) -> dict[str, Any]:
    return {
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.input + u.output,
        "prompt_tokens_details": {"cached_tokens": u.cached},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning},
    }


def _chat_events(
    reply: Reply, n: int, model: str, include_usage: bool
) -> list[tuple[str | None, Any]]:
    base = {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return base | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    if reply.tool:
        name, arguments = reply.tool
        call = {
            "index": 0,
            "id": f"call_{n}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)},
        }
        events: list[tuple[str | None, Any]] = [
            (None, chunk({"role": "assistant", "content": reply.narration or None}, None)),
            (None, chunk({"tool_calls": [call]}, None)),
            (None, chunk({}, "tool_calls")),
        ]
    else:
        events = [
            (None, chunk({"role": "assistant", "content": ""}, None)),
            (None, chunk({"content": reply.text}, None)),
            (None, chunk({}, "stop")),
        ]
    if include_usage:
        events.append((None, base | {"choices": [], "usage": _chat_usage(reply.usage)}))
    events.append((None, "[DONE]"))
    return events


def _chat_completion(reply: Reply, n: int, model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": reply.text},
            }
        ],
        "usage": _chat_usage(reply.usage),
    }


def _gemini_candidate(text: str, finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {
        "content": {"parts": [{"text": text}], "role": "model"},
        "index": 0,
    }
    if finish:
        candidate["finishReason"] = finish
    return candidate


def _gemini_chunks(reply: Reply, model: str) -> list[dict[str, Any]]:
    u = reply.usage
    usage = {
        "promptTokenCount": u.input,
        "cachedContentTokenCount": u.cached,
        "candidatesTokenCount": u.output - u.reasoning,
        "thoughtsTokenCount": u.reasoning,
        "totalTokenCount": u.input + u.output,
    }
    if reply.tool:
        name, arguments = reply.tool
        said = [{"text": reply.narration}] if reply.narration else []
        call = {
            "content": {
                "parts": [*said, {"functionCall": {"name": name, "args": arguments}}],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
        return [{"candidates": [call], "usageMetadata": usage, "modelVersion": model}]
    return [
        {"candidates": [_gemini_candidate(reply.text, None)], "modelVersion": model},
        {
            "candidates": [_gemini_candidate("", "STOP")],
            "usageMetadata": usage,
            "modelVersion": model,
        },
    ]


def _gemini_error(reply: Reply) -> dict[str, Any]:
    status = _GEMINI_STATUS.get(reply.status, "UNKNOWN")
    message = (
        reply.message
        or _GEMINI_MESSAGES.get(reply.status)
        or _DEFAULT_MESSAGES.get(reply.status, "Error.")
    )
    error: dict[str, Any] = {"code": reply.status, "message": message, "status": status}
    if reply.retry_after is not None:
        if not reply.message:
            error["message"] = f"{message} Please retry in {reply.retry_after}s."
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{reply.retry_after}s",
            }
        ]
    return {"error": error}


# -- what each CLI needs to talk to the stub -----------------------------------

STUB_KEY_VAR = "STUB_API_KEY"


@dataclass(frozen=True)
class CliSetup:
    """Environment and test-only arguments for one CLI pointed at the stub."""

    env: dict[str, str]  # to lay over omcm.core.proc.child_env()
    args: tuple[str, ...] = ()  # the provider's configured `args` in a test
    model: str = ""  # a model the stub setup knows

    def table(self, cli: str, **settings: Any) -> dict[str, Any]:
        """``[providers.CLI]`` for a test: the pinned program, these arguments, this model
        (``settings`` add to it or replace them)."""
        return {"command": str(pinned_bin(cli)), "args": list(self.args), "model": self.model} | (
            settings
        )


def _home_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    dirs = {
        "XDG_CONFIG_HOME": ".config",
        "XDG_DATA_HOME": ".local/share",
        "XDG_STATE_HOME": ".local/state",
        "XDG_CACHE_HOME": ".cache",
    }
    env = {"HOME": str(home)}
    for var, sub in dirs.items():
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    # Only the stub is reachable; no proxy may send 127.0.0.1 elsewhere.
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    # gemini writes error reports to the temp dir: keep them in the throw-away home.
    (home / "tmp").mkdir(exist_ok=True)
    env["TMPDIR"] = str(home / "tmp")
    # codex prints reset times as local wall-clock times ("try again at 3:28 PM").
    env["TZ"] = "UTC"
    return env


def codex_setup(
    stub_url: str, home: Path, *, api_key: str | None = "dummy", model: str = "stub-model"
) -> CliSetup:
    """codex 0.169.0: a `stub` model provider on the Responses API, no retries, no plugins."""
    env = _home_env(home)
    codex_home = home / ".codex"
    codex_home.mkdir(exist_ok=True)
    env["CODEX_HOME"] = str(codex_home)
    if api_key is not None:
        env[STUB_KEY_VAR] = api_key
    provider = (
        f'{{name="Stub",base_url="{stub_url}/v1",env_key="{STUB_KEY_VAR}",'
        'wire_api="responses",request_max_retries=0,stream_max_retries=0}'
    )
    args = (
        "-c",
        "model_provider=stub",
        "-c",
        f"model_providers.stub={provider}",
        "--disable",
        "plugins",
        "--disable",
        "remote_plugin",
        "--disable",
        "apps",
        "-c",
        "analytics.enabled=false",
    )
    return CliSetup(env, args, model)


GEMINI_SETTINGS = {
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False, "maxAttempts": 1},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "security": {"auth": {"selectedType": "gemini-api-key"}},
}


def gemini_setup(
    stub_url: str,
    home: Path,
    *,
    api_key: str | None = "dummy",
    model: str = "gemini-2.5-pro",
    auth_type: str | None = "gemini-api-key",
    base_url: bool = True,
) -> CliSetup:
    """gemini 0.61.0: API-key auth against the stub base URL, one attempt per request.

    ``auth_type=None`` leaves the auth method unset and ``base_url=False`` the
    base URL (a fresh install: gemini refuses a custom base URL without an auth type).
    """
    env = _home_env(home)
    settings = home / ".gemini" / "settings.json"
    settings.parent.mkdir(exist_ok=True)
    content = json.loads(json.dumps(GEMINI_SETTINGS))
    if auth_type is None:
        del content["security"]
    else:
        content["security"]["auth"]["selectedType"] = auth_type
    settings.write_text(json.dumps(content, indent=2))
    if base_url:
        env["GOOGLE_GEMINI_BASE_URL"] = stub_url
    if api_key is not None:
        env["GEMINI_API_KEY"] = api_key
    return CliSetup(env, (), model)


def opencode_config(stub_url: str, api_key: str | None = "dummy") -> dict[str, Any]:
    options: dict[str, Any] = {"baseURL": f"{stub_url}/v1"}
    if api_key is not None:
        options["apiKey"] = api_key
    return {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "provider": {
            "stub": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Stub",
                "options": options,
                "models": {"stub-model": {"name": "Stub"}},
            }
        },
    }


def opencode_home_env(home: Path, *, catalog: bool = False) -> dict[str, str]:
    """``_home_env`` for opencode 1.18.33 offline: nothing fetched, updated or shared.

    Unless ``catalog``, opencode also gets an empty models catalog (OPENCODE_MODELS_PATH)
    instead of parsing the models.dev snapshot built into it on every start: that is a
    third of a cold run's CPU (6.5 s instead of 9.6, 4.9 s wall instead of 7.1, 3 runs
    each side by side), and every provider a test gives opencode (the stub, Ollama) is
    wholly defined by its config, which OMCM never reads from the catalog. Benchmarks keep
    the catalog: their cold runs cost what a user's do.
    """
    env = _home_env(home)
    for var in ("MODELS_FETCH", "AUTOUPDATE", "DEFAULT_PLUGINS", "SHARE", "LSP_DOWNLOAD"):
        env[f"OPENCODE_DISABLE_{var}"] = "1"
    if not catalog:
        models = home / ".cache" / "omcm-e2e-models.json"
        models.write_text("{}\n")
        env["OPENCODE_MODELS_PATH"] = str(models)
    return env


def opencode_setup(
    stub_url: str, home: Path, *, api_key: str | None = "dummy", catalog: bool = False
) -> CliSetup:
    """opencode 1.18.33: an openai-compatible `stub` provider from OPENCODE_CONFIG_CONTENT
    (``catalog``: see :func:`opencode_home_env`)."""
    env = opencode_home_env(home, catalog=catalog)
    env["OPENCODE_CONFIG_CONTENT"] = json.dumps(opencode_config(stub_url, api_key))
    return CliSetup(env, (), "stub/stub-model")


def pinned_bin(name: str) -> Path:
    """The pinned CLI installed by ``scripts/setup --e2e``."""
    return Path(__file__).resolve().parent / "npm" / "node_modules" / ".bin" / name


def child_env(setup: CliSetup) -> dict[str, str]:
    """The whole environment for a CLI child: this process's (minus Claude's) + ``setup``."""
    from omcm.core.proc import child_env as base

    env = base(setup.env)
    for var in ("OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "ANTHROPIC_API_KEY"):
        if var not in setup.env:
            env.pop(var, None)
    env.setdefault("PATH", os.defpath)
    return env


SETUPS: dict[str, Callable[..., CliSetup]] = {
    "codex": codex_setup,
    "gemini": gemini_setup,
    "opencode": opencode_setup,
}


def run_provider(
    name: str,
    stub_url: str,
    tmp: Path,
    *,
    prompt: str = "Say hi.",
    sandbox: str = "read-only",
    model: str | None = None,
    command: str | None = None,
    timeout: float = 60.0,
    options: dict[str, Any] | None = None,
    on_start: Any = None,
) -> tuple[ProcResult, ProviderRequest]:
    """Run one pinned CLI through its provider module against the stub, as OMCM would.

    Returns ``(ProcResult, ProviderRequest)``. ``tmp`` holds the throw-away home
    (``tmp/home``) and the project (``tmp/work``); ``options`` go to the CLI's
    ``*_setup`` helper (e.g. ``api_key=None``).
    """
    from omcm.core import proc
    from omcm.providers import PROVIDERS
    from omcm.providers.base import ProviderRequest

    provider = PROVIDERS[name]
    setup = SETUPS[name](stub_url, tmp / "home", **(options or {}))
    work = tmp / "work"
    work.mkdir(parents=True, exist_ok=True)
    request = ProviderRequest(
        prompt=prompt,
        model=setup.model if model is None else model,
        sandbox=sandbox,
        cwd=str(work),
        extra_args=list(setup.args),
    )
    defaults = provider.defaults
    settings = type(defaults).parse(
        defaults.dump() | {"command": command or str(pinned_bin(name)), "args": list(setup.args)},
        name,
    )
    env = child_env(setup) | provider.cold_env(request, settings)
    argv = provider.argv(request, settings)
    result = proc.run(
        argv,
        input=provider.stdin(request),
        cwd=str(work),
        env=env,
        timeout=timeout,
        on_start=on_start,
    )
    return result, request

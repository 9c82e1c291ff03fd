"""A local stand-in for the Anthropic Messages API that the real Claude Code talks to.

``StubAnthropic`` listens on 127.0.0.1 (a free port), answers ``HEAD /`` and
``POST /v1/messages`` (any query string) with the streaming SSE events Claude
Code parses, and records every request for assertions. What it answers is
decided per request by a *responder*: ``responder(request) -> Reply``.

    with StubAnthropic(AgentScript({"description": "x", "prompt": "hi"})) as stub:
        run claude with ANTHROPIC_BASE_URL=stub.url ...
        stub.requests   # every request, in arrival order

Observed offline (``claude -p``, env as in tests/e2e/claude.py): 2.1.197 sends
``HEAD /`` then only conversation turns, ``POST /v1/messages?beta=true`` with
``stream: true``; 2.1.62 sends no ``HEAD``. A run whose model calls the subagent
tool once makes three POSTs: main turn, subagent turn, main turn with the
tool_result. Other modes and versions may add side requests (a one-token quota
probe, topic or title detection with a small model): :func:`is_conversation`
tells them apart and the ready responders answer them with short text.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

AGENT_ID_HEADER = "x-claude-code-agent-id"


# --- requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One HTTP request the stub received (header names lower-cased)."""

    seq: int
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    received_at: float = 0.0  # time.time() when it arrived

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.path == "/v1/messages"

    @property
    def messages(self) -> list[dict[str, Any]]:
        if not isinstance(self.body, dict):
            return []
        return list(self.body.get("messages") or [])

    @property
    def tool_names(self) -> list[str]:
        if not isinstance(self.body, dict):
            return []
        return [tool.get("name", "") for tool in self.body.get("tools") or []]

    @property
    def model(self) -> str:
        return str(self.body.get("model", "")) if isinstance(self.body, dict) else ""

    @property
    def max_tokens(self) -> int | None:
        return self.body.get("max_tokens") if isinstance(self.body, dict) else None


SUBAGENT_TOOLS = ("Agent", "Task")


def is_subagent(request: Request) -> bool:
    """A subagent's request (rather than the main conversation's).

    Claude Code 2.1.197 tags subagent requests (only those) with an agent-id header
    and ``cc_is_subagent=true`` in the system prompt's billing line. 2.1.62 sends
    neither; there a subagent is the conversation whose tools lack ``Task``
    (subagents could not start subagents then).
    """
    if AGENT_ID_HEADER in request.headers or "cc_is_subagent=true" in system_prompt(request):
        return True
    tools = request.tool_names
    return bool(tools) and not any(name in tools for name in SUBAGENT_TOOLS)


def is_conversation(request: Request) -> bool:
    """A turn of a conversation (main or subagent), not a side request.

    Side requests (quota probe with ``max_tokens: 1``, topic or title detection)
    come without tools; every conversation turn offers the model its tools.
    """
    return request.is_messages and bool(request.tool_names) and request.max_tokens != 1


def is_main_conversation(request: Request) -> bool:
    return is_conversation(request) and not is_subagent(request)


def as_blocks(content: Any) -> list[dict[str, Any]]:
    """A message's content as a list of blocks (a bare string becomes one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content or [] if isinstance(block, dict)]


def last_user_content(request: Request) -> list[dict[str, Any]]:
    """The blocks of the last ``user`` message; ``system`` entries in ``messages`` are skipped."""
    for message in reversed(request.messages):
        if message.get("role") == "user":
            return as_blocks(message.get("content"))
    return []


def last_user_text(request: Request) -> str:
    """What the user typed in the last user message: its text blocks, joined, without
    tool results and without the ``<system-reminder>`` blocks Claude Code adds."""
    return "\n".join(
        block.get("text", "")
        for block in last_user_content(request)
        if block.get("type") == "text"
        and not block.get("text", "").lstrip().startswith("<system-reminder>")
    )


def command_texts(requests: list[Request], commands: list[str]) -> dict[str, str]:
    """For each slash command (``/omcm:jobs``), what the model was handed when it was typed:
    the user text of the first main-conversation request that names it ("" if none did)."""
    said = dict.fromkeys(commands, "")
    for request in requests:
        if not is_main_conversation(request):
            continue
        text = last_user_text(request)
        for command in commands:
            if not said[command] and f"<command-name>{command}</command-name>" in text:
                said[command] = text
    return said


def tool_results(request: Request, tool_use_id: str | None = None) -> list[dict[str, Any]]:
    """``tool_result`` blocks since the model last spoke (only ``tool_use_id``'s, if given)."""
    return [
        block
        for block in since_last_answer(request)
        if block.get("type") == "tool_result"
        and (tool_use_id is None or block.get("tool_use_id") == tool_use_id)
    ]


def tool_result_text(block: dict[str, Any]) -> str:
    """The text a ``tool_result`` block hands the model."""
    return "\n".join(b.get("text", "") for b in as_blocks(block.get("content")) if "text" in b)


BACKGROUND_ACK = "Async agent launched successfully."
"""How Claude Code 2.1.198+ answers a subagent call that went to the background."""
WAITING = "WAITING for the subagent"
"""What the scripted model says after launching a background subagent."""


def issued(request: Request, tool_use_id: str) -> bool:
    """Whether the conversation so far has an assistant ``tool_use`` with this id."""
    return any(
        block.get("type") == "tool_use" and block.get("id") == tool_use_id
        for message in request.messages
        if message.get("role") == "assistant"
        for block in as_blocks(message.get("content"))
    )


def since_last_answer(request: Request) -> list[dict[str, Any]]:
    """The blocks of the messages after the model last spoke, in order: user turns, and
    the ``system`` entries Claude Code puts in ``messages`` (a notification lands there)."""
    blocks: list[dict[str, Any]] = []
    for message in reversed(request.messages):
        if message.get("role") == "assistant":
            break
        blocks[:0] = as_blocks(message.get("content"))
    return blocks


def task_notifications(request: Request) -> list[dict[str, str]]:
    """The ``<task-notification>`` blocks since the model last spoke, field by field.

    Claude Code 2.1.332 delivers a background subagent's end as a user message:
    ``<task-notification><task-id>…</task-id><tool-use-id>…</tool-use-id>
    <status>completed</status>…<result>…</result><usage>…</usage></task-notification>``.
    A subagent that ends before its launch's tool result is sent (while a PostToolUse
    hook runs) comes in the same request, as a ``system`` message after the tool result.
    """
    import re

    found = []
    for block in since_last_answer(request):
        text = block.get("text", "") if block.get("type") == "text" else ""
        for body in re.findall(r"<task-notification>(.*?)</task-notification>", text, re.S):
            fields = dict(re.findall(r"<([a-z-]+)>(.*?)</\1>", body, re.S))
            found.append({name: value.strip() for name, value in fields.items()})
    return found


def subagent_report(text: str) -> str:
    """A subagent's own answer in its tool_result: 2.1.332 frames it as
    ``[Subagent hand-back] … The report follows:\n  <answer>``; older versions do not."""
    _, found, report = text.partition("The report follows:\n")
    return report.strip() if found else text


def new_text(request: Request) -> str:
    """What the request adds since the model last spoke: user turns, tool results and the
    ``system`` entries Claude Code puts in ``messages`` (hook feedback lands there too)."""
    parts = [
        tool_result_text(block) if block.get("type") == "tool_result" else block["text"]
        for block in since_last_answer(request)
        if block.get("type") == "tool_result" or "text" in block
    ]
    return "\n".join(parts)


OMCM_JOB_NOTICE = "as background job "
"""In OMCM's answer to a subagent call it runs as a background job (the answer comes later)."""
OMCM_DELIVERY = "[OMCM] Background job "
"""How OMCM's late answer of such a job starts (it names the tool call)."""


def subagent_result(request: Request, tool_use_id: str) -> str | None:
    """What the subagent call ``tool_use_id`` came back with, once it has.

    Its tool_result (a foreground call, or a call a hook denied); for a call that
    went to Claude Code's background, its task notification's ``<result>``; for one
    OMCM runs as a background job, OMCM's late answer. None while the model is still
    waiting (or the call was not made yet).
    """
    for block in tool_results(request, tool_use_id):
        text = tool_result_text(block)
        if not text.startswith(BACKGROUND_ACK) and OMCM_JOB_NOTICE not in text:
            return text
    for note in task_notifications(request):
        if note.get("tool-use-id") == tool_use_id:
            return note.get("result", "")
    added = new_text(request)
    at = added.find(OMCM_DELIVERY)
    if at >= 0 and f"(tool call {tool_use_id})" in added:
        return added[at:]
    return None


def system_prompt(request: Request) -> str:
    """The request's top-level ``system`` prompt as text."""
    if not isinstance(request.body, dict):
        return ""
    return "\n".join(block.get("text", "") for block in as_blocks(request.body.get("system")))


def context_text(request: Request) -> str:
    """Everything the model is told besides the conversation: the system prompt, the
    ``system`` entries in ``messages`` and the ``<system-reminder>`` text in user turns
    (where hook ``additionalContext`` ends up)."""
    parts = [system_prompt(request)]
    for message in request.messages:
        for block in as_blocks(message.get("content")):
            text = block.get("text", "")
            if message.get("role") == "system" or "<system-reminder>" in text:
                parts.append(text)
    return "\n".join(part for part in parts if part)


# --- replies ---------------------------------------------------------------------------

_ids = itertools.count(1)


@dataclass(frozen=True)
class Reply:
    """What the stub answers: content blocks streamed as SSE, or an HTTP error."""

    blocks: tuple[dict[str, Any], ...] = ()
    stop_reason: str = "end_turn"
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    error_type: str = ""
    error_message: str = ""
    usage: dict[str, int] = field(default_factory=lambda: {"input_tokens": 10, "output_tokens": 5})
    delay: float = 0.0
    """Seconds to wait before answering, as a real model would take."""

    @classmethod
    def text(cls, text: str, headers: dict[str, str] | None = None, delay: float = 0.0) -> Reply:
        return cls(
            blocks=({"type": "text", "text": text},), headers=dict(headers or {}), delay=delay
        )

    @classmethod
    def tool_use(
        cls,
        name: str,
        tool_input: dict[str, Any],
        tool_use_id: str | None = None,
        text: str = "",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """A (text and) tool_use answer; the id defaults to a fresh ``toolu_stub…``."""
        tool = {
            "type": "tool_use",
            "id": tool_use_id or f"toolu_stub{next(_ids):06d}",
            "name": name,
            "input": tool_input,
        }
        blocks = ({"type": "text", "text": text}, tool) if text else (tool,)
        return cls(blocks=blocks, stop_reason="tool_use", headers=dict(headers or {}))

    @classmethod
    def error(
        cls,
        status: int,
        error_type: str,
        message: str = "stubbed error",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        return cls(
            status=status, error_type=error_type, error_message=message, headers=dict(headers or {})
        )

    @property
    def tool_use_id(self) -> str:
        return str(next(b["id"] for b in self.blocks if b["type"] == "tool_use"))


def unified_limit_headers(
    five_hour: float, seven_day: float, *, five_hour_reset: int, seven_day_reset: int
) -> dict[str, str]:
    """The unified rate-limit headers of a subscriber's response (fractions: 0.42 = 42 %).

    Claude Code 2.1.197, logged in with an OAuth token, turns them into the status
    line's ``rate_limits.five_hour`` / ``seven_day`` (``used_percentage``, ``resets_at``).
    """
    return {
        "anthropic-ratelimit-unified-5h-utilization": f"{five_hour:g}",
        "anthropic-ratelimit-unified-5h-reset": str(five_hour_reset),
        "anthropic-ratelimit-unified-7d-utilization": f"{seven_day:g}",
        "anthropic-ratelimit-unified-7d-reset": str(seven_day_reset),
    }


def usage_limit_rejection(resets_at: int, window: str = "5h") -> Reply:
    """Claude's answer once a subscriber's usage limit is reached: a 429 that is not retried.

    2.1.197 then ends the turn with "You've hit your session limit · resets …"
    (``window="7d"``: "weekly limit") and runs ``StopFailure`` with ``error: "rate_limit"``.
    """
    claim = {"5h": "five_hour", "7d": "seven_day"}[window]
    return Reply.error(
        429,
        "rate_limit_error",
        "This request would exceed your rate limit.",
        {
            "anthropic-ratelimit-unified-status": "rejected",
            f"anthropic-ratelimit-unified-{window}-status": "rejected",
            f"anthropic-ratelimit-unified-{window}-utilization": "1",
            f"anthropic-ratelimit-unified-{window}-reset": str(resets_at),
            "anthropic-ratelimit-unified-reset": str(resets_at),
            "anthropic-ratelimit-unified-representative-claim": claim,
            "x-should-retry": "false",
        },
    )


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def sse_body(reply: Reply, model: str) -> str:
    """The SSE stream for a successful reply, event by event as the real API sends it."""
    out = [
        _sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_stub{next(_ids):06d}",
                    "type": "message",
                    "role": "assistant",
                    "model": model or "claude-stub",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": reply.usage["input_tokens"],
                        "output_tokens": 1,
                        "cache_creation_input_tokens": reply.usage.get(
                            "cache_creation_input_tokens", 0
                        ),
                        "cache_read_input_tokens": reply.usage.get("cache_read_input_tokens", 0),
                    },
                },
            },
        )
    ]
    for index, block in enumerate(reply.blocks):
        start: dict[str, Any]
        delta: dict[str, Any]
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        out.append(
            _sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
        )
        out.append(
            _sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
        )
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    out.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": reply.usage["output_tokens"]},
            },
        )
    )
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return "".join(out)


def message_json(reply: Reply, model: str) -> dict[str, Any]:
    """The same reply as one non-streaming JSON message (for ``stream: false`` callers)."""
    return {
        "id": f"msg_stub{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": model or "claude-stub",
        "content": list(reply.blocks),
        "stop_reason": reply.stop_reason,
        "stop_sequence": None,
        "usage": reply.usage,
    }


# --- ready responders ------------------------------------------------------------------

Responder = Callable[[Request], Reply]


def always_text(text: str) -> Responder:
    """Answer every request with ``text``."""
    return lambda _request: Reply.text(text)


class AgentScript:
    """The common script: the main conversation calls the subagent tool once.

    * main conversation, no call yet → ``tool_use`` of ``tool_name`` with ``tool_input``;
    * main conversation carrying the result (the tool_result, or a background call's task
      notification) → text ``DONE: <result>``; after a background launch → ``WAITING``;
    * a subagent's request → text ``SUBAGENT-RAN`` (after ``subagent_delay`` seconds);
    * anything else (quota probe, topic detection, …) → short text ``ok``.
    """

    def __init__(
        self,
        tool_input: dict[str, Any],
        tool_name: str = "Agent",
        tool_use_id: str = "toolu_e2e_agent_0001",
        headers: dict[str, str] | None = None,
        subagent_delay: float = 0.0,
    ) -> None:
        self.tool_input = tool_input
        self.tool_name = tool_name
        self.tool_use_id = tool_use_id
        self.headers = dict(headers or {})
        self.subagent_delay = subagent_delay

    def __call__(self, request: Request) -> Reply:
        if is_subagent(request):
            return Reply.text("SUBAGENT-RAN", self.headers, delay=self.subagent_delay)
        if not is_main_conversation(request):
            return Reply.text("ok", self.headers)
        result = subagent_result(request, self.tool_use_id)
        if result is not None:
            return Reply.text(f"DONE: {result}", self.headers)
        if issued(request, self.tool_use_id):
            return Reply.text(WAITING, self.headers)  # it runs in the background
        return Reply.tool_use(
            self.tool_name, self.tool_input, self.tool_use_id, headers=self.headers
        )


class TurnScript:
    """The main conversation's turns answered in order with ``replies``, then with ``then``.

    A subagent's request gets ``SUBAGENT-RAN``, anything else (quota probe, topic
    detection, a bash-prefix check) ``ok``; neither uses up a reply.
    """

    def __init__(self, *replies: Reply, then: Reply | None = None) -> None:
        self.replies = list(replies)
        self.then = then or Reply.text("ok")
        self.turns = 0

    def __call__(self, request: Request) -> Reply:
        if is_subagent(request):
            return Reply.text("SUBAGENT-RAN")
        if not is_main_conversation(request):
            return Reply.text("ok")
        self.turns += 1
        return self.replies[self.turns - 1] if self.turns <= len(self.replies) else self.then


# --- the server ------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read stub.requests; no noise on stderr

    def do_HEAD(self) -> None:
        self._record(None)
        self._send(200, b"", "text/plain", {}, head=True)

    def do_GET(self) -> None:
        self._record(None)
        self._send(
            404,
            b'{"type":"error","error":{"type":"not_found_error","message":"stub"}}',
            "application/json",
            {},
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        request = self._record(body)
        if request.method == "POST" and request.path == "/v1/messages/count_tokens":
            # As the API does (2.1.62 counts the plugin's MCP tools this way; refused, it
            # falls back to a one-token haiku request that lands in the session's usage).
            counted = json.dumps({"input_tokens": max(1, len(raw) // 4)}).encode()
            self._send(200, counted, "application/json", {})
            return
        if not request.is_messages:
            self._send(
                404,
                b'{"type":"error","error":{"type":"not_found_error",'
                b'"message":"the stub serves /v1/messages only"}}',
                "application/json",
                {},
            )
            return
        try:
            reply = self.server.responder(request)
        except Exception as exc:  # a broken test script must show up, not hang Claude
            self.server.errors.append(exc)
            reply = Reply.error(
                500, "api_error", f"stub responder failed: {exc!r}", {"x-should-retry": "false"}
            )
        self.server.replies.append((request, reply))
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            error = {
                "type": "error",
                "error": {"type": reply.error_type, "message": reply.error_message},
            }
            self._send(reply.status, json.dumps(error).encode(), "application/json", reply.headers)
        elif isinstance(body, dict) and body.get("stream"):
            payload = sse_body(reply, request.model).encode()
            self._send(200, payload, "text/event-stream", reply.headers)
        else:
            payload = json.dumps(message_json(reply, request.model)).encode()
            self._send(200, payload, "application/json", reply.headers)

    def _record(self, body: Any) -> Request:
        parts = urlsplit(self.path)
        with self.server.lock:
            request = Request(
                seq=len(self.server.requests),
                method=self.command,
                path=parts.path,
                query=parts.query,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
                received_at=time.time(),
            )
            self.server.requests.append(request)
        return request

    def _send(
        self,
        status: int,
        payload: bytes,
        content_type: str,
        headers: dict[str, str],
        head: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", f"req_stub{next(_ids):06d}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, responder: Responder) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.responder = responder
        self.lock = threading.Lock()
        self.requests: list[Request] = []
        self.replies: list[tuple[Request, Reply]] = []
        self.errors: list[BaseException] = []


class StubAnthropic:
    """The stub server; a context manager that always shuts the server down."""

    def __init__(self, responder: Responder | None = None) -> None:
        self._server = _Server(responder or always_text("ok"))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="stub-anthropic", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def responder(self) -> Responder:
        return self._server.responder

    @responder.setter
    def responder(self, responder: Responder) -> None:
        self._server.responder = responder

    @property
    def requests(self) -> list[Request]:
        """A snapshot of every request so far, in arrival order."""
        with self._server.lock:
            return list(self._server.requests)

    @property
    def replies(self) -> list[tuple[Request, Reply]]:
        """Each ``/v1/messages`` request with the reply it got."""
        with self._server.lock:
            return list(self._server.replies)

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions the responder raised (each one was answered with HTTP 500)."""
        return list(self._server.errors)

    def messages_requests(self) -> list[Request]:
        return [r for r in self.requests if r.is_messages]

    def conversation(self, subagent: bool = False) -> list[Request]:
        """The main conversation's turns, or (``subagent=True``) every subagent turn."""
        return [r for r in self.requests if is_conversation(r) and is_subagent(r) == subagent]

    def clear(self) -> None:
        with self._server.lock:
            self._server.requests.clear()
            self._server.replies.clear()

    def start(self) -> StubAnthropic:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> StubAnthropic:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def serve(responder: Responder | None = None) -> Iterator[StubAnthropic]:
    """Generator form for pytest fixtures: ``yield from serve(responder)``."""
    with StubAnthropic(responder) as stub:
        yield stub

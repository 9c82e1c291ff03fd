"""What the warm servers share: their process, a JSON-RPC peer on its stdio, and a
JSON client for a server on 127.0.0.1.

Imported only by a pool supervisor (:mod:`omcm.providers.pool`), never on a hook's path.

A warm process leads a process group of its own, and a watchdog (the one cold
runs use, :mod:`omcm.jobs.watchdog`) kills that group should the supervisor die, even
by SIGKILL: a warm server never outlives the pool that started it. Its stderr
goes to a log file and the last 64 KiB are kept for error messages.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time

from omcm.core import fastjson
from omcm.providers.base import WarmError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: Seconds a server gets to exit after SIGTERM before its group is killed.
GRACE = 2.0
_TAIL = 64 * 1024


class Process:
    """A provider's warm process in a group of its own, watched by a watchdog."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str, log: str) -> None:
        self.argv, self.env, self.cwd, self.log = argv, env, cwd, log
        self.child: subprocess.Popen[str] | None = None
        self._tail: list[str] = []
        self._tail_size = 0
        self._guard: Any = None
        self._stderr_reader: threading.Thread | None = None

    def start(self, *, stdin: bool, on_stdout: Callable[[str], None] | None = None) -> None:
        """Start it; ``on_stdout`` hears each stdout line (else stdout is discarded)."""
        from omcm.core import proc

        try:
            self.child = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE if on_stdout else subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
            )
        except OSError as exc:
            what = "not found" if isinstance(exc, FileNotFoundError) else exc.strerror or exc
            raise WarmError(f"cannot start {self.argv[0]}: {what}") from None
        self._guard = proc._Watchdog()
        self._guard.watch(self.child.pid, "")
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()
        if on_stdout is not None:
            threading.Thread(target=self._read_stdout, args=(on_stdout,), daemon=True).start()

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child else None

    def alive(self) -> bool:
        return self.child is not None and self.child.poll() is None

    def exit_note(self) -> str:
        """How it ended, with the last stderr line: for error messages."""
        if self.child is None:
            return "not started"
        code = self.child.poll()
        if code is None:
            try:
                code = self.child.wait(timeout=1)  # its stdout ended: it is on its way out
            except subprocess.TimeoutExpired:
                pass
        if code is not None and self._stderr_reader is not None:
            self._stderr_reader.join(timeout=1)  # the last lines say why
        tail = self.stderr_tail().strip().splitlines()
        last = tail[-1].strip()[:200] if tail else ""
        how = "is running" if code is None else f"exited with code {code}"
        return f"{how}: {last}" if last else how

    def stderr_tail(self) -> str:
        return "".join(self._tail)

    def write(self, line: str) -> None:
        if self.child is None or self.child.stdin is None:
            raise WarmError(f"{self.argv[0]} is not running")
        try:
            self.child.stdin.write(line)
            self.child.stdin.flush()
        except (OSError, ValueError) as exc:
            raise WarmError(f"{self.argv[0]} stopped reading ({self.exit_note()})") from exc

    def close(self) -> None:
        """SIGTERM its group, then SIGKILL what is left after :data:`GRACE` seconds."""
        child = self.child
        if child is None:
            return
        if child.poll() is None:
            _signal_group(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=GRACE)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(child.pid, signal.SIGKILL)  # helpers left in the group, too
        try:
            child.wait(timeout=GRACE)
        except subprocess.TimeoutExpired:
            pass
        if self._guard is not None:
            self._guard.release()
            self._guard = None

    def _read_stderr(self) -> None:
        if self.child is None or self.child.stderr is None:
            return
        try:
            out = open(self.log, "a", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError:
            out = None
        try:
            for line in self.child.stderr:
                self._tail.append(line)
                self._tail_size += len(line)
                while self._tail_size > _TAIL and len(self._tail) > 1:
                    self._tail_size -= len(self._tail.pop(0))
                if out is not None:
                    out.write(line)
                    out.flush()
        except (OSError, ValueError):
            pass
        finally:
            if out is not None:
                out.close()

    def _read_stdout(self, on_line: Callable[[str], None]) -> None:
        if self.child is None or self.child.stdout is None:
            return
        try:
            for line in self.child.stdout:
                on_line(line)
        except (OSError, ValueError):
            pass
        on_line("")  # end of output


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class RpcError(Exception):
    """The peer answered a request with an error object."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Stopped(Exception):
    """The call was asked to stop while it waited."""


class Rpc:
    """JSON-RPC over a child's stdio, one JSON object per line.

    ``jsonrpc`` adds ``"jsonrpc": "2.0"`` to what is sent (ACP wants it, codex's
    app-server omits it). Requests from the peer go to ``on_request``, whose
    return value is the result (``None``: a "method not found" error).
    Notifications go to every subscriber whose predicate accepts them.
    """

    def __init__(
        self,
        process: Process,
        *,
        jsonrpc: bool,
        on_request: Callable[[dict[str, Any]], dict[str, Any] | None],
    ) -> None:
        self.process = process
        self.jsonrpc = jsonrpc
        self.on_request = on_request
        self._lock = threading.Lock()
        self._next = 0
        self._pending: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._subscribers: list[tuple[Callable[[dict[str, Any]], bool], queue.Queue[Any]]] = []
        self.closed = threading.Event()
        process.start(stdin=True, on_stdout=self._on_line)

    def _on_line(self, line: str) -> None:
        if not line:
            self.closed.set()
            with self._lock:
                waiting = list(self._pending.values()) + [q for _p, q in self._subscribers]
            for waiter in waiting:
                waiter.put({})  # wake everyone: the peer is gone
            return
        try:
            message = fastjson.loads(line)
        except ValueError:
            return  # a log line on stdout
        if not isinstance(message, dict):
            return
        if "id" in message and "method" not in message:
            with self._lock:
                waiter = self._pending.pop(message["id"], None)
            if waiter is not None:
                waiter.put(message)
        elif "method" in message and "id" in message:
            threading.Thread(target=self._answer, args=(message,), daemon=True).start()
        elif "method" in message:
            with self._lock:
                subscribers = list(self._subscribers)
            for accepts, inbox in subscribers:
                if accepts(message):
                    inbox.put(message)

    def _answer(self, message: dict[str, Any]) -> None:
        try:
            result = self.on_request(message)
        except Exception:
            result = None
        if result is None:
            reply: dict[str, Any] = {
                "id": message["id"],
                "error": {"code": -32601, "message": f"{message.get('method')} not supported"},
            }
        else:
            reply = {"id": message["id"], "result": result}
        try:
            self._send(reply)
        except WarmError:
            pass

    def _send(self, message: dict[str, Any]) -> None:
        if self.jsonrpc:
            message = {"jsonrpc": "2.0", **message}
        self.process.write(fastjson.dumps(message) + "\n")

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self._send({"method": method, **({"params": params} if params is not None else {})})

    def request(
        self,
        method: str,
        params: dict[str, Any],
        deadline: float,
        stop: threading.Event | None = None,
    ) -> dict[str, Any]:
        """Send a request and wait for its answer until ``deadline`` (monotonic).

        Raises :class:`RpcError` for an error answer, :class:`Stopped` when ``stop``
        is set, and :class:`WarmError` when the peer exits or the deadline passes.
        """
        with self._lock:
            self._next += 1
            number = self._next
            inbox: queue.Queue[dict[str, Any]] = queue.Queue()
            self._pending[number] = inbox
        try:
            self._send({"id": number, "method": method, "params": params})
            while True:
                if stop is not None and stop.is_set():
                    raise Stopped(method)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise WarmError(f"{method} got no answer in time")
                try:
                    answer = inbox.get(timeout=min(left, 0.2))
                except queue.Empty:
                    continue
                if not answer:
                    raise WarmError(f"the server exited ({self.process.exit_note()})")
                error = answer.get("error")
                if isinstance(error, dict):
                    code = error.get("code")
                    raise RpcError(
                        code if isinstance(code, int) else 0, str(error.get("message") or error)
                    )
                result = answer.get("result")
                return result if isinstance(result, dict) else {}
        finally:
            with self._lock:
                self._pending.pop(number, None)

    def subscribe(self, accepts: Callable[[dict[str, Any]], bool]) -> queue.Queue[Any]:
        """A queue of the notifications ``accepts`` takes (``{}`` once the peer is gone)."""
        inbox: queue.Queue[Any] = queue.Queue()
        with self._lock:
            self._subscribers.append((accepts, inbox))
        return inbox

    def unsubscribe(self, inbox: queue.Queue[Any]) -> None:
        with self._lock:
            self._subscribers = [(a, q) for a, q in self._subscribers if q is not inbox]


class Http:
    """JSON over HTTP/1.1 to a server on this machine, with basic auth when it has a password."""

    def __init__(self, base: str, user: str = "", password: str = "") -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if password:
            import base64

            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def request(
        self, method: str, path: str, body: object = None, timeout: float = 10.0
    ) -> tuple[int, Any]:
        """(status, decoded JSON body or the text); raises :class:`WarmError` if unreachable."""
        import http.client

        connection = http.client.HTTPConnection(self.host, self.port, timeout=max(timeout, 0.1))
        try:
            data = None if body is None else fastjson.dumps(body).encode()
            connection.request(method, path, body=data, headers=self.headers)
            response = connection.getresponse()
            raw = response.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            raise WarmError(f"{method} {path.split('?', maxsplit=1)[0]} failed: {exc}") from None
        finally:
            connection.close()
        try:
            return response.status, fastjson.loads(raw) if raw else None
        except ValueError:
            return response.status, raw


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

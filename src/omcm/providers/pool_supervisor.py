"""The warm pool's supervisor: the process that keeps a pool's servers (:mod:`omcm.providers.pool`).

``python -c "from omcm.providers.pool_supervisor import main; main()" KEY``,
started detached by the pool's client (:func:`omcm.providers.pool.ensure`). It
- holds an exclusive lock on ``pools/KEY.lock`` for its whole life: at most one
  supervisor per pool, and "is it running" is "is the lock held";
- listens on 127.0.0.1 (an ephemeral port, written with a random token to
  ``pools/KEY.json``, mode 0600, in the state dir) for calls from hooks, job
  workers and the CLI;
- starts servers: ``min`` while the pool is in use, one more for a call that
  finds all busy, up to ``max``; a call finding ``max`` busy, or a server that
  will not start, is told so and runs cold (the routing log says why);
- health-checks idle servers, replaces crashed ones, retires one after
  :data:`RECYCLE` calls (the CLIs keep every session in memory), stops a server
  unused for ``idle_shutdown`` seconds, and exits once it has none left and
  nothing came for that long: nothing survives its idle time, the last Claude
  session, or (checked every few seconds) an uninstall of OMCM or the plugin;
- aborts a call whose caller went away (cancel, Esc, a killed hook) and, if the
  caller died without a word, has the watchdog write the call's routing-log line
  (the *epitaph*, as the cold path's watchdog does).

Each server leads a process group watched by a watchdog: should the supervisor
itself be killed, its servers go with it.
"""

from __future__ import annotations

import os
import time

from omcm.core import fastjson, proc
from omcm.providers.pool import (
    START_BACKOFF,
    START_TIMEOUT,
    PoolState,
    ServerState,
    Unavailable,
    pool_file,
    pools_dir,
    save,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from typing import Any

    from omcm.providers.base import WarmServer

#: Seconds between health checks of an idle server.
CHECK_EVERY = 30.0
#: A server is retired (when idle) after this many calls: the CLIs keep their sessions.
RECYCLE = 100


class _Slot:
    """One server in the supervisor's hands."""

    def __init__(self, number: int, server: WarmServer) -> None:
        self.id = number
        self.server = server
        self.state = "starting"
        self.reserved = False  # a call waits for this starting server
        self.started = time.time()
        self.last_used = time.time()
        self.last_check = time.monotonic()
        self.calls = 0
        self.rss_kib = 0
        self.error = ""


class Supervisor:
    """Runs one pool until it is idle, told to stop, or OMCM is gone."""

    def __init__(self, key: str, spec: dict[str, Any]) -> None:
        import threading

        from omcm.providers import PROVIDERS

        self.key = key
        self.provider = PROVIDERS[spec["provider"]]
        self.project = str(spec["project"])
        self.plugin_root = str(spec.get("plugin_root") or "")
        self.settings = type(self.provider.defaults).parse(spec["settings"], f"{key} settings")
        warm = self.provider.warm(self.settings)
        if warm is None:
            raise SystemExit(f"{self.provider.name} has no warm mode")
        self.server_class = warm
        pool = getattr(self.settings, "pool", None)
        self.min: int = pool.min if pool is not None else 1
        self.max: int = pool.max if pool is not None else 2
        self.idle_shutdown: int = pool.idle_shutdown if pool is not None else 600
        self.env = dict(os.environ)
        self.lock = threading.Condition()
        self.slots: list[_Slot] = []
        self.numbers = 0
        self.calls_running = 0
        self.calls = 0
        self.last_use = time.time()
        self.backoff_until = 0.0
        self.last_error = ""
        self.error_at: float | None = None
        self.stopping = threading.Event()
        self.token = os.urandom(16).hex()
        self.port = 0
        self.started = time.time()
        self._written = 0.0

    # -- life ----------------------------------------------------------------

    def run(self, listener: socket.socket) -> None:
        import threading

        self.port = listener.getsockname()[1]
        self.note(
            f"pool {self.key} up: {self.provider.name} in {self.project} "
            f"(min {self.min}, max {self.max}, idle_shutdown {self.idle_shutdown}s)"
        )
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        self.write_state(force=True)
        reason = ""
        while not reason:
            reason = self._tend()
            with self.lock:
                self.lock.wait(1.0)
        self.note(f"pool stopping: {reason}")
        self.stopping.set()
        listener.close()
        self._stop_all()
        try:
            os.unlink(pool_file(self.key, ".json"))
        except FileNotFoundError:
            pass
        self.note("pool stopped")

    def _tend(self) -> str:
        """One round of upkeep; why the pool should end ("" to go on)."""
        now = time.time()
        gone = self._gone()
        if gone:
            return gone
        if self.stopping.is_set():
            return "told to stop"
        closing: list[tuple[_Slot, str]] = []
        checking: list[_Slot] = []
        with self.lock:
            in_use = now - self.last_use < self.idle_shutdown
            for slot in list(self.slots):
                reason = self._why_stop(slot, now, in_use)
                if reason:
                    self.slots.remove(slot)
                    closing.append((slot, reason))
                elif slot.state == "idle" and time.monotonic() - slot.last_check >= CHECK_EVERY:
                    slot.state = "checking"
                    checking.append(slot)
            if in_use and len(self.slots) < self.min and now >= self.backoff_until:
                self._new_slot(reserved=False)
            idle_out = not self.slots and not self.calls_running and not in_use
        for slot, reason in closing:
            self.note(f"server {slot.id} (pid {slot.server.pid}) stopped: {reason}")
            slot.server.close()
        self._check(checking)
        self._measure()
        self.write_state(force=bool(closing or checking))
        if idle_out:
            return f"nothing came for {self.idle_shutdown}s (idle_shutdown)"
        return ""

    def _why_stop(self, slot: _Slot, now: float, in_use: bool) -> str:
        """Why an idle server should stop now ("" to keep it; lock held)."""
        if slot.state != "idle":
            return ""  # a busy server that dies is its call's to report
        if slot.reserved:
            return ""  # it has just started for a call that waits for it
        if not slot.server.alive():
            return f"crashed ({slot.server.check()})"
        idle_for = now - slot.last_used
        if not in_use:
            return f"unused for {int(now - self.last_use)}s (idle_shutdown)"
        if idle_for >= self.idle_shutdown and len(self.slots) > self.min:
            return f"unused for {int(idle_for)}s (idle_shutdown; above min)"
        if slot.calls >= RECYCLE:
            return f"retired after {slot.calls} calls"
        return ""

    def _check(self, checking: list[_Slot]) -> None:
        """Health-check idle servers (outside the lock); a failing one is replaced."""
        for slot in checking:
            trouble = slot.server.check()
            slot.last_check = time.monotonic()
            with self.lock:
                if trouble and slot in self.slots:
                    self.slots.remove(slot)
                elif slot in self.slots:
                    slot.state = "idle"
                self.lock.notify_all()
            if trouble:
                self.note(f"server {slot.id} failed its health check: {trouble}; replaced")
                slot.server.close()

    def _gone(self) -> str:
        """Why OMCM is gone from under the pool ("" while it is installed)."""
        import omcm

        if not os.path.exists(omcm.__file__):
            return "OMCM was uninstalled"
        if self.plugin_root and not os.path.isdir(self.plugin_root):
            return f"the plugin was removed ({self.plugin_root})"
        if not os.path.isdir(pools_dir()):
            return "the state dir was removed"
        return ""

    def _stop_all(self) -> None:
        with self.lock:
            slots, self.slots = list(self.slots), []
            self.lock.notify_all()
        for slot in slots:
            self.note(f"server {slot.id} (pid {slot.server.pid}) stopped: the pool stops")
            slot.server.close()

    def note(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{stamp} {text}", flush=True)

    # -- servers ------------------------------------------------------------------

    def _new_slot(self, *, reserved: bool) -> _Slot:
        """A starting server (lock held); it starts in a thread of its own."""
        import threading

        self.numbers += 1
        server = self.server_class(
            self.settings, self.project, self.env, pool_file(self.key, ".log")
        )
        slot = _Slot(self.numbers, server)
        slot.reserved = reserved
        self.slots.append(slot)
        threading.Thread(target=self._start, args=(slot,), daemon=True).start()
        return slot

    def _start(self, slot: _Slot) -> None:
        from omcm.providers.base import WarmError

        began = time.monotonic()
        try:
            slot.server.start(START_TIMEOUT)
        except WarmError as exc:
            slot.error = str(exc)
        except Exception as exc:
            slot.error = f"{type(exc).__name__}: {exc}"
        with self.lock:
            if slot.error or self.stopping.is_set():
                if slot in self.slots:
                    self.slots.remove(slot)
                if slot.error:
                    self.backoff_until = time.time() + START_BACKOFF
                    self.last_error, self.error_at = slot.error, time.time()
            else:
                slot.state = "idle"
                slot.last_used = time.time()
                slot.last_check = time.monotonic()
                slot.rss_kib = group_rss_kib(slot.server.pid) if slot.server.pid else 0
            self.lock.notify_all()
        self.write_state(force=True)  # before a slow close: status shows the error at once
        if slot.error:
            self.note(f"server {slot.id} did not start: {slot.error}")
            slot.server.close()
        elif self.stopping.is_set():
            slot.server.close()
        else:
            seconds = time.monotonic() - began
            self.note(f"server {slot.id} (pid {slot.server.pid}) ready in {seconds:.2f}s")

    def acquire(self, deadline: float) -> tuple[_Slot, bool]:
        """A server for one call, and whether it was started for it; raises :class:`Unavailable`."""
        with self.lock:
            self.last_use = time.time()
            # A server in its health check (a fraction of a second, more on a loaded
            # machine) is as good as idle: wait for it rather than start another.
            while any(s.state == "checking" for s in self.slots) and not any(
                s.state == "idle" for s in self.slots
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.lock.wait(min(left, 1.0))
            for slot in self.slots:
                if slot.state == "idle" and not slot.reserved:  # not one a call waits for
                    slot.state = "busy"
                    return slot, False
            waiting = [s for s in self.slots if s.state == "starting" and not s.reserved]
            if waiting:
                slot = waiting[0]
            else:
                if time.time() < self.backoff_until:
                    raise Unavailable(f"a warm server failed to start: {self.last_error}")
                if len(self.slots) >= self.max:
                    raise Unavailable(f"all {self.max} warm servers are busy (pool.max)")
                slot = self._new_slot(reserved=True)
            slot.reserved = True
            while slot.state == "starting" and slot in self.slots:
                left = deadline - time.monotonic()
                if left <= 0:
                    slot.reserved = False
                    raise Unavailable("no warm server was ready in time")
                self.lock.wait(min(left, 1.0))
            if slot not in self.slots or slot.state != "idle":
                raise Unavailable(f"a warm server failed to start: {slot.error or 'stopped'}")
            slot.state, slot.reserved = "busy", False
            return slot, True

    def release(self, slot: _Slot, broken: str) -> None:
        with self.lock:
            slot.calls += 1
            self.calls += 1
            slot.last_used = self.last_use = time.time()
            if broken:
                if slot in self.slots:
                    self.slots.remove(slot)
            else:
                slot.state = "idle"
            self.lock.notify_all()
        if broken:
            self.note(f"server {slot.id} (pid {slot.server.pid}) dropped: {broken}")
            slot.server.close()
        self.write_state(force=True)

    # -- calls ----------------------------------------------------------------------

    def _accept(self, listener: socket.socket) -> None:
        import threading

        while not self.stopping.is_set():
            try:
                conn, _addr = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        import hmac

        try:
            conn.settimeout(10)
            reader = conn.makefile("rb")
            first = fastjson.loads(reader.readline().decode("utf-8", "replace") or "{}")
            if not isinstance(first, dict) or not hmac.compare_digest(
                str(first.get("token") or ""), self.token
            ):
                return
            if first.get("op") == "call":
                with self.lock:
                    self.calls_running += 1
                try:
                    self._call(conn, reader, first)
                finally:
                    with self.lock:
                        self.calls_running -= 1
        except (OSError, ValueError):
            pass
        finally:
            conn.close()

    def _call(self, conn: socket.socket, reader: Any, message: dict[str, Any]) -> None:
        import threading

        from omcm.providers.base import ProviderRequest, ProviderResult, WarmError

        began = time.monotonic()
        request = ProviderRequest.parse(message.get("request"), "call request")
        self._adopt(message.get("pool"))
        timeout = float(message.get("timeout") or self.settings.timeout)
        deadline = began + timeout
        if os.path.realpath(request.cwd) != self.project:
            _reply(conn, {"ok": False, "unavailable": "the call is for another project"})
            return
        try:
            slot, fresh = self.acquire(deadline)
        except Unavailable as why:
            _reply(conn, {"ok": False, "unavailable": str(why)})
            return
        stop = threading.Event()
        how: list[str] = []

        def watch() -> None:
            conn.settimeout(None)
            try:
                line = reader.readline()
            except (OSError, ValueError):
                line = b""
            if not stop.is_set():
                how.append("cancelled" if b"cancel" in line else "gone")
                stop.set()

        threading.Thread(target=watch, daemon=True).start()
        broken = ""
        try:
            left = max(1.0, deadline - time.monotonic())
            result = slot.server.call(request, left, stop)
        except WarmError as exc:
            broken = str(exc)
            result = ProviderResult("crash", error=f"the warm server failed: {exc}")
        except Exception as exc:
            broken = f"{type(exc).__name__}: {exc}"
            result = ProviderResult("crash", error=f"the warm server failed: {broken}")
        if how:
            self.note(f"server {slot.id}: call {how[0]}; aborted")
            if how[0] == "gone" and message.get("epitaph"):
                proc.write_epitaph(str(message["epitaph"]))
        else:
            stop.set()  # the watcher's line is the caller's business now
        self.release(slot, broken)
        if not how:
            _reply(
                conn,
                {
                    "ok": True,
                    "result": result.dump(),
                    "seconds": round(time.monotonic() - began, 4),
                    "fresh": fresh,
                    "server": slot.id,
                },
            )

    def _adopt(self, pool: object) -> None:
        """Take the caller's current ``[providers.X.pool]`` (the config may have changed)."""
        if not isinstance(pool, dict):
            return
        with self.lock:
            self.min = int(pool.get("min", self.min))
            self.max = int(pool.get("max", self.max))
            self.idle_shutdown = int(pool.get("idle_shutdown", self.idle_shutdown))

    # -- the state file -------------------------------------------------------------

    def _measure(self) -> None:
        """Memory of each server's process group (Linux), for status and the benchmark."""
        for slot in list(self.slots):
            if slot.server.pid:
                slot.rss_kib = group_rss_kib(slot.server.pid)

    def write_state(self, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._written < 5:
            return
        with self.lock:
            record = PoolState(
                key=self.key,
                provider=self.provider.name,
                mark=self.provider.hud,
                project=self.project,
                pid=os.getpid(),
                port=self.port,
                token=self.token,
                min=self.min,
                max=self.max,
                idle_shutdown=self.idle_shutdown,
                started=self.started,
                last_use=self.last_use,
                calls=self.calls,
                servers=[
                    ServerState(
                        id=s.id,
                        pid=s.server.pid,
                        state=s.state,
                        started=s.started,
                        last_used=s.last_used,
                        calls=s.calls,
                        rss_kib=s.rss_kib,
                    )
                    for s in self.slots
                ],
                last_error=self.last_error,
                error_at=self.error_at,
                updated=now,
            )
        self._written = now
        if not self.stopping.is_set():
            save(record)


def _reply(conn: socket.socket, data: dict[str, Any]) -> None:
    try:
        conn.sendall((fastjson.dumps(data) + "\n").encode())
    except OSError:
        pass


def group_rss_kib(pgid: int) -> int:
    """Resident memory of every process in group ``pgid``, in KiB (0 off Linux)."""
    total = 0
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                stat = handle.read().decode(errors="replace")
            if int(stat[stat.rindex(")") + 2 :].split()[2]) != pgid:
                continue
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total


def main() -> None:
    """The supervisor: ``python -c "from omcm.providers.pool import main; main()" KEY``."""
    import fcntl
    import signal
    import socket
    import sys

    if len(sys.argv) != 2:
        raise SystemExit("usage: pool KEY")
    key = sys.argv[1]
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    lock_fd = os.open(pool_file(key, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + 2
    while True:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return  # another supervisor runs this pool
            time.sleep(0.02)
    with open(pool_file(key, ".spec.json"), "rb") as handle:
        spec = fastjson.loads(handle.read())
    supervisor = Supervisor(key, spec)

    def stop(_signum: int, _frame: object) -> None:
        supervisor.stopping.set()
        with supervisor.lock:
            supervisor.lock.notify_all()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        supervisor.run(listener)
    except Exception:
        import traceback

        supervisor.note("pool failed:\n" + traceback.format_exc())
        supervisor.stopping.set()
        supervisor._stop_all()
        raise

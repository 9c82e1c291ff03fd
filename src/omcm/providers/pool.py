"""Warm pools: provider processes kept running between calls, so a call skips the CLI's start-up.

One pool serves one provider in one project directory with one setup (program,
arguments, environment): a warm server started for one project is never used
for another, and every call gets a session of its own on it (see each
provider's :class:`~omcm.providers.base.WarmServer`). This module is the pool's
client and the owner of its files (``pools/KEY.*``): it finds or starts a pool's
supervisor (:mod:`omcm.providers.pool_supervisor`, a detached process: double
fork, own session, like a job's worker), so no Claude Code process tree holds
it, and sends it calls; it lists and stops pools for ``omcm pool`` and the HUD.
A pool that cannot take a call (:class:`Unavailable`) leaves it to run cold.
"""

from __future__ import annotations

import os
import time

from omcm.core import fastjson, paths, proc, state
from omcm.core.records import Record, RecordError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable
    from typing import Any

    from omcm.providers.base import ProviderRequest, ProviderSettings

ENTRY = "from omcm.providers.pool_supervisor import main; main()"
#: Seconds a server may take to start and answer.
START_TIMEOUT = 60.0
#: After a server failed to start, calls run cold this long before another try.
START_BACKOFF = 60.0
#: Seconds a caller waits for a new supervisor to listen.
SPAWN_WAIT = 15.0
#: A pool's log is set aside (``KEY.log.1``) when a supervisor starts and it is bigger.
LOG_BYTES = 1024 * 1024
#: Variables that differ between shells of one user and do not change what a CLI does.
_VOLATILE = ("PWD", "OLDPWD", "SHLVL", "_", "COLUMNS", "LINES", "WINDOWID", "TERM_SESSION_ID")
#: ``CLAUDE*``: Claude Code sets some for one hook and not another (``CLAUDE_EFFORT`` in
#: PreToolUse, not in SessionStart); the CLIs do not read them.
_VOLATILE_PREFIXES = ("TMUX", "SSH_", "OMCM_DEBUG", "PYTEST_", "COV_CORE", "CLAUDE")


class ServerState(Record):
    """One warm server, as ``omcm status`` and the HUD show it."""

    id: int
    pid: int | None = None
    state: str = "starting"  # starting | idle | busy | checking
    started: float = 0.0
    last_used: float = 0.0
    calls: int = 0
    rss_kib: int = 0


class PoolState(state.StateRecord):
    """``pools/KEY.json``: a live pool, written by its supervisor."""

    key: str
    provider: str
    mark: str = ""  # the provider's status-line mark
    project: str
    pid: int
    port: int = 0
    token: str = ""
    min: int = 1
    max: int = 2
    idle_shutdown: int = 600
    started: float = 0.0
    last_use: float = 0.0
    calls: int = 0
    servers: list[ServerState] = []
    last_error: str = ""
    error_at: float | None = None
    updated: float = 0.0

    def public(self) -> dict[str, Any]:
        """What reports show: everything but the token that lets a caller in."""
        return {k: v for k, v in self.dump().items() if k != "token"}

    def idle_left(self, now: float) -> float:
        """Seconds until the pool stops for want of use."""
        return max(0.0, self.last_use + self.idle_shutdown - now)


class Unavailable(Exception):
    """The pool cannot serve this call now; the message says why (the call runs cold)."""


class Served(Record):
    """A call a warm server answered."""

    result: dict[str, Any]  # ProviderResult.dump()
    seconds: float
    fresh: bool = False  # the server was started for this call (or its supervisor was)
    server: int = 0


# --- where pools live ----------------------------------------------------------------


def pools_dir() -> str:
    return os.path.join(paths.state_dir(), "pools")


def pool_file(key: str, suffix: str) -> str:
    """A file of pool ``KEY``: ``.json`` (its state), ``.lock``, ``.spec.json``, ``.log``."""
    return os.path.join(pools_dir(), f"{key}{suffix}")


def key_of(provider: str, settings: ProviderSettings, project: str, env: dict[str, str]) -> str:
    """The pool a call belongs to: provider, project directory, program, arguments, environment."""
    import hashlib

    from omcm.providers import PROVIDERS

    relevant = sorted(
        (k, v)
        for k, v in env.items()
        if k not in _VOLATILE and not k.startswith(_VOLATILE_PREFIXES)
    )
    setup = [
        provider,
        os.path.realpath(project),
        PROVIDERS[provider].program(settings),
        list(settings.args),
        relevant,
    ]
    digest = hashlib.sha256(fastjson.dumps(setup).encode()).hexdigest()[:16]
    return f"{provider}-{digest}"


def save(record: PoolState) -> None:
    """Write a pool's state (its supervisor does, on every change)."""
    state.atomic_write(pool_file(record.key, ".json"), fastjson.dumps(record.dump()))


def running(key: str) -> bool:
    """Whether a supervisor holds the pool's lock."""
    import fcntl

    path = pool_file(key, ".lock")
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock taken here
    return False


def load(key: str) -> PoolState | None:
    """The pool's state if its supervisor is running and listening."""
    try:
        with open(pool_file(key, ".json"), "rb") as handle:
            found = PoolState.parse(fastjson.loads(handle.read()), key)
    except (OSError, ValueError, RecordError):
        return None
    return found if found.port and running(key) else None


def pools(clean: bool = True) -> list[PoolState]:
    """Every live pool; with ``clean``, files a dead supervisor left behind are removed."""
    found = []
    try:
        names = sorted(os.listdir(pools_dir()))
    except FileNotFoundError:
        return []
    for name in names:
        if not name.endswith(".json") or name.endswith(".spec.json"):
            continue
        key = name[: -len(".json")]
        live = load(key)
        if live is not None:
            found.append(live)
        elif clean and not running(key):
            for suffix in (".json", ".spec.json"):
                try:
                    os.unlink(pool_file(key, suffix))
                except FileNotFoundError:
                    pass
    return found


# --- the caller's side -------------------------------------------------------------


def ensure(provider: str, settings: ProviderSettings, project: str, env: dict[str, str]) -> str:
    """The pool's key, its supervisor started if none runs (it starts ``min`` servers).

    ``env`` is the environment without the provider's own variables
    (``proc.child_env()``): its :meth:`~omcm.providers.base.Provider.server_env` is laid
    over it here, for every server and for the key alike."""
    return _ensure(provider, settings, project, env)[0]


def _ensure(
    provider: str, settings: ProviderSettings, project: str, env: dict[str, str]
) -> tuple[str, bool]:
    """:func:`ensure`, and whether this call started the supervisor."""
    from omcm.providers import PROVIDERS

    env = env | PROVIDERS[provider].server_env(settings)
    key = key_of(provider, settings, project, env)
    if running(key):
        return key, False
    os.makedirs(pools_dir(), mode=0o700, exist_ok=True)
    with state.FileLock(pool_file(key, ".spawn")):
        if running(key):
            return key, False
        spec = {
            "provider": provider,
            "project": os.path.realpath(project),
            "settings": settings.dump(),
            "plugin_root": os.environ.get("CLAUDE_PLUGIN_ROOT", ""),
        }
        state.atomic_write(pool_file(key, ".spec.json"), fastjson.dumps(spec))
        try:
            os.unlink(pool_file(key, ".json"))  # a dead supervisor's port and token
        except FileNotFoundError:
            pass
        log = pool_file(key, ".log")
        try:
            if os.path.getsize(log) > LOG_BYTES:
                os.replace(log, log + ".1")
        except FileNotFoundError:
            pass
        import sys

        proc.spawn_detached([sys.executable, "-c", ENTRY, key], pool_file(key, ".log"), env)
        deadline = time.monotonic() + SPAWN_WAIT
        while not running(key) and time.monotonic() < deadline:
            time.sleep(0.01)
    return key, True


def call(
    provider: str,
    settings: ProviderSettings,
    request: ProviderRequest,
    *,
    timeout: float,
    env: dict[str, str],
    cancel: Callable[[], str] | None = None,
    epitaph: str = "",
) -> Served:
    """Run ``request`` on a warm server of the pool for its project.

    Raises :class:`Unavailable` when the pool cannot take it (run it cold), and
    :class:`omcm.core.proc.Cancelled` when ``cancel`` says so or a signal arrives (the
    supervisor aborts the call). ``epitaph`` is the routing-log line the
    supervisor writes should this process die before the answer arrives.
    """
    import socket

    began = time.monotonic()
    key, spawned = _ensure(provider, settings, request.cwd, env)
    live = _wait_listening(key, began + SPAWN_WAIT)
    pool = getattr(settings, "pool", None)
    message = {
        "token": live.token,
        "op": "call",
        "request": request.dump(),
        "timeout": timeout,
        "epitaph": epitaph,
        "pool": pool.dump() if pool is not None else {},
    }
    try:
        sock = socket.create_connection(("127.0.0.1", live.port), timeout=5)
    except OSError as exc:
        raise Unavailable(f"the pool's supervisor does not answer ({exc})") from None
    try:
        sock.sendall((fastjson.dumps(message) + "\n").encode())
        reply = _receive(sock, began + timeout + START_TIMEOUT + 10, cancel)
    except proc.Cancelled:
        _say_cancel(sock)
        raise
    finally:
        sock.close()
    if not reply.get("ok"):
        raise Unavailable(str(reply.get("unavailable") or "the pool refused the call"))
    served = Served.parse(reply, "pool reply")
    # A call that had to start the supervisor was served by a server started for it, even
    # when that server was ready before the call reached the supervisor.
    served.fresh = served.fresh or spawned
    return served


def _wait_listening(key: str, deadline: float) -> PoolState:
    while True:
        live = load(key)
        if live is not None:
            return live
        if time.monotonic() >= deadline:
            try:
                with open(pool_file(key, ".log"), encoding="utf-8", errors="replace") as handle:
                    tail = handle.read().strip().splitlines()[-1:]
            except (OSError, IndexError):
                tail = []
            why = f": {tail[0][:200]}" if tail else ""
            raise Unavailable(f"the pool's supervisor did not start{why}")
        time.sleep(0.01)


def _receive(
    sock: socket.socket, deadline: float, cancel: Callable[[], str] | None
) -> dict[str, Any]:
    """The supervisor's one-line reply, polling ``cancel`` while waiting."""

    sock.settimeout(0.2)
    data = b""
    while b"\n" not in data:
        why = cancel() if cancel else ""
        if why:
            raise proc.Cancelled(why)
        if time.monotonic() >= deadline:
            raise Unavailable("the warm server did not answer in time")
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError as exc:
            raise Unavailable(f"the pool's supervisor went away ({exc})") from None
        if not chunk:
            raise Unavailable("the pool's supervisor closed the connection")
        data += chunk
    reply = fastjson.loads(data.split(b"\n", 1)[0].decode("utf-8", "replace"))
    if not isinstance(reply, dict):
        raise Unavailable("the pool's supervisor answered nonsense")
    return reply


def _say_cancel(sock: socket.socket) -> None:
    try:
        sock.settimeout(1)
        sock.sendall(b'{"op": "cancel"}\n')
    except OSError:
        pass


def stop(key: str) -> bool:
    """Ask a pool's supervisor to stop its servers and exit; True if it was running."""
    import signal

    live = load(key)
    if live is None:
        return False
    try:
        os.kill(live.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + 15
    while running(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def prewarm(chained: dict[str, ProviderSettings], project: str) -> list[str]:
    """Start the pools of ``chained`` providers (those a routing chain names) with ``warm``
    on and ``pool.min`` > 0, for ``project`` (SessionStart); their keys."""
    from omcm.providers import PROVIDERS

    started = []
    env = proc.child_env()
    for name, settings in chained.items():
        pool = getattr(settings, "pool", None)
        wanted = settings.enabled and getattr(settings, "warm", False)
        if wanted and pool is not None and pool.min > 0 and PROVIDERS[name].warm(settings):
            started.append(ensure(name, settings, project, env))
    return started

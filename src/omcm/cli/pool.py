"""``omcm pool``: the warm provider servers (:mod:`omcm.providers.pool`): list, start, stop."""

from __future__ import annotations

import json
import os
import sys
import time

from omcm.core.errors import OmcmError
from omcm.core.humanize import plural

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from omcm.providers.pool import PoolState


def add_parser(sub: Any) -> None:
    from omcm.providers import REGISTERED

    pool = sub.add_parser(
        "pool",
        help="warm provider servers: list, start, stop",
        epilog="examples:\n  omcm pool\n  omcm pool start --provider opencode\n  omcm pool stop",
    )
    psub = pool.add_subparsers(dest="pool_command", title="pool commands", metavar="COMMAND")
    listing = psub.add_parser(
        "list",
        help="the running pools and their servers (the default)",
        epilog="example:\n  omcm pool list --json",
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=cmd_list)
    start = psub.add_parser(
        "start",
        help="start the pools of the providers with warm = true for a project, as a Claude "
        "Code session start does",
        epilog="example:\n  omcm pool start --provider opencode --cwd DIR",
    )
    start.add_argument(
        "--provider", choices=list(REGISTERED), help="only this provider (default: every warm one)"
    )
    start.add_argument(
        "--cwd", metavar="DIR", help="the project directory (default: the current one)"
    )
    start.set_defaults(handler=cmd_start)
    stop = psub.add_parser(
        "stop",
        help="stop pools and their servers (default: all)",
        epilog="examples:\n  omcm pool stop\n  omcm pool stop --provider opencode --cwd DIR",
    )
    stop.add_argument("--provider", choices=list(REGISTERED), help="only this provider's pools")
    stop.add_argument("--cwd", metavar="DIR", help="only the pools of this project directory")
    stop.set_defaults(handler=cmd_stop)
    pool.add_argument("--json", action="store_true", help="with no command: list as JSON")
    pool.set_defaults(handler=cmd_list)


def cmd_list(args: argparse.Namespace) -> int:
    from omcm.providers import pool

    live = pool.pools()
    if args.json:
        print(json.dumps([p.public() for p in live], indent=2, ensure_ascii=False))
        return 0
    print(render(live, time.time()) if live else "no warm pools running")
    return 0


def render(live: list[PoolState], now: float) -> str:
    from omcm.core.humanize import duration

    lines = []
    for found in live:
        left = found.idle_left(now)
        lines.append(
            f"{found.provider} in {found.project}: supervisor pid {found.pid}, up "
            f"{duration(now - found.started)}, {plural(found.calls, 'call')}, servers "
            f"{len(found.servers)} (min {found.min}, max {found.max}), stops in "
            f"{duration(left)} without a call"
        )
        for server in found.servers:
            memory = f", {server.rss_kib / 1024:.0f} MiB" if server.rss_kib else ""
            lines.append(
                f"  server {server.id}: pid {server.pid}, {server.state}, "
                f"{plural(server.calls, 'call')}, "
                f"last used {duration(now - server.last_used)} ago{memory}"
            )
        if found.last_error and found.error_at:
            lines.append(f"  last error ({duration(now - found.error_at)} ago): {found.last_error}")
    return "\n".join(lines)


def cmd_start(args: argparse.Namespace) -> int:
    from omcm import config
    from omcm.core import proc
    from omcm.providers import PROVIDERS, pool, readiness

    conf = config.load()
    from omcm.core.userfile import folder

    project = os.path.realpath(folder(args.cwd, "--cwd") if args.cwd is not None else os.getcwd())
    names = [args.provider] if args.provider else list(PROVIDERS)
    started: list[str] = []
    skipped: list[str] = []
    env = proc.child_env()
    for name in names:
        if name not in PROVIDERS:
            raise OmcmError(f"--provider {name}: unknown (one of {', '.join(PROVIDERS)})")
        settings = conf.providers[name]
        if PROVIDERS[name].warm(settings) is None:
            if args.provider:
                raise OmcmError(f"{name} has no warm mode")
            continue
        if not getattr(settings, "warm", False) and not args.provider:
            continue
        verdict = readiness.check(name, settings, env, time.time())
        if not verdict.ready:  # a supervisor for it could never start a server
            if args.provider:
                raise OmcmError(f"{name} cannot serve: {verdict.why()}")
            skipped.append(f"{name}: not started, {verdict.why()}")
            continue
        key = pool.ensure(name, settings, project, env)
        started.append(f"{name}: pool {key}")
    if skipped:
        print("\n".join(skipped), file=sys.stderr)
    if not started:
        if skipped:
            raise OmcmError("no warm pool could start (see above)")
        raise OmcmError("no provider has warm = true (omcm config set providers.NAME.warm true)")
    print("\n".join(started))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from omcm.providers import pool

    if args.cwd is not None and (args.cwd == "" or os.path.exists(args.cwd)):
        from omcm.core.userfile import folder

        folder(args.cwd, "--cwd")  # empty, or a file: said; a folder that is gone has no pools
    project = os.path.realpath(args.cwd) if args.cwd else None
    chosen = [
        p
        for p in pool.pools()
        if (not args.provider or p.provider == args.provider)
        and (project is None or p.project == project)
    ]
    for found in chosen:
        pool.stop(found.key)
        count = len(found.servers)
        print(f"stopped {found.provider} in {found.project} ({plural(count, 'server')})")
    if not chosen:
        print("no warm pool matched")
    return 0

"""``omcm status``: what OMCM knows now, where each figure came from, and how old it is."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from omcm import config as cfg
from omcm.calls import counters
from omcm.core import paths, state
from omcm.core.errors import ConfigError
from omcm.core.humanize import plural
from omcm.providers import pool
from omcm.routing import gauges, usage

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


def collect(now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    config_path = paths.config_file()
    try:
        config = cfg.load()
        config_status = "valid" if os.path.exists(config_path) else "missing: defaults in use"
    except ConfigError as exc:
        config, config_status = cfg.Config(), f"INVALID: {exc}"
    fusion = counters.load()
    fallback = gauges.load_fallback()
    limits = gauges.load()
    figure, window = usage.claude_reading(limits, now)
    sessions_root = os.path.join(paths.state_dir(), "sessions")
    sessions = sorted(os.listdir(sessions_root)) if os.path.isdir(sessions_root) else []
    return {
        "now": now,
        "config": {
            "path": config_path,
            "status": config_status,
            "fusion_default": config.fusion_default,
            "routing": config.routing.enabled,
            "threshold": config.threshold,
            "recovery": config.recovery_threshold,
        },
        "state_dir": paths.state_dir(),
        "counters": fusion.total.dump(),
        "fallback": fallback.dump(),
        "limits": limits.dump(),
        "claude_usage": {"percentage": figure, "window": window},
        "providers": _readiness(config, now),
        "provider_notes": _provider_notes(config, now),
        "pools": [p.public() for p in pool.pools()],
        "sessions": len(sessions),
        "notices": state.take_notices(),
    }


def _readiness(config: cfg.Config, now: float) -> dict[str, dict[str, Any]]:
    """Each provider's verdict, as routing would find it now."""
    from omcm.core import proc
    from omcm.providers import REGISTERED, readiness

    env = proc.child_env()
    return {
        name: readiness.check(name, config.providers[name], env, now).dump() for name in REGISTERED
    }


def _provider_notes(config: cfg.Config, now: float) -> dict[str, list[str]]:
    """What each enabled provider says of itself (Codex's plan usage, Ollama's models)."""
    from omcm.core import proc
    from omcm.providers import PROVIDERS

    env = proc.child_env()
    notes = {}
    for name, provider in PROVIDERS.items():
        settings = config.providers[name]
        if settings.enabled:
            said = provider.report(settings, env, now)
            if said:
                notes[name] = said
    return notes


def _ago(then: float | None, now: float) -> str:
    from omcm.core.humanize import age

    return age(then) if then else "never"


def _until(then: float, now: float) -> str:
    from omcm.core.humanize import duration

    return duration(max(0.0, then - now))


def render(report: dict[str, Any]) -> str:
    now = report["now"]
    conf, counters = report["config"], report["counters"]
    limits, fallback = report["limits"], report["fallback"]
    lines = [
        f"config:    {conf['path']} ({conf['status']})",
        f"           fusion_default={str(conf['fusion_default']).lower()}, "
        f"routing={'on' if conf['routing'] else 'off'}, fallback at {conf['threshold']}% "
        f"until below {conf['recovery']}%",
        f"state:     {report['state_dir']} ({plural(report['sessions'], 'session')} seen: "
        "omcm mode list)",
        f"calls:     {plural(counters['calls'], 'subagent call')}, {counters['routed']} routed, "
        f"{counters['cache_hits']} answered from cache, "
        f"{counters['fell_back']} fell back to Claude",
    ]
    for name, seen in sorted(counters["providers"].items()):
        lines.append(
            f"           {name}: {plural(seen['calls'], 'run')} ({seen['failures']} failed), "
            f"{seen['input_tokens']:,} tokens in / {seen['output_tokens']:,} out "
            "(as the CLI reported them)"
        )
    lines += _claude_lines(report, now)
    lines.append(
        "fallback:  "
        + (
            f"ACTIVE since {_ago(fallback['since'], now)}: {fallback['reason']}"
            if fallback["active"]
            else "inactive"
        )
        + (f" (last change {_ago(fallback['changed_at'], now)})" if fallback["changed_at"] else "")
    )
    for name, health in sorted(limits["providers"].items()):
        notes = []
        if (health["cooldown_until"] or 0) > now:
            notes.append(
                f"cooling down {_until(health['cooldown_until'], now)} "
                f"({health['cooldown_reason']})"
            )
        if (health["circuit_open_until"] or 0) > now:
            notes.append(
                f"skipped {_until(health['circuit_open_until'], now)} after "
                f"{health['consecutive_failures']} failures"
            )
        if health["last_error"]:
            notes.append(f"last error: {health['last_error']}")
        lines.append(
            f"{name + ':':10} "
            + ("; ".join(notes) or "healthy")
            + (f"; last answer {_ago(health['last_ok_at'], now)}" if health["last_ok_at"] else "")
        )
    for name, verdict in report["providers"].items():
        shown = "ready" if verdict["ready"] else f"not ready ({verdict['reason']})"
        detail = f": {verdict['detail']}" if verdict["detail"] else ""
        fix = f" — fix: {verdict['fix']}" if verdict["fix"] and not verdict["ready"] else ""
        lines.append(f"{name + ':':10} {shown}{detail}{fix}")
    for name, notes in report["provider_notes"].items():
        lines += [f"{name + ':':10} {note}" for note in notes]
    if report["pools"]:
        from omcm.cli.pool import render as render_pools
        from omcm.providers.pool import PoolState

        shown = render_pools([PoolState.parse(p, "pool") for p in report["pools"]], now)
        lines += ["warm pools:", *("  " + line for line in shown.splitlines())]
    lines.extend(report["notices"])
    return "\n".join(lines)


def _claude_lines(report: dict[str, Any], now: float) -> list[str]:
    limits = report["limits"]
    lines = []
    for window, label in (("five_hour", "5-hour"), ("seven_day", "weekly")):
        seen = limits[window]
        pct = seen["used_percentage"]
        if pct is None:
            lines.append(
                f"claude {label}: unknown — no status-line reading yet "
                "(install it: omcm hud setup; API-key logins have none)"
            )
            continue
        reset = f", resets in {_until(seen['resets_at'], now)}" if seen["resets_at"] else ""
        lines.append(
            f"claude {label}: {pct:.0f}% — from the status line's rate_limits, "
            f"observed {_ago(seen['observed_at'], now)}{reset}"
        )
    used = report["claude_usage"]
    shown = (
        "unknown (stale or missing)"
        if used["percentage"] is None
        else (f"{used['percentage']:.0f}% ({used['window']})")
    )
    lines.append(f"claude usage used for routing: {shown}")
    if (limits["claude_limited_until"] or 0) > now:
        lines.append(
            f"claude:    LIMITED (a request was rejected) for another "
            f"{_until(limits['claude_limited_until'], now)}"
        )
    return lines


def cmd_status(args: argparse.Namespace) -> int:
    from omcm.cli.status import collect, render

    report = collect()
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render(report))
    return 0


def add_parser(sub: Any) -> None:
    status = sub.add_parser(
        "status",
        help="config, routing counters, fallback and usage state",
        epilog="examples:\n  omcm status\n  omcm status --json",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)

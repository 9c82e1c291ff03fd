"""``omcm status``: what OMCM knows now, and where each figure came from."""

from __future__ import annotations

import os
from typing import Any

from omcm import config as cfg
from omcm import paths, state
from omcm.errors import ConfigError


def collect() -> dict[str, Any]:
    config_path = paths.config_file()
    try:
        config = cfg.load()
        config_status = "valid" if os.path.exists(config_path) else "missing: defaults in use"
    except ConfigError as exc:
        config, config_status = cfg.Config(), f"INVALID: {exc}"
    fusion = state.load(paths.state_file(state.FUSION_STATE), state.FusionState)
    fallback = state.load(paths.state_file(state.FALLBACK_STATE), state.FallbackState)
    limits = state.load(paths.state_file(state.PROVIDER_LIMITS), state.ProviderLimits)
    sessions_root = os.path.join(paths.state_dir(), "sessions")
    sessions = sorted(os.listdir(sessions_root)) if os.path.isdir(sessions_root) else []
    return {
        "config": {"path": config_path, "status": config_status,
                   "fusion_default": config.fusion_default, "routing": config.routing.enabled},
        "state_dir": paths.state_dir(),
        "counters": fusion.total.dump(),
        "fallback": fallback.dump(),
        "limits": limits.dump(),
        "sessions": len(sessions),
        "notices": list(state.NOTICES),
    }


def render(report: dict[str, Any]) -> str:
    from omcm.cli import age

    conf, counters = report["config"], report["counters"]
    limits, fallback = report["limits"], report["fallback"]
    lines = [
        f"config:    {conf['path']} ({conf['status']})",
        f"           fusion_default={str(conf['fusion_default']).lower()}, "
        f"routing={'on' if conf['routing'] else 'off'}",
        f"state:     {report['state_dir']} ({report['sessions']} sessions seen)",
        f"calls:     {counters['calls']} subagent calls, {counters['routed']} routed, "
        f"{counters['cache_hits']} answered from cache, "
        f"{counters['fell_back']} fell back to Claude",
    ]
    for window, label in (("five_hour", "5-hour"), ("seven_day", "weekly")):
        seen = limits[window]
        pct = seen["used_percentage"]
        shown = "unknown (no status-line reading yet)" if pct is None else f"{pct:.0f}%"
        lines.append(f"claude {label}: {shown}; observed {age(seen['observed_at'] or None)}")
    lines.append(
        "fallback:  " + (f"ACTIVE since {age(fallback['since'])} ({fallback['reason']})"
                         if fallback["active"] else "inactive")
    )
    lines.extend(report["notices"])
    return "\n".join(lines)

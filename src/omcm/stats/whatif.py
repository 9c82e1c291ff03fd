"""``omcm savings --what-if``: what each mode would have moved off Claude, from your transcripts.

Claude Code keeps every session as JSONL under ``<config dir>/projects/<project>/``
(``$CLAUDE_CONFIG_DIR``, else ``~/.claude``), and each subagent's own requests in
``<session>/subagents/agent-<id>.jsonl`` beside it. For every subagent call
(``Agent``, ``Task`` before 2.1.63) of the sessions touched in the last ``days``,
this finds the agent and what it really cost Claude — the usage of every model
request in its transcript, else the tool result's usage — and asks OMCM's own
routing engine whether each mode would have sent it to a provider: ``fusion_default``,
``hulw``, ``ulw`` at Claude's current usage and ``save-tokens``. Your config's
pins and overrides count; providers are taken as available.

Reading is bounded: files are streamed line by line, a line is parsed only when
it can hold a subagent call or its result, and lines over :data:`MAX_LINE` bytes
(pasted images, huge tool output) are skipped whole.
"""

from __future__ import annotations

import os
import time

from omcm.core import fastjson

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from omcm.config import Config

MAX_LINE = 8 * 1024 * 1024
MODES = ("fusion_default", "hulw", "ulw", "save-tokens")
_TOOLS = ("Agent", "Task")


def projects_root(env: dict[str, str] | None = None) -> str:
    env = dict(os.environ) if env is None else env
    base = env.get("CLAUDE_CONFIG_DIR") or os.path.join(env.get("HOME") or "~", ".claude")
    return os.path.join(os.path.expanduser(base), "projects")


def sessions(root: str, since: float) -> Iterator[str]:
    """Session transcripts (``<project>/<session>.jsonl``) modified since ``since``."""
    try:
        projects = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError:
        return
    for project in projects:
        if not project.is_dir():
            continue
        try:
            entries = sorted(os.scandir(project.path), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(".jsonl") and entry.is_file():
                try:
                    if entry.stat().st_mtime >= since:
                        yield entry.path
                except OSError:
                    continue


def _lines(path: str, needles: tuple[bytes, ...]) -> Iterator[dict[str, Any]]:
    """The JSON lines of ``path`` that hold one of ``needles`` (others are not parsed)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return
    with handle:
        for raw in handle:
            if len(raw) > MAX_LINE or not any(n in raw for n in needles):
                continue
            try:
                line = fastjson.loads(raw.decode("utf-8", "replace"))
            except ValueError:
                continue
            if isinstance(line, dict):
                yield line


def subagent_calls(path: str) -> list[dict[str, Any]]:
    """Every subagent call of one session transcript, with what it cost Claude."""
    calls: dict[str, dict[str, Any]] = {}
    for line in _lines(path, (b'"tool_use"', b"toolUseResult")):
        message = line.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        if line.get("type") == "assistant" and isinstance(content, list):
            for block in content:
                if (
                    isinstance(block, dict)
                    and block.get("type") == "tool_use"
                    and block.get("name") in _TOOLS
                    and isinstance(block.get("input"), dict)
                ):
                    tool_input = block["input"]
                    calls[str(block.get("id"))] = {
                        "agent_raw": str(tool_input.get("subagent_type") or "general-purpose"),
                        "model": tool_input.get("model"),
                        "time": line.get("timestamp"),
                        "tokens": None,
                    }
        result = line.get("toolUseResult")
        if line.get("type") == "user" and isinstance(result, dict) and isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    call = calls.get(str(block.get("tool_use_id")))
                    if call is not None:
                        call["tokens"] = _cost(path, result)
    return [c for c in calls.values() if c["tokens"] is not None]


def _cost(path: str, result: dict[str, Any]) -> int | None:
    """The subagent's tokens: its own transcript's requests summed, else the result's usage."""
    from omcm.calls import ledger

    spent = ledger.subagent_usage(path, str(result.get("agentId") or ""))
    if spent is not None:
        return spent.total
    usage = result.get("usage")
    if isinstance(usage, dict):
        return sum(ledger.from_usage(usage).values())
    stated = result.get("totalTokens")
    return stated if isinstance(stated, int) else None


def what_if(
    config: Config, days: float, usage: float | None, root: str | None = None
) -> dict[str, Any]:
    """Per mode: the subagent calls and Claude tokens it would have moved to providers."""
    from omcm.routing import agents, engine

    since = time.time() - days * 86400
    root = root or projects_root()
    found: list[dict[str, Any]] = []
    files = 0
    for path in sessions(root, since):
        files += 1
        found += subagent_calls(path)
    fusion = type(config).parse(config.dump() | {"fusion_default": True}, "config")
    plain = type(config).parse(config.dump() | {"fusion_default": False}, "config")
    total_tokens = sum(c["tokens"] for c in found)
    modes: dict[str, Any] = {}
    for mode in MODES:
        moved_calls = moved_tokens = 0
        by_agent: dict[str, list[int]] = {}
        for call in found:
            if mode == "fusion_default":
                st, conf = engine.EngineState(usage=usage), fusion
            else:
                st, conf = engine.EngineState(mode=mode, mode_fusion=True, usage=usage), plain
            decision = engine.decide(
                engine.Call(agent_raw=call["agent_raw"], model=call["model"]), conf, st
            )
            routed = decision.routed or decision.reason == "no-provider-available"
            if routed:
                moved_calls += 1
                moved_tokens += call["tokens"]
                seen = by_agent.setdefault(agents.normalise(call["agent_raw"]), [0, 0])
                seen[0] += 1
                seen[1] += call["tokens"]
        modes[mode] = {
            "calls": moved_calls,
            "tokens": moved_tokens,
            "share": round(moved_tokens / total_tokens, 4) if total_tokens else None,
            "agents": {k: {"calls": v[0], "tokens": v[1]} for k, v in sorted(by_agent.items())},
        }
    return {
        "days": days,
        "root": root,
        "sessions": files,
        "subagent_calls": len(found),
        "subagent_tokens": total_tokens,
        "claude_usage": usage,
        "modes": modes,
    }


def render(found: dict[str, Any]) -> str:
    from omcm.stats.render import short

    usage = found["claude_usage"]
    lines = [
        f"{found['sessions']} sessions of the last {found['days']:g} days in {found['root']}: "
        f"{found['subagent_calls']} subagent calls, "
        f"{short(found['subagent_tokens'])} Claude tokens",
        "what each mode would have moved to providers (providers taken as available; "
        f"ulw at Claude's usage {'unknown' if usage is None else f'{usage:.0f}%'}):",
    ]
    for mode, moved in found["modes"].items():
        share = "" if moved["share"] is None else f" ({moved['share']:.0%} of the subagent tokens)"
        lines.append(
            f"  {mode:15} {moved['calls']:>5} calls  ~{short(moved['tokens'])} tokens{share}"
        )
    return "\n".join(lines)

"""What a subagent that ran on Claude cost, captured by the hooks as Claude Code calls them.

The payloads have the shapes Claude Code 2.1.332 sends (see the end-to-end tests,
which capture them from the real CLI): PostToolUse's ``tool_response`` for a
foreground subagent (the last response's ``usage`` and the ``agentId``) and for a
background one (``isAsync``), and the ``<task-notification>`` prompt that hands a
background subagent's result back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omcm.calls import ledger, routing_log
from omcm.hud import statusline
from tests.integration.hookrun import run_hook


def usage(tin: int, out: int, read: int = 0, write: int = 0) -> dict[str, int]:
    return {
        "input_tokens": tin,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
        "output_tokens": out,
    }


def transcript(tmp_path: Path, session: str = "s-1") -> Path:
    project = tmp_path / "projects" / "proj"
    project.mkdir(parents=True, exist_ok=True)
    path = project / f"{session}.jsonl"
    path.write_text('{"type": "user", "version": "2.1.332"}\n')
    return path


def subagent_transcript(main: Path, agent_id: str, responses: list[dict[str, Any]]) -> None:
    """``<session>/subagents/agent-<id>.jsonl`` with one line per response (and a second line
    for the first one, as Claude Code writes one line per content block)."""
    folder = main.with_suffix("") / "subagents"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [{"type": "user", "isSidechain": True, "message": {"role": "user", "content": "go"}}]
    for n, reply in enumerate(responses):
        message = {
            "id": f"msg_{n}",
            "role": "assistant",
            "model": "claude-opus-5-5",
            "usage": reply,
        }
        lines.append(
            {"type": "assistant", "isSidechain": True, "agentId": agent_id, "message": message}
        )
        if n == 0:
            lines.append({"type": "assistant", "agentId": agent_id, "message": message})
        lines.append({"type": "api-request-blob", "body": "x" * 100})
    (folder / f"agent-{agent_id}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def post_tool_use(main: Path, response: dict[str, Any], agent: str = "Explore") -> None:
    payload = {
        "session_id": "s-1",
        "transcript_path": str(main),
        "cwd": str(main.parent),
        "hook_event_name": "PostToolUse",
        "tool_name": "Agent",
        "tool_use_id": "toolu_1",
        "tool_input": {"subagent_type": agent, "prompt": "look", "description": "look"},
        "tool_response": response,
    }
    answer, _done = run_hook("post-tool-use", payload)
    assert answer is None


def subagent_lines() -> list[routing_log.SubagentEntry]:
    return [e for e in routing_log.entries() if isinstance(e, routing_log.SubagentEntry)]


def test_a_foreground_subagent_costs_every_request_it_made(tmp_path: Path) -> None:
    main = transcript(tmp_path)
    subagent_transcript(main, "a1", [usage(10, 5, read=100), usage(20, 7, read=150, write=30)])
    post_tool_use(
        main,
        {
            "status": "completed",
            "agentId": "a1",
            "resolvedModel": "claude-opus-5-5",
            "usage": usage(20, 7, read=150, write=30),  # the last response's only
            "totalTokens": 207,
            "totalDurationMs": 3177,
            "totalToolUseCount": 1,
        },
    )
    [entry] = subagent_lines()
    assert (entry.agent, entry.tier, entry.model, entry.source) == (
        "explore",
        "low",
        "claude-opus-5-5",
        "post-tool-use",
    )
    assert (entry.input, entry.cache_read, entry.cache_creation, entry.output) == (30, 250, 30, 12)
    assert (entry.total, entry.requests, entry.duration_ms, entry.tool_uses) == (322, 2, 3177, 1)
    observed = ledger.load()
    assert observed.agents["explore"].n == 1 and observed.tiers["low"].total == 322


def test_a_last_response_written_late_is_waited_for(tmp_path: Path) -> None:
    """2.1.332 writes the subagent's transcript in batches: the hook (async there) waits
    until the response the tool result names as the last one is in the file."""
    import threading
    import time

    main = transcript(tmp_path)
    subagent_transcript(main, "a2", [usage(10, 5)])

    def late() -> None:
        time.sleep(1.0)
        subagent_transcript(main, "a2", [usage(10, 5), usage(30, 9)])

    writer = threading.Thread(target=late)
    writer.start()
    began = time.monotonic()
    post_tool_use(main, {"status": "completed", "agentId": "a2", "usage": usage(30, 9)})
    writer.join()
    [entry] = subagent_lines()
    assert (entry.total, entry.requests) == (54, 2)
    assert 1.0 <= time.monotonic() - began < 10


def test_without_its_transcript_the_tool_result_usage_counts(tmp_path: Path) -> None:
    main = transcript(tmp_path)
    post_tool_use(main, {"status": "completed", "agentId": "gone", "usage": usage(10, 5)})
    [entry] = subagent_lines()
    assert (entry.total, entry.requests) == (15, 0)


def test_a_background_subagent_is_costed_when_its_notification_arrives(tmp_path: Path) -> None:
    main = transcript(tmp_path)
    post_tool_use(
        main,
        {"isAsync": True, "status": "async_launched", "agentId": "a575", "resolvedModel": "m"},
        agent="oh-my-claudecode:writer",
    )
    assert subagent_lines() == []
    note = Path(ledger.pending_file("s-1", "a575"))
    assert note.exists()
    subagent_transcript(main, "a575", [usage(100, 40, read=1000)])
    prompt = (
        "<task-notification>\n<task-id>a575</task-id>\n<tool-use-id>toolu_1</tool-use-id>\n"
        '<status>completed</status>\n<summary>Agent "w" finished</summary>\n<result>ok</result>\n'
        "<usage><subagent_tokens>1140</subagent_tokens><tool_uses>2</tool_uses>"
        "<duration_ms>3245</duration_ms></usage>\n</task-notification>"
    )
    payload = {
        "session_id": "s-1",
        "transcript_path": str(main),
        "cwd": str(main.parent),
        "hook_event_name": "UserPromptSubmit",
        "prompt": prompt,
    }
    answer, _done = run_hook("user-prompt-submit", payload)
    assert answer is None
    [entry] = subagent_lines()
    assert (entry.agent, entry.background, entry.source) == ("writer", True, "task-notification")
    assert (entry.total, entry.requests, entry.tool_uses, entry.duration_ms) == (1140, 1, 2, 3245)
    assert not note.exists()
    # the same notification again (a resumed session) is not counted twice
    run_hook("user-prompt-submit", payload)
    assert len(subagent_lines()) == 1


def test_a_routed_call_is_credited_with_the_claude_tokens_it_avoided(tmp_path: Path) -> None:
    """Observed on Claude first, then routed: the session's counters and the status line
    carry the estimate; a routed agent with nothing observed is counted as unknown."""
    from omcm.calls import counters

    main = transcript(tmp_path)
    subagent_transcript(main, "a1", [usage(40_000, 2_000)])
    post_tool_use(main, {"status": "completed", "agentId": "a1", "usage": usage(40_000, 2_000)})
    for agent, tier in (("explore", "low"), ("executor", "medium")):
        entry = routing_log.CallEntry(
            time=1.0, session_id="s-1", agent=agent, tier=tier, outcome="routed"
        )
        counters.count("s-1", 1.0, entry)
    from omcm.calls import counters

    session = counters.load().sessions["s-1"]
    assert (session.avoided, session.avoided_unknown) == (42_000, 1)
    line = statusline.render_line(json.dumps({"session_id": "s-1"}).encode(), 2.0)
    assert "saved ~42k +1?" in line

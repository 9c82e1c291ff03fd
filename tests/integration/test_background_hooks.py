"""The hooks of a background subagent call, run as Claude Code runs them (launcher, stdin).

A transcript that records the Claude Code version decides whether a routed call
without ``run_in_background`` goes to the background (2.1.198+); a fake codex
answers when the test lets it. The deciding PreToolUse hook must answer while its
job still runs, the delivery hook (interactive) and the Stop hook (``-p``) must
each hand the answer over, and only one of them. Nothing here depends on how fast
the machine is: "at once" is checked against what the job record says.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from omcm.core import paths, sessions
from omcm.jobs import store
from tests.integration.test_cancel import LAUNCHER, REPO, REPO_PYTHON

SID = "bg-session"
ANSWER = "THE ENTRY POINT IS app.py"

CODEX = """#!/bin/sh
cat >/dev/null
sleep {delay}
echo '{{"type":"item.completed","item":{{"type":"agent_message","text":"{answer}"}}}}'
echo '{{"type":"turn.completed","usage":{{"input_tokens":100,"cached_input_tokens":10,"output_tokens":20,"reasoning_output_tokens":2}}}}'
"""
#: A fake codex that answers only once the test creates ``release``: what happens before
#: that happened while the job was still running, whatever the machine's speed.
HELD = """#!/bin/sh
cat >/dev/null
while [ ! -e "{release}" ]; do sleep 0.02; done
echo '{{"type":"item.completed","item":{{"type":"agent_message","text":"{answer}"}}}}'
echo '{{"type":"turn.completed","usage":{{"input_tokens":100,"cached_input_tokens":10,"output_tokens":20,"reasoning_output_tokens":2}}}}'
"""
FAILING = """#!/bin/sh
cat >/dev/null
echo '{"type":"turn.failed","error":{"message":"exceeded retry limit, last status: 429 Too Many Requests"}}'
exit 1
"""


def setup(tmp_path: Path, script: str, version: str = "2.1.332") -> Path:
    fake = tmp_path / "codex"
    fake.write_text(script)
    fake.chmod(0o755)
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'fusion_default = true\n[routing.chains]\nmedium = ["codex"]\n'
        f'[providers.codex]\ncommand = "{fake}"\n'
    )
    transcript = tmp_path / "transcript.jsonl"
    line = {"type": "user", "version": version, "message": {"role": "user", "content": "go"}}
    transcript.write_text(json.dumps(line) + "\n")
    return transcript


def hook(
    event: str, payload: dict[str, Any], entrypoint: str = "cli", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE")}
    env |= {
        "OMCM_PYTHON": str(REPO_PYTHON),
        "CLAUDE_PLUGIN_ROOT": str(REPO),
        "CLAUDE_CODE_ENTRYPOINT": entrypoint,
    }
    return subprocess.run(
        ["sh", str(LAUNCHER), event],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def call(transcript: Path, tmp_path: Path, **tool_input: Any) -> dict[str, Any]:
    return {
        "session_id": SID,
        "hook_event_name": "PreToolUse",
        "cwd": str(tmp_path),
        "transcript_path": str(transcript),
        "tool_name": "Agent",
        "tool_use_id": "toolu_bg",
        "tool_input": {"description": "find it", "prompt": "Find the entry."} | tool_input,
    }


def stop(transcript: Path, **extra: Any) -> dict[str, Any]:
    return {
        "session_id": SID,
        "hook_event_name": "Stop",
        "transcript_path": str(transcript),
        "stop_hook_active": False,
    } | extra


def decide(transcript: Path, tmp_path: Path, **tool_input: Any) -> dict[str, Any]:
    done = hook("pre-tool-use", call(transcript, tmp_path, **tool_input))
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def held(tmp_path: Path) -> tuple[str, Path]:
    """The held fake codex's script, and the file that lets it answer."""
    release = tmp_path / "release"
    return HELD.format(release=release, answer=ANSWER), release


def finished(job_id: str) -> store.JobRecord:
    deadline = time.monotonic() + 60
    while not (record := store.load(job_id)).finished:
        assert time.monotonic() < deadline, record
        time.sleep(0.05)
    return record


def test_a_background_call_is_answered_at_once_and_its_job_runs(tmp_path: Path) -> None:
    script, release = held(tmp_path)
    transcript = setup(tmp_path, script)
    answer = decide(transcript, tmp_path)
    reason = answer["hookSpecificOutput"]["permissionDecisionReason"]
    [job_id] = store.ids()
    assert reason == (
        "[OMCM] This general-purpose subagent task was handed to OpenAI Codex (model "
        f"gpt-5.2-codex) as background job {job_id}; nothing went wrong. Its result will "
        "arrive by itself as a separate notification when the job ends: carry on with other "
        "work meanwhile and do not run this task yourself."
    )
    record = store.load(job_id)
    assert not record.finished  # the hook answered while its provider was still held
    assert (record.source, record.session_id, record.tool_use_id) == ("hook", SID, "toolu_bg")
    assert not Path(paths.routing_log()).exists()  # the call is logged when its job ends
    release.touch()
    assert finished(job_id).state == "done"
    log = Path(paths.routing_log())  # written by the worker just after it records the end
    deadline = time.monotonic() + 60
    while not log.exists():
        assert time.monotonic() < deadline, "the job's routing-log line never came"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("version", "tool_input"),
    [("2.1.197", {}), ("2.1.332", {"run_in_background": False}), ("", {})],
    ids=["2.1.197-absent", "2.1.332-false", "no-version"],
)
def test_a_foreground_call_keeps_the_blocking_answer(
    tmp_path: Path, version: str, tool_input: dict[str, Any]
) -> None:
    transcript = setup(tmp_path, CODEX.format(delay=0, answer=ANSWER), version or "x")
    if not version:
        transcript.write_text("")
    answer = decide(transcript, tmp_path, **tool_input)
    out = answer["hookSpecificOutput"]
    if version:  # 2.1.197+: the answer goes back through the relay agent (omcm.hooks.relay)
        assert (out["permissionDecision"], out["updatedInput"]["subagent_type"]) == (
            "allow",
            "omcm:relay",
        )
        assert ANSWER in (sessions.take_relay(SID, "toolu_bg") or "")
    else:
        assert ANSWER in out["permissionDecisionReason"]
    assert store.ids() == []


def test_2_1_197_runs_an_explicit_background_call_as_a_job(tmp_path: Path) -> None:
    transcript = setup(tmp_path, CODEX.format(delay=0, answer=ANSWER), "2.1.197")
    answer = decide(transcript, tmp_path, run_in_background=True)
    assert "as background job" in answer["hookSpecificOutput"]["permissionDecisionReason"]


def test_interactive_the_delivery_hook_wakes_claude_with_the_answer(tmp_path: Path) -> None:
    transcript = setup(tmp_path, CODEX.format(delay=1, answer=ANSWER))
    decide(transcript, tmp_path)
    woke = hook("pre-tool-use-wait", call(transcript, tmp_path), entrypoint="cli")
    assert woke.returncode == 2, (woke.stdout, woke.stderr)
    assert woke.stdout == ""
    [job_id] = store.ids()
    assert woke.stderr.startswith(f"[OMCM] Background job {job_id} finished: the general-purpose ")
    assert f"\n\n{ANSWER}\n\n— omcm: general-purpose → codex/gpt-5.2-codex · 100 in / 20 out" in (
        woke.stderr
    )
    assert store.load(job_id).delivered == "rewake"
    # The Stop hook then has nothing to hand over again.
    assert hook("stop", stop(transcript), entrypoint="cli").stdout == ""


def test_print_mode_the_stop_hook_waits_and_hands_the_answer_over(tmp_path: Path) -> None:
    script, release = held(tmp_path)
    transcript = setup(tmp_path, script)
    decide(transcript, tmp_path)
    [job_id] = store.ids()
    # Under -p the delivery hook leaves at once (while the job runs): a late exit 2 would
    # start no new turn.
    left = hook("pre-tool-use-wait", call(transcript, tmp_path), entrypoint="sdk-cli")
    assert (left.returncode, left.stdout, left.stderr) == (0, "", "")
    assert not store.load(job_id).finished
    # The Stop hook, started while the job runs, waits for it: the provider is let go
    # only once the hook has recorded its event (just before it starts waiting).
    stopping = threading.Thread(
        target=lambda: results.append(hook("stop", stop(transcript), entrypoint="sdk-cli"))
    )
    results: list[subprocess.CompletedProcess[str]] = []
    stopping.start()
    info = Path(paths.session_dir(SID)) / "session.json"
    deadline = time.monotonic() + 60
    while '"Stop"' not in (info.read_text() if info.exists() else ""):
        assert time.monotonic() < deadline, "the Stop hook never started"
        time.sleep(0.02)
    assert not store.load(job_id).finished
    release.touch()
    stopping.join(timeout=120)
    [done] = results
    block = json.loads(done.stdout)
    assert block["decision"] == "block"
    assert ANSWER in block["reason"] and block["reason"].startswith("[OMCM] Background job ")
    assert store.load(job_id).delivered == "stop"
    again = hook("stop", stop(transcript, stop_hook_active=True), entrypoint="sdk-cli")
    assert again.stdout == ""
    [line] = [json.loads(x) for x in Path(paths.routing_log()).read_text().splitlines()]
    assert (line["outcome"], line["job_id"], line["tool_use_id"]) == ("routed", job_id, "toolu_bg")
    assert line["tokens"] == {"input": 100, "cached": 10, "output": 20, "reasoning": 2}


def test_a_job_every_provider_failed_tells_claude_to_do_it_itself(tmp_path: Path) -> None:
    transcript = setup(tmp_path, FAILING)
    decide(transcript, tmp_path)
    done = hook("stop", stop(transcript), entrypoint="sdk-cli")
    reason = json.loads(done.stdout)["reason"]
    [job_id] = store.ids()
    assert reason == (
        f"[OMCM] Background job {job_id}: the general-purpose subagent task “find it” (tool call "
        "toolu_bg) was NOT done (failed: codex: exceeded retry limit, last status: 429 Too Many "
        "Requests). No answer will come from OMCM for it: run it yourself now, or issue the "
        "subagent call again."
    )


def test_a_call_that_stays_on_claude_lets_the_delivery_hook_go_at_once(tmp_path: Path) -> None:
    transcript = setup(tmp_path, CODEX.format(delay=0, answer=ANSWER))
    staying = call(transcript, tmp_path, subagent_type="Plan")  # HIGH: stays on Claude
    assert hook("pre-tool-use", staying).stdout == ""
    # Far below its budget (hooks.json gives it 7300 s), whatever the machine's speed.
    left = hook("pre-tool-use-wait", staying, timeout=60)
    assert (left.returncode, left.stdout) == (0, "")


def test_a_deciding_hook_that_fails_lets_the_delivery_hook_go_at_once(tmp_path: Path) -> None:
    """An invalid config: Claude runs the call itself, and the delivery hook beside the
    deciding one learns that at once from its mark (it would otherwise wait a minute for
    one, and Claude Code waits for it at exit)."""
    transcript = setup(tmp_path, CODEX.format(delay=0, answer=ANSWER))
    Path(paths.config_file()).write_text("[routing]\nmax_worker = 3\n")
    told = json.loads(hook("pre-tool-use", call(transcript, tmp_path)).stdout)
    assert "unknown key 'routing.max_worker'" in told["systemMessage"]
    assert sessions.read_call_mark(SID, "toolu_bg") == ""
    left = hook("pre-tool-use-wait", call(transcript, tmp_path), timeout=30)  # < its minute
    assert (left.returncode, left.stdout) == (0, "")
    assert sessions.read_call_mark(SID, "toolu_bg") is None  # taken


def test_print_mode_the_delivery_hook_never_waits_for_a_mark(tmp_path: Path) -> None:
    """Under -p the Stop hook delivers: the delivery hook leaves before any mark exists."""
    transcript = setup(tmp_path, CODEX.format(delay=0, answer=ANSWER))
    left = hook("pre-tool-use-wait", call(transcript, tmp_path), entrypoint="sdk-cli", timeout=30)
    assert (left.returncode, left.stdout, left.stderr) == (0, "", "")


def test_session_start_offers_what_an_ended_session_missed(tmp_path: Path) -> None:
    transcript = setup(tmp_path, CODEX.format(delay=0, answer=ANSWER))
    decide(transcript, tmp_path)
    [job_id] = store.ids()
    deadline = time.monotonic() + 30
    while not store.load(job_id).finished:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    start = {
        "session_id": "next-session",
        "hook_event_name": "SessionStart",
        "cwd": str(tmp_path),
        "source": "startup",
    }
    told = json.loads(hook("session-start", start).stdout)["hookSpecificOutput"]
    assert (
        "background subagent tasks of an earlier session in this project ended"
        in (told["additionalContext"])
    )
    assert ANSWER in told["additionalContext"]
    assert store.load(job_id).delivered == "session-start"
    again = json.loads(hook("session-start", start | {"session_id": "third"}).stdout)
    assert ANSWER not in again["hookSpecificOutput"]["additionalContext"]

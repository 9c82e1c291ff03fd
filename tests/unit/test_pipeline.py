"""The routed-call pipeline behind every door, with fake providers registered in the real registry.

The fakes run real (tiny) processes through omcm.core.proc, so timeouts, retries and
worker slots are exercised for real; only the CLI on the other end is fake.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from omcm.calls import counters, routing_log, slots
from omcm.core import paths
from omcm.core.proc import ProcResult
from omcm.hooks import pre_tool_use
from omcm.hooks.payloads import PreToolUsePayload
from omcm.providers import PROVIDERS
from omcm.providers.base import (
    Login,
    Provider,
    ProviderRequest,
    ProviderResult,
    ProviderSettings,
    Usage,
)
from omcm.routing import gauges


class FakeProvider(Provider):
    """Runs ``sh -c SCRIPT``; the script's stdout is the answer, ``RATE``/``FAIL`` classify."""

    def __init__(self, name: str, script: str) -> None:
        real = PROVIDERS[name]  # its config table and marks, its commands faked
        self.name = name  # type: ignore[misc]
        self.label = f"Fake {name}"  # type: ignore[misc]
        self.defaults = real.defaults  # type: ignore[misc]
        self.hud, self.summary = real.hud, real.summary  # type: ignore[misc]
        self.script = script
        self.requests: list[ProviderRequest] = []

    def login(self, settings: ProviderSettings, env: Mapping[str, str]) -> Login:
        return Login(True, "a fake that needs no login")

    def argv(self, request: ProviderRequest, settings: ProviderSettings) -> list[str]:
        self.requests.append(request)
        return ["sh", "-c", self.script]

    def parse(self, result: ProcResult, now: float) -> ProviderResult:
        if result.timed_out:
            return ProviderResult("timeout", error=result.error)
        out = result.stdout.strip()
        if out.startswith("RATE"):
            return ProviderResult("rate_limited", error="429 Too Many Requests", reset_at=now + 120)
        if result.returncode != 0:
            return ProviderResult("crash", error=f"exit {result.returncode}")
        return ProviderResult("ok", answer=out, usage=Usage(1234, 100, 56, 7), model="fake-1")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def configure(text: str = "") -> None:
    path = Path(paths.config_file())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("fusion_default = true\n" + text)


def fake(monkeypatch: pytest.MonkeyPatch, name: str, script: str) -> FakeProvider:
    provider = FakeProvider(name, script)
    monkeypatch.setitem(PROVIDERS, name, provider)
    return provider


@pytest.fixture(autouse=True)
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every provider program counts as installed (the fakes do not use the command)."""
    monkeypatch.setattr("shutil.which", lambda command: f"/usr/bin/{command}")


def call(
    project: Path,
    agent: str = "executor",
    prompt: str = "fix the bug",
    tool_use_id: str = "toolu_1",
) -> dict[str, Any] | None:
    payload = PreToolUsePayload.parse(
        {
            "session_id": "s1",
            "hook_event_name": "PreToolUse",
            "cwd": str(project),
            "transcript_path": "",
            "tool_name": "Agent",
            "tool_use_id": tool_use_id,
            "tool_input": {"description": "Fix it", "prompt": prompt, "subagent_type": agent},
        },
        "test",
    )
    return pre_tool_use.handle(payload)


def last_log() -> dict[str, Any]:
    return list(routing_log.read())[-1]


def test_routed_answer_reaches_claude_as_the_subagent_result(
    monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    configure()
    codex = fake(monkeypatch, "codex", "cat >/dev/null; echo THE-ANSWER")
    answer = call(project)
    assert answer is not None
    out = answer["hookSpecificOutput"]
    assert out["hookEventName"] == "PreToolUse"
    assert out["permissionDecision"] == "deny"
    reason = out["permissionDecisionReason"]
    assert reason.startswith(
        "[OMCM] This executor subagent task was completed by Fake codex "
        "(model fake-1) instead of a Claude subagent. What follows is the "
        "subagent's result, not an error"
    )
    assert (
        "\n\nTHE-ANSWER\n\n— omcm: executor → codex/fake-1 · 1,234 in / 56 out tokens · " in reason
    )
    saved = Path(paths.state_dir()) / "outputs" / "s1" / "toolu_1.md"
    assert reason.endswith(f"full output: {saved}")
    assert "THE-ANSWER" in saved.read_text()
    assert answer["systemMessage"].startswith("OMCM: executor → codex/fake-1 (")
    sent = codex.requests[0]
    assert sent.sandbox == "workspace-write"
    assert sent.cwd == str(project)
    assert sent.prompt.startswith("fix the bug\n\n---\nContext from the Claude Code session")
    assert sent.prompt.rstrip().endswith(
        f"You may edit files inside {project}; report what you changed."
    )
    assert (project / ".omcm" / "handoff" / "context.md").exists()
    entry = last_log()
    assert entry["outcome"] == "routed"
    assert entry["reason"] == "fusion-default"
    assert entry["provider"] == "codex"
    assert entry["tokens"] == {"input": 1234, "cached": 100, "output": 56, "reasoning": 7}
    assert [a["outcome"] for a in entry["attempts"]] == ["ok"]
    assert entry["context_path"] == str(project / ".omcm" / "handoff" / "context.md")
    fusion = counters.load()
    assert (fusion.total.calls, fusion.total.routed) == (1, 1)
    assert fusion.sessions["s1"].providers["codex"].input_tokens == 1234


def test_a_call_that_stays_on_claude_prints_nothing_and_is_logged(project: Path) -> None:
    assert call(project, agent="architect") is None
    entry = last_log()
    assert (entry["decision"], entry["reason"], entry["outcome"]) == (
        "claude",
        "pinned-claude",
        "claude",
    )


def test_rate_limited_provider_falls_through_to_the_next_and_cools_down(
    monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    configure()
    fake(monkeypatch, "codex", "cat >/dev/null; echo RATE")
    fake(monkeypatch, "opencode", "cat >/dev/null; echo FROM-OPENCODE")
    answer = call(project)
    assert answer is not None
    assert "FROM-OPENCODE" in answer["hookSpecificOutput"]["permissionDecisionReason"]
    assert answer["systemMessage"].endswith("after codex rate limited")
    entry = last_log()
    assert [(a["provider"], a["outcome"]) for a in entry["attempts"]] == [
        ("codex", "rate_limited"),
        ("opencode", "ok"),
    ]
    limits = gauges.load()
    assert limits.providers["codex"].cooldown_until is not None
    assert limits.providers["codex"].cooldown_until > time.time() + 60
    # the next call skips codex while it cools down
    call(project, prompt="another task", tool_use_id="toolu_2")
    assert [a["provider"] for a in last_log()["attempts"]] == ["opencode"]
    assert "rate-limited; cooling down for" in last_log()["skipped"]["codex"]


def test_every_provider_failing_lets_claude_run_it_and_says_why(
    monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    configure("[delegation]\nretry = false\n")
    for name in ("codex", "opencode", "gemini"):
        fake(monkeypatch, name, "cat >/dev/null; exit 3")
    answer = call(project)
    assert answer is not None
    assert "hookSpecificOutput" not in answer
    assert answer["systemMessage"] == (
        "OMCM: could not hand the executor subagent to a provider (codex: exit 3; "
        "opencode: exit 3; gemini: exit 3); Claude runs it instead."
    )
    entry = last_log()
    assert entry["outcome"] == "fell-back"
    fusion = counters.load()
    assert (fusion.total.routed, fusion.total.fell_back) == (0, 1)


def test_a_crash_is_retried_once(
    monkeypatch: pytest.MonkeyPatch, project: Path, tmp_path: Path
) -> None:
    configure()
    marker = tmp_path / "ran-once"
    fake(
        monkeypatch,
        "codex",
        f"cat >/dev/null; if [ -e {marker} ]; then echo SECOND; else touch {marker}; exit 1; fi",
    )
    answer = call(project)
    assert answer is not None
    assert "SECOND" in answer["hookSpecificOutput"]["permissionDecisionReason"]
    assert [a["outcome"] for a in last_log()["attempts"]] == ["crash", "ok"]


def test_a_hanging_provider_is_killed_at_its_timeout(
    monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    configure("[delegation]\nretry = false\n[providers.codex]\ntimeout = 5\n")
    fake(monkeypatch, "codex", "cat >/dev/null; sleep 60")
    fake(monkeypatch, "opencode", "cat >/dev/null; echo QUICK")
    started = time.monotonic()
    answer = call(project)
    assert time.monotonic() - started < 15
    assert answer is not None
    assert "QUICK" in answer["hookSpecificOutput"]["permissionDecisionReason"]
    assert [a["outcome"] for a in last_log()["attempts"]] == ["timeout", "ok"]


def test_long_answers_are_cut_for_claude_and_kept_whole_on_disk(
    monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    configure("[delegation]\nmax_answer_chars = 1000\n")
    fake(monkeypatch, "codex", "cat >/dev/null; python3 -c \"print('x' * 5000)\"")
    answer = call(project)
    assert answer is not None
    reason = answer["hookSpecificOutput"]["permissionDecisionReason"]
    saved = Path(paths.state_dir()) / "outputs" / "s1" / "toolu_1.md"
    assert f"[… answer cut at 1000 of 5000 characters; the full answer is in {saved}]" in reason
    assert reason.count("x") < 1100
    assert "x" * 5000 + "\n" in saved.read_text()


def test_an_identical_call_gets_the_stored_answer(
    monkeypatch: pytest.MonkeyPatch, project: Path, tmp_path: Path
) -> None:
    configure()
    runs = tmp_path / "runs"
    fake(monkeypatch, "codex", f"cat >/dev/null; echo run >> {runs}; echo ANSWER")
    first = call(project)
    second = call(project, tool_use_id="toolu_2")
    assert first is not None and second is not None
    assert runs.read_text().count("run") == 1
    assert "ANSWER" in second["hookSpecificOutput"]["permissionDecisionReason"]
    assert (
        "this is that stored answer, not a new run"
        in (second["hookSpecificOutput"]["permissionDecisionReason"])
    )
    entry = last_log()
    assert (entry["outcome"], entry["cache_hit"]) == ("cache", True)
    call(project, prompt="a different prompt", tool_use_id="toolu_3")
    assert runs.read_text().count("run") == 2


def test_no_free_worker_slot_within_the_budget_falls_back_visibly(
    monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    configure("[routing]\nmax_workers = 1\n[delegation]\nhook_budget = 30\n")
    fake(monkeypatch, "codex", "cat >/dev/null; echo NEVER")
    monkeypatch.setattr("omcm.hooks.pre_tool_use.MARGIN", 1.0)
    monkeypatch.setattr("omcm.calls.chain.MIN_RUN", 28.5)
    held = slots.acquire(1, time.monotonic() + 1)
    assert held is not None
    try:
        answer = call(project)
    finally:
        held.release()
    assert answer is not None
    assert "all 1 worker slots stayed busy" in answer["systemMessage"]
    assert last_log()["outcome"] == "fell-back"


def test_providers_that_are_not_installed_are_skipped(
    monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    configure()
    monkeypatch.setattr("shutil.which", lambda command: None if command == "codex" else command)
    fake(monkeypatch, "opencode", "cat >/dev/null; echo OK")
    answer = call(project)
    assert answer is not None
    skipped = last_log()["skipped"]
    assert skipped["codex"] == (
        "not-installed: `codex` is not on PATH (fix: npm install -g @openai/codex)"
    )
    assert skipped["gemini"].startswith("not-logged-in: not logged in")  # no key, no login
    assert last_log()["provider"] == "opencode"


def test_the_log_line_is_json_with_every_field(
    monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    configure()
    fake(monkeypatch, "codex", "cat >/dev/null; echo A")
    call(project)
    raw = Path(paths.routing_log()).read_text().splitlines()[-1]
    entry = json.loads(raw)
    for key in (
        "time",
        "session_id",
        "tool_use_id",
        "agent_raw",
        "agent",
        "tier",
        "decision",
        "reason",
        "provider",
        "model",
        "attempts",
        "duration",
        "tokens",
        "prompt_chars",
        "answer_chars",
        "context_path",
    ):
        assert key in entry
    assert set(entry["attempts"][0]) == {
        "provider",
        "model",
        "outcome",
        "exit_code",
        "error",
        "duration",
        "tokens",
        "warm",
        "warm_error",
    }


def test_every_door_writes_the_same_log_line_for_the_same_decision(
    monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    """A subagent call, ``omcm run`` and a batch task decided alike are booked alike: only
    where each came from differs (the door, its ids, its output file and its timing)."""
    from omcm import config
    from omcm.batch import executor, plan
    from omcm.calls.call import Source
    from omcm.cli.main import main
    from omcm.jobs import worker
    from omcm.routing import engine

    configure()
    fake(monkeypatch, "codex", "cat >/dev/null; echo FIXED")
    decision = engine.Decision(
        target="providers",
        reason="fusion-default",
        agent="explore",
        agent_raw="explore",
        tier="low",
        tier_source="the agent table",
        role="explore",
        routes=[engine.Route(provider="codex", model="m1", sandbox="read-only")],
        skipped={"gemini": "disabled in config"},
    )
    monkeypatch.setattr(engine, "decide", lambda *_args, **_kw: decision)
    monkeypatch.setattr(engine, "direct", lambda *_args, **_kw: decision)
    prompt = "list the modules"

    assert call(project, agent="explore", prompt=prompt) is not None
    assert main(["run", "--agent", "explore", "--cwd", str(project), prompt]) == 0
    task = plan.parse(
        f'[[tasks]]\nid = "t1"\nagent = "explore"\nprompt = "{prompt}"\n'.encode(),
        "plan.toml",
        3,
        ("codex",),
    ).tasks[0]
    batch = Source(door="cli", session_id="s1", cwd=str(project), batch_id="b1")
    job = worker.start(executor.route(task, config.load(), batch), reason="a task", spawn_now=False)
    worker.run(job.id)

    lines = [line for line in routing_log.read() if line.get("event") == "call"]
    assert [line["source"] for line in lines] == ["hook", "cli", "batch"]
    where = {"time", "source", "session_id", "tool_use_id", "tool_name", "batch_id", "job_id"}
    where |= {"duration", "output_path", "context_path", "mode"}  # a batch is hulw's executor

    def what(line: dict[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in line.items() if k not in where}
        kept["attempts"] = [a | {"duration": None} for a in line["attempts"]]
        return kept

    assert [line.get("mode", "") for line in lines] == ["", "", "hulw"]
    hook, cli, batch_task = (what(line) for line in lines)
    assert hook == cli == batch_task
    assert (hook["outcome"], hook["provider"], hook["reason"]) == (
        "routed",
        "codex",
        "fusion-default",
    )
    assert hook["prompt_chars"] == len(prompt) and hook["skipped"] == decision.skipped

"""Stats and savings end to end: the real Claude Code's subagent usage reaches the ledger,
``omcm savings --what-if`` reads the transcripts it wrote, and the stats page renders in a
real headless Chromium.

Each run is ``claude -p`` with OMCM (no routing configured, so the subagents run on
Claude) against the stub Anthropic API, scripted so that each subagent makes a tool
call and then answers: two model requests with known usage each, so the cost OMCM
records can be checked to the token.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from omcm.calls import routing_log
from tests.e2e.claude import LEGACY, NEWEST, SUBAGENT_TOOL, VERSIONS, Sandbox
from tests.e2e.stub_anthropic import (
    Reply,
    Request,
    StubAnthropic,
    is_main_conversation,
    is_subagent,
    issued,
    subagent_result,
    tool_results,
)

pytestmark = pytest.mark.e2e

#: The subagent's two responses: a tool call, then the answer.
FIRST = {"input_tokens": 1000, "output_tokens": 50}
SECOND = {"input_tokens": 1200, "output_tokens": 80}
SUBAGENT_TOTAL = sum(FIRST.values()) + sum(SECOND.values())


class SubagentWorks:
    """The main conversation calls one subagent per entry of ``calls`` (one turn each);
    every subagent lists files, then answers."""

    def __init__(self, tool: str, calls: dict[str, dict[str, Any]]) -> None:
        self.tool = tool
        self.calls = calls
        #: The usage of every response the subagents got (a busy machine can make Claude
        #: Code ask again: each answer it got counts).
        self.served: list[dict[str, int]] = []

    def __call__(self, request: Request) -> Reply:
        if is_subagent(request):
            if tool_results(request):
                self.served.append(SECOND)
                return Reply(blocks=({"type": "text", "text": "SUBAGENT-RAN"},), usage=SECOND)
            glob = Reply.tool_use("Glob", {"pattern": "*.md"})
            self.served.append(FIRST)
            return Reply(blocks=glob.blocks, stop_reason="tool_use", usage=FIRST)
        if not is_main_conversation(request):
            return Reply.text("ok")
        for tool_use_id, tool_input in self.calls.items():
            if subagent_result(request, tool_use_id) is None and not issued(request, tool_use_id):
                return Reply.tool_use(self.tool, tool_input, tool_use_id)
            if subagent_result(request, tool_use_id) is None:
                return Reply.text("WAITING")
        return Reply.text("DONE")


def call(agent: str, background: bool | None) -> dict[str, Any]:
    extra = {} if background is None else {"run_in_background": background}
    return extra | {
        "description": f"{agent} work",
        "prompt": "Look around.",
        "subagent_type": agent,
    }


def run(
    root: Path, version: str, calls: dict[str, dict[str, Any]], script: SubagentWorks | None = None
) -> Sandbox:
    script = script or SubagentWorks(SUBAGENT_TOOL[version], calls)
    with StubAnthropic(script) as stub:
        sandbox = Sandbox(root, version, stub.url)
        (sandbox.project / "README.md").write_text("# demo\n")
        result = sandbox.prompt("OMCM e2e: have the subagents look around", timeout=180)
        assert result.returncode == 0, result.describe()
    assert not stub.errors, stub.errors
    return sandbox


@pytest.mark.parametrize("version", VERSIONS)
def test_a_subagent_on_claude_is_costed_from_its_real_usage(
    version: str, tmp_path: Path, dev_python: Path
) -> None:
    calls = {"toolu_stats_explore": call("Explore", False if version != LEGACY else None)}
    script = SubagentWorks(SUBAGENT_TOOL[version], calls)
    sandbox = run(tmp_path, version, calls, script)
    lines = sandbox.routing_log("subagent")
    assert len(lines) == 1, sandbox.routing_log(None)
    [line] = lines
    assert (line["agent"], line["tier"], line["source"]) == ("explore", "low", "post-tool-use")
    # Every request the subagent made, from its own transcript (2.1.62 has none: there
    # only the tool result's usage, the last response's, is known).
    if version == LEGACY and line.get("requests", 0) == 0:
        assert line["total"] == sum(SECOND.values())
    else:
        served = script.served
        assert served[:2] == [FIRST, SECOND]  # a tool call, then the answer
        assert (line["total"], line["requests"]) == (
            sum(sum(usage.values()) for usage in served),
            len(served),
        )
        assert (line["input"], line["output"]) == (
            sum(u["input_tokens"] for u in served),
            sum(u["output_tokens"] for u in served),
        )
    observed = sandbox.state_json("claude-subagents.json")
    assert observed["agents"]["explore"]["n"] == 1


def test_a_background_subagent_is_costed_when_it_ends(tmp_path: Path, dev_python: Path) -> None:
    """2.1.332 runs it in the background: PostToolUse has no usage, its task notification
    (a UserPromptSubmit prompt) ends it, and its transcript gives the requests."""
    calls = {"toolu_stats_bg": call("general-purpose", None)}
    sandbox = run(tmp_path, NEWEST, calls)
    [line] = sandbox.routing_log("subagent")
    assert (line["agent"], line["background"], line["source"]) == (
        "general-purpose",
        True,
        "task-notification",
    )
    assert (line["total"], line["requests"]) == (SUBAGENT_TOTAL, 2)


def test_what_if_reads_the_transcripts_claude_code_wrote(tmp_path: Path, dev_python: Path) -> None:
    calls = {
        "toolu_whatif_explore": call("Explore", False),
        "toolu_whatif_plan": call("Plan", False),
    }
    sandbox = run(tmp_path, NEWEST, calls)
    done = sandbox.omcm("savings", "--what-if", "--days", "1", "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["root"] == str(sandbox.home / ".claude" / "projects")
    assert (found["sessions"], found["subagent_calls"]) == (1, 2)
    assert found["subagent_tokens"] == 2 * SUBAGENT_TOTAL
    modes = found["modes"]
    # Explore is LOW (moved by hulw, fusion_default and save-tokens); Plan is pinned to Claude
    # by routing.prefer_claude; ulw moves nothing without a usage reading.
    assert (modes["hulw"]["calls"], modes["hulw"]["tokens"]) == (1, SUBAGENT_TOTAL)
    assert modes["fusion_default"]["calls"] == 1
    assert modes["save-tokens"]["calls"] == 1
    assert modes["ulw"]["calls"] == 0
    text = sandbox.omcm("savings", "--what-if", "--days", "1").stdout
    assert "1 sessions of the last 1 days" in text and "hulw" in text
    # The same answers with CLAUDE_CONFIG_DIR pointing at the user's Claude config.
    moved = sandbox.home / "elsewhere"
    shutil.copytree(sandbox.home / ".claude", moved)
    other = subprocess.run(
        [str(dev_python), "-m", "omcm", "savings", "--what-if", "--json"],
        capture_output=True,
        text=True,
        env=sandbox.env(CLAUDE_CONFIG_DIR=str(moved), HOME=str(tmp_path / "nobody")),
        cwd=sandbox.project,
        check=True,
    )
    assert json.loads(other.stdout)["subagent_calls"] == 2


def test_the_stats_page_renders_in_a_real_browser(tmp_path: Path, dev_python: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is missing: run scripts/setup --e2e", pytrace=False)
    calls = {"toolu_page_explore": call("Explore", False)}
    sandbox = run(tmp_path, NEWEST, calls)
    # Routed calls beside the session's own line, so every chart has data.
    log = str(sandbox.state_dir / "routing-log.jsonl")
    for n, provider in enumerate(("codex", "gemini", "codex", "opencode")):
        tokens = routing_log.Tokens(input=1000 * (n + 1), cached=100, output=40)
        attempt = routing_log.AttemptEntry(
            provider=provider, model="stub-model", outcome="ok", duration=1.5, tokens=tokens
        )
        entry = routing_log.CallEntry(
            time=time.time() - n * 3600,
            agent="explore",
            tier="low",
            decision="providers",
            outcome="routed",
            provider=provider,
            duration=1.5 + n,
            attempts=[attempt],
        )
        routing_log.append(entry, log)
    page = tmp_path / "stats.html"
    done = sandbox.omcm("stats", "--since", "all", "--by", "hour", "--html", str(page))
    assert done.returncode == 0, done.stderr
    browser = subprocess.run(
        [
            chromium,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert browser.returncode == 0, browser.stderr[-2000:]
    console = [line for line in browser.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console  # no error, not even a log line
    dom = browser.stdout
    assert 'data-ready="1"' in dom  # the page's script ran to its end
    assert len(re.findall(r"<svg[^>]*class=\"chart\"", dom)) == 4
    assert len(re.findall(r'class="bar"', dom)) >= 4 + 2 * 3 + 2
    assert len(re.findall(r'class="point"', dom)) >= 2
    assert "subagent calls" in dom and "<table" in dom


def test_the_first_report_over_rotated_files_equals_the_later_ones(
    dev_python: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``omcm stats`` as a user runs it, over rotated files that have no ``.rows`` yet (the
    first report after an upgrade, or after the detached indexer was killed), one with a
    damaged line: it parses them and saves their rows and days; the next report reads
    those, and says the same to the byte."""
    monkeypatch.setattr(routing_log, "MAX_BYTES", 6_000)
    monkeypatch.setattr(routing_log, "_index_later", lambda path: None)  # as if killed
    now = time.time()
    for n in range(240):
        when = now - 40 * 86400 + n * 14_000
        if n % 3:
            tokens = routing_log.Tokens(input=1000 + n, cached=100, output=40 + n)
            attempt = routing_log.AttemptEntry(
                provider="codex",
                model="gpt-5.1-codex-mini",
                outcome="ok",
                duration=2.0,
                tokens=tokens,
            )
            entry = routing_log.CallEntry(
                time=when,
                agent="explore",
                tier="low",
                decision="providers",
                outcome="routed",
                provider="codex",
                duration=2.5 + n % 7,
                attempts=[attempt],
            )
        else:
            entry = routing_log.CallEntry(time=when, agent="executor", tier="medium")
        routing_log.append(entry)
        if n == 10:
            with open(routing_log.files()[-1], "a") as handle:
                handle.write('{"event": "call", "time": "damaged"\n')
    rotated = routing_log.files()[:-1]
    assert len(rotated) > 4
    assert "damaged" in Path(rotated[0]).read_text()

    def omcm(*args: str) -> str:
        done = subprocess.run(
            [str(dev_python), "-m", "omcm", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        return done.stdout

    for args in (
        ("stats", "--since", "all", "--json"),
        ("stats", "--since", "all", "--by", "week"),
        ("stats", "--since", "all", "--by", "hour"),
        ("savings", "--since", "all"),
    ):
        for name in rotated:
            Path(name + ".rows").unlink(missing_ok=True)
        first = omcm(*args)
        assert all(Path(name + ".rows").exists() for name in rotated)
        assert omcm(*args) == first, args
    found = json.loads(omcm("stats", "--since", "all", "--json"))
    assert (found["damaged_lines"], found["total"]["calls"]) == (1, 240)
    assert found["total"]["providers"]["codex"]["runs"] == 160

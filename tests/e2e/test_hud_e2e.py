"""Issue 5 end to end: the HUD, the usage fallback and Claude's usage limit, in the real CLI.

The status line only runs in an interactive session, so one Claude Code 2.1.197
session runs in a private tmux server against the stub API, logged in as a
subscriber (``CLAUDE_CODE_OAUTH_TOKEN``) so that the stub's unified rate-limit
headers become the status line's ``rate_limits``. Before it starts, the user
already has a status line of their own (``echo MYLINE``) and runs
``omcm hud setup --refresh 2``, which chains it. The stub's usage then goes
42 % → 92 % (fallback on; an ``Explore`` subagent call is answered by codex
against the stub model server) → 88 % (still on: hysteresis) → 80 % (off; the
next ``Explore`` call runs in Claude). The session fixture records what the
screen and OMCM's state files showed at each step; the tests read those records.

Before the first prompt a provider cooldown is written into OMCM's state and
taken out again: the HUD shows and drops it with no key pressed (the
``refreshInterval`` timer). At the end the stub rejects a request for the usage
limit: Claude Code runs the plugin's ``StopFailure`` hook and the HUD shows
Claude cooling down.

A ``claude -p`` run rejected for the limit checks the headless path. There
2.1.197 does not wait for ``StopFailure`` hooks, and without another hook to
wait for, the plugin's never ran; OMCM's ``SessionEnd`` hook (awaited) gives it
the time, and also recognises the rejection in the transcript by itself.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from omcm.cli.hud import hud_command
from omcm.routing.usage import ProviderHealth, ProviderLimits
from tests.e2e.claude import (
    MODERN,
    NEWEST,
    PREVIOUS,
    REPO,
    REPO_PYTHON,
    SUBSCRIBER_ENV,
    ClaudeRun,
    Sandbox,
    background_by_default,
    subagent_delay,
)
from tests.e2e.stub_anthropic import (
    OMCM_DELIVERY,
    WAITING,
    Reply,
    Request,
    StubAnthropic,
    is_main_conversation,
    is_subagent,
    last_user_text,
    new_text,
    subagent_report,
    subagent_result,
    task_notifications,
    tool_results,
    unified_limit_headers,
    usage_limit_rejection,
)
from tests.e2e.stub_models import ANSWER, StubModels, codex_setup, pinned_bin
from tests.e2e.tmux import Tmux

pytestmark = pytest.mark.e2e

MYLINE = {"type": "command", "command": "echo MYLINE", "padding": 0}
EXPLORE = {"description": "explore the code", "subagent_type": "Explore"}
FALLBACK_REASON = "Claude's 5-hour usage reached 92% (threshold 90%)"
LIMIT_REASON = "Claude rejected a request: its usage limit is reached"
WAIT = 60.0  # seconds any one step of the interactive session may take
LIMIT_TEXT = {
    NEWEST: "You've hit your 5-hour limit · resets ",
    PREVIOUS: "You've hit your session limit · resets ",
}
"""How each version words Claude's usage-limit rejection."""


class UsageScript:
    """The stub's side of the interactive session.

    Every response carries the unified headers for the current ``five_hour``
    figure. Main conversation: a prompt containing "explore" gets an ``Agent``
    call of the built-in ``Explore`` agent; the turn carrying its result gets
    ``DONE: <result>``; any other prompt ``ANSWER <n>``; while ``rejecting``,
    every turn gets the usage-limit rejection. A subagent gets ``SUBAGENT-RAN``;
    side requests ``ok``.
    """

    def __init__(self, subagent_delay: float = 0.0) -> None:
        self.subagent_delay = subagent_delay
        now = int(time.time())
        self.five_hour_reset = now + 2 * 3600 + 600
        self.seven_day_reset = now + 3 * 86400
        self.five_hour = 0.0
        self.seven_day = 0.29
        self.answers = 0
        self.explores = 0
        self.rejecting = False

    def headers(self) -> dict[str, str]:
        return unified_limit_headers(
            self.five_hour,
            self.seven_day,
            five_hour_reset=self.five_hour_reset,
            seven_day_reset=self.seven_day_reset,
        )

    def __call__(self, request: Request) -> Reply:
        headers = self.headers()
        if is_subagent(request):
            return Reply.text("SUBAGENT-RAN", headers, delay=self.subagent_delay)
        if not is_main_conversation(request):
            return Reply.text("ok", headers)
        if self.rejecting:
            return usage_limit_rejection(self.five_hour_reset)
        explore_id = f"toolu_hud_explore_{self.explores}"
        if self.explores and (
            tool_results(request)
            or task_notifications(request)
            or OMCM_DELIVERY in new_text(request)
        ):
            result = subagent_result(request, explore_id)
            if result is None:  # 2.1.198+: it went to the background; its end comes later
                return Reply.text(WAITING, headers)
            return Reply.text(f"DONE: {subagent_report(result)[:800]}", headers)
        if "explore" in last_user_text(request):
            self.explores += 1
            task = dict(EXPLORE, prompt=f"List the project files (call {self.explores}).")
            return Reply.tool_use(
                "Agent", task, f"toolu_hud_explore_{self.explores}", headers=headers
            )
        self.answers += 1
        return Reply.text(f"ANSWER {self.answers}", headers)


@dataclass
class Step:
    """What one step of the session left on the screen and in OMCM's state."""

    screen: str
    hud: str
    limits: dict[str, Any]
    fallback: dict[str, Any]
    log: list[dict[str, Any]]


@dataclass
class HudSession:
    sandbox: Sandbox
    stub: StubAnthropic
    models: StubModels
    script: UsageScript
    settings_before: dict[str, Any]
    setup_output: str
    settings_installed: dict[str, Any] = field(default_factory=dict)
    remove_output: str = ""
    settings_after: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, Step] = field(default_factory=dict)

    def entry(self, tool_use_id: str) -> dict[str, Any]:
        """The routing-log line of one subagent call."""
        lines = [
            line for line in self.sandbox.routing_log() if line.get("tool_use_id") == tool_use_id
        ]
        assert len(lines) == 1, f"{tool_use_id}: {lines}"
        return lines[0]


def hud_line(screen: str) -> str:
    """The status-line row of a captured screen ("" when it is not shown)."""
    rows = [row.strip() for row in screen.splitlines() if re.search(r"\b5h:", row)]
    # Claude Code pads the row and puts its own indicators at the right edge.
    return re.split(r"\s{3,}", rows[-1])[0] if rows else ""


def hud_shows(*wanted: str, absent: str = "") -> Callable[[str], bool]:
    def check(screen: str) -> bool:
        line = hud_line(screen)
        return all(text in line for text in wanted) and not (absent and absent in line)

    check.__doc__ = f"a status line with {wanted}" + (f" and without {absent!r}" if absent else "")
    return check


def codex_config(models: StubModels, sandbox: Sandbox) -> str:
    """OMCM config sending every routed call to the pinned codex, talking to ``models``."""
    setup = codex_setup(models.url, sandbox.root / "codex-home")
    sandbox.extra_env.update({name: setup.env[name] for name in ("CODEX_HOME", "STUB_API_KEY")})
    sandbox.extra_env["NO_PROXY"] = "127.0.0.1,localhost"
    codex = pinned_bin("codex")
    if not codex.exists():
        pytest.fail(f"{codex} is missing: run scripts/setup --e2e", pytrace=False)
    return (
        '[routing.chains]\nlow = ["codex"]\nmedium = ["codex"]\nhigh = ["codex"]\n\n'
        f"[providers.codex]\ncommand = {json.dumps(str(codex))}\n"
        f"args = {json.dumps(list(setup.args))}\ntimeout = 120\nwarm = true\n\n"
        '[providers.codex.model]\nlow = "stub-model"\nmedium = "stub-model"\n'
        'high = "stub-model"\n\n'
        "[providers.gemini]\nenabled = false\n\n[providers.opencode]\nenabled = false\n\n"
        # The token figures below are the deny path's: on 2.1.197 the relay agent
        # (delegation.relay) would add its own haiku request (tests/e2e/test_relay_e2e.py).
        "[delegation]\nrelay = false\n"
    )


def claude_tokens(session: HudSession) -> str:
    """Claude's tokens at the end: nine answers of 10↓ 5↑, and two more on 2.1.198+, where
    both subagent calls run in the background (the routed one as an OMCM job): after each
    the model says it waits, then answers the late result."""
    turns = 11 if background_by_default(session.sandbox.version) else 9
    return f"C:{10 * turns}↓ {5 * turns}↑"


def wait_until(check: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout:g}s for {what}", pytrace=False)
        time.sleep(0.2)


def _step(session: HudSession, term: Tmux, name: str, wanted: Callable[[str], bool]) -> None:
    screen = term.wait_for(wanted, WAIT)
    sandbox = session.sandbox
    session.steps[name] = Step(
        screen=screen,
        hud=hud_line(screen),
        limits=sandbox.state_json("provider-limits.json"),
        fallback=sandbox.state_json("fallback-state.json"),
        log=sandbox.routing_log(None),
    )


def _prompt(term: Tmux, text: str, answer: str) -> None:
    """Type a prompt and wait until the stub's answer is on the screen."""
    term.send(text, enter=True)
    term.wait_for(answer, WAIT)


def _refreshes_on_its_own(session: HudSession, term: Tmux) -> None:
    """A cooldown written behind Claude Code's back shows up, and goes, by the timer alone.

    Nothing else writes ``provider-limits.json`` yet: no ``rate_limits`` before the
    first response.
    """
    path = session.sandbox.state_dir / "provider-limits.json"
    cooling = ProviderLimits(
        providers={
            "gemini": ProviderHealth(
                cooldown_until=time.time() + 9 * 60 + 30, cooldown_reason="rate-limited"
            )
        }
    )
    path.write_text(json.dumps(cooling.dump()))
    _step(session, term, "cooldown", hud_shows("gemini⏸9m"))
    path.write_text(json.dumps(ProviderLimits().dump()))
    _step(session, term, "cooldown over", hud_shows("5h:?", absent="gemini⏸"))


def _run_session(session: HudSession, script: UsageScript) -> None:
    # 2.1.332 starts in auto mode, whose safety check cannot reach a stub API.
    with session.sandbox.interactive("--permission-mode", "default", env=SUBSCRIBER_ENV) as term:
        _step(session, term, "start", hud_shows("5h:?", "MYLINE"))
        _step(session, term, "warm", hud_shows("♨O 0/1"))  # SessionStart started codex's pool
        _refreshes_on_its_own(session, term)
        script.five_hour = 0.42
        _prompt(term, "hello hud", "ANSWER 1")
        _step(session, term, "42", hud_shows("5h:42%"))
        script.five_hour = 0.92
        _prompt(term, "are we near the limit", "ANSWER 2")
        _step(session, term, "92", hud_shows("5h:92%", "FALLBACK", "C:20↓ 10↑"))
        _prompt(term, "explore the code for me", "DONE:")
        _step(session, term, "routed", hud_shows("⇄1/1"))
        script.five_hour = 0.88
        _prompt(term, "still busy", "ANSWER 3")
        _step(session, term, "88", hud_shows("5h:88%"))
        script.five_hour = 0.80
        _prompt(term, "calmer now", "ANSWER 4")
        _step(session, term, "80", hud_shows("5h:80%", absent="FALLBACK"))
        _prompt(term, "explore again please", "DONE: SUBAGENT-RAN")
        _step(session, term, "claude", hud_shows("⇄1/2", claude_tokens(session)))
        script.rejecting = True
        _prompt(term, "one more thing", "You've hit your")
        wait_until(
            lambda: session.sandbox.traced_payloads("StopFailure"), WAIT, "the StopFailure hook"
        )
        term.key("Escape")  # closes the "What do you want to do?" rate-limit menu
        _step(session, term, "rejected", hud_shows("FALLBACK", "claude⏸"))


@pytest.fixture(scope="module", params=MODERN)
def hud_session(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, dev_python: Path
) -> Iterator[HudSession]:
    version = str(request.param)
    script = UsageScript(subagent_delay(version))
    with StubAnthropic(script) as stub, StubModels() as models:
        sandbox = Sandbox(tmp_path_factory.mktemp(f"hud-session-{version}"), version, stub.url)
        settings = sandbox.home / ".claude" / "settings.json"
        settings.parent.mkdir(parents=True, exist_ok=True)
        before = {"cleanupPeriodDays": 30, "statusLine": MYLINE}
        settings.write_text(json.dumps(before, indent=2))
        sandbox.write_config(codex_config(models, sandbox))
        setup = sandbox.omcm("hud", "setup", "--refresh", "2")
        assert setup.returncode == 0, setup.stderr
        session = HudSession(
            sandbox, stub, models, script, before, setup.stdout, json.loads(settings.read_text())
        )
        _run_session(session, script)
        stopped = sandbox.omcm("pool", "stop")
        assert stopped.stdout.startswith("stopped codex in "), stopped.stdout
        removed = sandbox.omcm("hud", "setup", "--remove")
        assert removed.returncode == 0, removed.stderr
        session.remove_output = removed.stdout
        session.settings_after = json.loads(settings.read_text())
        assert not stub.errors, stub.errors
        yield session


# --- the HUD on the screen ---------------------------------------------------------------


def without_pool(hud: str) -> str:
    """The line without its warm-pool segment (codex's pool comes up as the session starts)."""
    return re.sub(r"♨O \d+/\d+ \d+m │ ", "", hud)


def test_hud_shows_unknown_usage_before_the_first_response(hud_session: HudSession) -> None:
    step = hud_session.steps["start"]
    assert without_pool(step.hud) == "5h:? wk:? │ MYLINE", step.screen  # no tokens yet


def test_hud_refreshes_on_the_timer(hud_session: HudSession) -> None:
    cooldown = hud_session.steps["cooldown"].hud
    assert without_pool(cooldown) == "5h:? wk:? │ gemini⏸9m │ MYLINE"
    assert without_pool(hud_session.steps["cooldown over"].hud) == "5h:? wk:? │ MYLINE"


def test_hud_shows_the_five_hour_figure_the_stub_sent(hud_session: HudSession) -> None:
    step = hud_session.steps["42"]
    assert step.hud.startswith("5h:42% wk:29% │ C:"), step.screen
    assert step.limits["five_hour"]["used_percentage"] == 42.0
    assert step.limits["seven_day"]["used_percentage"] == 29.0
    assert step.fallback.get("active", False) is False


def test_usage_reaches_the_threshold_and_fallback_starts(hud_session: HudSession) -> None:
    step = hud_session.steps["92"]
    # C: this session's Claude tokens so far (two responses of 10 in, 5 out), not the
    # last response's context that the status-line JSON calls total_input_tokens.
    assert re.fullmatch(
        r"5h:92%\(2h\d+m\) wk:29% │ FALLBACK │ C:20↓ 10↑ │ ♨O 0/1 \d+m │ MYLINE", step.hud
    ), step.screen
    assert step.fallback["active"] is True
    assert step.fallback["reason"] == FALLBACK_REASON
    transitions = [line for line in step.log if line.get("event") == "fallback"]
    assert transitions == [
        {
            "time": transitions[0]["time"],
            "event": "fallback",
            "active": True,
            "usage": 92.0,
            "reason": FALLBACK_REASON,
            "threshold": 90,
            "recovery_threshold": 85,
        }
    ]


def test_explorer_call_under_fallback_is_answered_by_codex(hud_session: HudSession) -> None:
    entry = hud_session.entry("toolu_hud_explore_1")
    assert (entry["agent"], entry["tier"], entry["decision"], entry["reason"]) == (
        "explore",
        "low",
        "providers",
        "fallback",
    )
    assert (entry["outcome"], entry["provider"]) == ("routed", "codex"), entry
    assert len(hud_session.models.model_requests()) == 1
    # Claude got codex's answer as the subagent's result (on 2.1.332 a background job's, later,
    # by the delivery hook); no subagent ran in Claude.
    done = [
        reply
        for request, reply in hud_session.stub.replies
        if subagent_result(request, "toolu_hud_explore_1") is not None
    ]
    assert len(done) == 1 and ANSWER in done[0].blocks[0]["text"]
    if background_by_default(hud_session.sandbox.version):
        assert entry["job_id"]
    step = hud_session.steps["routed"]
    assert "O:1.2k↓ 56↑" in step.hud and "FALLBACK" in step.hud, step.screen
    # codex is in warm mode: the session's start had its pool up, so the call ran warm.
    assert [(a["provider"], a["warm"]) for a in entry["attempts"]] == [("codex", "hit")]


def test_hud_shows_the_warm_pool_the_session_started(hud_session: HudSession) -> None:
    step = hud_session.steps["warm"]
    assert re.search(r"♨O 0/1 (9|10)m", step.hud), step.screen


def test_fallback_holds_between_recovery_and_threshold(hud_session: HudSession) -> None:
    step = hud_session.steps["88"]
    assert "FALLBACK" in step.hud, step.screen
    assert step.fallback["active"] is True


def test_fallback_ends_below_recovery_and_the_next_call_stays_on_claude(
    hud_session: HudSession,
) -> None:
    step = hud_session.steps["80"]
    assert step.hud.startswith("5h:80%(2h"), step.screen
    assert step.fallback["active"] is False
    assert step.fallback["reason"] == "Claude's usage is down to 80% (below 85%)"
    ends = [line for line in step.log if line.get("event") == "fallback" and not line["active"]]
    assert [line["usage"] for line in ends] == [80.0]
    entry = hud_session.entry("toolu_hud_explore_2")
    assert (entry["decision"], entry["outcome"]) == ("claude", "claude"), entry
    assert entry["reason"] != "fallback"
    subagent = [
        r
        for r in hud_session.stub.conversation(subagent=True)
        if "call 2" in json.dumps(r.messages)
    ]
    assert subagent, "the Explore subagent's request never reached the stub"
    assert len(hud_session.models.model_requests()) == 1  # codex was not asked again
    # Eight main-conversation responses and the subagent's one, 10 in and 5 out each.
    assert re.fullmatch(
        rf"5h:80%\(2h\d+m\) wk:29% │ {claude_tokens(hud_session)}\|O:1\.2k↓ 56↑ │ ⇄1/2 │ saved \+1\? │ "
        r"♨O 0/1 \d+m │ MYLINE",
        hud_session.steps["claude"].hud,
    ), hud_session.steps["claude"].screen


# --- installing the status line ----------------------------------------------------------


def test_setup_chains_the_users_status_line(hud_session: HudSession) -> None:
    assert hud_session.setup_output.startswith(
        f"Installed OMCM's status line in {hud_session.sandbox.home}/.claude/settings.json; "
        "your own status line (echo MYLINE) runs inside it"
    ), hud_session.setup_output
    installed = hud_session.settings_installed
    assert installed["cleanupPeriodDays"] == 30
    assert installed["statusLine"] == {
        "type": "command",
        "padding": 0,
        "refreshInterval": 2.0,
        "command": hud_command(),  # python -S -P with the environment's import path
    }
    assert installed["statusLine"]["command"].startswith(f"{REPO_PYTHON} -S -P -c ")
    for step in hud_session.steps.values():
        assert step.hud.endswith("│ MYLINE"), step.screen


def test_remove_restores_the_users_status_line(hud_session: HudSession) -> None:
    assert hud_session.settings_after == hud_session.settings_before
    assert "restored yours (echo MYLINE)" in hud_session.remove_output


# --- Claude's own usage limit ------------------------------------------------------------


def test_interactive_rejection_runs_stop_failure_and_the_hud_shows_claude_cooling_down(
    hud_session: HudSession,
) -> None:
    [line] = hud_session.sandbox.traced_payloads("StopFailure")
    assert line["payload"]["error"] == "rate_limit"
    assert line["payload"]["last_assistant_message"].startswith(
        LIMIT_TEXT[hud_session.sandbox.version]
    )
    step = hud_session.steps["rejected"]
    assert re.search(r"│ FALLBACK │ .* │ claude⏸2h\d+m │ MYLINE$", step.hud), step.screen
    assert step.limits["claude_limited_until"] == pytest.approx(
        hud_session.script.five_hour_reset, abs=1
    )
    assert step.fallback["reason"] == LIMIT_REASON


@dataclass
class LimitRun:
    run: ClaudeRun
    finished: float


@pytest.fixture(scope="module", params=MODERN)
def limit_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, dev_python: Path
) -> LimitRun:
    """``claude -p`` as a subscriber whose every request is rejected for the usage limit."""
    version = str(request.param)
    resets_at = int(time.time()) + 3 * 3600
    with StubAnthropic(lambda _request: usage_limit_rejection(resets_at)) as stub:
        sandbox = Sandbox(tmp_path_factory.mktemp(f"limit-{version}"), version, stub.url)
        sandbox.write_config("auto_handoff = true\n")
        run = sandbox.prompt("carry on with the refactor", env=SUBSCRIBER_ENV)
    assert not stub.errors, stub.errors
    return LimitRun(run, time.time())


def test_print_run_ends_with_claudes_limit_message(limit_run: LimitRun) -> None:
    run = limit_run.run
    assert run.returncode == 1, run.describe()
    assert (run.result["is_error"], run.result["api_error_status"]) == (True, 429)
    assert run.result["result"].startswith(LIMIT_TEXT[run.sandbox.version]), run.describe()


def test_stop_failure_and_session_end_hooks_run_under_print(limit_run: LimitRun) -> None:
    """Under -p, StopFailure is started without being waited for: on 2.1.197 it runs while
    SessionEnd is awaited; on 2.1.332 it sometimes runs and sometimes does not (seen
    both ways). SessionEnd, always awaited, does the work when it did not."""
    run = limit_run.run
    events = sorted(line["event"] for line in run.payloads())
    always = ["SessionEnd", "SessionStart", "UserPromptSubmit"]
    if run.sandbox.version == NEWEST and "StopFailure" not in events:
        assert events == always, run.describe()
    else:
        assert events == sorted([*always, "StopFailure"]), run.describe()
        [failure] = run.payloads("StopFailure")
        assert failure["payload"]["error"] == "rate_limit"
        assert failure["payload"]["last_assistant_message"] == run.result["result"]
    [end] = run.payloads("SessionEnd")
    assert end["payload"]["reason"] == "other"


def test_claude_is_recorded_as_limited_and_fallback_is_on(limit_run: LimitRun) -> None:
    run = limit_run.run
    sandbox = run.sandbox
    limits = sandbox.state_json("provider-limits.json")
    # -p has no status line, so no reset time is known: an hour from the rejection.
    rejected_at = limits["claude_limited_until"] - 3600
    assert limit_run.finished - run.seconds <= rejected_at <= limit_run.finished
    fallback = sandbox.state_json("fallback-state.json")
    assert (fallback["active"], fallback["reason"]) == (True, LIMIT_REASON)
    transitions = sandbox.routing_log("fallback")
    assert [(line["active"], line["reason"]) for line in transitions] == [(True, LIMIT_REASON)]


def test_auto_handoff_writes_the_context_and_the_commands(limit_run: LimitRun) -> None:
    run = limit_run.run
    context = run.sandbox.project / ".omcm" / "handoff" / "context.md"
    assert "carry on with the refactor" in context.read_text()
    notice = run.session_info()["pending_notice"]
    assert notice.startswith("OMCM: Claude hit its usage limit (until about ")
    assert f"Handoff written to {context}" in notice
    assert f"Continue in OpenCode: cd {run.sandbox.project} && opencode --prompt " in notice


def test_session_end_alone_recognises_the_real_rejection(
    limit_run: LimitRun, tmp_path: Path
) -> None:
    """The back-up path on its own, fed the payload and transcript the real CLI wrote."""
    run = limit_run.run
    [end] = run.payloads("SessionEnd")
    fresh = tmp_path / "state"
    env = run.sandbox.env(
        OMCM_STATE_DIR=str(fresh),
        OMCM_CONFIG_DIR=str(tmp_path / "config"),
        CLAUDE_PLUGIN_ROOT=str(REPO),
    )
    done = subprocess.run(
        ["sh", str(REPO / "hooks" / "omcm-hook"), "session-end"],
        input=json.dumps(end["payload"]),
        capture_output=True,
        text=True,
        env=env,
        cwd=run.sandbox.project,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["systemMessage"].startswith(
        "OMCM: Claude hit its usage limit (until about "
    )
    limits = json.loads((fresh / "provider-limits.json").read_text())
    assert limits["claude_limited_until"] > time.time() + 3000

"""Provider modules: argv per sandbox/model, and parsing of the pinned CLIs' real output.

The fixtures under tests/fixtures/providers are real runs of the pinned CLIs against
the stub model server (scripts/capture-provider-outputs); the stub answered
"STUB-ANSWER" with input 1234 (100 cached) and output 56 (7 reasoning) per request.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omcm import config
from omcm.core.proc import ProcResult
from omcm.providers import PROVIDERS, REGISTERED
from omcm.providers.base import ProviderRequest, ProviderResult, ProviderSettings, Usage
from omcm.providers.codex import Codex
from omcm.providers.common import reset_from_headers, reset_from_text, seconds
from omcm.providers.gemini import INSTRUCTION, Gemini
from omcm.providers.ollama import Ollama
from omcm.providers.opencode import OpenCode

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "providers"
PINNED = json.loads(
    (Path(__file__).resolve().parent.parent / "e2e" / "npm" / "package.json").read_text()
)["dependencies"]
PACKAGES = {"codex": "@openai/codex", "gemini": "@google/gemini-cli", "opencode": "opencode-ai"}

ONE = Usage(input=1234, cached=100, output=56, reasoning=7)
TWO = Usage(input=2468, cached=200, output=112, reasoning=14)
NONE = Usage()


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Wall-clock reset hints are read in local time: pin it to the capture's (UTC)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def load(cli: str, case: str) -> tuple[ProcResult, dict[str, Any]]:
    meta = json.loads((FIXTURES / cli / f"{case}.json").read_text())
    stdout = (FIXTURES / cli / f"{case}.stdout").read_text()
    stderr = (FIXTURES / cli / f"{case}.stderr").read_text()
    result = ProcResult(
        [cli, *meta["argv"]],
        meta["returncode"],
        stdout,
        stderr,
        meta["duration"],
        timed_out=meta["timed_out"],
        not_found=meta["not_found"],
        error=meta["error"],
    )
    return result, meta


def parse(cli: str, case: str) -> tuple[ProviderResult, dict[str, Any]]:
    result, meta = load(cli, case)
    return PROVIDERS[cli].parse(result, meta["now"]), meta


# -- every captured case ---------------------------------------------------------

# (outcome, answer, usage, error, model); reset hints are checked separately below.
# codex words some messages with a typographic apostrophe (U+2019).
EXPECTED: dict[tuple[str, str], tuple[str, str, Usage, str, str]] = {
    ("codex", "success"): ("ok", "STUB-ANSWER", ONE, "", ""),
    ("codex", "tool_steps"): ("ok", "STUB-ANSWER", TWO, "", ""),
    ("codex", "rate_limited"): (
        "rate_limited",
        "",
        NONE,
        "exceeded retry limit, last status: 429 Too Many Requests",
        "",
    ),
    ("codex", "usage_limit"): ("rate_limited", "", NONE, "<usage limit>", ""),
    ("codex", "unauthorized"): (
        "auth",
        "",
        NONE,
        "unexpected status 401 Unauthorized: Incorrect API key provided: dummy.",
        "",
    ),
    ("codex", "server_error"): (
        "api_error",
        "",
        NONE,
        "We\u2019re currently experiencing high demand, which may cause temporary errors.",
        "",
    ),
    ("codex", "missing_key"): (
        "auth",
        "",
        NONE,
        "Missing environment variable: `STUB_API_KEY`.",
        "",
    ),
    ("codex", "missing_binary"): (
        "not_installed",
        "",
        NONE,
        "omcm-missing-codex: command not found",
        "",
    ),
    ("gemini", "success"): ("ok", "STUB-ANSWER", ONE, "", "gemini-2.5-pro"),
    ("gemini", "tool_steps"): ("ok", "STUB-ANSWER", TWO, "", "gemini-2.5-pro"),
    ("gemini", "auto_models"): ("ok", "STUB-ANSWER", TWO, "", "gemini-3.8-flash"),
    ("gemini", "rate_limited"): (
        "rate_limited",
        "",
        NONE,
        "You exceeded your current quota, please check your plan and billing details. "
        "Please retry in 30s.",
        "",
    ),
    ("gemini", "unauthorized"): (
        "auth",
        "",
        NONE,
        "API key not valid. Please pass a valid API key.",
        "",
    ),
    ("gemini", "server_error"): ("api_error", "", NONE, "Internal error encountered.", ""),
    ("gemini", "missing_key"): (
        "auth",
        "",
        NONE,
        "When using Gemini API, you must specify the GEMINI_API_KEY environment variable.",
        "",
    ),
    ("gemini", "no_auth"): (
        "auth",
        "",
        NONE,
        "Please set an Auth method in your /tmp/omcm-capture/home/.gemini/settings.json or "
        "specify one of the following environment variables before running: GEMINI_API_KEY, "
        "GOOGLE_GENAI_USE_VERTEXAI…",  # cut between words, not mid-word (issue 16)
        "",
    ),
    ("gemini", "missing_binary"): (
        "not_installed",
        "",
        NONE,
        "omcm-missing-gemini: command not found",
        "",
    ),
    ("opencode", "success"): ("ok", "STUB-ANSWER", ONE, "", ""),
    ("opencode", "tool_steps"): ("ok", "STUB-ANSWER", TWO, "", ""),
    ("opencode", "read_only_denied"): ("ok", "STUB-ANSWER", TWO, "", ""),
    ("opencode", "rate_limited"): (
        "rate_limited",
        "",
        NONE,
        "Rate limit reached for requests. Please try again in 1s.",
        "",
    ),
    ("opencode", "unauthorized"): ("auth", "", NONE, "Incorrect API key provided: dummy.", ""),
    ("opencode", "server_error"): (
        "api_error",
        "",
        NONE,
        "The server had an error while processing your request.",
        "",
    ),
    ("opencode", "model_not_found"): (
        "auth",
        "",
        NONE,
        "model openai/gpt-5 is not available: its provider is not logged in or the model is "
        "unknown (see `opencode models`)",
        "",
    ),
    ("opencode", "missing_binary"): (
        "not_installed",
        "",
        NONE,
        "omcm-missing-opencode: command not found",
        "",
    ),
}


def test_every_fixture_has_an_expectation() -> None:
    captured = {(p.parent.name, p.stem) for p in FIXTURES.glob("*/*.json")}
    assert captured == set(EXPECTED)


@pytest.mark.parametrize(("cli", "case"), sorted(EXPECTED))
def test_captured_output(cli: str, case: str) -> None:
    parsed, _meta = parse(cli, case)
    outcome, answer, usage, error, model = EXPECTED[cli, case]
    assert (parsed.outcome, parsed.answer, parsed.usage, parsed.model) == (
        outcome,
        answer,
        usage,
        model,
    )
    if error == "<usage limit>":
        assert re.fullmatch(
            "You\u2019ve hit your usage limit"
            r"\. Upgrade to Pro \(https://chatgpt\.com/explore/pro\), "
            r"visit https://chatgpt\.com/settings/usage to purchase more credits or try again "
            r"at \d{1,2}:\d\d [AP]M\.",
            parsed.error,
        )
    else:
        assert parsed.error == error
    assert "\n" not in parsed.error and len(parsed.error) <= 200


@pytest.mark.parametrize(("cli", "case"), sorted(EXPECTED))
def test_fixture_comes_from_the_pinned_version(cli: str, case: str) -> None:
    _result, meta = load(cli, case)
    assert meta["version"].split()[-1] == PINNED[PACKAGES[cli]]


@pytest.mark.parametrize(
    ("cli", "case", "after"),
    [
        ("gemini", "rate_limited", 30.0),  # "Please retry in 30s"
        ("opencode", "rate_limited", 1.0),  # the retry-after: 1 response header
    ],
)
def test_rate_limit_reset_from_captured_hint(cli: str, case: str, after: float) -> None:
    parsed, meta = parse(cli, case)
    assert parsed.reset_at == pytest.approx(meta["now"] + after)


def test_codex_usage_limit_reset_is_the_named_minute() -> None:
    """codex prints the reset as a local time without seconds; the cooldown ends within
    the minute after the real reset, never before it."""
    parsed, meta = parse("codex", "usage_limit")
    assert parsed.reset_at is not None
    assert meta["resets_at"] <= parsed.reset_at <= meta["resets_at"] + 60


@pytest.mark.parametrize(("cli", "case"), [("codex", "rate_limited"), ("opencode", "success")])
def test_no_reset_without_a_hint(cli: str, case: str) -> None:
    parsed, _meta = parse(cli, case)
    assert parsed.reset_at is None


# -- argv, stdin, env ------------------------------------------------------------------


def request(**changes: Any) -> ProviderRequest:
    values: dict[str, Any] = {
        "prompt": "PROMPT",
        "model": "m-1",
        "sandbox": "read-only",
        "cwd": "/proj",
        "title": "omcm: explore",
    }
    return ProviderRequest(**(values | changes))


def conf(name: str, **changes: Any) -> ProviderSettings:
    """The provider's default settings, with ``changes``."""
    defaults = config.Config().providers[name]
    return type(defaults).parse(defaults.dump() | changes, name)


def test_registry_holds_every_configurable_provider() -> None:
    assert tuple(PROVIDERS) == REGISTERED
    found: dict[str, type] = {p.name: type(p) for p in PROVIDERS.values()}
    assert found == {"codex": Codex, "gemini": Gemini, "opencode": OpenCode, "ollama": Ollama}


@pytest.mark.parametrize(
    ("sandbox", "model", "argv"),
    [
        (
            "read-only",
            "gpt-5.2-codex",
            [
                "codex",
                "exec",
                "--json",
                "--skip-git-repo-check",
                "-s",
                "read-only",
                "-m",
                "gpt-5.2-codex",
                "-C",
                "/proj",
                "-",
            ],
        ),
        (
            "workspace-write",
            "",
            [
                "codex",
                "exec",
                "--json",
                "--skip-git-repo-check",
                "-s",
                "workspace-write",
                "-C",
                "/proj",
                "-",
            ],
        ),
    ],
)
def test_codex_argv(sandbox: str, model: str, argv: list[str]) -> None:
    assert Codex().argv(request(sandbox=sandbox, model=model), conf("codex")) == argv


@pytest.mark.parametrize(
    ("sandbox", "model", "argv"),
    [
        (
            "read-only",
            "gemini-2.5-pro",
            [
                "gemini",
                "--output-format",
                "json",
                "--skip-trust",
                "--approval-mode",
                "default",
                "-m",
                "gemini-2.5-pro",
                "-p",
                INSTRUCTION,
            ],
        ),
        (
            "workspace-write",
            "",
            [
                "gemini",
                "--output-format",
                "json",
                "--skip-trust",
                "--approval-mode",
                "auto_edit",
                "-p",
                INSTRUCTION,
            ],
        ),
    ],
)
def test_gemini_argv(sandbox: str, model: str, argv: list[str]) -> None:
    assert Gemini().argv(request(sandbox=sandbox, model=model), conf("gemini")) == argv


@pytest.mark.parametrize(
    ("sandbox", "model", "argv"),
    [
        (
            "read-only",
            "openai/gpt-5",
            [
                "opencode",
                "run",
                "--format",
                "json",
                "-m",
                "openai/gpt-5",
                "--title",
                "omcm: explore",
                "--dir",
                "/proj",
                "--print-logs",
                "--log-level",
                "ERROR",
            ],
        ),
        (
            "workspace-write",
            "",
            [
                "opencode",
                "run",
                "--format",
                "json",
                "--title",
                "omcm: explore",
                "--dir",
                "/proj",
                "--print-logs",
                "--log-level",
                "ERROR",
            ],
        ),
    ],
)
def test_opencode_argv(sandbox: str, model: str, argv: list[str]) -> None:
    assert OpenCode().argv(request(sandbox=sandbox, model=model), conf("opencode")) == argv


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("codex", ["/bin/codex", "exec", "-p", "work", "--json"]),
        ("gemini", ["/bin/gemini", "-p", "work", "--output-format"]),
        ("opencode", ["/bin/opencode", "run", "-p", "work", "--format"]),
    ],
)
def test_configured_args_come_before_omcms_own(name: str, argv: list[str]) -> None:
    built = PROVIDERS[name].argv(
        request(extra_args=["-p", "work"]), conf(name, command=f"/bin/{name}")
    )
    assert built[: len(argv)] == argv


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_the_prompt_goes_on_stdin_never_in_argv(name: str) -> None:
    provider = PROVIDERS[name]
    req = request(prompt="x" * 200_000)
    assert provider.stdin(req) == req.prompt
    assert all(len(arg) < 1000 for arg in provider.argv(req, conf(name)))


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_no_flag_hides_the_users_config(name: str) -> None:
    argv = PROVIDERS[name].argv(request(), conf(name))
    banned = {
        "--ignore-user-config",
        "--ephemeral",
        "--pure",
        "--auto",
        "--yolo",
        "-y",
        "--dangerously-bypass-approvals-and-sandbox",
        "--full-auto",
    }
    assert not banned & set(argv)


def test_opencode_read_only_denies_edits_and_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENCODE_PERMISSION", raising=False)
    env = OpenCode().env(request(sandbox="read-only"), conf("opencode"))
    assert json.loads(env["OPENCODE_PERMISSION"]) == {"edit": "deny", "bash": "deny"}
    assert OpenCode().env(request(sandbox="workspace-write"), conf("opencode")) == {}


def test_opencode_read_only_keeps_the_users_own_permissions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENCODE_PERMISSION", '{"webfetch": "deny", "bash": "allow"}')
    env = OpenCode().env(request(sandbox="read-only"), conf("opencode"))
    assert json.loads(env["OPENCODE_PERMISSION"]) == {
        "webfetch": "deny",
        "bash": "deny",
        "edit": "deny",
    }


@pytest.mark.parametrize("name", ["codex", "gemini"])
def test_no_env_needed(name: str) -> None:
    assert PROVIDERS[name].env(request(), conf(name)) == {}


# -- classification beyond the captures --------------------------------------------------


def run(stdout: str = "", stderr: str = "", code: int | None = 0, **flags: Any) -> ProcResult:
    return ProcResult(["x"], code, stdout, stderr, 1.0, **flags)


def lines(*events: dict[str, Any]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_timeout_is_classified_before_any_output(name: str) -> None:
    result = run('{"type":"turn.started"}', code=-9, timed_out=True, error="timed out after 5s")
    assert PROVIDERS[name].parse(result, 0) == ProviderResult("timeout", error="timed out after 5s")


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_a_silent_failure_is_a_crash_with_the_last_stderr_line(name: str) -> None:
    result = run(stderr="starting\nthread 'main' panicked at core.rs:1\n", code=101)
    assert PROVIDERS[name].parse(result, 0) == ProviderResult(
        "crash", error="exited with code 101: thread 'main' panicked at core.rs:1"
    )


@pytest.mark.parametrize("name", ["codex", "gemini", "opencode"])
def test_exit_zero_without_an_answer_is_no_answer(name: str) -> None:
    parsed = PROVIDERS[name].parse(run(""), 0)
    assert (parsed.outcome, parsed.error) == ("no_answer", f"{name} finished without an answer")


def test_codex_succeeds_after_reconnecting_and_accepts_older_item_names() -> None:
    stdout = lines(
        {"type": "error", "message": "Reconnecting... 2/5 (stream disconnected)"},
        {"type": "item.completed", "item": {"item_type": "assistant_message", "text": "OLD"}},
        {
            "type": "turn.completed",
            "usage": {
                "input_tokens": 10,
                "cached_input_tokens": 2,
                "output_tokens": 5,
                "reasoning_output_tokens": 1,
            },
        },
    )
    assert Codex().parse(run(stdout, code=0), 0) == ProviderResult(
        "ok", answer="OLD", usage=Usage(10, 2, 5, 1)
    )


def test_codex_failed_turn_wins_over_an_earlier_message() -> None:
    stdout = lines(
        {"type": "item.completed", "item": {"type": "agent_message", "text": "half"}},
        {"type": "turn.failed", "error": {"message": "stream disconnected before completion"}},
    )
    assert Codex().parse(run(stdout, code=1), 0) == ProviderResult(
        "api_error", error="stream disconnected before completion"
    )


def test_codex_last_error_event_when_the_turn_never_failed() -> None:
    stdout = lines({"type": "error", "message": "Not logged in"})
    assert Codex().parse(run(stdout, code=1), 0).outcome == "auth"


@pytest.mark.parametrize(("code", "outcome"), [(173, "rate_limited"), (145, "auth"), (41, "auth")])
def test_gemini_exit_codes_when_nothing_structured_was_printed(code: int, outcome: str) -> None:
    parsed = Gemini().parse(run(stderr="boom", code=code), 0)
    assert (parsed.outcome, parsed.error) == (outcome, f"exited with code {code}")


def test_gemini_quota_reset_from_retry_delay_in_the_trace() -> None:
    stderr = (
        "  retryDelayMs: 45000,\n  status: 429\n}\n"
        '{"session_id": "s", "error": {"type": "Error", "message": "Quota exceeded.", '
        '"code": 429}}\n'
    )
    parsed = Gemini().parse(run(stderr=stderr, code=173), 100.0)
    assert (parsed.outcome, parsed.error, parsed.reset_at) == (
        "rate_limited",
        "Quota exceeded.",
        145.0,
    )


def test_gemini_resource_exhausted_status_is_a_rate_limit() -> None:
    body = json.dumps(
        {"error": {"code": 400, "message": "Try later.", "status": "RESOURCE_EXHAUSTED"}}
    )
    stderr = json.dumps({"error": {"type": "Error", "message": body, "code": 400}})
    assert Gemini().parse(run(stderr=stderr, code=144), 0).outcome == "rate_limited"


def test_opencode_error_event_counts_even_with_exit_zero() -> None:
    stdout = lines(
        {
            "type": "error",
            "error": {
                "name": "ProviderAuthError",
                "data": {"providerID": "anthropic", "message": "Token refresh failed"},
            },
        }
    )
    assert OpenCode().parse(run(stdout, code=0), 0) == ProviderResult(
        "auth", error="Token refresh failed"
    )


def test_opencode_answer_is_the_last_message_with_text_and_usage_counts_cache_writes() -> None:
    def step(message: str, text: str | None, write: int) -> list[dict[str, Any]]:
        events = [{"type": "text", "part": {"messageID": message, "text": text}}] if text else []
        return [
            *events,
            {
                "type": "step_finish",
                "part": {
                    "tokens": {
                        "input": 10,
                        "output": 4,
                        "reasoning": 1,
                        "cache": {"read": 3, "write": write},
                    }
                },
            },
        ]

    stdout = lines(
        *step("m1", "Let me look.", 5),
        *step("m2", None, 0),
        *step("m3", "Answer ", 0),
        {"type": "text", "part": {"messageID": "m3", "text": "done."}},
    )
    parsed = OpenCode().parse(run(stdout), 0)
    assert (parsed.outcome, parsed.answer) == ("ok", "Answer done.")
    assert parsed.usage == Usage(input=3 * 13 + 5, cached=9, output=15, reasoning=3)


@pytest.mark.parametrize(
    ("headers", "after"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"Retry-After": "20"}, 20.0),
        ({"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s"}, 360.0),
    ],
)
def test_opencode_rate_limit_reset_from_response_headers(
    headers: dict[str, str], after: float
) -> None:
    stdout = lines(
        {
            "type": "error",
            "error": {
                "name": "APIError",
                "data": {"message": "Rate limited", "statusCode": 429, "responseHeaders": headers},
            },
        }
    )
    parsed = OpenCode().parse(run(stdout, code=1), 1000.0)
    assert (parsed.outcome, parsed.reset_at) == ("rate_limited", 1000.0 + after)


# -- reset hints ---------------------------------------------------------------------

NOW = time.mktime((2026, 11, 21, 14, 0, 30, 0, 0, -1))  # 14:00:30 local (UTC here)


def at(day: int, hour: int, minute: int) -> float:
    return time.mktime((2026, 11, day, hour, minute, 0, 0, 0, -1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("You've hit your usage limit… try again at 3:28 PM.", at(21, 15, 29)),
        ("try again at 9:05 AM.", at(22, 9, 6)),  # past today: tomorrow
        ("try again at 2:00 PM.", at(21, 14, 1)),  # this very minute: not over yet
        ("or try again at Nov 23rd, 2026 6:46 AM.", at(23, 6, 47)),
        ("try again at 12:10 AM", at(22, 0, 11)),
        ("Please try again in 20s.", NOW + 20),
        ("Please retry in 57.123s.", NOW + 57.123),
        ("Suggested retry after 30s.", NOW + 30),
        ("Rate limit reached. Please try again in 6m0s.", NOW + 360),
        ("try again in 1.5 minutes", NOW + 90),
        ("Please try again in 120ms.", NOW + 0.12),
        ("Try again later.", None),
        ("try again at 13:61", None),
    ],
)
def test_reset_from_text(text: str, expected: float | None) -> None:
    found = reset_from_text(text, NOW)
    assert found == (pytest.approx(expected) if expected is not None else None)


def test_reset_from_an_http_date_header() -> None:
    assert reset_from_headers({"retry-after": "Sat, 21 Nov 2026 14:10:00 GMT"}, NOW) == at(
        21, 14, 10
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30", 30.0),
        ("30s", 30.0),
        ("6m0s", 360.0),
        ("1h2m3s", 3723.0),
        ("20ms", 0.02),
        ("2 minutes", 120.0),
        ("soon", None),
        ("", None),
    ],
)
def test_seconds(text: str, expected: float | None) -> None:
    assert seconds(text) == expected


def test_streamed_events_say_what_the_cli_is_doing() -> None:
    """What `omcm run` shows while a provider works, from the captured real streams."""
    codex = (FIXTURES / "codex" / "tool_steps.stdout").read_text().splitlines()
    said = [PROVIDERS["codex"].progress(line) for line in codex]
    assert [s for s in said if s] == ["thinking", "running: cat notes.txt"]
    opencode = (FIXTURES / "opencode" / "read_only_denied.stdout").read_text().splitlines()
    assert "thinking" in [PROVIDERS["opencode"].progress(line) for line in opencode]
    assert PROVIDERS["gemini"].progress('{"response": "x"}') == ""


@pytest.mark.parametrize("name", ["codex", "gemini", "opencode"])
@pytest.mark.parametrize("sandbox", ["read-only", "workspace-write"])
def test_a_pool_started_ahead_is_the_one_a_call_finds(
    name: str, sandbox: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SessionStart's prewarm and ``omcm pool start`` start the pool that a routed call of
    either sandbox then uses (a warm server applies the sandbox per session): the call's
    own variables, like opencode's read-only OPENCODE_PERMISSION, are not in the key."""
    from omcm.calls.chain import Chain, _Run
    from omcm.providers import pool

    keys: list[str] = []

    def found(key: str) -> bool:
        keys.append(key)
        return True  # as if its supervisor ran: nothing is started

    def not_listening(key: str, deadline: float) -> None:
        raise pool.Unavailable("not listening")

    monkeypatch.setattr(pool, "running", found)
    monkeypatch.setattr(pool, "_wait_listening", not_listening)
    default = config.load().providers[name]
    on = default.dump() | {"enabled": True, "warm": True, "pool": {"min": 1, "max": 2}}
    settings = type(default).parse(on, "settings")
    assert pool.prewarm({name: settings}, str(tmp_path))
    run = _Run.__new__(_Run)
    run.controls = type("Controls", (), {"cancel": None, "deadline": time.monotonic() + 60})()
    run.done, run.epitaph = Chain(), lambda attempts: ""
    route = type("Route", (), {"provider": name, "model": "m"})()
    request = ProviderRequest(prompt="hi", model="", sandbox=sandbox, cwd=str(tmp_path))
    served, why = run.warm(route, request, settings)
    assert (served, why) == (None, "not listening")
    assert len(keys) == 2 and keys[0] == keys[1]


def test_gemini_runs_as_one_process() -> None:
    """gemini re-starts itself in a second Node process unless told not to (~2 s a call)."""
    settings = config.load().providers["gemini"]
    assert PROVIDERS["gemini"].server_env(settings) == {"GEMINI_CLI_NO_RELAUNCH": "true"}

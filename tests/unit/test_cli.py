"""The ``omcm`` command's parser: plain-text help, no abbreviations, checked values, the log."""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from omcm.calls import routing_log
from omcm.calls.routing_log import AttemptEntry, CallEntry, FallbackEntry, LimitEntry, Tokens
from omcm.cli import main


def parsers(
    parser: argparse.ArgumentParser | None = None, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of the command tree, with the words that reach it."""
    parser = parser or main.build_parser()
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, (*path, name))


ALL = list(parsers())


def test_the_tree_is_walked() -> None:
    names = {" ".join(path) for path, _ in ALL}
    assert {"", "log", "route", "mode set", "hud setup", "config set"} <= names


@pytest.mark.parametrize(("path", "parser"), ALL, ids=[" ".join(p) or "omcm" for p, _ in ALL])
def test_help_is_plain_text(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    text = parser.format_help()
    assert "``" not in text, text
    assert not re.search(r":(class|func|mod|data|meth):", text), text
    assert "`" not in text, text


@pytest.mark.parametrize(("path", "parser"), ALL, ids=[" ".join(p) or "omcm" for p, _ in ALL])
def test_abbreviated_options_are_refused(
    path: tuple[str, ...], parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]
) -> None:
    longs = [
        opt
        for action in parser._actions
        for opt in action.option_strings
        if opt.startswith("--") and len(opt) > 4 and opt not in ("--help", "--version")
    ]
    for option in longs:
        prefix = option[:-1]
        if any(other != option and other.startswith(prefix) for other in longs):
            continue  # ambiguous either way; argparse refuses it already
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args([prefix, "x"])
        assert exit_.value.code == 2, option
        assert prefix in capsys.readouterr().err


def test_mode_is_not_taken_for_model(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main.main(["route", "--agent", "explore", "--mode", "sonnet"])
    assert "unrecognized arguments: --mode sonnet" in capsys.readouterr().err


def test_model_takes_only_claude_codes_values(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main.main(["route", "--agent", "explore", "--model", "gpt-5"])
    err = capsys.readouterr().err
    assert "argument --model: invalid choice: 'gpt-5'" in err
    assert main.main(["route", "--agent", "explore", "--model", "haiku"]) == 0


# --- omcm log: every kind of line, nothing shown as None --------------------------------


def test_log_shows_every_kind_of_line(capsys: pytest.CaptureFixture[str]) -> None:
    now = time.time()
    lines = [
        CallEntry(time=now, session_id="sess-0001", agent="plan", tier="high", reason="pinned"),
        CallEntry(
            time=now,
            session_id="sess-0001",
            agent="explore",
            tier="low",
            decision="providers",
            reason="fusion-default",
            outcome="routed",
            provider="codex",
            model="gpt-5",
            tokens=Tokens(input=1234, output=56),
            attempts=[
                AttemptEntry(provider="gemini", outcome="rate_limited", error="429"),
                AttemptEntry(provider="codex", outcome="ok", duration=2.5),
            ],
        ),
        CallEntry(
            time=now,
            session_id="sess-0002",
            agent_raw="Explore",
            agent="explore",
            reason="config-error",
            outcome="config-error",
            error="config.toml: unknown key 'x'",
        ),
        FallbackEntry(time=now, active=True, usage=92.0, reason="5-hour usage 92%", threshold=90),
        FallbackEntry(time=now, active=False, usage=None, reason="usage back", threshold=90),
        LimitEntry(time=now, session_id="sess-0003", until=None, source="StopFailure"),
    ]
    for line in lines:
        routing_log.append(line)
    assert main.main(["log"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 6
    assert "None" not in "\n".join(out)
    assert out[0].endswith("sess-000 plan (HIGH) → claude [pinned]")
    assert out[1].endswith(
        "explore (LOW) → routed [fusion-default] codex/gpt-5 1,234↓ 56↑  "
        "gemini:rate_limited(0.0s, 429) codex:ok(2.5s)"
    )
    assert out[2].endswith(
        "explore (?) → config-error [config-error]  config.toml: unknown key 'x'"
    )
    assert "fallback ON: 5-hour usage 92% (Claude usage 92%; on at 90%" in out[3]
    assert "fallback OFF: usage back (Claude usage unknown;" in out[4]
    assert "sess-000 Claude rejected a request for its usage limit (seen by StopFailure)" in out[5]
    assert out[5].endswith("until about unknown")


def test_log_filters_by_kind_session_and_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    routing_log.append(CallEntry(time=1.0, session_id="a", agent="x", outcome="routed"))
    routing_log.append(CallEntry(time=2.0, session_id="b", agent="y"))
    routing_log.append(FallbackEntry(time=3.0, active=True))
    routing_log.append(LimitEntry(time=4.0, session_id="a"))
    main.main(["log", "--json", "--event", "fallback"])
    assert [json.loads(x)["event"] for x in capsys.readouterr().out.splitlines()] == ["fallback"]
    main.main(["log", "--json", "--session", "a"])
    found = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(f["event"], f["time"]) for f in found] == [("call", 1.0), ("limit", 4.0)]
    main.main(["log", "--json", "--outcome", "claude"])
    assert [json.loads(x)["time"] for x in capsys.readouterr().out.splitlines()] == [2.0]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("task.bin", b"\xff\xfe fix it", "not UTF-8 text (byte 0xff at offset 0)"),
        ("", None, "--file: the path is empty"),
        ("folder", "dir", "is a directory, not a file"),
        ("missing.md", None, "no such file"),
    ],
)
def test_run_file_errors_name_the_file_and_what_is_wrong(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | str | None,
    message: str,
) -> None:
    """`omcm run --file task.bin` raised UnicodeDecodeError; a directory or "" likewise
    (issue 16, defect 5)."""
    path = tmp_path / name if name else None
    if isinstance(content, bytes) and path:
        path.write_bytes(content)
    elif content == "dir" and path:
        path.mkdir()
    assert main.main(["run", "--file", str(path) if path else ""]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_run_shows_what_the_provider_is_doing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`omcm run` printed nothing while a provider worked (issue 16, defect 7); not on a
    terminal the progress is plain lines on stderr, and --quiet prints none."""
    folder = tmp_path / "bin"
    folder.mkdir()
    codex = folder / "codex"
    codex.write_text(
        "#!/bin/sh\ncat >/dev/null\n"
        'echo \'{"type":"turn.started"}\'\n'
        'echo \'{"type":"item.started","item":{"type":"command_execution",'
        '"command":"/bin/bash -lc \'"\'"\'pytest -q\'"\'"\'"}}\'\n'
        'echo \'{"type":"item.completed","item":{"type":"agent_message","text":"ALL GOOD"}}\'\n'
        'echo \'{"type":"turn.completed","usage":{"input_tokens":3,"output_tokens":2}}\'\n'
    )
    codex.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert main.main(["run", "--provider", "codex", "check the tests"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "ALL GOOD\n"
    progress = [line for line in captured.err.splitlines() if line.startswith("omcm: ")]
    assert [line.rsplit(" · ", 1)[-1] for line in progress] == [
        "starting",
        "working",
        "thinking",
        "running: pytest -q",
    ]
    assert progress[0].startswith("omcm: codex/gpt-5.2-codex · ")
    assert main.main(["run", "--quiet", "--provider", "codex", "again"]) == 0
    assert not [line for line in capsys.readouterr().err.splitlines() if line.startswith("omcm:")]


def test_log_says_when_nothing_matches_and_where_a_line_is_damaged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`omcm log --outcome routed` with no match said "no routing decisions logged yet" and a
    damaged line showed as `01-01 00:00:00 - ? (?) → claude` (issue 16, defect 12)."""
    from omcm.core import paths

    routing_log.append(CallEntry(time=time.time(), agent="explore", tier="low"))
    with open(paths.routing_log(), "a") as handle:
        handle.write("{not json\n{}\n")
    assert main.main(["log", "--outcome", "routed"]) == 0
    assert capsys.readouterr().out == (
        "no line of the 3 in the log matches (omcm log shows them all)\n"
    )
    assert main.main(["log"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [
        f"damaged line 2 of {paths.routing_log()} (not JSON)",
        f"damaged line 3 of {paths.routing_log()} (no time)",
    ]
    assert "explore (LOW) → claude" in out[0]

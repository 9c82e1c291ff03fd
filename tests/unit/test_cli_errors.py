"""Issue 16's defects and frictions in the ``omcm`` command, each as a user met it: every
test here failed before its fix."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from omcm.calls import routing_log
from omcm.calls.routing_log import CallEntry
from omcm.cli import main
from omcm.core import paths
from omcm.routing import session_mode

HUGE = "x" * 120_000


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``omcm ARGV`` in this process: (exit code, stdout, stderr)."""
    try:
        code = main.main(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- defect 1: omcm stats --html ----------------------------------------------------------


def test_html_to_a_bare_file_name_is_written_in_the_current_folder_for_all_to_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's `omcm stats --since 30d --html stats.html` raised FileNotFoundError: ''
    and a page written elsewhere was 0600."""
    routing_log.append(CallEntry(time=time.time(), agent="explore", tier="low"))
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["stats", "--since", "30d", "--html", "stats.html"], capsys)
    page = tmp_path / "stats.html"
    assert (code, err) == (0, "")
    assert out == f"wrote {page}: 1 call in 1 period\n"
    assert page.read_text().startswith("<!doctype html>")
    assert stat.S_IMODE(page.stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("folder", "--html {tmp}/folder: is a directory; name a file in it"),
        ("missing/dir/x.html", "--html {tmp}/missing/dir/x.html: {tmp}/missing/dir does not exist"),
        ("", "--html: the path is empty"),
        ("plain/x.html", "--html {tmp}/plain/x.html: {tmp}/plain is not a folder"),
    ],
)
def test_html_to_a_place_that_cannot_hold_the_page_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, message: str
) -> None:
    """`--html DIR` raised IsADirectoryError and `--html /missing/dir/x.html` made the folders."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain").write_text("a file")
    target = str(tmp_path / where) if where else ""
    code, out, err = run(["stats", "--html", target], capsys)
    assert code == 1 and out == ""
    assert message.format(tmp=tmp_path) in err and "Traceback" not in err
    assert not (tmp_path / "missing").exists()  # no folder made


def test_the_html_header_shows_the_window_as_dates() -> None:
    """The page's header read `filtered: since 1761623057.752662`."""
    from omcm.stats import html

    since = time.mktime((2026, 11, 2, 14, 5, 0, 0, 0, -1))
    found = {
        "by": "day",
        "lines": 0,
        "files": 0,
        "damaged_lines": 0,
        "filters": {"since": since, "until": since + 86400, "provider": "codex"},
    }
    assert html._filters(found) == (
        "; filtered: since 2026-11-02 14:05, until 2026-11-03 14:05, provider codex"
    )


# --- defect 4: damaged or unreadable state --------------------------------------------------


def test_a_damaged_mode_file_is_reported_with_where_its_copy_went(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A corrupt mode.json was moved aside silently: `omcm mode show` said "no mode"."""
    session_mode.set_mode("sess-1", "hulw")
    Path(session_mode.mode_file("sess-1")).write_text("{broken")
    code, out, err = run(["mode", "show", "--session", "sess-1"], capsys)
    [aside] = Path(session_mode.mode_file("sess-1")).parent.glob("mode.json.corrupt-*")
    assert code == 0 and "Session sess-1: no mode is set." in out
    assert f"state file {session_mode.mode_file('sess-1')} is damaged" in err
    assert f"moved it to {aside}" in err
    # said once: the next reader finds a fresh file, and nothing to report
    assert run(["mode", "show", "--session", "sess-1"], capsys)[2] == ""


def test_the_hook_tells_the_user_of_a_damaged_mode_file_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from omcm.core import state
    from omcm.hooks import runner

    session_mode.set_mode("sess-2", "ulw")
    Path(session_mode.mode_file("sess-2")).write_text("[]")
    assert session_mode.current("sess-2").mode == ""
    answer = runner._with_notices(None)
    assert answer is not None and "mode.json is damaged" in answer["systemMessage"]
    assert ".corrupt-" in answer["systemMessage"]
    state.take_notices()
    assert session_mode.current("sess-2").mode == ""
    assert runner._with_notices(None) is None


# --- frictions -------------------------------------------------------------------------------


def test_a_bad_option_shows_the_usage_of_its_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["stats", "--bogus"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("usage: omcm stats ")
    assert "omcm stats: error: unrecognized arguments: --bogus" in err
    code, _out, err = run(["mode", "show", "--session", "s", "extra"], capsys)
    assert code == 2 and err.startswith("usage: omcm mode show ")


def test_every_subcommand_uses_one_word_for_its_subcommands() -> None:
    from tests.unit.test_cli import ALL

    for path, parser in ALL:
        usage = parser.format_usage()
        assert "ACTION" not in usage, path


def test_every_command_help_has_an_example() -> None:
    from tests.unit.test_cli import ALL

    for path, parser in ALL:
        text = parser.format_help()
        assert "example" in text, path
        assert f"  omcm {' '.join(path)}".rstrip() in text, path


def test_route_explain_says_more_than_route() -> None:
    import contextlib
    import io

    def shown(*argv: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main.main(["route", *argv, "--agent", "explore"]) == 0
        return out.getvalue()

    short, explained = shown(), shown("--explain")
    assert short == "explore (LOW) → Claude  [default-claude]  (--explain says why)\n"
    assert explained.startswith("agent:    explore → explore (tier LOW")
    assert "decision: CLAUDE  [default-claude] no rule routes this call" in explained
    assert "inputs:   mode=none" in explained


def test_run_and_handoff_help_name_their_choices() -> None:
    from omcm.providers import REGISTERED
    from tests.unit.test_cli import ALL

    parsers = {" ".join(path): parser for path, parser in ALL}
    run_help = " ".join(parsers["run"].format_help().split())
    assert all(name in run_help for name in REGISTERED)
    handoff = " ".join(parsers["handoff"].format_help().split())
    assert "which CLI's command to print for carrying on (default: both)" in handoff


@pytest.mark.parametrize(
    "argv",
    [
        ["config", "set", "routing.max_workers", HUGE],
        ["config", "set", HUGE, "1"],
        ["stats", "--since", HUGE],
        ["result", HUGE],
        ["batch", HUGE],
        ["stats", "--by", HUGE],
        ["log", HUGE],
    ],
)
def test_a_huge_argument_is_cut_where_an_error_quotes_it(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(argv, capsys)
    assert code in (1, 2)
    assert len(out) + len(err) < 3000, (out + err)[:300]
    assert "xxxxx" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["stats", "--json", "--since", "soon"],
        ["savings", "--json", "--until", "yesterday"],
        ["mode", "show", "--session", "nosuch", "--json"],
        ["jobs", "--json", "--all", "--bogus"],
        ["batch", "--json", "--check", "/nonexistent/plan.toml"],
    ],
)
def test_a_json_command_that_fails_says_so_in_json(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(argv, capsys)
    error = json.loads(out)["error"]
    assert code == error["exit"] and code in (1, 2)
    assert error["message"] and error["message"] in err


def test_result_of_a_running_job_exits_with_its_documented_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from omcm.cli.jobs import STILL_RUNNING
    from omcm.jobs import store
    from tests.unit.test_cli import ALL
    from tests.unit.test_jobs import new_job

    record = new_job()
    assert store.register_worker(record.id, os.getpid()) is not None
    store.mark_running(record.id, "codex", os.getpid())
    code, out, _err = run(["result", record.id], capsys)
    assert code == STILL_RUNNING == 3
    assert f"omcm result {record.id} --wait waits for it" in out
    [result] = [parser for path, parser in ALL if path == ("result",)]
    assert f"{STILL_RUNNING} the job is still running" in result.format_help()
    monkeypatch.setenv("CLAUDECODE", "1")  # a slash command's `!` line shows output only on 0
    assert run(["result", record.id], capsys)[0] == 0


def test_stats_watch_into_a_pipe_prints_no_escape_codes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", nap)
    code, out, _err = run(["stats", "--watch", "2"], capsys)
    assert code == 0 and naps == [2.0, 2.0]
    assert "\x1b" not in out
    assert out.count("period ") == 2 and "next in 2s ---" in out


@pytest.mark.parametrize(
    ("argv", "choices"),
    [
        (["stats", "--provider", "codx"], "'codex', 'gemini', 'opencode', 'ollama', 'claude'"),
        (["savings", "--mode", "hulk"], "'hulw', 'ulw', 'autopilot', 'save-tokens', 'none'"),
        (["log", "--provider", "codx"], "'codex', 'gemini', 'opencode', 'ollama'"),
    ],
)
def test_an_unknown_filter_value_is_an_error_with_the_choices(
    argv: list[str], choices: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(argv, capsys)
    assert code == 2 and f"invalid choice: '{argv[-1]}' (choose from {choices})" in err


def test_until_before_since_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["stats", "--since", "1d", "--until", "2d"], capsys)
    assert (code, out) == (1, "")
    assert "omcm: --until 2d is not after --since 1d: the window would be empty" in err


def test_counts_of_one_are_singular(capsys: pytest.CaptureFixture[str]) -> None:
    from omcm.cli import batch

    report = {
        "plan": "p.toml",
        "tasks": 1,
        "max_concurrent": 1,
        "strategy": "hybrid",
        "on_failure": "stop",
        "canParallel": False,
        "reason": "one task",
        "waves": [["a"]],
        "conflicts": [],
        "routes": {},
    }
    assert batch.render_check(report).startswith("plan p.toml: 1 task, at most 1 at once")


def test_the_gemini_login_hint_is_whole() -> None:
    from omcm.providers.common import one_line

    text = "Please set an Auth method or one of GEMINI_API_KEY, GOOGLE_GENAI_USE_VERTEXAI, X"
    assert one_line(text, 70) == "Please set an Auth method or one of GEMINI_API_KEY…"
    assert one_line("y" * 90, 70) == "y" * 69 + "…"  # no space to cut at: cut at the limit


def test_mode_show_speaks_to_the_user(capsys: pytest.CaptureFixture[str]) -> None:
    session_mode.set_mode("sess-3", "hulw", keyword="hulw")
    code, out, _err = run(["mode", "show", "--session", "sess-3"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Session sess-3: hybrid ultrawork (hulw), set by a keyword 0s ago."
    assert lines[1] == "At Claude usage unknown, LOW and MEDIUM agents go to providers."
    assert (
        lines[-1]
        == "To end it: type cancel hulw in Claude Code, or omcm mode cancel --session sess-3"
    )
    assert "Split the work" not in out  # Claude's note is not for the user


def test_no_session_points_to_a_command_that_lists_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _out, err = run(["mode", "show"], capsys)
    assert code == 1 and "omcm mode list shows the sessions OMCM has seen" in err
    session_mode.set_mode("sess-4", "ulw")
    code, out, _err = run(["mode", "list"], capsys)
    assert code == 0 and out.splitlines()[1].split()[:2] == ["sess-4", "ulw"]


@pytest.mark.parametrize(
    "argv",
    [
        ["mode", "show", "--session", "nosuch"],
        ["mode", "cancel", "--session", "nosuch"],
        ["handoff", "--session", "nosuch"],
    ],
)
def test_an_unknown_session_is_an_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(argv, capsys)
    sessions = os.path.join(paths.state_dir(), "sessions")
    assert code == 1
    assert f"--session nosuch: OMCM has seen no such session in {sessions}" in err

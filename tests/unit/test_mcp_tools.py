"""The MCP tools' declarations, argument checks, file reading and consensus comparison."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files as package_files
from pathlib import Path

import pytest

from omcm.config.schema import MCP_TOOLS
from omcm.core.paths import pip_install
from omcm.mcp import compare, files, tools
from omcm.mcp.compare import Answer

#: What Claude Code calls the tools (``mcp__plugin_<plugin>_<server>__<tool>``).
PREFIX = "mcp__plugin_omcm_omcm__"
#: The issue's budget for the tool list Claude is sent with every request.
BUDGET = 600


def claude_tokens(text: str) -> int:
    """Counted with the Claude tokenizer anthropic's SDK 0.38 shipped (a dev dependency)."""
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(package_files("anthropic") / "tokenizer.json"))
    return len(tokenizer.encode(text).ids)


def as_claude_sees_them() -> list[dict[str, object]]:
    """The tool definitions as Claude Code puts them in an API request (seen on 2.1.197)."""
    return [
        {
            "name": PREFIX + t["name"],
            "description": t["description"],
            "input_schema": t["inputSchema"],
        }
        for t in tools.listing(list(MCP_TOOLS))
    ]


def test_the_tool_list_costs_claude_under_600_tokens() -> None:
    cost = claude_tokens(json.dumps(as_claude_sees_them()))
    assert cost < BUDGET, f"the tool list costs {cost} Claude tokens"
    assert cost == 583  # the README quotes this figure: change both together


def test_every_tool_is_declared_once_and_listed_in_config_order() -> None:
    assert [t["name"] for t in tools.listing(["cancel", "ask"])] == ["ask", "cancel"]
    assert tuple(tools.DECLARED) == MCP_TOOLS


def test_arguments_parse_into_records_with_defaults() -> None:
    ask = tools.parse("ask", {"prompt": "why?", "files": ["a.py"], "background": True})
    assert isinstance(ask, tools.AskArgs)
    assert (ask.prompt, ask.agent, ask.provider, ask.files, ask.background) == (
        "why?",
        "general-purpose",
        "",
        ["a.py"],
        True,
    )
    nulls = tools.parse("ask", {"prompt": "x", "provider": None, "model": None})
    assert isinstance(nulls, tools.AskArgs) and nulls.provider == ""
    waited = tools.parse("result", {"job": "abc123", "wait": 2})
    assert isinstance(waited, tools.JobArgs) and waited.wait == 2.0


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(tools.BadArguments) as caught:
        tools.parse("consensus", {"prompt": "", "providers": ["codex", "gpt"], "when": 1})
    assert str(caught.value) == (
        "consensus: `when` is not an argument of consensus (arguments: prompt, providers, "
        "files, synthesize_with); `providers` names 'gpt': not one of codex, gemini, opencode, "
        "ollama; `prompt` is empty"
    )


def test_jobs_takes_no_argument() -> None:
    with pytest.raises(
        tools.BadArguments, match=r"`all` is not an argument of jobs \(arguments: none\)"
    ):
        tools.parse("jobs", {"all": True})


# --- files -------------------------------------------------------------------------------


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


def test_a_changed_file_is_given_as_its_diff_an_unchanged_one_as_its_content(
    tmp_path: Path,
) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "app.py").write_text("x = 1\n")
    (tmp_path / "lib.py").write_text("y = 2\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "one")
    (tmp_path / "app.py").write_text("x = 3\n")
    text = files.attach("Review.", ["app.py", "lib.py"], str(tmp_path), 10_000)
    assert text.startswith(
        "Review.\n\nFiles named with this task:\n\n--- app.py (uncommitted diff) ---\n"
    )
    assert "-x = 1\n+x = 3\n" in text
    assert text.endswith("--- lib.py (content) ---\ny = 2\n")


def test_files_past_the_budget_are_named_for_the_provider_to_read(tmp_path: Path) -> None:
    (tmp_path / "small.txt").write_text("tiny\n")
    (tmp_path / "big.txt").write_text("z" * 500)
    text = files.attach("Look.", ["big.txt", "small.txt"], str(tmp_path), 100)
    assert "--- small.txt (content) ---\ntiny\n" in text
    assert "zzz" not in text
    assert text.endswith("Not included for length (read them yourself): big.txt\n")


@pytest.mark.parametrize(
    ("name", "make", "said"),
    [
        ("gone.py", None, "`files`: gone.py does not exist"),
        ("folder", "dir", "`files`: folder is a directory (name the files in it)"),
        ("blob.bin", b"\x00\x01\x02", "`files`: blob.bin is not a text file"),
        ("latin.txt", b"caf\xe9\n", "`files`: latin.txt is not UTF-8 text (byte 3)"),
        ("", None, "`files` holds an empty path"),
    ],
)
def test_a_file_that_cannot_be_given_is_named(
    name: str, make: bytes | str | None, said: str, tmp_path: Path
) -> None:
    if make == "dir":
        (tmp_path / name).mkdir()
    elif isinstance(make, bytes):
        (tmp_path / name).write_bytes(make)
    with pytest.raises(files.FileProblem) as caught:
        files.attach("x", [name], str(tmp_path), 1000)
    assert str(caught.value).startswith(said)


def test_no_files_leaves_the_prompt_alone() -> None:
    assert files.attach("as is", [], "/nowhere", 10) == "as is"


# --- the consensus comparison --------------------------------------------------------------


def test_the_comparison_says_what_it_compared_and_where_they_differ() -> None:
    text = compare.compare(
        [
            Answer(provider="codex", text="LGTM. `parse` in src/app.py is right; see docs/x.md"),
            Answer(provider="gemini", text="Do not merge: `parse` in src/app.py drops errors."),
            Answer(provider="opencode", error="timed-out: no answer"),
        ]
    )
    assert text.splitlines() == [
        "Comparison (made without a model: the file paths and `names` each answer mentions, the "
        "verdict word in its first 300 characters, and the share of words in common; surface "
        "facts, not a judgement of which is right):",
        "- verdict: codex yes (“lgtm”); gemini no (“do not”) → they DISAGREE",
        "- files named by all: src/app.py",
        "  only codex: docs/x.md",
        "- `names` used by all: parse",
        "- words in common (of either's distinct words of 4+ letters): codex/gemini 14%",
    ]


def test_agreeing_answers_and_answers_without_a_verdict() -> None:
    agree = compare.compare(
        [Answer(provider="codex", text="Yes, it is safe."), Answer(provider="gemini", text="Safe.")]
    )
    assert "→ they agree" in agree
    assert "- files named: none" in agree
    silent = compare.compare(
        [Answer(provider="codex", text="Hmm."), Answer(provider="gemini", text="Interesting.")]
    )
    assert "- verdict: codex states none; gemini states none → none states one" in silent


def test_a_url_is_not_taken_for_a_file() -> None:
    assert compare.paths("see https://example.org/a/page.html and setup.cfg") == {"setup.cfg"}
    assert compare.paths("e.g. this, i.e. that, v1.2") == set()


def test_a_server_without_the_sdk_says_what_installs_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """omcm installed without its ``mcp`` extra: the server says so, frees SessionStart
    from waiting for it (its mark goes) and exits 1, without a traceback."""
    import importlib.util

    import omcm.mcp

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mcp" else real(name, *a)
    )
    mark = tmp_path / "mcp-start" / "4242"
    mark.parent.mkdir()
    mark.write_text("4242\n")
    monkeypatch.setenv("OMCM_MCP_STARTING", str(mark))
    monkeypatch.setenv("CLAUDE_PLUGIN_ROOT", "/plugins/omcm")
    with pytest.raises(SystemExit) as stopped:
        omcm.mcp.start()
    assert stopped.value.code == 1
    assert not mark.exists()
    assert capsys.readouterr().err == (
        f"omcm MCP server: the MCP SDK is not installed in {sys.executable} (omcm was "
        f"installed without its mcp extra). Run: {pip_install(sys.executable)} "
        "'/plugins/omcm[mcp]'\n"
    )

"""The README is executable: every ``omcm`` command in its fenced examples runs here, in
README order, against a temp state and config dir with a stand-in codex (and claude) on
PATH, so a documented example can never crash again (issue 16: the README's own
``stats --html`` example raised FileNotFoundError).

Commands are read from the README each run, so a section someone adds is covered the
day it lands. ``[optional]`` parts run both without and with them; placeholders (ID,
DIR, S, …) become real values. ``omcm`` named in running text (inline code) runs too,
unchanged, and only has to end without a traceback.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from omcm.cli import main
from omcm.core import state
from tests.conftest import REPO

README = REPO / "README.md"
FAKE_CODEX = REPO / "tests" / "fixtures" / "fake_codex.py"

#: Examples that cannot succeed here, each with the exit and message it must give
#: instead, and why. (None needs a real Claude session: those are slash commands.)
EXPECTED: dict[str, tuple[int, str, str]] = {
    "omcm pool start --provider opencode --cwd DIR": (
        1,
        "opencode cannot serve: not-installed",
        "no stand-in for `opencode serve` here (tests/e2e/test_warm_e2e.py runs the real one); "
        "the same command for codex, whose stand-in speaks app-server, starts a real pool",
    ),
}


#: Fenced blocks that show what a program printed or a file holds, not commands to type.
NOT_COMMANDS = {"text", "json", "toml", "yaml", "output"}


def fenced_commands(text: str) -> Iterator[str]:
    """Each ``omcm …`` line of the README's fenced blocks (``a | b`` gives a and b)."""
    for kind, block in re.findall(r"^```([^\n]*)\n(.*?)^```", text, flags=re.S | re.M):
        if kind.strip() in NOT_COMMANDS:
            continue
        for line in block.splitlines():
            if not re.match(r"\s*(\S*/)?omcm(\s|$)", line):
                continue
            words = shlex.split(line, comments=True)
            command: list[str] = []
            for word in [*words, "|"]:
                if word == "|":
                    if command:
                        yield " ".join(_quoted(w) for w in ["omcm", *command[1:]])
                    command = []
                else:
                    command.append(word)


def _quoted(word: str) -> str:
    """``word`` as typed: quoted only when the shell would need it (``[--all]`` stays)."""
    return word if re.fullmatch(r"[\w@%+=:,./\[\]-]+", word) else shlex.quote(word)


def inline_commands(text: str) -> Iterator[str]:
    """``omcm …`` in running text (inline code), outside the fenced blocks."""
    prose = re.sub(r"^```[^\n]*\n(.*?)^```", "", text, flags=re.S | re.M)
    for found in re.findall(r"`((?:[\w./~-]*/)?omcm(?: [^`]*)?)`", prose):
        words = found.split()
        yield " ".join(["omcm", *words[1:]])


#: An optional part: ``[…]`` after a space, holding no quote (``'["a", "b"]'`` is a value).
OPTIONAL = re.compile(r"(\s)\[([^\[\]'\"]*)\]")


def variants(command: str) -> list[str]:
    """``omcm jobs [--all] [--json]`` → with all the optional parts, then without them (a
    job waited for first is one that has ended when it is asked for again)."""
    full = bare = command
    while OPTIONAL.search(full):
        full = OPTIONAL.sub(r"\1\2", full)
        bare = OPTIONAL.sub("", bare)
    return list(dict.fromkeys([" ".join(full.split()), " ".join(bare.split())]))


#: The recipes section's shell blocks are whole scripts (a task file written, then the
#: schedule added): tests/e2e/test_readme_recipes_e2e.py runs each block as a script.
SCRIPTS = re.compile(r"<!-- recipes:start.*?<!-- recipes:end -->", flags=re.S)
TEXT = SCRIPTS.sub("", README.read_text(encoding="utf-8"))
FENCED = [v for c in dict.fromkeys(fenced_commands(TEXT)) for v in variants(c)]
INLINE = sorted(set(inline_commands(README.read_text(encoding="utf-8"))) - set(FENCED))


def test_the_readme_has_examples_to_run() -> None:
    assert len(FENCED) >= 20
    assert "omcm stats --since 30d --html stats.html" in FENCED
    assert "omcm result ID --wait --timeout S" in FENCED
    assert variants("omcm jobs [--all] [--json]") == ["omcm jobs --all --json", "omcm jobs"]
    assert (
        variants("omcm result ID [--wait [--timeout S]]")[0] == "omcm result ID --wait --timeout S"
    )
    assert variants("omcm config set k '[\"a\"]'") == ["omcm config set k '[\"a\"]'"]
    assert all(c in EXPECTED or any(c == f for f in FENCED) for c in EXPECTED)


def stand_ins(folder: Path) -> None:
    """codex (the fake that speaks exec's JSONL and app-server) and a claude that says its
    version, on PATH."""
    folder.mkdir()
    codex = folder / "codex"
    codex.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE_CODEX} "$@"\n')
    claude = folder / "claude"
    claude.write_text("#!/bin/sh\necho '2.1.332 (Claude Code)'\n")
    for program in (codex, claude):
        program.chmod(0o755)


class Runner:
    """Runs README commands in this process, placeholders filled in."""

    def __init__(self, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.project, self.capsys = project, capsys

    def values(self) -> dict[str, str]:
        from omcm.jobs import store

        jobs = store.ids()
        return {
            "ID": jobs[-1] if jobs else "no-job-yet",
            "BATCH": jobs[-1] if jobs else "no-job-yet",
            "S": "60",
            "DIR": str(self.project),
            "P": "codex",
            "NAME": "explore",
            "PLAN": str(self.project / "plan.toml"),
        }

    def argv(self, command: str) -> list[str]:
        values = self.values()
        return [values.get(word, word) for word in shlex.split(command)[1:]]

    def run(self, command: str, *, fill: bool = True) -> tuple[int, str, str]:
        argv = self.argv(command) if fill else shlex.split(command)[1:]
        saved = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(b""))
        try:
            code = main.main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            sys.stdin = saved
            state.NOTICES.clear()
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err


@pytest.fixture
def runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Runner:
    bin_dir = tmp_path / "bin"
    stand_ins(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.defpath}")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-sent")
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")  # refused at once
    project = tmp_path / "project"
    project.mkdir()
    import subprocess

    # A git work tree, as a project usually is (omcm review and git-hook need one).
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "task.md").write_text("Summarise the notes.\n")
    (project / "plan.toml").write_text('[[tasks]]\nid = "a"\nprompt = "look"\ntype = "analysis"\n')
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(
        "[providers.codex]\nwarm = true\n[providers.codex.pool]\nidle_shutdown = 60\n"
    )
    monkeypatch.chdir(project)
    monkeypatch.setattr(time, "sleep", _watch_once)
    return Runner(project, capsys)


_SLEEP = time.sleep


def _watch_once(seconds: float) -> None:
    """``omcm stats --watch`` refreshes until Ctrl-C: its first wait is the Ctrl-C. Other
    waits (``result --wait`` polling a job) are left as they are."""
    import inspect

    if any(f.function in ("_watch", "cmd_stats") for f in inspect.stack()[1:4]):
        raise KeyboardInterrupt
    _SLEEP(seconds)


def test_every_fenced_example_runs(runner: Runner) -> None:
    failures = []
    for command in FENCED:
        code, out, err = runner.run(command)
        said = out + err
        expected_code, message, _why = EXPECTED.get(command, (0, "", ""))
        if "Traceback" in said or "internal error" in said:
            failures.append(f"{command}: crashed\n{said[-1500:]}")
        elif code != expected_code or message not in said:
            failures.append(f"{command}: exit {code}, expected {expected_code}\n{said[-1500:]}")
    assert not failures, "\n\n".join(failures)
    assert (runner.project / "stats.html").exists()


def test_every_inline_mention_ends_without_a_traceback(runner: Runner) -> None:
    for command in INLINE:
        code, out, err = runner.run(command, fill=False)
        said = out + err
        assert "Traceback" not in said and "internal error" not in said, (command, said[-1500:])
        assert code in (0, 1, 2), (command, code, said[-1500:])

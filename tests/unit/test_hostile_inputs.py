"""Every ``omcm`` subcommand against a careless or hostile user (issue 16).

The subcommands are found by walking the parser, so a new one is covered the day it is
added: each runs with missing, extra and invalid arguments, a 120 KB argument, a path
that does not exist, a directory where a file belongs, an empty path and a file that is
not UTF-8; then against every state file OMCM keeps, corrupted in turn, and a state dir
it cannot write. Each call must end with no traceback, exit 2 for a usage error and 1 for
anything else, a message that names what is wrong and where, little output, and nothing
lost. The commands run in this process (``main(argv)``); only the cases that need a
file this process cannot read run a child, with its privileges dropped.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from omcm.calls import routing_log
from omcm.calls.routing_log import AttemptEntry, CallEntry, Tokens
from omcm.cli import main
from omcm.core import paths, state
from tests.conftest import read_only

SESSION = "hostile-session"
HUGE = "h" * 120_000
#: Output of a failed call above this is a wall of text, not an error message.
MAX_ERROR_OUTPUT = 4096
#: Output a succeeding call gives (config reference and show are the longest).
MAX_OUTPUT = 64 * 1024


@dataclass(frozen=True)
class Command:
    """One subcommand of the tree, as the user types it."""

    words: tuple[str, ...]
    parser: argparse.ArgumentParser

    @property
    def name(self) -> str:
        return " ".join(self.words)

    def actions(self) -> list[argparse.Action]:
        return [
            a
            for a in self.parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))
        ]

    def positionals(self) -> list[argparse.Action]:
        return [a for a in self.actions() if not a.option_strings]

    def options(self) -> list[argparse.Action]:
        return [a for a in self.actions() if a.option_strings]


def walk(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> Iterator[Command]:
    if "handler" in parser._defaults:
        yield Command(words, parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, (*words, name))


COMMANDS = list(walk(main.build_parser()))
IDS = [c.name for c in COMMANDS]

#: Commands whose plain run would start real work (a batch in the foreground): the
#: matrix runs them in the mode that only looks.
LOOK_ONLY = {"batch": ["--check"]}


def test_the_tree_is_walked_whole() -> None:
    assert {"run", "stats", "mode show", "config set", "hud setup", "pool stop"} <= set(IDS)
    assert len(COMMANDS) >= 28


# --- a user's world: every state file OMCM keeps, each written by its owner ---------------------


@dataclass
class World:
    root: Path
    state: Path
    config: Path
    project: Path
    job: str
    plan: Path
    task: Path
    binary: Path
    folder: Path

    def value(self, action: argparse.Action) -> str:
        """A plausible value for an argument: the fixture's job, plan, session, a key…"""
        if action.choices:
            return str(next(c for c in action.choices if c))
        hint = f"{action.dest} {action.metavar or ''}".lower()
        for words, value in (
            (("session",), SESSION),
            (("job", " id"), self.job),
            (("plan",), str(self.plan)),
            (("key",), "routing.max_workers"),
            (("value",), "3"),
            (("agent",), "explore"),
            (("every",), "1d"),
            (("prompt", "text", "task"), "look around"),
            (("html",), str(self.root / "page.html")),
            (("settings",), str(self.root / "settings.json")),
            (("file",), str(self.task)),
            (("dir", "cwd", "project", "root"), str(self.project)),
        ):
            if any(w in hint for w in words):
                return value
        if action.type in (int, float) or "seconds" in hint or hint.endswith(" n"):
            return "2"
        return "x"

    def argv(self, command: Command) -> list[str]:
        """The command with every required argument, and --session where it takes one."""
        argv = [*command.words, *LOOK_ONLY.get(command.name, [])]
        for action in command.positionals():
            if action.nargs != "?" or action.dest == "mode":
                argv.append(self.value(action))
        for action in command.options():
            if action.required or "--session" in action.option_strings:
                argv += [action.option_strings[-1], self.value(action)]
        for group in command.parser._mutually_exclusive_groups:
            if group.required:  # one of them is required: the first one
                first = group._group_actions[0]
                argv += [first.option_strings[-1], self.value(first)]
        return argv


def build_world(root: Path) -> World:
    from omcm.calls import counters, ledger
    from omcm.calls.routing_log import SubagentEntry
    from omcm.config import edit
    from omcm.core import sessions
    from omcm.jobs import store, worker
    from omcm.providers import readiness
    from omcm.routing import gauges, session_mode, usage
    from tests.unit.test_jobs import new_call

    project = root / "project"
    project.mkdir()
    edit.ensure_file(paths.config_file())
    now = time.time()
    entry = CallEntry(
        time=now,
        session_id=SESSION,
        agent="explore",
        tier="low",
        decision="providers",
        reason="mode-hulw",
        outcome="routed",
        provider="codex",
        model="gpt-5.1-codex-mini",
        tokens=Tokens(input=100, output=10),
        attempts=[AttemptEntry(provider="codex", outcome="ok", duration=1.0)],
    )
    routing_log.append(entry)
    counters.count(SESSION, now, entry)
    ledger.record(SubagentEntry(time=now, session_id=SESSION, agent="explore", tier="low"))
    gauges.update(lambda limits: None)
    state.update(paths.state_file(gauges.FALLBACK_FILE), usage.FallbackState, lambda r: None)

    class Payload:
        session_id, hook_event_name, cwd, transcript_path = SESSION, "SessionStart", "", ""

    sessions.record_event(Payload(), source="startup")
    session_mode.set_mode(SESSION, "hulw")
    state.update(paths.state_file(readiness.LOGINS), readiness._Logins, lambda r: None)
    job = worker.start(new_call("cli"), reason="created", timeout=60, spawn_now=False)
    store.write_output(job.id, "THE ANSWER\n")
    store.finish(job.id, "done", "answered by codex", provider="codex", model="m1")
    plan = root / "plan.toml"
    plan.write_text('[[tasks]]\nid = "a"\nprompt = "look"\ntype = "analysis"\n')
    task = root / "task.md"
    task.write_text("look around\n")
    binary = root / "binary.bin"
    binary.write_bytes(b"\xff\xfe\x00not text")
    folder = root / "a-folder"
    folder.mkdir()
    from omcm import config

    config.load()  # the snapshot: config-cache.json
    return World(
        root=root,
        state=Path(paths.state_dir()),
        config=Path(paths.config_file()),
        project=project,
        job=job.id,
        plan=plan,
        task=task,
        binary=binary,
        folder=folder,
    )


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("PATH", os.defpath)  # no provider CLI: nothing real starts
    for key in ("OPENAI_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY", "OLLAMA_HOST"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")  # refused at once
    monkeypatch.delenv("CLAUDE_CODE_SESSION_ID", raising=False)
    built = build_world(tmp_path)
    monkeypatch.chdir(built.project)
    return built


# --- one call -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    argv: list[str]
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def sane(self) -> None:
        """No traceback, a known exit code, and no more output than a message."""
        shown = f"omcm {' '.join(a[:60] for a in self.argv)} → {self.code}\n{self.text[:2000]}"
        assert "Traceback" not in self.text, shown
        assert "internal error" not in self.text, shown
        assert self.code in (0, 1, 2), shown
        limit = MAX_ERROR_OUTPUT if self.code else MAX_OUTPUT
        assert len(self.text) < limit, shown
        assert "h" * 1000 not in self.text, shown  # a huge argument is never echoed whole

    def failed_saying(self, code: int, *words: str) -> None:
        """It failed with ``code`` and its message names each of ``words``."""
        self.sane()
        shown = f"omcm {' '.join(a[:60] for a in self.argv)} → {self.code}\n{self.text[:2000]}"
        assert self.code == code, shown
        assert any(w in self.err for w in words), shown


def omcm(argv: list[str], capsys: pytest.CaptureFixture[str], stdin: bytes = b"{}") -> Outcome:
    capsys.readouterr()
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        code = main.main(argv)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.stdin = saved
        state.NOTICES.clear()
        state.MOVED_ASIDE.clear()
    captured = capsys.readouterr()
    return Outcome(argv, code, captured.out, captured.err)


def files_of(world: World) -> dict[Path, bytes]:
    """Every file the user has in the state and config dirs, with its bytes."""
    found = {}
    for folder in (world.state, world.config.parent):
        for path in folder.rglob("*"):
            if path.is_file() and not path.name.endswith(".lock"):
                found[path] = path.read_bytes()
    return found


# --- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_the_plain_call_works_or_says_why(
    command: Command, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    found = omcm(world.argv(command), capsys)
    found.sane()
    assert found.code in (0, 1)
    if found.code:
        assert found.err.startswith("omcm") or "omcm: " in found.err, found.err


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_missing_and_extra_arguments_are_usage_errors(
    command: Command, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    full = world.argv(command)
    extra = omcm([*full, "--no-such-option"], capsys)
    extra.failed_saying(2, "unrecognized arguments: --no-such-option")
    assert extra.err.startswith(f"usage: omcm {command.name}".rstrip()), extra.err
    takes_more = command.parser._defaults.get("trailing") or any(
        a.nargs in ("*", "+") for a in command.positionals()
    )
    if not takes_more:  # `review FILE...`, `schedule add NAME … PROMPT` take any words
        surplus = omcm([*full, "surplus-1", "surplus-2", "surplus-3"], capsys)
        surplus.failed_saying(2, "unrecognized arguments", "invalid choice")
    required = [  # argparse marks a FILE... positional required; no word satisfies it too
        a
        for a in command.actions()
        if (a.required and a.nargs != "*") or (not a.option_strings and not a.nargs)
    ]
    if required:
        missing = omcm([*command.words, *LOOK_ONLY.get(command.name, [])], capsys)
        missing.failed_saying(2, "the following arguments are required")


def invalid_values(command: Command) -> Iterator[tuple[argparse.Action, str]]:
    for action in command.actions():
        if action.choices:
            yield action, "not-one-of-them"
        elif action.type in (int, float) or getattr(action.type, "__name__", "") == "_positive":
            yield action, "-zero-point-nothing"


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_invalid_values_are_usage_errors_that_name_the_argument(
    command: Command, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    for action, bad in invalid_values(command):
        argv = set_argument(world.argv(command), command, action, bad)
        found = omcm(argv, capsys)
        named = action.option_strings[-1] if action.option_strings else action.dest
        found.failed_saying(2, named, str(action.metavar or named))


def set_argument(
    argv: list[str], command: Command, action: argparse.Action, value: str
) -> list[str]:
    """``argv`` with ``action``'s value replaced by (or set to) ``value``."""
    if action.option_strings:
        option = action.option_strings[-1]
        if option in argv:
            at = argv.index(option)
            return [*argv[:at], option, value, *argv[at + 2 :]]
        return [*argv, option, value]
    index = (
        [a for a in command.positionals() if a.nargs != "?" or a.dest == "mode"].index(action)
        if (action.nargs != "?" or action.dest == "mode")
        else None
    )
    start = len(command.words) + len(LOOK_ONLY.get(command.name, []))
    if index is None:
        return [*argv[:start], value, *argv[start:]]
    return [*argv[: start + index], value, *argv[start + index + 1 :]]


def takes_text(action: argparse.Action) -> bool:
    return action.nargs != 0 and not action.choices and action.type in (None, str)


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_a_120_kb_argument_is_never_echoed_back(
    command: Command, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    for action in [a for a in command.actions() if takes_text(a)]:
        found = omcm(set_argument(world.argv(command), command, action, HUGE), capsys)
        found.sane()


#: Arguments that name a file or a folder, by their metavar.
FILE_METAVARS = {"FILE", "PLAN"}
DIR_METAVARS = {"DIR"}


def path_arguments(command: Command) -> Iterator[argparse.Action]:
    for action in command.actions():
        if action.metavar in FILE_METAVARS | DIR_METAVARS:
            yield action


PATH_COMMANDS = [c for c in COMMANDS if list(path_arguments(c))]


#: Text arguments whose help speaks of files or folders but that take no path, and why.
NOT_PATHS = {
    "prompt": "the task itself (--file is the path)",
    "run_model": "a model name",
    "key": "a config key",
    "value": "a config value",
}


def test_every_path_argument_says_what_it_takes() -> None:
    """A path argument is found by its metavar (FILE, PLAN, DIR): one named otherwise would
    escape the path cases below, so every argument that speaks of a file or folder has one."""
    words = ("file", "directory", "dir ", "folder", "plan", "project", "cwd", "root")
    for command in COMMANDS:
        for action in command.actions():
            hint = f"{action.dest} {action.help or ''}".lower()
            speaks = any(w in hint for w in words)
            if speaks and takes_text(action) and action.dest not in NOT_PATHS:
                where = (command.name, action.dest)
                assert action.metavar in FILE_METAVARS | DIR_METAVARS, where


#: Where a path that does not exist is not an error, and why.
MISSING_IS_FINE = {
    ("pool stop", "cwd"): "stopping the pools of a folder that is gone stops none",
    ("hud setup", "settings"): "a settings.json that does not exist yet is made",
}
#: Files that need not be text, each with why.
BINARY_IS_FINE = {
    ("review", "files"): "a staged binary file is reviewed like any (git lists it as binary)",
}


@pytest.mark.parametrize("command", PATH_COMMANDS, ids=[c.name for c in PATH_COMMANDS])
def test_bad_paths_are_errors_that_name_them(
    command: Command, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    for action in path_arguments(command):
        is_dir = action.metavar in DIR_METAVARS
        named = action.option_strings[-1] if action.option_strings else str(action.metavar)
        cases = {
            "missing": str(world.root / "no" / "such" / "thing"),
            "empty": "",
            "wrong kind": str(world.task) if is_dir else str(world.folder),
        }
        if (
            not is_dir
            and action.dest != "html"
            and (command.name, action.dest) not in BINARY_IS_FINE
        ):
            cases["not UTF-8"] = str(world.binary)
        for case, value in cases.items():
            before = files_of(world)
            found = omcm(set_argument(world.argv(command), command, action, value), capsys)
            found.sane()
            fine = MISSING_IS_FINE.get((command.name, action.dest))
            if fine and case == "missing" and found.code == 0:
                continue
            assert found.code == 1, (case, found)
            said = found.err.lower()
            assert named.lower() in said or (value and value[-40:] in found.err), (case, found)
            assert files_of(world).keys() >= before.keys(), case  # nothing lost


# --- the state, damaged ---------------------------------------------------------------------


def test_the_world_has_every_state_file(world: World) -> None:
    names = {p.name for p in files_of(world)}
    assert {
        "routing-log.jsonl",
        "fusion-state.json",
        "provider-limits.json",
        "fallback-state.json",
        "claude-subagents.json",
        "logins.json",
        "session.json",
        "mode.json",
        "job.json",
        "call.json",
        "summary.json",
        "config-cache.json",
        "config.toml",
    } <= names


#: Files made from others, which OMCM rebuilds rather than moves aside: losing one loses nothing.
REBUILT = {
    "config-cache.json": "the snapshot of config.toml the hooks read, made again from the file",
    "prices-cache.json": "genai-prices' rates, looked up again in the package",
}


def state_files(world: World) -> list[Path]:
    return sorted(
        p
        for p in files_of(world)
        if p.suffix in (".json", ".jsonl", ".toml") and "logs" not in p.parts
    )


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_every_state_file_damaged_in_turn(
    command: Command, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in state_files(world):
        original = path.read_bytes()
        damaged = b'{"damaged by the test' + b"\xff\n"
        path.write_bytes(damaged)
        found = omcm(world.argv(command), capsys)
        found.sane()
        assert found.code in (0, 1), (path, found)
        copies = [p for p in path.parent.glob(path.name + ".corrupt-*")]
        if path.name in REBUILT or (path.exists() and path.read_bytes() == damaged):
            pass  # rebuilt from what it was made of, or left where it is: nothing lost
        else:
            assert copies, f"{path} was replaced and its damaged copy is gone ({found})"
            assert any(c.read_bytes() == damaged for c in copies), path
            if command.words == ("hud",):  # one status-bar line: the name and the log
                log = Path(paths.error_log()).read_text()
                assert f"damaged {path.name} moved aside: see {paths.error_log()}" in found.out
                assert str(path) in log and str(copies[0]) in log, (path, log[-2000:])
            else:
                assert str(path) in found.text and str(copies[0]) in found.text, (path, found)
        for copy in copies:
            copy.unlink()
        path.write_bytes(original)
        state.NOTICES.clear()


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_a_read_only_state_dir(
    command: Command, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    writable = omcm(world.argv(command), capsys)  # what it says when it can write
    before = files_of(world)
    with read_only(world.state):
        found = omcm(world.argv(command), capsys)
    found.sane()
    assert found.code in (0, 1), found
    if found.code and (found.code, found.err) != (writable.code, writable.err):
        assert f"OMCM keeps its state in {world.state}, which must be writable" in found.err
    after = files_of(world)
    assert {p: after.get(p) for p in before if str(world.state) in str(p)} == {
        p: b for p, b in before.items() if str(world.state) in str(p)
    }


# --- a file this process cannot read: a child without root's privileges ----------------------

#: The commands that read each kind of file, run as a child that cannot read it.
READERS = {
    "routing-log.jsonl": [["log"], ["stats"], ["savings"], ["stats", "--json"]],
    "mode.json": [["mode", "show", "--session", SESSION], ["status"]],
    "session.json": [["mode", "list"], ["handoff", "--session", SESSION]],
    "job.json": [["jobs"], ["result", "JOB"]],
    "config.toml": [["config", "show"], ["status"], ["route", "--agent", "explore"]],
    "fusion-state.json": [["status"]],
    "provider-limits.json": [["status"], ["route", "--agent", "explore"]],
    "claude-subagents.json": [["savings"]],
}


def unprivileged(argv: list[str], world: World) -> subprocess.CompletedProcess[str]:
    """``omcm ARGV`` in a child whose capabilities are dropped: root that cannot read a
    file its mode bits keep from it (the interpreter lives under /root, out of a real
    unprivileged user's reach)."""
    prefix = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"] if os.geteuid() == 0 else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "omcm", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=world.project,
        env={**os.environ},
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize("name", sorted(READERS))
def test_a_file_that_cannot_be_read_is_named(name: str, world: World) -> None:
    [path] = [p for p in files_of(world) if p.name == name][:1]
    original = path.read_bytes()
    path.chmod(0)
    try:
        for words in READERS[name]:
            argv = [world.job if a == "JOB" else a for a in words]
            done = unprivileged(argv, world)
            found = Outcome(argv, done.returncode, done.stdout, done.stderr)
            found.sane()
            assert done.returncode in (0, 1), found
            if done.returncode:
                assert str(path) in done.stderr or name in done.stderr, found
    finally:
        path.chmod(0o600)
    assert path.read_bytes() == original  # nothing lost


def test_the_child_really_cannot_read_it(world: World) -> None:
    """The privilege drop is real: a child cannot read a mode-0 file (else every case above
    would pass without testing anything)."""
    secret = world.root / "secret"
    secret.write_text("x")
    secret.chmod(0)
    prefix = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"] if os.geteuid() == 0 else []
    done = subprocess.run(
        [*prefix, sys.executable, "-c", f"open({str(secret)!r}).read()"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "PermissionError" in done.stderr


def test_the_json_of_a_failing_json_command_is_one_object(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in COMMANDS:
        if not any("--json" in a.option_strings for a in command.options()):
            continue
        found = omcm([*world.argv(command), "--json", "--no-such-option"], capsys)
        assert json.loads(found.out)["error"]["exit"] == 2, command.name

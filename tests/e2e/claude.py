"""Running the real, pinned Claude Code CLI in a throw-away sandbox.

A :class:`Sandbox` is one fake user: its own ``HOME`` (so ``~/.claude`` is fresh),
a git-initialised project directory to work in, OMCM's state and config dirs,
and an environment that keeps Claude Code offline (it talks to the local stub
API only) and free of anything inherited from a Claude Code session the tests
may be running in. ``sandbox.prompt(...)`` runs ``claude -p`` and returns a
:class:`ClaudeRun` with everything a test inspects afterwards: the parsed JSON
result, the debug log, the hook payloads OMCM's runner traced, the transcript.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.tmux import Tmux

REPO = Path(__file__).resolve().parents[2]
E2E = REPO / "tests" / "e2e"
REPO_PYTHON = REPO / ".venv" / "bin" / "python"

NEWEST = "2.1.332"
"""The newest Claude Code when it was pinned: subagents run in the background by default."""
PREVIOUS = "2.1.197"
"""The last Claude Code whose subagents run in the foreground by default (2.1.198 changed it)."""
LEGACY = "2.1.62"
"""The last Claude Code whose subagent tool is named ``Task`` (2.1.63 renamed it ``Agent``)."""
CURRENT = NEWEST
"""The version a scenario runs on when it names none."""
MODERN = (NEWEST, PREVIOUS)
"""Every scenario that runs on one of these runs on both."""
VERSIONS = (NEWEST, PREVIOUS, LEGACY)
"""Every Claude Code version the tests run (README: "Tested with")."""

_PREFIXES = {NEWEST: E2E / "npm", PREVIOUS: E2E / "npm-2.1.197", LEGACY: E2E / "npm-legacy"}
SETUP_HINT = "run scripts/setup --e2e"

SUBAGENT_TOOL = {NEWEST: "Agent", PREVIOUS: "Agent", LEGACY: "Task"}
"""The subagent tool's name in API requests and in hook payloads, per version."""
DENY_WRAPPER = {NEWEST: "PreToolUse:Agent hook error: ", PREVIOUS: "", LEGACY: ""}
"""What a version puts before a PreToolUse deny reason in the tool result Claude gets."""


def background_by_default(version: str) -> bool:
    """Since 2.1.198 a subagent call without ``run_in_background`` runs in the background."""
    return version not in (PREVIOUS, LEGACY)


# Inherited variables that would change what Claude Code or the hooks do: those a
# Claude Code session sets for its children, API credentials and endpoints, and
# the user's own OMCM and XDG settings (the sandbox HOME decides those).
_DROP_PREFIXES = ("CLAUDE", "ANTHROPIC_", "OMCM_", "XDG_", "AWS_", "GOOGLE_", "VERTEX_")
_DROP = {
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "DEBUG",
    "NODE_OPTIONS",
    "HOME",
    "USERPROFILE",
    "PWD",
    "OLDPWD",
}

OFFLINE_ENV = {
    "ANTHROPIC_API_KEY": "sk-test",
    # Without this Claude Code still works but resolves its own hosts first.
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
}

SUBSCRIBER_ENV: dict[str, str | None] = {
    "ANTHROPIC_API_KEY": None,
    "ANTHROPIC_AUTH_TOKEN": None,
    "CLAUDE_CODE_OAUTH_TOKEN": "stub-oauth-token",
}
"""Overrides for a Claude.ai subscriber login (``env=`` of :meth:`Sandbox.prompt`).

Only then does Claude Code read the stub's unified rate-limit headers (status line
``rate_limits``, the usage-limit rejection); an API key would win over the token.
"""

_COPY_IGNORE = shutil.ignore_patterns(
    ".venv",
    "node_modules",
    ".git",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    "dist",
    "build",
    ".omcm",
)

#: The hooks one scripted `claude -p` run fires, in order (hooks/hooks.json; StopFailure,
#: in hooks/newer-events.json, fires only when Claude itself fails).
HOOK_EVENTS = [
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "Stop",
    "SessionEnd",
]


def claude_subagent_events(version: str) -> list[str]:
    """The hooks a ``claude -p`` run fires when its one subagent call runs on Claude.

    Since 2.1.198 the subagent runs in the background: the turn stops while it
    runs, and its end comes back as a new prompt (``<task-notification>…``) with
    its own UserPromptSubmit and Stop. PostToolUse (OMCM's, for the subagent's usage)
    follows the call's end: in the background, its launch.
    """
    if background_by_default(version):
        return [*HOOK_EVENTS[:5], "UserPromptSubmit", "Stop", "SessionEnd"]
    return list(HOOK_EVENTS)


def subagent_delay(version: str) -> float:
    """How long a scripted subagent takes, so that its hooks fire in one order.

    A background subagent that ends before its launch's tool result went out (the
    PostToolUse hook runs in between) is reported in that same request, and the turn
    between (its Stop) does not happen. Two seconds keep the launch's turn first.
    """
    return 2.0 if background_by_default(version) else 0.0


INPUT_PROMPT = "\u276f"
"""The mark before the input line of an interactive Claude Code session."""


def wait_until_ready(term: Tmux, timeout: float = 60) -> None:
    """Wait until an interactive session takes input (its prompt drawn, then a moment)."""
    term.wait_for(lambda screen: INPUT_PROMPT in screen or "for shortcuts" in screen, timeout)
    time.sleep(1.5)  # the prompt is drawn a moment before the input is ready


def claude_cli(version: str) -> Path:
    """The pinned ``claude`` executable; the test FAILS (never skips) when it is missing."""
    prefix = _PREFIXES[version]
    binary = prefix / "node_modules" / ".bin" / "claude"
    manifest = prefix / "node_modules" / "@anthropic-ai" / "claude-code" / "package.json"
    if not binary.exists() or not manifest.exists():
        pytest.fail(
            f"Claude Code {version} is not installed at {binary}: {SETUP_HINT}", pytrace=False
        )
    installed = json.loads(manifest.read_text())["version"]
    if installed != version:
        pytest.fail(
            f"{binary} is Claude Code {installed}, the tests pin {version}: {SETUP_HINT}",
            pytrace=False,
        )
    return binary


def repo_python() -> Path:
    if not REPO_PYTHON.exists():
        pytest.fail(
            f"the development environment {REPO_PYTHON} is missing: run scripts/setup",
            pytrace=False,
        )
    return REPO_PYTHON


def base_env() -> dict[str, str]:
    """The caller's environment minus what would leak into a sandboxed Claude Code."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in _DROP and not name.startswith(_DROP_PREFIXES)
    }
    # The dev venv's bin on PATH would make the launcher's "find a Python" pick it.
    venv_bin = str(REPO / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep) if part and part != venv_bin
    )
    return env


def copy_repo(dest: Path) -> Path:
    """A copy of the checkout as a user would get it: no virtualenv, no npm CLIs, no caches."""
    shutil.copytree(REPO, dest, ignore=_COPY_IGNORE, symlinks=True)
    return dest


def parse_hook_outputs(debug_log: str) -> list[dict[str, Any]]:
    """The JSON answers Claude Code parsed from hooks, in order, read from its debug log.

    Both 2.1.62 and 2.1.197 log ``Hooks: Parsed initial response: {...}`` per hook
    that printed JSON; that is the only place ``-p --output-format json`` keeps a
    hook's ``systemMessage``.
    """
    marker = "Hooks: Parsed initial response: "
    outputs = []
    for line in debug_log.splitlines():
        _, found, rest = line.partition(marker)
        if found:
            # The log redacts token counts (a PostToolUse answer echoing a subagent's
            # tool_response, the relay's, has them): `"input_tokens":[REDACTED]`.
            outputs.append(json.loads(rest.replace(":[REDACTED]", ":null")))
    return outputs


@dataclass
class ClaudeRun:
    """The outcome of one ``claude -p`` run and where to look at its traces."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    debug_file: Path
    sandbox: Sandbox
    result: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    """stream-json output: every line; ``result`` is then the last ``result`` line."""

    @property
    def session_id(self) -> str:
        return str(self.result.get("session_id", ""))

    def describe(self) -> str:
        """A summary for assertion messages."""
        return (
            f"exit {self.returncode} after {self.seconds:.1f}s\nargv: {self.argv}\n"
            f"stdout: {self.stdout[-3000:]}\nstderr: {self.stderr[-3000:]}\n"
            f"debug log: {self.debug_file}"
        )

    def debug_log(self) -> str:
        return self.debug_file.read_text(errors="replace") if self.debug_file.exists() else ""

    def hook_outputs(self) -> list[dict[str, Any]]:
        return parse_hook_outputs(self.debug_log())

    def system_messages(self) -> list[str]:
        """Every ``systemMessage`` a hook handed Claude Code in this run."""
        return [out["systemMessage"] for out in self.hook_outputs() if "systemMessage" in out]

    def payloads(self, event: str | None = None) -> list[dict[str, Any]]:
        """Lines of OMCM's ``hook-payloads.jsonl`` (``OMCM_DEBUG_PAYLOADS=1``) for this session."""
        return [
            line
            for line in self.sandbox.traced_payloads(event)
            if not self.session_id or line["payload"].get("session_id") == self.session_id
        ]

    def transcript(self) -> list[dict[str, Any]]:
        """The session's transcript lines (``~/.claude/projects/<project>/<session>.jsonl``)."""
        projects = self.sandbox.home / ".claude" / "projects"
        found = list(projects.glob(f"*/{self.session_id}.jsonl"))
        assert len(found) == 1, f"expected one transcript for {self.session_id}, found {found}"
        return [json.loads(line) for line in found[0].read_text().splitlines() if line.strip()]

    def session_info(self) -> dict[str, Any]:
        """OMCM's ``sessions/<id>/session.json`` for this run's session."""
        path = self.sandbox.state_dir / "sessions" / self.session_id / "session.json"
        data: dict[str, Any] = json.loads(path.read_text())
        return data

    def session_mode(self) -> dict[str, Any]:
        """OMCM's ``sessions/<id>/mode.json`` for this run's session ({} while none was written)."""
        path = self.sandbox.state_dir / "sessions" / self.session_id / "mode.json"
        data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        return data


class Sandbox:
    """One throw-away user of Claude Code (HOME, project dir, OMCM dirs, env)."""

    def __init__(self, root: Path, version: str = CURRENT, api_url: str = "") -> None:
        self.root = root
        self.version = version
        self.cli = claude_cli(version)
        self.home = root / "home"
        self.project = root / "project"
        self.state_dir = root / "omcm-state"
        self.config_dir = root / "omcm-config"
        self.api_url = api_url
        self.extra_env: dict[str, str] = {}
        #: Whether Claude Code starts the plugin's MCP server (``.mcp.json``). Off unless a
        #: test uses it (test_mcp_e2e, the first installed session, the traffic record):
        #: the server's imports cost a second or more of CPU in every session, which a
        #: suite of hundreds of sessions on two cores cannot spare.
        self.mcp = False
        for path in (self.home, self.project, self.state_dir, self.config_dir):
            path.mkdir(parents=True, exist_ok=True)
        self._runs = 0
        if not (self.project / ".git").exists():
            subprocess.run(
                ["git", "init", "-q", str(self.project)],
                check=True,
                env=self.env(),
                capture_output=True,
            )

    @property
    def plugin_data_root(self) -> Path:
        """Where Claude Code keeps installed plugins' data dirs (``CLAUDE_PLUGIN_DATA``)."""
        return self.home / ".claude" / "plugins" / "data"

    @property
    def plugin_cache(self) -> Path:
        return self.home / ".claude" / "plugins" / "cache"

    def env(self, **overrides: str | None) -> dict[str, str]:
        """The environment for a CLI in this sandbox; ``None`` removes a variable."""
        env = base_env()
        env.update(OFFLINE_ENV)
        env.update(
            HOME=str(self.home),
            OMCM_STATE_DIR=str(self.state_dir),
            OMCM_CONFIG_DIR=str(self.config_dir),
            OMCM_DEBUG_PAYLOADS="1",
        )
        if self.api_url:
            env["ANTHROPIC_BASE_URL"] = self.api_url
        env.update(self.extra_env)
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def run_cli(
        self,
        *args: str,
        timeout: float = 120,
        env: Mapping[str, str | None] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``claude ARGS...`` in the project dir (e.g. ``plugin install``)."""
        return run_process([str(self.cli), *args], self.project, self.env(**(env or {})), timeout)

    def prompt(
        self,
        prompt: str,
        *,
        plugin_dir: Path | None = REPO,
        output_format: str = "json",
        extra_args: tuple[str, ...] = (),
        timeout: float = 120,
        env: Mapping[str, str | None] | None = None,
    ) -> ClaudeRun:
        """``claude -p PROMPT`` (with ``--plugin-dir``, unless None: an installed plugin).

        ``env`` adds variables to the sandbox's environment (``None`` removes one).
        """
        self._runs += 1
        debug_file = self.root / f"claude-debug-{self._runs}.log"
        argv = [
            str(self.cli),
            "-p",
            prompt,
            "--output-format",
            output_format,
            "--debug-file",
            str(debug_file),
        ]
        if output_format == "stream-json":
            argv.append("--verbose")  # stream-json requires it under -p
        if plugin_dir is not None:
            argv += ["--plugin-dir", str(plugin_dir)]
        if not self.mcp:
            argv.append("--strict-mcp-config")  # no --mcp-config: no MCP server at all
        argv += list(extra_args)
        started = time.monotonic()
        proc = run_process(argv, self.project, self.env(**(env or {})), timeout)
        run = ClaudeRun(
            argv=argv,
            returncode=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
            seconds=time.monotonic() - started,
            debug_file=debug_file,
            sandbox=self,
        )
        _parse_output(run, output_format)
        return run

    def prompts(
        self,
        prompts: list[str],
        *,
        timeout: float = 120,
        env: Mapping[str, str | None] | None = None,
    ) -> list[ClaudeRun]:
        """Several prompts typed in one session (``claude -p --input-format stream-json``, the
        plugin loaded with ``--plugin-dir``): one run per prompt, each with its own ``result``
        (the process, its output and its debug log are shared). Slash commands and their `!`
        lines run as they do for a single ``-p`` prompt (2.1.62, 2.1.197 and 2.1.332)."""
        self._runs += 1
        debug_file = self.root / f"claude-debug-{self._runs}.log"
        argv = [str(self.cli), "-p", "--input-format", "stream-json"]
        argv += ["--output-format", "stream-json", "--verbose", "--debug-file", str(debug_file)]
        argv += ["--plugin-dir", str(REPO)]
        if not self.mcp:
            argv.append("--strict-mcp-config")
        lines = [{"type": "user", "message": {"role": "user", "content": text}} for text in prompts]
        stdin = "".join(json.dumps(line) + "\n" for line in lines)
        started = time.monotonic()
        proc = run_process(argv, self.project, self.env(**(env or {})), timeout, stdin=stdin)
        whole = ClaudeRun(
            argv=argv,
            returncode=proc.returncode,
            stdout=proc.stdout,
            stderr=proc.stderr,
            seconds=time.monotonic() - started,
            debug_file=debug_file,
            sandbox=self,
        )
        _parse_output(whole, "stream-json")
        results = [event for event in whole.events if event.get("type") == "result"]
        assert len(results) == len(prompts), whole.describe()
        return [replace(whole, result=result) for result in results]

    def traced_payloads(self, event: str | None = None) -> list[dict[str, Any]]:
        """Payloads OMCM's hooks received, in order; the delivery hook's (``PreToolUseWait``,
        run asynchronously beside PreToolUse, so in no fixed order) only when asked for."""
        trace = self.state_dir / "debug" / "hook-payloads.jsonl"
        if not trace.exists():
            return []
        lines = [json.loads(line) for line in trace.read_text().splitlines() if line.strip()]
        if event is None:
            return [line for line in lines if line["event"] != "PreToolUseWait"]
        return [line for line in lines if line["event"] == event]

    def write_config(self, text: str) -> Path:
        path = self.config_dir / "config.toml"
        path.write_text(text)
        return path

    def state_json(self, name: str) -> dict[str, Any]:
        """One of OMCM's state files (e.g. ``provider-limits.json``); {} while it is missing."""
        path = self.state_dir / name
        data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        return data

    def omcm(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``omcm ARGS...`` with the checkout's environment, as this sandbox's user."""
        return run_process(
            [str(repo_python()), "-m", "omcm", *args], self.project, self.env(), timeout
        )

    def trust_project(self) -> Path:
        """Pre-seed ``~/.claude.json`` so an interactive session starts at the prompt.

        Claude Code 2.1.197 needs two keys: ``hasCompletedOnboarding`` (else the
        first-run screens, which go online) and the project's
        ``hasTrustDialogAccepted`` (else the folder-trust question).
        """
        path = self.home / ".claude.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        data["hasCompletedOnboarding"] = True
        # With an API key (not a subscriber login) it would first ask whether to use it.
        data["customApiKeyResponses"] = {
            "approved": [OFFLINE_ENV["ANTHROPIC_API_KEY"]],
            "rejected": [],
        }
        data.setdefault("projects", {}).setdefault(str(self.project), {})[
            "hasTrustDialogAccepted"
        ] = True
        path.write_text(json.dumps(data, indent=2))
        return path

    def interactive(
        self,
        *args: str,
        plugin_dir: Path | None = REPO,
        env: Mapping[str, str | None] | None = None,
        width: int = 200,
        height: int = 50,
    ) -> Tmux:
        """Start an interactive ``claude ARGS...`` in a private tmux server (close it!).

        The folder is trusted first (:meth:`trust_project`); the debug log goes to
        ``root/claude-interactive-N.log``.
        """
        self.trust_project()
        self._runs += 1
        argv = [
            str(self.cli),
            "--debug-file",
            str(self.root / f"claude-interactive-{self._runs}.log"),
        ]
        if plugin_dir is not None:
            argv += ["--plugin-dir", str(plugin_dir)]
        if not self.mcp:
            argv.append("--strict-mcp-config")
        return Tmux.start(
            [*argv, *args],
            cwd=self.project,
            env=self.env(**(env or {})),
            width=width,
            height=height,
        )

    def routing_log(self, event: str | None = "call") -> list[dict[str, Any]]:
        """OMCM's ``routing-log.jsonl``: its ``event`` lines (default: one per subagent
        decision; ``subagent``: a subagent's usage on Claude; None: every line)."""
        log = self.state_dir / "routing-log.jsonl"
        if not log.exists():
            return []
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        return [x for x in lines if event is None or x.get("event", "call") == event]


def run_process(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a CLI in its own process group (``stdin``: its whole input, else none); on timeout
    the whole group (hooks too) is killed."""
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            pytest.fail(
                f"{argv[:3]} timed out after {timeout}s\nstdout: {stdout[-2000:]}\n"
                f"stderr: {stderr[-2000:]}",
                pytrace=False,
            )
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def _parse_output(run: ClaudeRun, output_format: str) -> None:
    if output_format == "json":
        try:
            run.result = json.loads(run.stdout)
        except ValueError:
            run.result = {}
    elif output_format == "stream-json":
        run.events = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
        results = [event for event in run.events if event.get("type") == "result"]
        run.result = results[-1] if results else {}


def run_claude(
    tmp_path: Path,
    prompt: str,
    api_url: str,
    version: str = CURRENT,
    config_toml: str | None = None,
    **kwargs: Any,
) -> ClaudeRun:
    """One ``claude -p`` run in a fresh sandbox under ``tmp_path``, against the stub at ``api_url``.

    (Tests that run several commands as one user build a :class:`Sandbox` themselves.)
    """
    sandbox = Sandbox(tmp_path, version, api_url)
    if config_toml is not None:
        sandbox.write_config(config_toml)
    return sandbox.prompt(prompt, **kwargs)

"""OMCM installed the way a user installs it, then run by the real Claude Code.

The repository is copied without its virtualenv, npm CLIs, git data or caches,
so the launcher must build its own Python environment from the installed copy.
A user's ``claude plugin marketplace add OWNER/REPO`` clones from GitHub; here
the throw-away HOME's ``~/.gitconfig`` redirects that GitHub URL to a local git
repository (``url.<local>.insteadOf``), so the very same code path runs offline.
Claude Code then installs a copy into ``~/.claude/plugins/cache/omcm/omcm/<version>``
and gives hooks ``CLAUDE_PLUGIN_DATA=~/.claude/plugins/data/omcm-omcm``.
With a local directory marketplace (``marketplace add <path>``) Claude Code
makes the same cache copy, but 2.1.197 runs the hooks from <path> itself while
2.1.62 runs them from the cache copy.

Building the environment pip-installs omcm and its dependencies; the first
build takes several seconds, hence the generous timeouts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.e2e.claude import (
    LEGACY,
    MODERN,
    PREVIOUS,
    REPO_PYTHON,
    SUBAGENT_TOOL,
    ClaudeRun,
    Sandbox,
    claude_subagent_events,
    copy_repo,
    subagent_delay,
)
from tests.e2e.stub_anthropic import (
    AgentScript,
    StubAnthropic,
    is_main_conversation,
    tool_result_text,
)
from tests.e2e.stub_models import Reply as ModelReply
from tests.e2e.stub_models import StubModels, codex_setup
from tests.e2e.test_mcp_e2e import ANSWER, ASK, USAGE, AskScript

pytestmark = pytest.mark.e2e

GITHUB_REPO = "omcm-e2e/omcm"
BUILD_TIMEOUT = 900
AGENT_INPUT = {"description": "greet", "prompt": "say hi", "subagent_type": "general-purpose"}
# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_pip_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pip cache for the module's sandboxes: only the first env build downloads."""
    return tmp_path_factory.mktemp("pip-cache")


@pytest.fixture(scope="module")
def user_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout as a user gets it: no .venv, no node_modules, no .git, no caches."""
    copy = copy_repo(tmp_path_factory.mktemp("user-copy") / "omcm")
    assert not (copy / ".venv").exists()
    assert not (copy / "tests" / "e2e" / "npm" / "node_modules").exists()
    return copy


@pytest.fixture(scope="module")
def git_remote(user_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user copy committed to a local git repository standing in for GitHub."""
    remote = tmp_path_factory.mktemp("github") / "omcm"
    subprocess.run(["cp", "-a", str(user_copy), str(remote)], check=True)
    env = {**os.environ, "HOME": str(remote.parent), "GIT_CONFIG_NOSYSTEM": "1"}
    identity = ["-c", "user.name=OMCM e2e", "-c", "user.email=e2e@omcm.invalid"]
    commit = [*identity, "commit", "-q", "-m", "omcm as published"]
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], commit):
        subprocess.run(["git", *argv], cwd=remote, env=env, check=True, capture_output=True)
    return remote


def new_sandbox(root: Path, version: str, pip_cache: Path, remote: Path | None = None) -> Sandbox:
    sandbox = Sandbox(root, version)
    sandbox.extra_env["PIP_CACHE_DIR"] = str(pip_cache)
    if remote is not None:
        # `marketplace add OWNER/REPO` clones https://github.com/OWNER/REPO.git (or
        # over ssh when configured); both are redirected to the local repository.
        url = f"file://{remote}"
        (sandbox.home / ".gitconfig").write_text(
            f'[url "{url}"]\n'
            f"\tinsteadOf = https://github.com/{GITHUB_REPO}.git\n"
            f"\tinsteadOf = https://github.com/{GITHUB_REPO}\n"
            f"\tinsteadOf = git@github.com:{GITHUB_REPO}.git\n"
        )
    return sandbox


def install(sandbox: Sandbox, source: str) -> Path:
    """``claude plugin marketplace add SOURCE`` + ``claude plugin install omcm@omcm``."""
    added = sandbox.run_cli("plugin", "marketplace", "add", source)
    assert added.returncode == 0, added.stdout + added.stderr
    assert "Successfully added marketplace: omcm" in added.stdout + added.stderr
    installed = sandbox.run_cli("plugin", "install", "omcm@omcm")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "Successfully installed plugin: omcm@omcm" in installed.stdout + installed.stderr
    registry = json.loads(
        (sandbox.home / ".claude" / "plugins" / "installed_plugins.json").read_text()
    )
    [entry] = registry["plugins"]["omcm@omcm"]
    return Path(entry["installPath"])


@pytest.fixture(scope="module", params=MODERN)
def github_install(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    shared_pip_cache: Path,
    git_remote: Path,
) -> tuple[Sandbox, Path]:
    version = str(request.param)
    root = tmp_path_factory.mktemp(f"user-{version}")
    sandbox = new_sandbox(root, version, shared_pip_cache, git_remote)
    install_path = install(sandbox, GITHUB_REPO)
    return sandbox, install_path


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An interpreter without omcm (a fresh venv without even pip)."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([str(REPO_PYTHON), "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv / "bin" / "python"


def agent_prompt(sandbox: Sandbox, **env: str) -> tuple[ClaudeRun, StubAnthropic]:
    """A ``claude -p`` run of the installed plugin (no --plugin-dir) calling the subagent."""
    script = AgentScript(
        AGENT_INPUT,
        tool_name=SUBAGENT_TOOL[sandbox.version],
        subagent_delay=subagent_delay(sandbox.version),
    )
    with StubAnthropic(script) as stub:
        sandbox.api_url = stub.url
        run = sandbox.prompt("go", plugin_dir=None, timeout=BUILD_TIMEOUT, env=env)
    return run, stub


def builds(data_dir: Path) -> list[str]:
    """The header line the launcher writes to venv-build.log for each build."""
    log = data_dir / "venv-build.log"
    return [line for line in log.read_text().splitlines() if line.startswith("== ")]


def user_data_dir(sandbox: Sandbox) -> Path:
    """platformdirs' user data dir for omcm as the hooks see it in this sandbox."""
    code = "import platformdirs; print(platformdirs.user_data_dir('omcm'))"
    out = subprocess.run(
        [str(REPO_PYTHON), "-c", code],
        env=sandbox.env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return Path(out.strip())


def assert_hooks_fired_from(run: ClaudeRun, plugin_root: Path, python: Path) -> None:
    assert run.returncode == 0, run.describe()
    assert run.result["result"].startswith("DONE: SUBAGENT-RAN"), run.describe()
    payloads = run.payloads()
    expected = claude_subagent_events(run.sandbox.version)
    assert [line["event"] for line in payloads] == expected, run.describe()
    for line in payloads:
        assert os.path.normpath(line["plugin_root"]) == str(plugin_root)
        assert line["python"] == str(python)


# --- tests -----------------------------------------------------------------------------


def test_github_install_builds_its_env_under_plugin_data(
    github_install: tuple[Sandbox, Path],
    record_property: Callable[[str, object], None],
) -> None:
    """The first session builds the plugin's environment; the MCP server, started beside
    SessionStart, waits for that build and runs in it (the model asks codex through it);
    the next session's hooks reuse the environment."""
    sandbox, install_path = github_install
    assert install_path == sandbox.plugin_cache / "omcm" / "omcm" / "0.1.0"
    assert (install_path / "hooks" / "omcm-hook").is_file()
    assert not (install_path / ".venv").exists()
    data_dir = sandbox.plugin_data_root / "omcm-omcm"  # CLAUDE_PLUGIN_DATA for omcm@omcm
    python = data_dir / "venv" / "bin" / "python"

    run = first_session_asks_codex(sandbox)
    record_property("first_run_with_env_build_seconds", round(run.seconds, 1))
    sys.stderr.write(f"\n[omcm e2e] first run incl. env build: {run.seconds:.1f}s\n")
    [build] = builds(data_dir)
    assert f"building {data_dir / 'venv'} from {install_path} with " in build
    # A base Python whose pip has --python (22.3+) installs into an environment made
    # without a pip of its own (no ensurepip).
    assert (python.parent / "pip").exists() != pip_installs_elsewhere(build.split(" with ")[-1])
    assert run.system_messages() == []
    server = run.payloads("PreToolUseMcp")  # OMCM's hook saw the tool call...
    assert server and all(p["python"] == str(python) for p in server), run.describe()
    assert all(os.path.normpath(p["plugin_root"]) == str(install_path) for p in server)
    [line] = [x for x in sandbox.routing_log() if x.get("source") == "mcp"]  # ...the server ran it
    assert (line["session_id"], line["provider"]) == (run.session_id, "codex")

    # The next session reuses the environment.
    again, _ = agent_prompt(sandbox)
    assert_hooks_fired_from(again, install_path, python)
    assert len(builds(data_dir)) == 1
    assert again.session_id != run.session_id


def first_session_asks_codex(sandbox: Sandbox) -> ClaudeRun:
    """The model calls OMCM's ``ask`` tool (codex, against a stub model) in the session that
    builds the environment; the run, once the answer came back as an ordinary result.

    2.1.197 gives a server 60 s to answer ``initialize`` whatever MCP_TIMEOUT says: where
    the build took longer (a busy machine), the tools come with the next session, as the
    README says, and that session must have them (2.1.197 would skip a server that failed
    for a while: SessionStart clears that)."""
    from omcm.core import server_start

    run, results, first_tools = ask_codex(sandbox)
    log = run.debug_file.read_text().splitlines()
    failed = [x for x in log if 'server "plugin:omcm:omcm" Connection failed' in x]
    if failed and sandbox.version == PREVIOUS:
        assert "Request timed out" in failed[0] and results == [], run.describe()
        # 2.1.197 filed the server as needing authentication, which would keep it out of
        # the next sessions too; SessionStart once the build was done, or SessionEnd where
        # the filing came after SessionStart had looked, took it out again.
        cache = sandbox.home / ".claude" / "mcp-needs-auth-cache.json"
        assert "plugin:omcm:omcm" not in json.loads(cache.read_text()), cache.read_text()
        first = run
        run, results, first_tools = ask_codex(sandbox)
        assert run.session_id != first.session_id
    elif server_start.should_wait(claude_version(sandbox.version)):
        # The first turn began only once the server was serving (2.1.197 takes the tool
        # list about two seconds after SessionStart ends, and never again): the model's
        # first request offers OMCM's tool. (Not the debug log's times: 2.1.197 logs
        # "Successfully connected" after the server answered, which on a busy machine
        # can come a few milliseconds after SessionStart ended.)
        assert ASK in first_tools, run.describe()
    assert len(results) == 1, run.describe()
    [block] = results
    assert not block.get("is_error"), block
    assert tool_result_text(block).startswith(ANSWER + "\n\n— codex/stub-model · "), block
    return run


def ask_codex(sandbox: Sandbox) -> tuple[ClaudeRun, list[dict[str, Any]], list[str]]:
    """One session of the installed plugin whose model asks codex through OMCM's MCP server:
    the run, the tool results it got and the tools its first request offered the model."""
    script = AskScript({"prompt": "Where is the entry point?", "provider": "codex"})
    with StubModels(ModelReply(text=ANSWER, usage=USAGE)) as model, StubAnthropic(script) as stub:
        setup = codex_setup(model.url, sandbox.home)
        saved = dict(sandbox.extra_env)
        sandbox.extra_env.update(setup.env)
        config = sandbox.write_config(tomli_w.dumps({"providers": {"codex": setup.table("codex")}}))
        sandbox.api_url = stub.url
        sandbox.mcp = True
        try:
            # Claude Code waits this long for a plugin's MCP server to connect (the build).
            run = sandbox.prompt(
                "OMCM e2e: ask codex",
                plugin_dir=None,
                timeout=BUILD_TIMEOUT,
                env={"MCP_TIMEOUT": "600000"},
            )
        finally:
            sandbox.mcp = False
            sandbox.extra_env.clear()
            sandbox.extra_env.update(saved)
            config.unlink()
    assert run.returncode == 0, run.describe()
    first = next((r for r in stub.requests if is_main_conversation(r)), None)
    return run, script.results, first.tool_names if first else []


def pip_installs_elsewhere(base: str) -> bool:
    """Whether the pip of ``base`` (a Python) has ``--python``: pip 22.3 or newer."""
    code = "import pip; print(pip.__version__)"
    out = subprocess.run([base, "-c", code], capture_output=True, text=True, check=True).stdout
    major, minor = (int(part) for part in out.split(".")[:2])
    return (major, minor) >= (22, 3)


def claude_version(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_local_directory_marketplace_on_legacy_claude_code(
    tmp_path: Path,
    shared_pip_cache: Path,
    user_copy: Path,
) -> None:
    """``marketplace add <path>`` on Claude Code 2.1.62: hooks run from the cache copy.

    Before 2.1.78 there is no CLAUDE_PLUGIN_DATA, so the launcher builds its
    environment in the platformdirs data dir.
    """
    sandbox = new_sandbox(tmp_path, LEGACY, shared_pip_cache)
    install_path = install(sandbox, str(user_copy))
    assert install_path == sandbox.plugin_cache / "omcm" / "omcm" / "0.1.0"
    data_dir = user_data_dir(sandbox)
    assert data_dir == sandbox.home / ".local" / "share" / "omcm"

    run, _ = agent_prompt(sandbox)
    assert_hooks_fired_from(run, install_path, data_dir / "venv" / "bin" / "python")
    [build] = builds(data_dir)
    assert f"building {data_dir / 'venv'} from {install_path} with " in build
    assert not sandbox.plugin_data_root.exists()


@pytest.mark.parametrize("version", MODERN)
def test_local_directory_marketplace_runs_in_place_on_current_claude_code(
    version: str,
    tmp_path: Path,
    user_copy: Path,
    dev_python: Path,
) -> None:
    """2.1.197 and 2.1.332 install a cache copy of a directory marketplace but run the hooks
    from the directory itself (so a checkout's own .venv would be used). OMCM_PYTHON spares
    this test an environment build; the build is covered above.
    """
    sandbox = new_sandbox(tmp_path, version, tmp_path / "pip-cache")
    install_path = install(sandbox, str(user_copy))
    assert install_path == sandbox.plugin_cache / "omcm" / "omcm" / "0.1.0"
    assert (install_path / "hooks" / "omcm-hook").is_file()

    run, _ = agent_prompt(sandbox, OMCM_PYTHON=str(dev_python))
    assert_hooks_fired_from(run, user_copy, dev_python)


def test_omcm_python_without_omcm_tells_what_to_run(
    github_install: tuple[Sandbox, Path],
    bare_python: Path,
) -> None:
    sandbox, install_path = github_install
    payload = {
        "session_id": "s-bare",
        "hook_event_name": "SessionStart",
        "cwd": "/",
        "source": "startup",
    }
    proc = subprocess.run(
        ["sh", str(install_path / "hooks" / "omcm-hook"), "session-start"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=sandbox.env(
            OMCM_PYTHON=str(bare_python),
            CLAUDE_PLUGIN_ROOT=str(install_path),
            CLAUDE_PLUGIN_DATA=str(sandbox.plugin_data_root / "omcm-omcm"),
        ),
    )
    assert proc.returncode == 0
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    answer = json.loads(lines[0])
    assert list(answer) == ["systemMessage"]
    message = answer["systemMessage"]
    assert message.startswith(
        f"OMCM's session-start hook could not run with OMCM_PYTHON={bare_python} "
        "(ModuleNotFoundError: No module named 'omcm'). "
    ), message
    assert message.endswith(
        "Run 'omcm doctor', or reinstall: python3 -m pip --python "
        f"{bare_python} install '{install_path}[mcp]'"
    ), message


def test_omcm_python_without_omcm_fails_open_in_claude(
    github_install: tuple[Sandbox, Path],
    bare_python: Path,
) -> None:
    sandbox, _ = github_install
    run, _ = agent_prompt(sandbox, OMCM_PYTHON=str(bare_python))
    assert run.returncode == 0, run.describe()
    assert run.result["result"].startswith("DONE: SUBAGENT-RAN"), run.describe()
    assert run.payloads() == []  # omcm never started
    messages = run.system_messages()
    assert len(messages) == len(claude_subagent_events(sandbox.version)), run.describe()
    for message in messages:
        assert f"could not run with OMCM_PYTHON={bare_python}" in message
        assert f"python3 -m pip --python {bare_python} install" in message

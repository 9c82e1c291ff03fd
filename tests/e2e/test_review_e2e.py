"""The review recipes with the real programs: pre-commit and git against a temporary
repository, the real codex against a stub model that answers the review.

OMCM is installed the way pre-commit installs a hook repository: ``repo:`` a local git
repository holding a copy of this checkout, ``rev:`` a tag, ``language: python`` (its own
virtualenv, pip-installing OMCM), and through ``pre-commit try-repo``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.e2e.claude import copy_repo
from tests.e2e.stub_models import Reply, StubModels, child_env, codex_setup

pytestmark = pytest.mark.e2e

PRE_COMMIT = Path(sys.executable).parent / "pre-commit"
TAG = "v0.1.0"
HIGH = {
    "file": "app.py",
    "line": 2,
    "severity": "high",
    "message": "ZeroDivisionError when xs is empty",
}
LOW = {"file": "app.py", "line": None, "severity": "low", "message": "mean() has no docstring"}
IDENTITY = ["-c", "user.name=OMCM e2e", "-c", "user.email=e2e@omcm.invalid"]


def git(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *IDENTITY, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout as a published hook repository: committed and tagged."""
    repo = copy_repo(tmp_path_factory.mktemp("hook-repo") / "omcm")
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-q", "-m", "omcm"],
        ["tag", TAG],
    ):
        done = git(repo, *args)
        assert done.returncode == 0, done.stderr
    return repo


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pre-commit cache for the module: OMCM's hook environment is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def model() -> Iterator[StubModels]:
    with StubModels() as stub:
        yield stub


class Project:
    """A user's repository with a staged change, OMCM configured to review with codex."""

    def __init__(self, root: Path, stub_url: str, pre_commit_home: Path, **review: Any) -> None:
        self.root = root
        self.repo = root / "project"
        self.repo.mkdir(parents=True)
        setup = codex_setup(stub_url, root / "home")
        self.env = child_env(setup) | {
            "OMCM_STATE_DIR": str(root / "state"),
            "OMCM_CONFIG_DIR": str(root / "config"),
            "PRE_COMMIT_HOME": str(pre_commit_home),
            "GIT_CONFIG_NOSYSTEM": "1",
        }
        config = {
            "review": {"provider": "codex"} | review,
            "providers": {"codex": setup.table("codex")},
        }
        (root / "config").mkdir()
        (root / "config" / "config.toml").write_text(tomli_w.dumps(config))
        assert self.git("init", "-q", "-b", "main").returncode == 0
        (self.repo / "README.md").write_text("# demo\n")
        self.git("add", "README.md")
        assert self.git("commit", "-q", "-m", "start").returncode == 0

    def git(self, *args: str) -> subprocess.CompletedProcess[str]:
        return git(self.repo, *args, env=self.env)

    def stage_change(self) -> None:
        (self.repo / "app.py").write_text("def mean(xs):\n    return sum(xs) / len(xs)\n")
        assert self.git("add", "app.py").returncode == 0

    def use_pre_commit(self, hook_repo: Path) -> None:
        (self.repo / ".pre-commit-config.yaml").write_text(
            f"repos:\n  - repo: {hook_repo}\n    rev: {TAG}\n    hooks:\n      - id: omcm-review\n"
        )
        assert self.git("add", ".pre-commit-config.yaml").returncode == 0
        done = self.run(str(PRE_COMMIT), "install")
        assert done.returncode == 0, done.stdout + done.stderr

    def run(self, *argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            cwd=self.repo,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def commit(self) -> subprocess.CompletedProcess[str]:
        return self.run("git", *IDENTITY, "commit", "-m", "add mean")

    def commits(self) -> int:
        return int(self.git("rev-list", "--count", "HEAD").stdout.strip())

    def jobs(self) -> list[dict[str, Any]]:
        done = self.run(sys.executable, "-m", "omcm", "jobs", "--all", "--json")
        found: list[dict[str, Any]] = json.loads(done.stdout)
        return found

    def log(self) -> list[dict[str, Any]]:
        path = self.root / "state" / "routing-log.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def answer(*findings: dict[str, Any]) -> Reply:
    return Reply(text=json.dumps({"findings": list(findings)}))


def test_a_high_finding_fails_the_commit_and_is_printed(
    hook_repo: Path, pre_commit_home: Path, model: StubModels, tmp_path: Path
) -> None:
    model.default = answer(HIGH, LOW)
    project = Project(tmp_path, model.url, pre_commit_home)
    project.use_pre_commit(hook_repo)
    project.stage_change()
    done = project.commit()
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert project.commits() == 1  # no commit was made
    assert "omcm review: codex/stub-model found 1 problem at or above high" in out
    assert "app.py:2: high: ZeroDivisionError when xs is empty" in out
    assert "app.py: low: mean() has no docstring" in out
    # codex was given the review format as its output schema, and the staged diff.
    [request] = model.model_requests()
    schema = request.body["text"]["format"]
    assert schema["type"] == "json_schema" and schema["schema"]["required"] == ["findings"]
    assert "+    return sum(xs) / len(xs)" in json.dumps(request.body)
    # One job through the review door, booked in the routing log like any routed call.
    [job] = project.jobs()
    assert (job["state"], job["source"], job["provider"]) == ("done", "review", "codex")
    [line] = project.log()
    assert (line["source"], line["tool_name"], line["outcome"]) == (
        "review",
        "pre-commit",
        "routed",
    )
    # pre-commit's environment for the hook has omcm without the MCP SDK (an extra).
    [python] = pre_commit_home.glob("repo*/py_env-*/bin/python")
    has = "import importlib.util as u; print(bool(u.find_spec('omcm')), bool(u.find_spec('mcp')))"
    found = subprocess.run([python, "-c", has], capture_output=True, text=True, check=True)
    assert found.stdout.split() == ["True", "False"]


def test_no_findings_lets_the_commit_through(
    hook_repo: Path, pre_commit_home: Path, model: StubModels, tmp_path: Path
) -> None:
    model.default = answer()
    project = Project(tmp_path, model.url, pre_commit_home)
    project.use_pre_commit(hook_repo)
    project.stage_change()
    done = project.commit()
    assert done.returncode == 0, done.stdout + done.stderr
    assert project.commits() == 2
    assert len(model.model_requests()) == 1


def test_nothing_staged_in_the_hooks_files_calls_no_provider(
    hook_repo: Path, pre_commit_home: Path, model: StubModels, tmp_path: Path
) -> None:
    project = Project(tmp_path, model.url, pre_commit_home)
    (project.repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hook_repo}\n    rev: {TAG}\n    hooks:\n"
        "      - id: omcm-review\n        files: '[.]py$'\n"
    )
    project.git("add", ".pre-commit-config.yaml")
    assert project.run(str(PRE_COMMIT), "install").returncode == 0
    (project.repo / "notes.txt").write_text("no python here\n")
    project.git("add", "notes.txt")
    done = project.commit()
    assert done.returncode == 0, done.stdout + done.stderr
    assert model.model_requests() == []
    # Directly: a file with nothing staged is nothing to review, at once.
    direct = project.run(sys.executable, "-m", "omcm", "review", "README.md")
    assert direct.returncode == 0, direct.stderr
    assert "omcm review: nothing to review" in direct.stdout
    assert model.model_requests() == [] and project.jobs() == []


@pytest.mark.parametrize("on_error", ["fail", "pass"])
@pytest.mark.parametrize("trouble", ["unreadable", "down"])
def test_a_review_that_cannot_be_read_or_done_follows_on_error(
    hook_repo: Path,
    pre_commit_home: Path,
    model: StubModels,
    tmp_path: Path,
    on_error: str,
    trouble: str,
) -> None:
    model.default = (
        Reply(text="Looks good to me!") if trouble == "unreadable" else Reply(status=500)
    )
    project = Project(tmp_path, model.url, pre_commit_home, on_error=on_error)
    project.use_pre_commit(hook_repo)
    project.stage_change()
    done = project.commit()
    out = done.stdout + done.stderr
    if trouble == "unreadable":
        assert (
            "review could not be read: the answer is not JSON (it begins 'Looks good to me!')"
            in out
        )
    else:
        assert (
            "omcm review: review could not be done by codex/stub-model: no provider answered" in out
        )
    if on_error == "fail":
        assert done.returncode != 0, out
        assert "the check fails (review.on_error = fail)" in out
        assert project.commits() == 1
    else:
        assert done.returncode == 0, out
        assert project.commits() == 2


def test_try_repo_runs_the_hook_from_a_checkout(
    hook_repo: Path, pre_commit_home: Path, model: StubModels, tmp_path: Path
) -> None:
    model.default = answer(HIGH)
    project = Project(tmp_path, model.url, pre_commit_home)
    project.stage_change()
    done = project.run(str(PRE_COMMIT), "try-repo", str(hook_repo), "omcm-review")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "app.py:2: high: ZeroDivisionError when xs is empty" in out


def test_the_plain_git_hook_reviews_each_commit(
    model: StubModels, pre_commit_home: Path, tmp_path: Path
) -> None:
    model.default = answer(HIGH)
    project = Project(tmp_path, model.url, pre_commit_home)
    hook = project.repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    omcm = [sys.executable, "-m", "omcm", "git-hook"]
    refused = project.run(*omcm, "install")
    assert refused.returncode == 1
    assert f"omcm: {hook} exists and is not OMCM's" in refused.stderr
    installed = project.run(*omcm, "install", "--force")
    assert installed.returncode == 0, installed.stderr
    assert f"kept the existing hook as {hook}.pre-omcm" in installed.stdout
    project.stage_change()
    done = project.commit()
    assert done.returncode != 0
    assert "app.py:2: high: ZeroDivisionError when xs is empty" in done.stdout + done.stderr
    [line] = project.log()
    assert line["tool_name"] == "git-hook"
    removed = project.run(*omcm, "remove")
    assert removed.returncode == 0, removed.stderr
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"  # the old hook is back
    assert not (project.repo / ".git" / "hooks" / "pre-commit.pre-omcm").exists()
    assert project.commit().returncode == 0
    assert len(model.model_requests()) == 1
    assert os.access(hook, os.X_OK)

"""The batch executor with the real codex, gemini and opencode against stub model servers.

The stubs record when each request starts and ends, so the timeline shows what
ran together. A five-task plan (two independent tasks, one whose files overlap
another's, one depending on two others, one for another provider) runs with
``max_concurrent = 3``; a failing task skips its dependents; two isolated write
tasks on one file each produce a patch, and the second is kept, not applied; and
a plan handed over inside the real Claude Code 2.1.332 (hulw's ``omcm:batch``
agent) comes back to Claude as the batch's summary.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.e2e.claude import NEWEST, REPO_PYTHON, Sandbox
from tests.e2e.stub_anthropic import (
    Reply,
    Request,
    StubAnthropic,
    is_main_conversation,
    is_subagent,
    issued,
    new_text,
)
from tests.e2e.stub_models import SETUPS, Recorded, StubModels, StubUsage
from tests.e2e.stub_models import Reply as ModelReply

pytestmark = pytest.mark.e2e

USAGE = {
    "codex": StubUsage(input=1111, cached=11, output=22, reasoning=2),
    "gemini": StubUsage(input=3333, cached=33, output=44, reasoning=4),
    "opencode": StubUsage(input=5555, cached=55, output=66, reasoning=6),
}


@pytest.fixture
def models() -> Iterator[dict[str, StubModels]]:
    servers = {
        cli: StubModels(ModelReply(text=f"{cli} did it", usage=USAGE[cli], delay=2.0)).start()
        for cli in USAGE
    }
    try:
        yield servers
    finally:
        for server in servers.values():
            server.close()


def user(root: Path, models: dict[str, StubModels], api_url: str = "http://127.0.0.1:9") -> Sandbox:
    sandbox = Sandbox(root, NEWEST, api_url)
    tables = {}
    for cli, server in models.items():
        setup = SETUPS[cli](server.url, sandbox.home)
        sandbox.extra_env.update(setup.env)
        tables[cli] = setup.table(cli)
    sandbox.write_config(
        tomli_w.dumps(
            {
                "routing": {"max_workers": 4, "chains": {"low": ["codex"], "medium": ["codex"]}},
                "providers": tables,
            }
        )
    )
    git = ["git", "-C", str(sandbox.project)]
    (sandbox.project / "shared.txt").write_text("base\n")
    ident = ["-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "."], check=True, env=sandbox.env())
    subprocess.run([*git, *ident, "commit", "-qm", "base"], check=True, env=sandbox.env())
    return sandbox


def batch(
    sandbox: Sandbox, plan: dict[str, Any]
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    path = sandbox.root / "plan.toml"
    path.write_text(tomli_w.dumps(plan))
    done = subprocess.run(
        [str(REPO_PYTHON), "-m", "omcm", "batch", "--wait", "--json", str(path)],
        cwd=sandbox.project,
        env=sandbox.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    summary = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done, summary


def span(server: StubModels, marker: str) -> tuple[float, float]:
    [request] = [r for r in server.model_requests() if marker in json.dumps(r.body)]
    return request.started, request.finished


def job_span(sandbox: Sandbox, job_id: str) -> tuple[float, float]:
    """When the executor started a task's job and when the job ended (its own record)."""
    record = json.loads((sandbox.state_dir / "jobs" / job_id / "job.json").read_text())
    assert record["ended_at"], record
    return record["created_at"], record["ended_at"]


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def tokens(usage: StubUsage) -> dict[str, int]:
    return {
        "input": usage.input,
        "cached": usage.cached,
        "output": usage.output,
        "reasoning": usage.reasoning,
    }


def by_id(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in summary["tasks"]}


def test_five_tasks_run_in_the_order_the_graph_and_the_files_allow(
    models: dict[str, StubModels], tmp_path: Path
) -> None:
    sandbox = user(tmp_path, models)
    plan = {
        "max_concurrent": 3,
        "tasks": [
            {"id": "users", "prompt": "TASK-USERS write src/users.py", "files": ["src/users.py"]},
            {"id": "auth", "prompt": "TASK-AUTH write the auth package", "files": ["src/auth/**"]},
            {"id": "login", "prompt": "TASK-LOGIN the login form", "files": ["src/auth/login.py"]},
            {
                "id": "tests",
                "prompt": "TASK-TESTS test users and auth",
                "type": "test",
                "files": ["tests/**"],
                "depends_on": ["users", "auth"],
            },
            {
                "id": "docs",
                "prompt": "TASK-DOCS document it",
                "type": "docs",
                "provider": "gemini",
                "files": ["README.md"],
            },
        ],
    }
    done, summary = batch(sandbox, plan)
    assert done.returncode == 0, done.stderr
    # What the executor did, from its own records (each task's job: when the executor
    # started it, when it ended), not from when the CLIs happened to reach their stubs: a
    # slow CLI start-up must not decide the test.
    found = by_id(summary)
    jobs = {t: job_span(sandbox, found[t]["job_id"]) for t in found}
    users, auth, login, tests, docs = (jobs[t] for t in ("users", "auth", "login", "tests", "docs"))
    assert overlaps(users, auth)  # independent tasks ran together
    assert overlaps(users, docs)
    assert not overlaps(auth, login)  # overlapping files: never together
    assert tests[0] >= max(users[1], auth[1])  # only after both dependencies ended
    spans = [users, auth, login, tests, docs]
    assert max(sum(overlaps((s[0], s[0] + 1e-6), other) for other in spans) for s in spans) <= 3
    # The stubs agree where the order is the executor's to keep.
    codex = models["codex"]
    assert not overlaps(span(codex, "TASK-AUTH"), span(codex, "TASK-LOGIN"))
    assert span(codex, "TASK-TESTS")[0] >= span(codex, "TASK-USERS")[1]
    assert [found[t]["status"] for t in ("users", "auth", "login", "tests", "docs")] == ["done"] * 5
    for task in ("users", "auth", "login", "tests"):
        assert (found[task]["provider"], found[task]["tokens"]) == ("codex", tokens(USAGE["codex"]))
    assert (found["docs"]["provider"], found["docs"]["tokens"]) == (
        "gemini",
        tokens(USAGE["gemini"]),
    )
    lines = [x for x in sandbox.routing_log() if x.get("batch_id") == summary["batch"]]
    assert sorted(x["tool_use_id"].split(":")[1] for x in lines) == sorted(found)


def test_a_failing_task_skips_its_dependents(models: dict[str, StubModels], tmp_path: Path) -> None:
    models["opencode"].default = ModelReply(status=401)
    sandbox = user(tmp_path, models)
    plan = {
        "tasks": [
            {"id": "schema", "prompt": "TASK-SCHEMA migrate", "provider": "opencode"},
            {"id": "api", "prompt": "TASK-API use the schema", "depends_on": ["schema"]},
            {"id": "lint", "prompt": "TASK-LINT independent"},
        ]
    }
    done, summary = batch(sandbox, plan)
    assert done.returncode == 1
    found = by_id(summary)
    assert found["schema"]["status"] == "failed"
    assert "Incorrect API key provided" in found["schema"]["reason"]
    assert (found["api"]["status"], found["api"]["reason"]) == (
        "skipped",
        "depends on schema, which failed",
    )
    assert found["lint"]["status"] == "done"
    assert not [r for r in models["codex"].model_requests() if "TASK-API" in json.dumps(r.body)]


def test_worktree_isolation_keeps_a_conflicting_patch(
    models: dict[str, StubModels], tmp_path: Path
) -> None:
    edit = ModelReply(tool=("exec_command", {"cmd": "echo edited by codex >> shared.txt"}))
    answer = ModelReply(text="codex did it", usage=USAGE["codex"], delay=0.5)

    def codex(request: Recorded) -> ModelReply:
        """Each task's first request gets the edit, its follow-up (which carries the edit's
        call) the answer: whichever task asks first, however the two interleave."""
        return answer if "echo edited by codex" in json.dumps(request.body) else edit

    models["codex"].responder = codex
    sandbox = user(tmp_path, models)
    plan = {
        "isolation": "worktree",
        "tasks": [
            {"id": "first", "prompt": "TASK-FIRST edit shared.txt", "files": ["shared.txt"]},
            {"id": "second", "prompt": "TASK-SECOND edit shared.txt too", "files": ["shared.txt"]},
        ],
    }
    done, summary = batch(sandbox, plan)
    found = by_id(summary)
    patched = [t for t in found.values() if t["patch"]]
    assert len(patched) == 2, summary  # each task produced a patch
    applied = [t for t in patched if t["patch_applied"]]
    kept = [t for t in patched if t["patch_applied"] is False]
    assert len(applied) == 1 and len(kept) == 1
    assert Path(kept[0]["patch"]).read_text().count("+edited by codex") == 1
    assert "its patch does not apply to the project" in kept[0]["reason"]
    assert (sandbox.project / "shared.txt").read_text() == "base\nedited by codex\n"
    assert done.returncode == 0


# --- handed over inside the real Claude Code ---------------------------------------------------

PLAN_TEXT = """max_concurrent = 2
[[tasks]]
id = "one"
prompt = "TASK-ONE count the modules"
type = "analysis"
[[tasks]]
id = "two"
prompt = "TASK-TWO list the tests"
type = "analysis"
"""


class BatchScript:
    """The model hands the plan over in one omcm:batch call, waits, then reports."""

    def __call__(self, request: Request) -> Reply:
        if is_subagent(request):
            return Reply.text("SUBAGENT-RAN")
        if not is_main_conversation(request):
            return Reply.text("ok")
        added = new_text(request)
        if "[OMCM] Batch job " in added:
            return Reply.text("DONE: the batch reported back")
        if issued(request, "toolu_e2e_batch"):
            return Reply.text("WAITING for the batch")
        call = {"description": "run the plan", "prompt": PLAN_TEXT, "subagent_type": "omcm:batch"}
        return Reply.tool_use("Agent", call, "toolu_e2e_batch")


def test_a_plan_handed_over_by_hulw_comes_back_as_the_summary(
    models: dict[str, StubModels], tmp_path: Path
) -> None:
    with StubAnthropic(BatchScript()) as stub:
        sandbox = user(tmp_path, models, stub.url)
        run = sandbox.prompt("hulw: look over the project", timeout=180)
    assert run.returncode == 0, run.describe()
    assert run.result["result"] == "DONE: the batch reported back", run.describe()
    notice = [
        r for r in stub.requests if is_main_conversation(r) and "as background job" in new_text(r)
    ]
    assert len(notice) == 1
    [delivered] = [
        r for r in stub.requests if is_main_conversation(r) and "[OMCM] Batch job " in new_text(r)
    ]
    text = new_text(delivered)
    assert "finished (2 tasks: 2 done)" in text
    assert "one              done" in text and "two              done" in text
    asked = [json.dumps(r.body) for r in models["codex"].model_requests()]
    assert sum("TASK-ONE" in body for body in asked) == 1
    assert sum("TASK-TWO" in body for body in asked) == 1
    assert not [r for r in stub.requests if is_subagent(r)]  # no Claude subagent ran
    jobs = json.loads(sandbox.omcm("jobs", "--all", "--json").stdout)
    [batch_job] = [j for j in jobs if j["kind"] == "batch"]
    assert (batch_job["state"], batch_job["delivered"]) == ("done", "stop")

"""Background delegation in the real Claude Code 2.1.332 with the real codex.

A routed subagent call that Claude Code runs in the background becomes an OMCM
job: the hook answers at once (Claude's next request comes within 2 s), codex
works against a stub model that takes 8 s, and the answer comes back to Claude
by itself, exactly once: in an interactive session (tmux) through the
``asyncRewake`` delivery hook, under ``-p`` through the Stop hook, and after a
session that ended first, at the next SessionStart. Jobs started with ``omcm
run --background`` show the rest: a killed worker is seen as failed, ``omcm
cancel`` leaves no provider running, and 30 jobs started at once all run, once
each, within the worker-slot cap.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.e2e.claude import (
    NEWEST,
    REPO_PYTHON,
    ClaudeRun,
    Sandbox,
    claude_cli,
    wait_until_ready,
)
from tests.e2e.stub_anthropic import (
    Reply,
    Request,
    StubAnthropic,
    as_blocks,
    context_text,
    is_main_conversation,
    is_subagent,
    issued,
    last_user_text,
    new_text,
    tool_result_text,
)
from tests.e2e.stub_models import Reply as ModelReply
from tests.e2e.stub_models import StubModels, StubUsage, codex_setup
from tests.e2e.test_cancel_e2e import processes_of

pytestmark = pytest.mark.e2e

ANSWER = "PROVIDER-ANSWER: the entry point is src/app.py"
USAGE = StubUsage(input=2222, cached=222, output=77, reasoning=11)
DELAY = 8.0
TOOL_USE_ID = "toolu_e2e_background"
EXPLORE = {
    "description": "find the entry",
    "prompt": "Find the entry point.",
    "subagent_type": "Explore",
}


class BackgroundScript:
    """Call Explore once; after OMCM's job notice say WAITING; on the answer say DONE."""

    def __call__(self, request: Request) -> Reply:
        if is_subagent(request):
            return Reply.text("SUBAGENT-RAN")
        if not is_main_conversation(request):
            return Reply.text("ok")
        if "hello again" in last_user_text(request):
            return Reply.text("HELLO")
        if ANSWER in new_text(request):
            return Reply.text("DONE: got the explorer's answer")
        if issued(request, TOOL_USE_ID):
            return Reply.text("WAITING for the explorer")
        return Reply.tool_use("Agent", EXPLORE, TOOL_USE_ID)


@pytest.fixture
def slow_model() -> Iterator[StubModels]:
    with StubModels(ModelReply(text=ANSWER, usage=USAGE, delay=DELAY)) as stub:
        yield stub


def user(root: Path, api_url: str, models: StubModels, **settings: Any) -> Sandbox:
    """A 2.1.332 user whose explore calls go to codex (talking to ``models``)."""
    sandbox = Sandbox(root, NEWEST, api_url)
    setup = codex_setup(models.url, sandbox.home)
    sandbox.extra_env.update(setup.env)
    codex = setup.table("codex")
    config = {
        "fusion_default": True,
        "routing": {"chains": {"low": ["codex"], "medium": ["codex"]}},
        "providers": {"codex": codex | settings.pop("codex", {})},
    } | settings
    sandbox.write_config(tomli_w.dumps(config))
    return sandbox


def jobs_of(sandbox: Sandbox) -> list[dict[str, Any]]:
    """``omcm jobs --all --json``: the jobs as their user sees them."""
    done = sandbox.omcm("jobs", "--all", "--json")
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    _last_read[sandbox.state_dir] = (_job_files(sandbox), time.monotonic(), found)
    return found


# Per state dir: the job files as of the last `omcm jobs`, when it ran, what it listed.
_last_read: dict[Path, tuple[dict[str, tuple[int, int]], float, list[dict[str, Any]]]] = {}


def _job_files(sandbox: Sandbox) -> dict[str, tuple[int, int]]:
    found = {}
    for path in (sandbox.state_dir / "jobs").glob("*/*"):
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        found[str(path)] = (info.st_mtime_ns, info.st_size)
    return found


def jobs_when_changed(sandbox: Sandbox) -> list[dict[str, Any]]:
    """:func:`jobs_of` for a wait loop: asked again only once a job's files changed, or
    2 s after the last time (reading also files a job whose worker died as failed). Each
    ``omcm jobs`` costs a third of a second of CPU; a loop asking five times a second kept
    most of a core busy while the jobs it waited for needed it."""
    last = _last_read.get(sandbox.state_dir)
    if last and time.monotonic() - last[1] < 2 and _job_files(sandbox) == last[0]:
        return last[2]
    return jobs_of(sandbox)


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"waited {timeout:g}s for {what}"
        time.sleep(0.2)


@dataclass
class Delivered:
    sandbox: Sandbox
    stub: StubAnthropic
    models: StubModels
    run: ClaudeRun | None = None


def assert_delivered_once(found: Delivered, how: str) -> None:
    requests = [r for r in found.stub.requests if is_main_conversation(r)]
    hook = [
        p
        for p in found.sandbox.traced_payloads("PreToolUse")
        if p["payload"].get("tool_use_id") == TOOL_USE_ID
    ]
    [call] = hook
    answered = [
        r
        for r in requests
        if any(
            b.get("tool_use_id") == TOOL_USE_ID
            for m in r.messages
            for b in as_blocks(m.get("content"))
            if b.get("type") == "tool_result"
        )
    ]
    # Claude was not held up: it asked its next question before the provider had answered
    # (the provider's reply waits DELAY seconds; a hook that waited for it would come after).
    [asked] = found.models.model_requests()
    assert call["received_at"] < answered[0].received_at < asked.finished, (
        call["received_at"],
        answered[0].received_at,
        asked,
    )
    notice = tool_result_text(
        next(
            b
            for b in as_blocks(answered[0].messages[-1]["content"])
            if b.get("type") == "tool_result"
        )
    )
    assert "[OMCM] This explore subagent task was handed to OpenAI Codex" in notice
    assert "as background job " in notice and "do not run this task yourself" in notice
    # The answer reached Claude once, in one request, clearly framed, with the footer.
    woken = [r for r in requests if ANSWER in new_text(r)]
    assert len(woken) == 1, [new_text(r)[:300] for r in requests]
    text = new_text(woken[0])
    assert "[OMCM] Background job " in text
    assert "was completed by OpenAI Codex (model stub-model)" in text
    assert "— omcm: explore → codex/stub-model · 2,222 in / 77 out tokens · " in text
    assert woken[0].received_at - call["received_at"] >= DELAY - 1
    # The subagent never ran in Claude; the job is done with the stub's exact tokens.
    assert not [r for r in found.stub.requests if is_subagent(r)]
    [job] = jobs_of(found.sandbox)
    assert (job["state"], job["delivered"], job["tool_use_id"]) == ("done", how, TOOL_USE_ID)
    assert job["tokens"] == {"input": 2222, "cached": 222, "output": 77, "reasoning": 11}
    [line] = [x for x in found.sandbox.routing_log() if x.get("tool_use_id") == TOOL_USE_ID]
    assert (line["outcome"], line["job_id"], line["tokens"]) == ("routed", job["id"], job["tokens"])
    events = (found.sandbox.state_dir / "jobs" / job["id"] / "events.jsonl").read_text()
    assert events.count('"event":"delivered"') == 1


def test_print_mode_gets_the_answer_from_the_stop_hook(
    slow_model: StubModels, tmp_path: Path
) -> None:
    with StubAnthropic(BackgroundScript()) as stub:
        sandbox = user(tmp_path, stub.url, slow_model)
        run = sandbox.prompt("OMCM e2e: explore the project", timeout=120)
    assert run.returncode == 0, run.describe()
    assert run.result["result"] == "DONE: got the explorer's answer", run.describe()
    assert_delivered_once(Delivered(sandbox, stub, slow_model, run), "stop")


def test_an_interactive_session_is_woken_with_the_answer(
    slow_model: StubModels, tmp_path: Path
) -> None:
    with StubAnthropic(BackgroundScript()) as stub:
        sandbox = user(tmp_path, stub.url, slow_model)
        with sandbox.interactive("--permission-mode", "default") as term:
            wait_until_ready(term)
            term.send("OMCM e2e: explore the project", enter=True)
            term.wait_for("WAITING for the explorer", timeout=60)
            term.wait_for("DONE: got the explorer's answer", timeout=60)
            time.sleep(3)  # nothing is delivered a second time
    assert_delivered_once(Delivered(sandbox, stub, slow_model), "rewake")


def test_an_answer_the_session_missed_comes_at_the_next_session_start(
    slow_model: StubModels, tmp_path: Path
) -> None:
    with StubAnthropic(BackgroundScript()) as stub:
        sandbox = user(tmp_path, stub.url, slow_model)
        with sandbox.interactive("--permission-mode", "default") as term:
            wait_until_ready(term)
            term.send("OMCM e2e: explore the project", enter=True)
            term.wait_for("WAITING for the explorer", timeout=60)
            term.send("/exit", enter=True)
            wait_for(lambda: not term.alive(), 30, "the session to end")
        [job] = jobs_of(sandbox)
        assert (job["state"], job["delivered"]) == ("running", ""), job
        wait_for(lambda: jobs_when_changed(sandbox)[0]["state"] == "done", 60, "the job to end")
        assert processes_of("codex", sandbox.home) == []
        stub.clear()
        run = sandbox.prompt("hello again", timeout=60)
    assert run.result["result"] == "HELLO", run.describe()
    first = next(r for r in stub.requests if is_main_conversation(r))
    told = context_text(first)
    assert "SessionStart hook additional context: " in told
    assert "background subagent tasks of an earlier session in this project ended" in told
    assert ANSWER in told
    [job] = jobs_of(sandbox)
    assert job["delivered"] == "session-start"


# --- jobs from a terminal: killed worker, cancel, thirty at once ---------------------------


def start_job(sandbox: Sandbox, prompt: str) -> str:
    done = subprocess.run(
        [str(REPO_PYTHON), "-m", "omcm", "run", "--background", "--provider", "codex", prompt],
        cwd=sandbox.project,
        env=sandbox.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def running(sandbox: Sandbox, job_id: str) -> dict[str, Any] | None:
    found = [j for j in jobs_when_changed(sandbox) if j["id"] == job_id and j["state"] == "running"]
    return found[0] if found else None


@pytest.fixture
def hanging_model() -> Iterator[StubModels]:
    with StubModels(ModelReply(hang=True)) as stub:
        yield stub


def test_a_killed_worker_is_failed_on_the_next_read(
    hanging_model: StubModels, tmp_path: Path
) -> None:
    sandbox = user(tmp_path, "http://127.0.0.1:9", hanging_model)
    job_id = start_job(sandbox, "Summarise the notes.")
    job = wait_for(lambda: running(sandbox, job_id), 30, "the job to run")
    wait_for(hanging_model.model_requests, 30, "codex to ask its model")
    os.kill(job["worker_pid"], signal.SIGKILL)
    wait_for(lambda: not processes_of("codex", sandbox.home), 3, "codex to be stopped")
    [seen] = jobs_of(sandbox)  # one read
    assert seen["state"] == "failed"
    assert seen["reason"] in (
        "its worker was killed; the watchdog stopped the provider",
        f"its worker (pid {job['worker_pid']}) is gone: killed, crashed or the machine restarted",
    )
    [line] = sandbox.routing_log()
    assert (line["outcome"], line["job_id"]) == ("fell-back", job_id)


def test_killing_codexs_own_process_ends_the_job_at_once_with_its_native_binary(
    hanging_model: StubModels, tmp_path: Path
) -> None:
    """SIGKILL of the process OMCM started (codex's node wrapper) left the job running until
    the orphaned native binary ended (issue 17, defect 3)."""
    sandbox = user(tmp_path, "http://127.0.0.1:9", hanging_model, delegation={"retry": False})
    job_id = start_job(sandbox, "Summarise the notes.")
    job = wait_for(lambda: running(sandbox, job_id), 30, "the job to run")
    wait_for(hanging_model.model_requests, 30, "codex to ask its model")
    assert len(processes_of("codex", sandbox.home)) >= 2  # the wrapper and its native binary
    os.kill(job["provider_pgid"], signal.SIGKILL)  # the wrapper leads the group OMCM made
    # Before the fix the job waited for the orphaned binary, which the hanging model never
    # lets end: any bound well short of forever tells the two apart on a busy machine too.
    wait_for(lambda: not processes_of("codex", sandbox.home), 30, "the native binary to go too")
    ended = wait_for(
        lambda: [j for j in jobs_when_changed(sandbox) if j["state"] == "failed"], 30, "the end"
    )
    [attempt] = ended[0]["attempts"]
    assert (attempt["outcome"], attempt["exit_code"]) == ("crash", -9)


def test_a_damaged_record_keeps_its_answer_with_the_real_codex(
    slow_model: StubModels, tmp_path: Path
) -> None:
    """Truncating a running job's job.json hid it and lost the answer (issue 17, defect 1)."""
    sandbox = user(tmp_path, "http://127.0.0.1:9", slow_model)
    job_id = start_job(sandbox, "Summarise the notes.")
    wait_for(lambda: running(sandbox, job_id), 30, "the job to run")
    record = sandbox.state_dir / "jobs" / job_id / "job.json"
    os.truncate(record, record.stat().st_size // 2)
    listed = jobs_of(sandbox)  # read while damaged: shown, not hidden
    assert [(j["id"], j["state"]) for j in listed] in ([(job_id, "damaged")], [(job_id, "running")])
    done = wait_for(
        lambda: [j for j in jobs_when_changed(sandbox) if j["state"] == "done"], 30, "the answer"
    )
    assert done[0]["id"] == job_id
    result = sandbox.omcm("result", job_id)
    assert result.returncode == 0 and ANSWER in result.stdout
    assert list((record.parent).glob("job.json.corrupt-*"))


def test_cancel_leaves_no_provider_running(hanging_model: StubModels, tmp_path: Path) -> None:
    sandbox = user(tmp_path, "http://127.0.0.1:9", hanging_model)
    job_id = start_job(sandbox, "Summarise the notes.")
    wait_for(lambda: running(sandbox, job_id), 30, "the job to run")
    wait_for(hanging_model.model_requests, 30, "codex to ask its model")
    assert processes_of("codex", sandbox.home)
    began = time.monotonic()
    cancelled = sandbox.omcm("cancel", job_id[-6:])
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == f"omcm: job {job_id} cancelled: cancelled with omcm cancel"
    wait_for(
        lambda: not processes_of("codex", sandbox.home),
        2 - (time.monotonic() - began),
        "codex to be gone",
    )
    [job] = jobs_of(sandbox)
    assert (job["state"], job["reason"]) == ("cancelled", "cancelled with omcm cancel")
    result = sandbox.omcm("result", job_id)
    assert result.returncode == 0  # it has ended: what it ended as is the result
    assert result.stdout.strip() == f"omcm: job {job_id} cancelled: cancelled with omcm cancel"


def test_thirty_jobs_at_once_all_run_once_within_the_slot_cap(tmp_path: Path) -> None:
    with StubModels(ModelReply(text=ANSWER, usage=USAGE, delay=0.5)) as models:
        sandbox = user(
            tmp_path,
            "http://127.0.0.1:9",
            models,
            routing={"max_workers": 3, "chains": {"medium": ["codex"]}},
        )
        argv = [str(REPO_PYTHON), "-m", "omcm", "run", "--background", "--provider", "codex"]
        starters = [
            subprocess.Popen(
                [*argv, f"Task number {n}."],
                cwd=sandbox.project,
                env=sandbox.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(30)
        ]
        ids = []
        for starter in starters:
            out, err = starter.communicate(timeout=120)
            assert starter.returncode == 0, err
            ids.append(out.strip())
        assert len(set(ids)) == 30
        wait_for(
            lambda: (
                len(jobs := jobs_when_changed(sandbox)) == 30
                and all(j["state"] == "done" for j in jobs)
            ),
            180,
            "thirty jobs to end",
        )
        asked = [str(r.body) for r in models.model_requests()]
        assert models.max_in_flight <= 3
    for n in range(30):
        assert sum(f"Task number {n}." in body for body in asked) == 1, n
    assert sorted(line["job_id"] for line in sandbox.routing_log()) == sorted(ids)


@pytest.mark.parametrize("version", ["2.1.332", "2.1.197"])
def test_the_job_commands_inside_claude_code(version: str, tmp_path: Path) -> None:
    """/omcm:jobs lists it, /omcm:result ID gives its answer, /omcm:cancel-job ID stops one
    (typed one after the other in one session)."""
    from tests.e2e.stub_anthropic import TurnScript, command_texts

    with StubModels(ModelReply(text=ANSWER, usage=USAGE)) as models:
        sandbox = user(tmp_path, "http://127.0.0.1:9", models)
        sandbox.version = version
        sandbox.cli = claude_cli(version)
        job_id = start_job(sandbox, "Count the modules.")
        wait_for(lambda: jobs_when_changed(sandbox)[0]["state"] == "done", 60, "the job to end")
    typed = ["/omcm:jobs", f"/omcm:result {job_id[-6:]}", f"/omcm:cancel-job {job_id}"]
    with StubAnthropic(TurnScript(then=Reply.text("Shown."))) as stub:
        sandbox.api_url = stub.url
        for run in sandbox.prompts(typed, timeout=90):
            assert run.result.get("result") == "Shown.", run.describe()
        said = command_texts(stub.requests, [command.split()[0] for command in typed])
    assert job_id in said["/omcm:jobs"] and "done" in said["/omcm:jobs"]
    assert ANSWER in said["/omcm:result"]
    assert (
        f"omcm: job {job_id} had already ended (done: answered by codex)"
        in said["/omcm:cancel-job"]
    )

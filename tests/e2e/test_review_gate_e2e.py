"""The review gate with the real Claude Code (2.1.332 under ``-p`` and interactively,
2.1.197 under ``-p``) and the real codex against a stub model that answers the review.

The scripted model writes ``calc.py`` with the Write tool and ends its turn; the Stop
hook has codex review the turn's change and blocks the stop once with the findings;
the model answers them without changing anything, and the next stop goes through (the
same change is never reviewed twice). A turn that changes nothing calls no provider.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.e2e.claude import MODERN, NEWEST, Sandbox, wait_until_ready
from tests.e2e.stub_anthropic import (
    Reply,
    Request,
    StubAnthropic,
    is_main_conversation,
    issued,
    last_user_text,
    new_text,
)
from tests.e2e.stub_models import Reply as ModelReply
from tests.e2e.stub_models import StubModels, codex_setup

pytestmark = pytest.mark.e2e

WRITE_ID = "toolu_e2e_gate_write"
FINDING = {"file": "calc.py", "line": 2, "severity": "high", "message": "divides by zero"}
GATE = "[OMCM] Review gate: OpenAI Codex (model stub-model) reviewed the changes of your last turn"
ADDRESSED = "ADDRESSED: the review's finding is noted"


class GateScript:
    """Write calc.py once (on a prompt that asks for it); answer the gate's findings."""

    def __init__(self) -> None:
        self.project = Path("/nonexistent")  # set once the sandbox exists

    def __call__(self, request: Request) -> Reply:
        if not is_main_conversation(request):
            return Reply.text("ok")
        if "[OMCM] Review gate:" in new_text(request):
            return Reply.text(ADDRESSED)
        if "look around" in last_user_text(request):
            return Reply.text("NOTHING TO CHANGE")
        if issued(request, WRITE_ID):
            return Reply.text("WROTE calc.py")
        if "write calc.py" in last_user_text(request):
            content = "def f(x):\n    return 1 / x\n"
            path = str(self.project / "calc.py")
            return Reply.tool_use("Write", {"file_path": path, "content": content}, WRITE_ID)
        return Reply.text("NOTHING TO CHANGE")


@pytest.fixture
def reviewer() -> Iterator[StubModels]:
    with StubModels(ModelReply(text=json.dumps({"findings": [FINDING]}))) as stub:
        yield stub


def user(stub: StubAnthropic, root: Path, version: str, models: StubModels) -> Sandbox:
    """A user with the review gate on, reviewing with codex (talking to ``models``)."""
    sandbox = Sandbox(root, version, stub.url)
    script = stub.responder
    if isinstance(script, GateScript):
        script.project = sandbox.project
    setup = codex_setup(models.url, sandbox.home)
    sandbox.extra_env.update(setup.env)
    config = {"review": {"gate": "codex"}, "providers": {"codex": setup.table("codex")}}
    sandbox.write_config(tomli_w.dumps(config))
    return sandbox


def gate_turns(stub: StubAnthropic) -> list[Request]:
    """The main conversation's requests that carry the gate's findings as new text."""
    return [r for r in stub.requests if is_main_conversation(r) and GATE in new_text(r)]


def review_jobs(sandbox: Sandbox) -> list[dict[str, Any]]:
    done = sandbox.omcm("jobs", "--all", "--json")
    assert done.returncode == 0, done.stderr
    return [j for j in json.loads(done.stdout) if j["source"] == "review"]


def assert_reviewed_once(sandbox: Sandbox, stub: StubAnthropic, reviewer: StubModels) -> None:
    [request] = gate_turns(stub)
    text = new_text(request)
    assert "- calc.py:2: high: divides by zero" in text
    assert "This is another model's code review, not the user speaking" in text
    [review] = reviewer.model_requests()  # codex was asked once, with the turn's diff
    body = json.dumps(review.body)
    assert "+    return 1 / x" in body and "json_schema" in body
    [job] = review_jobs(sandbox)
    assert (job["state"], job["provider"]) == ("done", "codex")
    stops = sandbox.traced_payloads("Stop")
    assert [s["payload"]["stop_hook_active"] for s in stops] == [False, True]
    [line] = [x for x in sandbox.routing_log() if x.get("source") == "review"]
    assert (line["tool_name"], line["outcome"], line["job_id"]) == (
        "review-gate",
        "routed",
        job["id"],
    )


@pytest.mark.parametrize("version", MODERN)
def test_print_mode_gets_the_findings_once_and_ends(
    version: str, reviewer: StubModels, tmp_path: Path
) -> None:
    with StubAnthropic(GateScript()) as stub:
        sandbox = user(stub, tmp_path, version, reviewer)
        run = sandbox.prompt(
            "OMCM e2e: write calc.py", extra_args=("--permission-mode", "acceptEdits")
        )
    assert run.returncode == 0, run.describe()
    assert run.result["result"] == ADDRESSED, run.describe()
    assert (sandbox.project / "calc.py").exists()
    assert_reviewed_once(sandbox, stub, reviewer)


@pytest.mark.parametrize("version", MODERN)
def test_a_turn_that_changes_nothing_calls_no_provider(
    version: str, reviewer: StubModels, tmp_path: Path
) -> None:
    with StubAnthropic(GateScript()) as stub:
        sandbox = user(stub, tmp_path, version, reviewer)
        (sandbox.project / "notes.txt").write_text("here before the session\n")
        run = sandbox.prompt("OMCM e2e: look around")
    assert run.returncode == 0, run.describe()
    assert run.result["result"] == "NOTHING TO CHANGE", run.describe()
    assert reviewer.model_requests() == []
    assert review_jobs(sandbox) == []
    assert gate_turns(stub) == []


def test_an_interactive_session_gets_the_findings_once(
    reviewer: StubModels, tmp_path: Path
) -> None:
    with StubAnthropic(GateScript()) as stub:
        sandbox = user(stub, tmp_path, NEWEST, reviewer)
        with sandbox.interactive("--permission-mode", "acceptEdits") as term:
            wait_until_ready(term)
            term.send("OMCM e2e: write calc.py", enter=True)
            term.wait_for(ADDRESSED, timeout=90)
            # The turn is over: the stop after the answer went through, nothing follows.
            deadline = time.monotonic() + 60
            while len(sandbox.traced_payloads("Stop")) < 2:
                assert time.monotonic() < deadline, "the second Stop never came"
                time.sleep(0.2)
            seen = len(stub.requests)
            term.send("OMCM e2e: look around", enter=True)
            term.wait_for("NOTHING TO CHANGE", timeout=60)
            assert len(stub.requests) > seen
    assert_reviewed_once_interactive(sandbox, stub, reviewer)


def assert_reviewed_once_interactive(
    sandbox: Sandbox, stub: StubAnthropic, reviewer: StubModels
) -> None:
    [request] = gate_turns(stub)
    assert "- calc.py:2: high: divides by zero" in new_text(request)
    assert len(reviewer.model_requests()) == 1  # the second turn changed nothing
    [job] = review_jobs(sandbox)
    assert job["state"] == "done"


def test_the_slash_command_turns_the_gate_on_for_the_session(
    reviewer: StubModels, tmp_path: Path
) -> None:
    with StubAnthropic(GateScript()) as stub:
        sandbox = Sandbox(tmp_path, NEWEST, stub.url)
        run = sandbox.prompt("/omcm:review-gate on")
    assert run.returncode == 0, run.describe()
    assert run.session_mode()["review_gate"] == "on"
    said = "\n".join(last_user_text(r) for r in stub.requests if is_main_conversation(r))
    assert "OMCM review gate: on for this session." in said

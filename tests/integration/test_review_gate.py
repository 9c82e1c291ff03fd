"""The review gate at Stop, hooks run as Claude Code runs them (a process, JSON on stdin),
with a stand-in ``codex`` whose answer the test sets (``answer.json`` beside it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from omcm.jobs import store
from tests.integration.hookrun import run_hook

CODEX = r"""#!/bin/sh
here=$(dirname "$0")
cat > "$here/prompt-$$.txt"
echo run >> "$here/runs.log"
[ -f "$here/sleep" ] && sleep "$(cat "$here/sleep")"
python3 - "$here/answer.json" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
print(json.dumps({"type": "item.completed", "item": {"type": "agent_message", "text": text}}))
print(json.dumps({"type": "turn.completed", "usage": {"input_tokens": 40, "output_tokens": 9}}))
EOF
"""
HIGH = {"file": "calc.py", "line": 1, "severity": "high", "message": "divides by zero"}
LOW = {"file": "calc.py", "line": None, "severity": "low", "message": "no tests"}
SESSION = "gate-session-1"


class Session:
    """A Claude Code session's project and the hooks it would run."""

    def __init__(self, tmp_path: Path, config: str = 'gate = "codex"') -> None:
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        (self.bin / "codex").write_text(CODEX)
        (self.bin / "codex").chmod(0o755)
        self.answer([])
        self.project = tmp_path / "project"
        self.project.mkdir()
        subprocess.run(["git", "init", "-q", str(self.project)], check=True)
        (self.project / "README.md").write_text("# demo\n")
        subprocess.run(["git", "-C", str(self.project), "add", "README.md"], check=True)
        (self.project / ".gitignore").write_text("build/\n")
        config_dir = Path(os.environ["OMCM_CONFIG_DIR"])
        config_dir.mkdir(parents=True)
        (config_dir / "config.toml").write_text(
            f'[review]\n{config}\n\n[providers.codex]\ncommand = "{self.bin}/codex"\n'
        )

    def answer(self, findings: list[dict[str, Any]] | str) -> None:
        text = findings if isinstance(findings, str) else json.dumps({"findings": findings})
        (self.bin / "answer.json").write_text(text)

    def runs(self) -> int:
        log = self.bin / "runs.log"
        return len(log.read_text().splitlines()) if log.exists() else 0

    def payload(self, event: str, **fields: Any) -> dict[str, Any]:
        return {
            "session_id": SESSION,
            "transcript_path": "",
            "cwd": str(self.project),
            "hook_event_name": event,
            **fields,
        }

    def prompt(self, text: str = "go") -> dict[str, Any] | None:
        answer, _ = run_hook("user-prompt-submit", self.payload("UserPromptSubmit", prompt=text))
        return answer

    def stop(self, again: bool = False) -> dict[str, Any] | None:
        payload = self.payload("Stop", stop_hook_active=again, last_assistant_message="done")
        answer, _ = run_hook("stop", payload, timeout=120)
        return answer

    def write(self, name: str, text: str) -> None:
        path = self.project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_turn_that_writes_a_file_gets_the_findings_once(tmp_path: Path) -> None:
    session = Session(tmp_path)
    session.answer([HIGH, LOW])
    session.prompt()
    session.write("calc.py", "def f(x):\n    return 1 / x\n")
    session.write("build/out.bin", "ignored by .gitignore\n")
    found = session.stop()
    assert found is not None and found["decision"] == "block"
    reason = found["reason"]
    assert reason.startswith(
        "[OMCM] Review gate: OpenAI Codex (model gpt-5.1-codex-mini) reviewed the changes of "
        "your last turn (1 file) and found 1 problem at or above high severity."
    )
    assert "\n\n- calc.py:1: high: divides by zero\n\nBelow that" in reason
    assert "- calc.py: low: no tests" in reason
    prompt = next(session.bin.glob("prompt-*.txt")).read_text()
    assert "+    return 1 / x" in prompt and "out.bin" not in prompt  # new, not ignored files
    # Claude answers without changing anything: the same change is not reviewed again.
    assert session.stop(again=True) is None
    assert session.runs() == 1
    [job] = list(store.all_jobs())
    assert (job.state, job.source, job.session_id, job.deliver) == (
        "done",
        "review",
        SESSION,
        False,
    )


def test_a_fix_is_reviewed_and_the_blocks_in_a_row_are_capped(tmp_path: Path) -> None:
    session = Session(tmp_path, 'gate = "codex"\ngate_max_blocks = 2')
    session.answer([HIGH])
    session.prompt()
    session.write("calc.py", "x = 1 / 0\n")
    assert session.stop()["decision"] == "block"  # type: ignore[index]
    session.write("calc.py", "x = 1 / 0.0\n")
    assert session.stop(again=True)["decision"] == "block"  # type: ignore[index]
    session.write("calc.py", "x = 1\n")
    capped = session.stop(again=True)
    assert capped == {
        "systemMessage": "OMCM review gate: 2 stops in a row were blocked already "
        "(review.gate_max_blocks); this one goes through without another review."
    }
    assert session.runs() == 2
    # A new prompt starts the count again.
    session.answer([])
    session.prompt("next")
    session.write("calc.py", "x = 2\n")
    passed = session.stop()
    assert passed is not None and "nothing at or above high" in passed["systemMessage"]


def test_a_turn_that_changes_nothing_calls_no_provider(tmp_path: Path) -> None:
    session = Session(tmp_path)
    session.write("untracked-before.txt", "there before the prompt\n")
    session.prompt()
    assert session.stop() is None
    assert session.runs() == 0 and list(store.all_jobs()) == []


def test_off_by_default_and_on_for_one_session(tmp_path: Path) -> None:
    session = Session(tmp_path, config="")
    session.answer([HIGH])
    session.prompt()
    session.write("calc.py", "x = 1 / 0\n")
    assert session.stop() is None
    assert session.runs() == 0
    assert not (
        Path(os.environ["OMCM_STATE_DIR"]) / "sessions" / SESSION / "review-gate.json"
    ).exists()
    turned = subprocess.run(
        [sys.executable, "-m", "omcm", "review-gate", "on", "--session", SESSION],
        cwd=session.project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert turned.returncode == 0, turned.stderr
    assert turned.stdout.startswith("OMCM review gate: on for this session.")
    session.write("calc.py", "x = 1 / 0  # changed after the gate was turned on\n")
    found = session.stop()
    assert found is not None and found["decision"] == "block"
    off = subprocess.run(
        [sys.executable, "-m", "omcm", "review-gate", "off", "--session", SESSION],
        cwd=session.project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert off.stdout.startswith("OMCM review gate: off for this session")
    session.write("calc.py", "x = 3\n")
    assert session.stop(again=True) is None
    assert session.runs() == 1


@pytest.mark.parametrize("on_error", ["fail", "pass"])
def test_an_unreadable_review_follows_on_error(tmp_path: Path, on_error: str) -> None:
    session = Session(tmp_path, f'gate = "codex"\non_error = "{on_error}"')
    session.answer("All good, ship it.")
    session.prompt()
    session.write("calc.py", "x = 1\n")
    found = session.stop()
    why = "review could not be read: the answer is not JSON (it begins 'All good, ship it.')"
    if on_error == "fail":
        assert found is not None and found["decision"] == "block"
        assert why in found["reason"] and "Check those changes yourself" in found["reason"]
        assert session.stop(again=True) is None  # asked once
    else:
        assert found == {
            "systemMessage": f"OMCM review gate: {why}; the stop went through (review.on_error = pass)."
        }


def test_a_review_out_of_time_lets_the_stop_through(tmp_path: Path) -> None:
    session = Session(tmp_path, 'gate = "codex"\ntimeout = 10')
    (session.bin / "sleep").write_text("60")
    session.answer([HIGH])
    session.prompt()
    session.write("calc.py", "x = 1 / 0\n")
    found = session.stop()
    assert found == {
        "systemMessage": "OMCM review gate: the review by OpenAI Codex did not finish within "
        "review.timeout (10s); the stop went through unreviewed."
    }
    [job] = list(store.all_jobs())
    assert job.state == "timed-out"


def test_outside_git_the_gate_says_so_once(tmp_path: Path) -> None:
    session = Session(tmp_path)
    plain = tmp_path / "plain"
    plain.mkdir()
    session.project = plain
    session.prompt()
    first = session.stop()
    assert first is not None and "OMCM review gate: nothing reviewed (" in first["systemMessage"]
    assert "is not in a git work tree" in first["systemMessage"]
    assert session.stop() is None

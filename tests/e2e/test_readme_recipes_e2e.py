"""The README's recipes section as a user follows it: every ``sh`` block runs, every
``toml`` block is a valid config.toml.

The blocks run in order, in one throw-away user's project, with ``omcm`` (this checkout),
the pinned OpenCode on ``PATH`` and a stub Ollama server (``OLLAMA_HOST``) that has the
README's model; ``systemctl`` is a stand-in, so no real user systemd manager is touched.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from omcm.config import validate
from tests.e2e.claude import REPO
from tests.e2e.stub_models import Reply, StubModels, opencode_home_env, pinned_bin

pytestmark = pytest.mark.e2e

START, END = "<!-- recipes:start", "<!-- recipes:end -->"
MODEL = "qwen2.5-coder:7b"
ANSWER = "docs/ is in sync"
SYSTEMCTL = "#!/bin/sh\nexit 1\n"  # no user manager answers


def section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return readme[readme.index(START) : readme.index(END)]


def blocks(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```$", section(), re.MULTILINE | re.DOTALL)


def test_every_toml_block_is_a_valid_config() -> None:
    found = blocks("toml")
    assert len(found) == 3
    for text in found:
        validate.parse_text(text, "README")


def test_every_json_example_fits_its_reader() -> None:
    from omcm.review import findings

    review, webhook = blocks("json")
    assert findings.read(review)[0].shown() == "app.py:2: high: ZeroDivisionError when xs is empty"
    assert json.loads(webhook.replace("…", ""))["event"] == "job.ended"


@pytest.fixture
def ollama() -> Iterator[StubModels]:
    with StubModels(Reply(text=ANSWER), ollama=(MODEL,)) as stub:
        yield stub


def test_every_sh_block_runs(ollama: StubModels, tmp_path: Path) -> None:
    scripts = blocks("sh")
    assert len(scripts) == 3, scripts
    home = tmp_path / "home"
    env = opencode_home_env(home)
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    (fake / "systemctl").write_text(SYSTEMCTL)
    (fake / "systemctl").chmod(0o755)
    path = [str(fake), str(Path(sys.executable).parent), str(pinned_bin("opencode").parent)]
    env.update(
        PATH=os.pathsep.join([*path, os.environ["PATH"]]),
        OMCM_CONFIG_DIR=str(tmp_path / "config"),
        OMCM_STATE_DIR=str(tmp_path / "state"),
        OLLAMA_HOST=ollama.url,
        GIT_CONFIG_NOSYSTEM="1",
    )
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    (project / "src").mkdir()
    for script in scripts:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{script}\n---\n{done.stdout}\n{done.stderr}"
        if "schedule run docs-sync" in script:
            assert f"{ANSWER}\n" in done.stdout
            units = Path(env["XDG_CONFIG_HOME"]) / "systemd" / "user"
            assert sorted(p.name for p in units.iterdir()) == [
                "omcm-docs-sync.service",
                "omcm-docs-sync.timer",
            ]
            assert "docs-sync            every 1d at 03:00" in done.stdout
    # The git hook was installed and removed in the demo repository.
    assert not (project / "demo" / ".git" / "hooks" / "pre-commit").exists()
    # The scheduled run was a job on the local model, through the schedule door.
    jobs = json.loads(
        subprocess.run(
            [sys.executable, "-m", "omcm", "jobs", "--all", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    [job] = jobs
    assert (job["state"], job["source"], job["provider"], job["model"]) == (
        "done",
        "schedule",
        "ollama",
        MODEL,
    )
    [request] = ollama.model_requests()
    assert "Keep docs/ in sync with the code in src/." in json.dumps(request.body)
    assert not list((Path(env["XDG_CONFIG_HOME"]) / "systemd" / "user").iterdir())  # removed

"""The README's MCP tool examples, run as written against the server (stand-in providers).

Each ``<!-- mcp-example -->`` block is one tool call; they run in order in one
session of the server, in a project that has the files they name. The ``result``
and ``cancel`` examples name the job of the background ``ask`` example by the
tail of its id (a real job's id is new each time: the tail is put in).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from mcp.client.session import ClientSession

from omcm.jobs import store
from tests.integration.test_cancel import REPO
from tests.integration.test_mcp_server import make_fakes, server_env, text_of, with_server

EXAMPLE = re.compile(r"<!-- mcp-example -->\n```json\n(.*?)\n```", re.S)
#: The job id tail the README's result and cancel examples use.
README_JOB = "8c21d0"


def examples() -> list[dict[str, Any]]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return [json.loads(block) for block in EXAMPLE.findall(readme)]


def test_the_readme_shows_an_example_of_every_tool() -> None:
    assert [e["tool"] for e in examples()] == [
        "ask",
        "ask",
        "consensus",
        "jobs",
        "result",
        "cancel",
    ]


def test_every_readme_example_runs(tmp_path: Path) -> None:
    fakes = make_fakes(tmp_path)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def load():\n    return {}\n")

    [background] = [e["arguments"] for e in examples() if e["arguments"].get("background")]

    async def work(client: ClientSession) -> Any:
        results = []
        for example in examples():
            arguments = dict(example["arguments"])
            if arguments.get("job") == README_JOB:
                [job] = [r for r in store.all_jobs() if r.title == background["prompt"]]
                arguments["job"] = job.id.rsplit("-", 1)[-1]
            results.append((example, await client.call_tool(example["tool"], arguments)))
        return results

    for example, result in with_server(work, server_env(fakes), tmp_path):
        assert not result.is_error, (example, text_of(result))
    # The files an example names went along (with the ask that named them: the background
    # example's job may be the last to reach codex).
    sent = (fakes / "codex.prompts").read_text().split("\0")
    [asked] = [p for p in sent if p.startswith("List concrete bugs in the error handling")]
    assert "def load():" in asked


@pytest.mark.parametrize("example", examples(), ids=lambda e: e["tool"])
def test_every_readme_example_is_valid_arguments(example: dict[str, Any]) -> None:
    from omcm.mcp import tools

    tools.parse(example["tool"], example["arguments"])

"""The review format, the diff cut to size, the verdict, and the plain git hook."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from omcm import config
from omcm.core.errors import OmcmError
from omcm.review import diff, findings, githook, run


def test_an_answer_in_the_format_is_read() -> None:
    text = json.dumps(
        {
            "findings": [
                {"file": "b.py", "line": None, "severity": "low", "message": "no docstring"},
                {"file": "a.py", "line": 2, "severity": "critical", "message": "drops  the\ntable"},
            ]
        }
    )
    found = findings.ordered(findings.read(text))
    assert [f.shown() for f in found] == [
        "a.py:2: critical: drops the table",
        "b.py: low: no docstring",
    ]
    assert findings.at_or_above(found, "high") == found[:1]
    assert findings.at_or_above(found, "info") == found


@pytest.mark.parametrize(
    "answer",
    [
        'Sure! ```json\n{"findings": []}\n``` Hope that helps.',
        'The review: {"findings": []} (nothing found).',
        '  {"findings": [], "summary": "fine"}  ',
    ],
)
def test_the_object_may_sit_in_a_fence_or_a_sentence(answer: str) -> None:
    assert findings.read(answer) == []


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("", "the answer is empty"),
        ("LGTM", "the answer is not JSON (it begins 'LGTM')"),
        ('{"issues": []}', 'the answer has no JSON object with a "findings" list'),
        ('{"findings": {}}', '"findings" is an object, not a list'),
        ('{"findings": ["bad"]}', "findings[0] is the text 'bad', not an object"),
        (
            '{"findings": [{"file": "a", "line": 1, "severity": "urgent", "message": "m"}]}',
            "findings[0].severity is 'urgent', not one of critical, high, medium, low, info",
        ),
        (
            '{"findings": [{"file": "a", "line": "3", "severity": "low", "message": "m"}]}',
            "findings[0].line is '3', not a line number (1 or more) or null",
        ),
        ('{"findings": [{"file": "a", "severity": "low"}]}', "findings[0] lacks line, message"),
    ],
)
def test_an_answer_that_does_not_fit_is_unreadable(answer: str, why: str) -> None:
    with pytest.raises(findings.Unreadable) as caught:
        findings.read(answer)
    assert str(caught.value) == why


def test_the_schema_file_is_the_format() -> None:
    path = findings.schema_file()
    assert json.loads(Path(path).read_text()) == findings.SCHEMA
    assert findings.schema_file() == path  # written once, the same file after


def part(name: str, lines: int) -> str:
    return f"diff --git a/{name} b/{name}\n" + "+x\n" * lines


def test_a_diff_is_cut_whole_file_by_whole_file() -> None:
    text = part("a.py", 10) + part("big.py", 600) + part("c.py", 10)
    cut = diff.cut(text, 1)
    assert cut.files == ["a.py", "c.py"] and cut.left_out == ["big.py"]
    assert cut.text == part("a.py", 10) + part("c.py", 10)
    alone = diff.cut(part("huge.py", 2000), 1)
    assert alone.files == ["huge.py"] and not alone.left_out
    assert alone.text.endswith("[… the diff of huge.py is cut here: review.max_diff_kb]\n")
    assert len(alone.text.encode()) < 1024 + 100


def test_the_prompt_holds_the_diff_the_format_and_what_was_left_out() -> None:
    text = run.prompt(diff.Diff("DIFF\n", ["a.py"], ["b.py"], 5), "/p", what="a change")
    assert "<diff>\nDIFF\n</diff>" in text
    assert findings.EXAMPLE in text
    assert "(Not included, over the size limit: b.py.)" in text


def test_nothing_staged_is_nothing_to_review_and_asks_no_one(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    change = diff.staged(str(tmp_path), [], 200)
    verdict = run.run(change, config.Config(), project=str(tmp_path), tool="t", what="w")
    assert verdict.state == "empty" and verdict.job is None
    assert verdict.passes("fail")
    assert run.report(verdict, config.Config()) == [
        "omcm review: nothing to review (no staged change in these files)"
    ]


def test_a_folder_outside_git_is_named(tmp_path: Path) -> None:
    with pytest.raises(OmcmError, match="is not in a git work tree"):
        diff.toplevel(str(tmp_path))


def test_the_git_hook_keeps_what_it_replaces(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    hook = tmp_path / ".git" / "hooks" / "pre-commit"
    assert githook.remove(str(tmp_path)) == [f"no pre-commit hook at {hook}; nothing to remove"]
    assert githook.install(str(tmp_path)) == [
        f"installed {hook}: each commit's staged change is reviewed (omcm review)"
    ]
    assert githook.is_ours(str(hook)) and hook.stat().st_mode & 0o111
    githook.install(str(tmp_path))  # again: its own hook is replaced without --force
    hook.write_text("#!/bin/sh\necho mine\n")
    with pytest.raises(OmcmError, match="exists and is not OMCM's"):
        githook.install(str(tmp_path))
    with pytest.raises(OmcmError, match="is not OMCM's hook; it was left alone"):
        githook.remove(str(tmp_path))
    githook.install(str(tmp_path), force=True)
    assert (tmp_path / ".git" / "hooks" / "pre-commit.pre-omcm").read_text().endswith("mine\n")
    githook.remove(str(tmp_path))
    assert hook.read_text() == "#!/bin/sh\necho mine\n"
    with pytest.raises(OmcmError, match="OMCM installs only pre-commit"):
        githook.install(str(tmp_path), "pre-push")


def test_the_git_hook_follows_core_hooks_path(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "config", "core.hooksPath", "githooks"], check=True)
    githook.install(str(tmp_path))
    assert githook.is_ours(str(tmp_path / "githooks" / "pre-commit"))


def test_who_reviews() -> None:
    from omcm.routing.engine import Call, EngineState

    asked = Call(agent_raw=run.AGENT)
    plain = config.Config()
    chain = run.rule("")(asked, plain, EngineState())
    assert [r.provider for r in chain.routes] == ["gemini", "codex", "opencode"]  # the LOW chain
    assert {r.sandbox for r in chain.routes} == {"read-only"}
    local = config.Config.parse({"providers": {"ollama": {"model": {"medium": "qwen3:8b"}}}}, "t")
    first = run.rule("")(asked, local, EngineState())
    assert [(r.provider, r.model) for r in first.routes][:2] == [
        ("ollama", "qwen3:8b"),
        ("gemini", "gemini-2.5-flash"),
    ]
    assert first.routed and first.reason == "requested"
    named = run.rule("opencode")(asked, local, EngineState())
    assert [r.provider for r in named.routes] == ["opencode"]


def test_codex_is_given_the_schema_cold_and_warm(tmp_path: Path) -> None:
    from omcm.providers import codex
    from omcm.providers.base import ProviderRequest

    path = findings.schema_file()
    request = ProviderRequest(
        prompt="p", model="m", sandbox="read-only", cwd="/w", output_schema=path
    )
    argv = codex.PROVIDER.argv(request, codex.PROVIDER.defaults)
    assert argv[-5:] == ["--output-schema", path, "-C", "/w", "-"]
    params = codex._turn_params("t1", request)
    assert params["outputSchema"] == findings.SCHEMA
    request.output_schema = str(tmp_path / "missing.json")
    assert "outputSchema" not in codex._turn_params("t1", request)  # the prompt still asks
    request.output_schema = ""
    assert "--output-schema" not in codex.PROVIDER.argv(request, codex.PROVIDER.defaults)

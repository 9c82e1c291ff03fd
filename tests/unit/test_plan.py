"""Batch plans: reading, every validation error, waves, and glob-against-glob conflicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omcm.batch.plan import (
    PlanError,
    analyse,
    bad_glob,
    conflicts_of,
    overlap,
    parse,
    segment_overlap,
)

PROVIDERS = ("codex", "gemini", "opencode")


def plan_of(text: str, where: str = "plan.toml"):  # type: ignore[no-untyped-def]
    return parse(text.encode(), where, 3, PROVIDERS)


def errors(text: str, where: str = "plan.toml") -> list[str]:
    with pytest.raises(PlanError) as caught:
        plan_of(text, where)
    assert str(caught.value).startswith(f"{where}: ")
    return caught.value.problems


GOOD = """
max_concurrent = 2
on_failure = "stop"

[[tasks]]
id = "api"
prompt = "Write the API"
files = ["src/api/**"]

[[tasks]]
id = "docs"
description = "Document it"
type = "docs"
dependsOn = ["api"]
provider = "gemini"
timeout = 120
"""


def test_a_toml_plan_and_its_defaults() -> None:
    plan = plan_of(GOOD)
    assert (plan.max_concurrent, plan.strategy, plan.on_failure) == (2, "hybrid", "stop")
    api, docs = plan.tasks
    assert (api.id, api.prompt, api.type, api.agent, api.provider) == (
        "api",
        "Write the API",
        "implementation",
        "executor",
        "auto",
    )
    assert (docs.prompt, docs.agent, docs.depends_on, docs.provider, docs.timeout) == (
        "Document it",
        "writer",
        ["api"],
        "gemini",
        120,
    )
    assert plan_of("[[tasks]]\nid = 'a'\nprompt = 'x'\n").max_concurrent == 3  # the default


def test_the_seeds_json_shape_is_read() -> None:
    data = {
        "tasks": [
            {
                "id": "task-1",
                "description": "user service",
                "type": "implementation",
                "files": ["src/services/user.ts"],
            },
            {
                "id": "task-3",
                "description": "integration test",
                "type": "test",
                "files": ["src/__tests__/integration.test.ts"],
                "dependsOn": ["task-1"],
            },
        ]
    }
    plan = plan_of(json.dumps(data), "plan.json")
    assert [t.depends_on for t in plan.tasks] == [[], ["task-1"]]
    assert plan.tasks[1].agent == "qa-tester"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "[[tasks]]\nid='a'\nprompt='x'\n[[tasks]]\nid='a'\nprompt='y'\n",
            "task 'a': key 'id': duplicate id",
        ),
        (
            "[[tasks]]\nid='a'\nprompt='x'\ndepends_on=['ghost']\n",
            "task 'a': key 'depends_on': unknown task 'ghost'",
        ),
        (
            "[[tasks]]\nid='a'\nprompt='x'\nprovider='copilot'\n",
            "task 'a': key 'provider': unknown provider 'copilot' (one of auto, claude, codex, "
            "gemini, opencode)",
        ),
        (
            "[[tasks]]\nid='a'\nprompt='x'\ntype='deploy'\n",
            "task 'a': key 'type': 'deploy' is not one of analysis, implementation, test, review, "
            "refactoring, docs",
        ),
        (
            "[[tasks]]\nid='a'\nprompt='x'\nfiles=['src/[ab.py']\n",
            "task 'a': key 'files': bad glob 'src/[ab.py' (unclosed '[')",
        ),
        (
            "[[tasks]]\nid='a'\nprompt='x'\nfiles=['../outside/*']\n",
            "task 'a': key 'files': bad glob '../outside/*' (must stay inside the project (no '..'))",
        ),
        (
            "[[tasks]]\nid='a'\nprompt='x'\nfiles=['/etc/passwd']\n",
            "task 'a': key 'files': bad glob '/etc/passwd' (must be relative to the project)",
        ),
        (
            "[[tasks]]\nid='a'\nprompt='x'\nfiles=['src/a**b']\n",
            "task 'a': key 'files': bad glob 'src/a**b' ('**' must be a whole path segment)",
        ),
        (
            "[[tasks]]\nid='a'\n",
            "task 'a': key 'prompt': required (or 'description'), a non-empty string",
        ),
        ("[[tasks]]\nprompt='x'\n", "task 1: key 'id': required, a non-empty string"),
        ("[[tasks]]\nid='a'\nprompt='x'\ncolour='red'\n", "task 'a': unknown key 'colour'"),
        (
            "strategy='eager'\n[[tasks]]\nid='a'\nprompt='x'\n",
            "key 'strategy': 'eager' is not one of parallel, sequential, hybrid",
        ),
        (
            "max_concurrent=0\n[[tasks]]\nid='a'\nprompt='x'\n",
            "key 'max_concurrent': expected a whole number of 1 or more, got 0",
        ),
        ("tasks = []\n", "key 'tasks': expected a list of tasks ([[tasks]] in TOML)"),
        (
            "[[tasks]]\nid='a'\nprompt='x'\ntimeout=-1\n",
            "task 'a': key 'timeout': expected seconds (a whole number), got -1",
        ),
    ],
)
def test_each_error_names_the_task_and_the_key(text: str, problem: str) -> None:
    assert problem in errors(text)


def test_a_dependency_cycle_is_printed() -> None:
    text = "".join(
        f"[[tasks]]\nid='{a}'\nprompt='x'\ndepends_on=['{b}']\n"
        for a, b in (("a", "b"), ("b", "c"), ("c", "a"))
    )
    assert errors(text) == ["task 'a': key 'depends_on': dependency cycle a -> b -> c -> a"]


def test_not_a_plan_at_all() -> None:
    assert errors("{nope", "plan.json")[0].startswith("not valid JSON")
    assert errors("[[tasks]\n")[0].startswith("not valid TOML")


# --- globs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("src/auth.ts", "src/auth.ts", True),  # the same file
        ("src/auth.ts", "src/api.ts", False),
        ("src/*.ts", "src/auth.ts", True),
        ("src/*.ts", "src/*.py", False),
        ("src/**", "src/deep/down/x.py", True),  # nested
        ("src/**/test_*.py", "src/a/b/test_x.py", True),
        ("src/**/test_*.py", "src/**/*_test.py", True),  # both globs: test_x_test.py
        ("src/**/*.py", "docs/**/*.md", False),  # disjoint
        ("**", "anything/at/all.txt", True),
        ("**/*.md", "README.md", True),
        ("src/a?.py", "src/ab.py", True),
        ("src/[ab].py", "src/[cd].py", False),
        ("src/[a-c].py", "src/b.py", True),
        ("lib/*/index.js", "lib/*/*/index.js", False),  # one directory level against two
        ("lib/*/index.js", "lib/**/index.js", True),
    ],
)
def test_glob_against_glob(a: str, b: str, expected: bool) -> None:
    assert overlap(a, b) is expected
    assert overlap(b, a) is expected


def test_segment_overlap_with_stars_on_both_sides() -> None:
    assert segment_overlap("a*", "*b")  # "ab"
    assert not segment_overlap("a*", "b*")
    assert segment_overlap("*.test.ts", "auth*")


def test_bad_glob_is_empty_for_good_ones() -> None:
    assert [bad_glob(p) for p in ("src/**", "a/[!x]y", "*.md", "src/")] == ["", "", "", ""]


def test_a_directory_stands_for_everything_below_it(tmp_path: Path) -> None:
    (tmp_path / "src" / "auth").mkdir(parents=True)
    plan = plan_of(
        "[[tasks]]\nid='a'\nprompt='x'\nfiles=['src/auth']\n"
        "[[tasks]]\nid='b'\nprompt='y'\nfiles=['src/auth/login.ts']\n"
    )
    [conflict] = conflicts_of(plan, str(tmp_path))
    assert (conflict.first, conflict.then, conflict.patterns) == (
        "a",
        "b",
        ("src/auth", "src/auth/login.ts"),
    )


# --- waves ----------------------------------------------------------------------------------

FIVE = """
max_concurrent = 3
[[tasks]]
id = "users"
prompt = "users"
files = ["src/users.py"]
[[tasks]]
id = "auth"
prompt = "auth"
files = ["src/auth/**"]
[[tasks]]
id = "login"
prompt = "login"
files = ["src/auth/login.py"]
[[tasks]]
id = "tests"
prompt = "tests"
type = "test"
files = ["tests/**"]
depends_on = ["users", "auth"]
[[tasks]]
id = "readme"
prompt = "readme"
type = "docs"
files = ["README.md"]
"""


def test_waves_keep_dependencies_and_serialise_conflicts(tmp_path: Path) -> None:
    result = analyse(plan_of(FIVE), str(tmp_path))
    assert result.waves == [["users", "auth", "readme"], ["login", "tests"]]
    [conflict] = result.conflicts
    assert (conflict.first, conflict.then, conflict.patterns) == (
        "auth",
        "login",
        ("src/auth/**", "src/auth/login.py"),
    )
    assert (result.can_parallel, result.reason) == (False, "some tasks depend on others")


def test_a_dependency_decides_which_of_a_conflicting_pair_goes_first(tmp_path: Path) -> None:
    plan = plan_of(
        "[[tasks]]\nid='late'\nprompt='x'\nfiles=['a.py']\ndepends_on=['early']\n"
        "[[tasks]]\nid='early'\nprompt='y'\nfiles=['a.py']\n"
    )
    [conflict] = analyse(plan, str(tmp_path)).conflicts
    assert (conflict.first, conflict.then) == ("early", "late")


def test_the_verdict_for_independent_conflicting_and_sequential_plans(tmp_path: Path) -> None:
    independent = plan_of(
        "[[tasks]]\nid='a'\nprompt='x'\nfiles=['a']\n[[tasks]]\nid='b'\nprompt='y'\nfiles=['b']\n"
    )
    assert analyse(independent, str(tmp_path)).can_parallel is True
    clashing = plan_of(
        "[[tasks]]\nid='a'\nprompt='x'\nfiles=['src/*.ts']\n"
        "[[tasks]]\nid='b'\nprompt='y'\nfiles=['src/auth.ts']\n"
    )
    verdict = analyse(clashing, str(tmp_path))
    assert (verdict.can_parallel, verdict.reason, verdict.waves) == (
        False,
        "file conflicts were found (1)",
        [["a"], ["b"]],
    )
    in_order = plan_of(
        "strategy='sequential'\n[[tasks]]\nid='a'\nprompt='x'\n[[tasks]]\nid='b'\nprompt='y'\n"
    )
    assert analyse(in_order, str(tmp_path)).waves == [["a"], ["b"]]


def test_every_problem_is_reported_at_once() -> None:
    """A string where a list of files belongs was taken as one file, and the graph's problems
    came only after every task's were fixed (issue 16, defect 13)."""
    text = (
        "[[tasks]]\nid='a'\nprompt='x'\nfiles='src/**'\n"
        "[[tasks]]\nid='b'\nprompt='y'\ndepends_on=['nosuch']\ntype='dance'\n"
    )
    found = errors(text)
    assert "task 'a': key 'files': expected a list of strings, e.g. ['src/**']" in found
    assert any(p.startswith("task 'b': key 'type': 'dance' is not one of") for p in found)
    assert "task 'b': key 'depends_on': unknown task 'nosuch'" in found


def test_a_plan_that_is_not_utf8_is_named() -> None:
    assert errors(b"\xff[[tasks]]".decode("latin-1")) != []
    with pytest.raises(PlanError, match="not UTF-8 text"):
        parse(b"[[tasks]]\nid='a'\nprompt='\xff'\n", "plan.toml", 3, PROVIDERS)

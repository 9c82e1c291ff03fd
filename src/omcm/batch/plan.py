"""Batch plans: a task graph read from TOML or JSON, checked, and analysed before it runs.

A plan holds tasks (id, prompt, type, the files it may write, what it depends
on, its agent and provider) and how to run them (``max_concurrent``,
``strategy``, ``on_failure``, ``isolation``). :func:`load` reads and validates
it: every error names the task and the key (a duplicate id, an unknown
dependency, a dependency cycle with its path, an unknown provider or type, a bad
glob), and an invalid plan runs nothing. :func:`analyse` says what can run
together (waves), which tasks' files can overlap (glob against glob, ``**``
included) and which of such a pair goes first, and the seed's ``canParallel``
verdict.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from omcm.core.errors import OmcmError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, TypeVar

    T = TypeVar("T")

TYPES: dict[str, str] = {
    # type -> the agent it routes as (its tier and sandbox come from the agent table)
    "analysis": "researcher",
    "implementation": "executor",
    "test": "qa-tester",
    "review": "code-reviewer-low",
    "refactoring": "executor",
    "docs": "writer",
}
STRATEGIES = ("parallel", "sequential", "hybrid")
ON_FAILURE = ("skip-dependents", "stop", "continue")
ISOLATION = ("", "none", "worktree")
TOP_KEYS = {"max_concurrent", "strategy", "on_failure", "isolation", "tasks"}
TASK_KEYS = {
    "id",
    "prompt",
    "description",
    "type",
    "files",
    "depends_on",
    "dependsOn",
    "agent",
    "provider",
    "timeout",
    "isolation",
}


class PlanError(OmcmError):
    """The plan is not valid; ``problems`` lists each one."""

    def __init__(self, where: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{where}: " + "; ".join(problems))


@dataclass
class Task:
    id: str
    prompt: str
    type: str = "implementation"
    files: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    agent: str = ""
    provider: str = "auto"
    timeout: int = 0
    isolation: str = ""

    @property
    def writes(self) -> bool:
        return bool(self.files)


@dataclass
class Plan:
    tasks: list[Task]
    max_concurrent: int
    strategy: str = "hybrid"
    on_failure: str = "skip-dependents"
    isolation: str = ""
    source: str = ""

    def task(self, task_id: str) -> Task:
        return next(t for t in self.tasks if t.id == task_id)

    def isolated(self, task: Task) -> bool:
        return task.writes and (task.isolation or self.isolation) == "worktree"


# --- reading ------------------------------------------------------------------------------


def load(path: str, default_concurrency: int, providers: tuple[str, ...]) -> Plan:
    """Read and validate the plan at ``path`` (``.toml`` or ``.json``)."""
    from omcm.core.userfile import read_bytes

    return parse(read_bytes(path, "the plan"), path, default_concurrency, providers)


def parse(raw: bytes, where: str, default_concurrency: int, providers: tuple[str, ...]) -> Plan:
    """The plan in ``raw``, checked; :class:`PlanError` lists every problem at once (the
    tasks', and the graph's of the tasks that could be read)."""
    data = _decode(raw, where)
    problems: list[str] = []
    plan = _plan(data, default_concurrency, providers, problems)
    problems += _graph_problems(plan)
    if problems:
        raise PlanError(where, problems)
    plan.source = where
    return plan


def _decode(raw: bytes, where: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PlanError(where, [f"not UTF-8 text (byte offset {exc.start})"]) from None
    if where.endswith(".json") or text.lstrip().startswith("{"):
        import json

        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PlanError(where, [f"not valid JSON ({exc})"]) from exc
    else:
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PlanError(where, [f"not valid TOML ({exc})"]) from exc
    if not isinstance(data, dict):
        raise PlanError(where, ["the plan must be a table (TOML) or an object (JSON)"])
    return data


def _plan(
    data: dict[str, Any], default_concurrency: int, providers: tuple[str, ...], problems: list[str]
) -> Plan:
    for key in sorted(set(data) - TOP_KEYS):
        problems.append(f"unknown key '{key}' (known: {', '.join(sorted(TOP_KEYS))})")
    concurrency = data.get("max_concurrent", default_concurrency)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 1:
        problems.append(
            f"key 'max_concurrent': expected a whole number of 1 or more, got {concurrency!r}"
        )
        concurrency = default_concurrency
    strategy = _choice(data, "strategy", STRATEGIES, "hybrid", who="", problems=problems)
    on_failure = _choice(
        data, "on_failure", ON_FAILURE, "skip-dependents", who="", problems=problems
    )
    isolation = _choice(data, "isolation", ISOLATION, "", who="", problems=problems)
    raw_tasks = data.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        problems.append("key 'tasks': expected a list of tasks ([[tasks]] in TOML)")
        raw_tasks = []
    tasks = [_task(raw, n, providers, problems) for n, raw in enumerate(raw_tasks, 1)]
    return Plan([t for t in tasks if t], concurrency, strategy, on_failure, isolation)


def _choice(
    data: dict[str, Any],
    key: str,
    choices: tuple[str, ...],
    default: str,
    *,
    who: str,
    problems: list[str],
) -> str:
    value = data.get(key, default)
    if value not in choices:
        shown = ", ".join(c for c in choices if c) or "(none)"
        problems.append(f"{who}key '{key}': {value!r} is not one of {shown}")
        return default
    return str(value)


def _task(raw: object, n: int, providers: tuple[str, ...], problems: list[str]) -> Task | None:
    if not isinstance(raw, dict):
        problems.append(f"task {n}: expected a table, got {type(raw).__name__}")
        return None
    task_id = raw.get("id")
    if not isinstance(task_id, str) or not task_id.strip():
        problems.append(f"task {n}: key 'id': required, a non-empty string")
        task_id = f"#{n}"
    who = f"task '{task_id}': "
    for key in sorted(set(raw) - TASK_KEYS):
        problems.append(f"{who}unknown key '{key}'")
    prompt = raw.get("prompt", raw.get("description"))
    if not isinstance(prompt, str) or not prompt.strip():
        problems.append(f"{who}key 'prompt': required (or 'description'), a non-empty string")
        prompt = ""
    kind = _choice(raw, "type", tuple(TYPES), "implementation", who=who, problems=problems)
    provider = raw.get("provider", "auto")
    if provider not in ("auto", "claude", *providers):
        problems.append(
            f"{who}key 'provider': unknown provider {provider!r} "
            f"(one of auto, claude, {', '.join(providers)})"
        )
    files = _strings(raw, "files", who, problems)
    for pattern in files:
        why = bad_glob(pattern)
        if why:
            problems.append(f"{who}key 'files': bad glob {pattern!r} ({why})")
    depends = _strings(raw, "depends_on", who, problems) + _strings(raw, "dependsOn", who, problems)
    timeout = raw.get("timeout", 0)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 0:
        problems.append(f"{who}key 'timeout': expected seconds (a whole number), got {timeout!r}")
        timeout = 0
    agent = raw.get("agent", "")
    if not isinstance(agent, str):
        problems.append(f"{who}key 'agent': expected a string, got {agent!r}")
        agent = ""
    isolation = _choice(raw, "isolation", ISOLATION, "", who=who, problems=problems)
    return Task(
        id=task_id,
        prompt=prompt,
        type=kind,
        files=files,
        depends_on=depends,
        agent=agent or TYPES[kind],
        provider=str(provider),
        timeout=timeout,
        isolation=isolation,
    )


def _strings(raw: dict[str, Any], key: str, who: str, problems: list[str]) -> list[str]:
    value = raw.get(key, [])
    if isinstance(value, str):
        problems.append(f"{who}key '{key}': expected a list of strings, e.g. [{value!r}]")
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{who}key '{key}': expected a list of strings")
        return []
    return list(value)


def _graph_problems(plan: Plan) -> list[str]:
    problems = []
    seen: set[str] = set()
    for task in plan.tasks:
        if task.id in seen:
            problems.append(f"task '{task.id}': key 'id': duplicate id")
        seen.add(task.id)
    for task in plan.tasks:
        for dep in task.depends_on:
            if dep not in seen:
                problems.append(f"task '{task.id}': key 'depends_on': unknown task {dep!r}")
            elif dep == task.id:
                problems.append(
                    f"task '{task.id}': key 'depends_on': a task cannot depend on itself"
                )
    if problems:
        return problems  # a cycle is only looked for in a graph whose edges are all known
    cycle = find_cycle(plan)
    if cycle:
        problems.append(
            f"task '{cycle[0]}': key 'depends_on': dependency cycle {' -> '.join(cycle)}"
        )
    return problems


def find_cycle(plan: Plan) -> list[str]:
    """A dependency cycle as ``[a, b, …, a]`` (each depends on the next), or []."""
    edges = {t.id: t.depends_on for t in plan.tasks}
    color: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        color[node] = 1
        stack.append(node)
        for nxt in edges.get(node, []):
            if color.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in color:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        color[node] = 2
        return []

    for task in plan.tasks:
        if task.id not in color:
            found = visit(task.id)
            if found:
                return found
    return []


# --- globs -----------------------------------------------------------------------------------


def bad_glob(pattern: str) -> str:
    """Why ``pattern`` is not a usable project-relative glob, or ""."""
    if not pattern.strip():
        return "empty"
    if os.path.isabs(pattern) or pattern.startswith("~"):
        return "must be relative to the project"
    parts = pattern.replace("\\", "/").split("/")
    if ".." in parts:
        return "must stay inside the project (no '..')"
    for part in parts:
        if "**" in part and part != "**":
            return "'**' must be a whole path segment"
        try:
            _tokens(part)
        except ValueError as exc:
            return str(exc)
    return ""


def _segments(pattern: str) -> list[str]:
    """A pattern as path segments; a directory (``src/`` or an existing dir) means all below."""
    clean = pattern.replace("\\", "/").strip("/")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if pattern.endswith("/"):
        parts.append("**")
    return parts


def expand_dirs(pattern: str, project: str) -> str:
    """``src/auth`` naming an existing directory of the project stands for ``src/auth/**``."""
    if not any(c in pattern for c in "*?[") and os.path.isdir(os.path.join(project, pattern)):
        return pattern.rstrip("/") + "/**"
    return pattern


def overlap(a: str, b: str) -> bool:
    """Whether some path could match both globs (``*``, ``?``, ``[…]``, ``**`` segments)."""
    return _meet(_segments(a), _segments(b), lambda s: s == "**", segment_overlap)


def _meet(
    left: Sequence[T], right: Sequence[T], star: Callable[[T], bool], meets: Callable[[T, T], bool]
) -> bool:
    """Whether some sequence matches both patterns: items match one item where ``meets``
    says a pair can, a ``star`` item matches any run of items (none too)."""
    memo: dict[tuple[int, int], bool] = {}

    def go(i: int, j: int) -> bool:
        key = (i, j)
        if key in memo:
            return memo[key]
        if i == len(left) and j == len(right):
            found = True
        elif i < len(left) and star(left[i]):
            found = go(i + 1, j) or (j < len(right) and go(i, j + 1))
        elif j < len(right) and star(right[j]):
            found = go(i, j + 1) or (i < len(left) and go(i + 1, j))
        elif i == len(left) or j == len(right):
            found = False
        else:
            found = meets(left[i], right[j]) and go(i + 1, j + 1)
        memo[key] = found
        return found

    return go(0, 0)


def _tokens(segment: str) -> list[tuple[str, str]]:
    """One path segment as tokens: ("*", ""), ("?", ""), ("set", chars) or ("lit", char)."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(segment):
        ch = segment[i]
        if ch == "*":
            if not tokens or tokens[-1][0] != "*":
                tokens.append(("*", ""))
        elif ch == "?":
            tokens.append(("?", ""))
        elif ch == "[":
            end = segment.find("]", i + 2 if segment[i + 1 : i + 2] in ("!", "^", "]") else i + 1)
            if end < 0:
                raise ValueError("unclosed '['")
            tokens.append(("set", segment[i + 1 : end]))
            i = end
        else:
            tokens.append(("lit", ch))
        i += 1
    return tokens


_ALPHABET = [chr(c) for c in range(32, 127)] + ["é", "\u4e00"]


def _chars(token: tuple[str, str]) -> set[str]:
    """The characters a single-character token matches (within a printable alphabet)."""
    kind, value = token
    if kind == "lit":
        return {value}
    if kind == "?":
        return set(_ALPHABET) - {"/"}
    import fnmatch

    return {c for c in _ALPHABET if c != "/" and fnmatch.fnmatchcase(c, f"[{value}]")}


def segment_overlap(a: str, b: str) -> bool:
    """Whether some file name matches both segment patterns."""
    return _meet(
        _tokens(a), _tokens(b), lambda t: t[0] == "*", lambda x, y: bool(_chars(x) & _chars(y))
    )


# --- analysis --------------------------------------------------------------------------------


@dataclass
class Conflict:
    first: str  # the task that goes first
    then: str  # the task serialised after it
    patterns: tuple[str, str]  # the overlapping pair: one of each task's files


@dataclass
class Analysis:
    waves: list[list[str]]
    conflicts: list[Conflict]
    can_parallel: bool
    reason: str


def conflicts_of(plan: Plan, project: str) -> list[Conflict]:
    """Every pair of tasks whose files can overlap, and which goes first: the one the other
    depends on (directly or not), else the one earlier in the plan."""
    found = []
    tasks = plan.tasks
    below = _ancestors(plan)
    for n, first in enumerate(tasks):
        for then in tasks[n + 1 :]:
            pair = _overlapping(first, then, project)
            if pair is None:
                continue
            if first.id in below[then.id] or then.id not in below[first.id]:
                found.append(Conflict(first.id, then.id, pair))
            else:
                found.append(Conflict(then.id, first.id, (pair[1], pair[0])))
    return found


def _ancestors(plan: Plan) -> dict[str, set[str]]:
    """Per task, every task it depends on, directly or not."""
    direct = {t.id: set(t.depends_on) for t in plan.tasks}
    found: dict[str, set[str]] = {}

    def of(task_id: str) -> set[str]:
        if task_id not in found:
            found[task_id] = set()
            for dep in direct.get(task_id, set()):
                found[task_id] |= {dep} | of(dep)
        return found[task_id]

    for task in plan.tasks:
        of(task.id)
    return found


def _overlapping(a: Task, b: Task, project: str) -> tuple[str, str] | None:
    for x in a.files:
        for y in b.files:
            if overlap(expand_dirs(x, project), expand_dirs(y, project)):
                return x, y
    return None


def analyse(plan: Plan, project: str) -> Analysis:
    """Waves (what can run together), file conflicts, and whether all can run at once."""
    conflicts = conflicts_of(plan, project)
    after: dict[str, set[str]] = {t.id: set(t.depends_on) for t in plan.tasks}
    if plan.strategy != "parallel":
        for conflict in conflicts:
            after[conflict.then].add(conflict.first)
    if plan.strategy == "sequential":
        for earlier, later in zip(plan.tasks, plan.tasks[1:], strict=False):
            after[later.id].add(earlier.id)
    wave_of: dict[str, int] = {}
    for task_id in _topological(plan, after):
        wave_of[task_id] = 1 + max((wave_of[d] for d in after[task_id]), default=-1)
    waves: list[list[str]] = [[] for _ in range(max(wave_of.values(), default=-1) + 1)]
    for task in plan.tasks:
        waves[wave_of[task.id]].append(task.id)
    has_deps = any(t.depends_on for t in plan.tasks)
    if plan.strategy == "sequential":
        verdict, reason = False, "the strategy is sequential"
    elif has_deps:
        verdict, reason = False, "some tasks depend on others"
    elif conflicts and plan.strategy != "parallel":
        verdict, reason = False, f"file conflicts were found ({len(conflicts)})"
    else:
        verdict = True
        reason = f"all {len(plan.tasks)} tasks are independent and write disjoint files"
        if conflicts:
            reason = "the strategy is parallel (file conflicts are not serialised)"
    return Analysis(waves, conflicts, verdict, reason)


def _topological(plan: Plan, after: dict[str, set[str]]) -> list[str]:
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(plan.tasks):
        for task in plan.tasks:
            if task.id not in placed and after[task.id] <= placed:
                order.append(task.id)
                placed.add(task.id)
                break
        else:  # pragma: no cover - cycles are refused when the plan is read
            raise PlanError(plan.source, ["dependency cycle"])
    return order


def read(source: str) -> tuple[bytes, str]:
    """A plan's bytes and the name to show for it: from a file, or stdin for ``-``."""
    from omcm.core.userfile import read_bytes

    if source == "-":
        return sys.stdin.buffer.read(), "plan from stdin"
    return read_bytes(source, "the plan"), source

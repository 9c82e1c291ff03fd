"""hulw's parallel executor: run a plan's task graph across providers.

A batch is a job (``kind = "batch"``) whose tasks are jobs (``source =
"batch"``, each with the batch's id), so ``omcm jobs``, ``omcm cancel`` and the
routing log see every one of them. :func:`run` schedules the tasks: at most
``max_concurrent`` at once, a task only when all its dependencies succeeded, and
never two tasks whose files can overlap at the same time (unless each runs in
its own git worktree). Each task is routed by the engine as hulw would route it
(its agent or type gives the tier and the provider chain, with the usual
fallbacks); a task whose route ends on Claude is not run but reported as left for
Claude, with its prompt. With ``isolation = "worktree"`` a write task runs in a
worktree of the project made from the state of the project when the batch
started, and its change comes back as a patch: applied when it applies cleanly,
otherwise kept under the batch and reported, never half-applied.

The summary (per task: status, provider/model, time, tokens, files changed,
output) is printed as a table and saved as ``summary.json`` next to the batch.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

from omcm.batch import plan
from omcm.core import fastjson, paths, proc, state
from omcm.core.errors import OmcmError
from omcm.jobs import store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from omcm.calls.call import RoutedCall, Source
    from omcm.config import Config
    from omcm.routing.engine import Decision

#: How often the executor looks at its running tasks.
POLL = 0.1
ENDED = {"done", "failed", "cancelled", "timed-out", "skipped", "left-for-claude", "not-started"}
#: Endings that leave a task undone (left-for-Claude tasks are Claude's to do: not a failure).
UNDONE = {"failed", "cancelled", "timed-out", "skipped", "not-started"}


@dataclass
class TaskResult:
    id: str
    status: str = "pending"  # pending, running, then one of ENDED
    reason: str = ""
    agent: str = ""
    provider: str = ""
    model: str = ""
    job_id: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    tokens: dict[str, int] = field(default_factory=dict)
    files_changed: list[str] = field(default_factory=list)
    output_path: str = ""
    patch: str = ""
    patch_applied: bool | None = None
    prompt: str = ""  # kept for tasks left for Claude

    @property
    def duration(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.ended_at or time.time()) - self.started_at


@dataclass
class Progress:
    """What :func:`run` reports as it goes (for the live display)."""

    total: int
    results: list[TaskResult]

    @property
    def finished(self) -> int:
        return sum(r.status in ENDED for r in self.results)

    @property
    def running(self) -> list[TaskResult]:
        return [r for r in self.results if r.status == "running"]


# --- routing ---------------------------------------------------------------------------------


def route(task: plan.Task, config: Config, batch: Source) -> RoutedCall:
    """The task as a routed call: on its provider if it names one, else routed as hulw
    routes its agent. ``batch`` says where the batch came from."""
    from omcm.calls import pipeline
    from omcm.calls.call import Source, Task
    from omcm.routing import engine

    def rule(call: engine.Call, conf: Config, st: engine.EngineState) -> Decision:
        if task.provider not in ("auto", "claude"):
            return engine.direct(call, conf, st, provider=task.provider)
        if task.provider == "claude":
            return engine.decide(call, _pinned_claude(conf, task.agent), st)
        st.mode, st.mode_fusion = "hulw", True  # a batch is hulw's executor
        return engine.decide(call, conf, st)

    source = Source(
        door="batch",
        session_id=batch.session_id,
        tool_use_id=f"{batch.batch_id}:{task.id}",
        tool_name="omcm batch",
        cwd=batch.cwd,
        batch_id=batch.batch_id,
    )
    return pipeline.decide(
        source, Task(prompt=task.prompt, description=task.id, agent=task.agent), config, rule
    )


def _pinned_claude(config: Config, agent: str) -> Config:
    pinned = type(config).parse(config.dump(), "config")
    pinned.routing.prefer_claude = [*pinned.routing.prefer_claude, agent]
    return pinned


# --- running --------------------------------------------------------------------------------


def run(
    batch_id: str, config: Config, *, on_progress: Callable[[Progress], None] | None = None
) -> dict[str, Any]:
    """Run the batch job's plan to the end; its summary (also saved as ``summary.json``)."""
    record = store.load(batch_id, check=False)
    the_plan = _plan_of(batch_id, config)
    project = record.cwd
    results = [TaskResult(t.id, prompt=t.prompt) for t in the_plan.tasks]
    by_id = {r.id: r for r in results}
    analysis = plan.analyse(the_plan, project)
    started = time.time()
    worktrees = (
        _Worktrees(batch_id, project) if any(map(the_plan.isolated, the_plan.tasks)) else None
    )
    stopped = ""
    progress = Progress(len(results), results)
    saved: list[tuple[str, str]] = []

    def save() -> dict[str, Any]:
        """Keep the summary as it stands whenever a task's state changed: should this
        worker die, the batch's result still lists every task and how far it got."""
        now = [(r.status, r.job_id) for r in results]
        summary = _summary(record, the_plan, analysis, results, started)
        if now != saved:
            saved[:] = now
            state.atomic_write(summary_file(batch_id), fastjson.dumps(summary, pretty=True) + "\n")
        return summary

    try:
        save()
        while not all(r.status in ENDED for r in results):
            _collect(the_plan, by_id, worktrees)
            stopped = stopped or _stop_reason(batch_id, the_plan, results)
            for task in the_plan.tasks:
                result = by_id[task.id]
                if result.status != "pending":
                    continue
                why_not = stopped or _blocked(task, the_plan, by_id)
                if why_not:
                    _end(result, "not-started" if stopped else "skipped", why_not)
                elif _can_start(task, the_plan, by_id, project):
                    tree = worktrees if worktrees and the_plan.isolated(task) else None
                    _start(task, result, record, config, project=project, worktrees=tree)
            save()
            if on_progress:
                on_progress(progress)
            if not all(r.status in ENDED for r in results):
                time.sleep(POLL)
    finally:
        if worktrees:
            worktrees.close()
    saved.clear()
    summary = save()
    if on_progress:
        on_progress(progress)
    return summary


def partial_summary(batch_id: str) -> dict[str, Any] | None:
    """The summary of a batch that did not run to its end (its worker died, it was
    cancelled): each task as it last stood, a running one as its job ended since, one that
    never started as not started. None when the batch left no summary."""
    try:
        with open(summary_file(batch_id), "rb") as handle:
            summary: dict[str, Any] = fastjson.loads(handle.read())
    except (OSError, ValueError):
        return None
    for task in summary.get("tasks", []):
        if task.get("status") == "running" and task.get("job_id"):
            try:
                job = store.load(task["job_id"])
            except OmcmError:
                continue
            task["status"], task["reason"] = job.state, job.reason
            task["provider"], task["model"] = job.provider or task["provider"], job.model
            task["tokens"] = job.tokens.dump()
        elif task.get("status") == "pending":
            task["status"], task["reason"] = "not-started", "the batch ended before it started"
    counts: dict[str, int] = {}
    for task in summary.get("tasks", []):
        counts[task["status"]] = counts.get(task["status"], 0) + 1
    summary["counts"] = counts
    return summary


def _stop_reason(batch_id: str, the_plan: plan.Plan, results: list[TaskResult]) -> str:
    """Why no more tasks start (the batch was cancelled, or stops at a failure), or ""."""
    if store.load(batch_id, check=False).cancel_requested:
        _cancel_running(results)
        return "the batch was cancelled"
    if the_plan.on_failure == "stop":
        failed = [r for r in results if r.status in ("failed", "timed-out", "cancelled")]
        if failed:
            return f"the batch stopped after {failed[0].id} {failed[0].status}"
    return ""


def _plan_of(batch_id: str, config: Config) -> plan.Plan:
    from omcm.providers import REGISTERED

    source = os.path.join(store.job_dir(batch_id), "plan" + _plan_suffix(batch_id))
    return plan.load(source, config.routing.max_workers, REGISTERED)


def _plan_suffix(batch_id: str) -> str:
    folder = store.job_dir(batch_id)
    return ".json" if os.path.exists(os.path.join(folder, "plan.json")) else ".toml"


def _blocked(task: plan.Task, the_plan: plan.Plan, by_id: dict[str, TaskResult]) -> str:
    """Why the task will never start (a dependency did not succeed), or ""."""
    for dep in task.depends_on:
        result = by_id[dep]
        if result.status in ("pending", "running", "done"):
            continue
        if result.status == "left-for-claude":
            return f"depends on {dep}, which is left for Claude"
        if the_plan.on_failure == "continue":
            continue
        return f"depends on {dep}, which {result.status.replace('-', ' ')}"
    return ""


def _can_start(
    task: plan.Task, the_plan: plan.Plan, by_id: dict[str, TaskResult], project: str
) -> bool:
    if any(by_id[dep].status not in ENDED for dep in task.depends_on):
        return False
    running = [the_plan.task(r.id) for r in by_id.values() if r.status == "running"]
    if len(running) >= the_plan.max_concurrent:
        return False
    if the_plan.strategy == "sequential" and running:
        return False
    if the_plan.strategy == "parallel" or the_plan.isolated(task):
        return True
    return not any(
        other.writes and not the_plan.isolated(other) and plan._overlapping(task, other, project)
        for other in running
    )


def _start(
    task: plan.Task,
    result: TaskResult,
    batch: store.JobRecord,
    config: Config,
    *,
    project: str,
    worktrees: _Worktrees | None,
) -> None:
    from omcm.jobs import worker

    call = route(task, config, _source(batch))
    decision = call.decision
    result.agent = decision.agent
    if not decision.routed:
        why = decision.explain()
        if decision.skipped:
            why += " (" + "; ".join(f"{p}: {r}" for p, r in decision.skipped.items()) + ")"
        _end(result, "left-for-claude", why)
        return
    cwd = worktrees.add(task.id) if worktrees is not None else project
    call.source.cwd = cwd
    first_line = next((line for line in task.prompt.splitlines() if line.strip()), "")
    job = worker.start(
        call,
        title=f"{task.id}: {first_line.strip()}"[:120],
        timeout=task.timeout or config.jobs.timeout,
        reason=f"task {task.id} of batch {batch.id}",
        spawn_now=False,
    )
    result.job_id, result.status, result.started_at = job.id, "running", time.time()
    result.provider, result.model = decision.routes[0].provider, decision.routes[0].model
    _snapshot(result, task, cwd)
    worker.spawn(job.id)


def _source(batch: store.JobRecord) -> Source:
    """Where a batch's tasks come from: the batch job's own source."""
    from omcm.calls.call import Source

    return Source(door=batch.source, session_id=batch.session_id, cwd=batch.cwd, batch_id=batch.id)


def _collect(
    the_plan: plan.Plan, by_id: dict[str, TaskResult], worktrees: _Worktrees | None
) -> None:
    """Take in every running task whose job has ended."""
    for result in by_id.values():
        if result.status != "running":
            continue
        job = store.load(result.job_id)
        if not job.finished:
            continue
        task = the_plan.task(result.id)
        result.provider, result.model = job.provider or result.provider, job.model or result.model
        result.tokens = job.tokens.dump()
        if job.state == "done":
            result.output_path = store.output_file(job.id)
        _end(result, job.state, job.reason)
        if worktrees is not None and worktrees.has(task.id):
            _bring_back(result, worktrees, job.state == "done")
        else:
            result.files_changed = _changed(result, task, job.cwd)
        store.claim_delivery(job.id, "batch")  # its answer is in the batch's summary


def _end(result: TaskResult, status: str, reason: str) -> None:
    result.status, result.reason = status, reason
    result.ended_at = time.time()


def _cancel_running(results: list[TaskResult]) -> None:
    from omcm.jobs import worker

    for result in results:
        if result.status == "running":
            worker.cancel(result.job_id)


# --- files changed ------------------------------------------------------------------------

_SNAPSHOTS: dict[str, dict[str, tuple[float, int]]] = {}


def _matching(task: plan.Task, cwd: str) -> dict[str, tuple[float, int]]:
    import glob

    found: dict[str, tuple[float, int]] = {}
    for pattern in task.files:
        for path in glob.glob(plan.expand_dirs(pattern, cwd), root_dir=cwd, recursive=True):
            full = os.path.join(cwd, path)
            if os.path.isfile(full):
                st = os.stat(full)
                found[path] = (st.st_mtime, st.st_size)
    return found


def _snapshot(result: TaskResult, task: plan.Task, cwd: str) -> None:
    _SNAPSHOTS[result.job_id] = _matching(task, cwd) if task.writes else {}


def _changed(result: TaskResult, task: plan.Task, cwd: str) -> list[str]:
    """The task's files that appeared, changed or went away while it ran."""
    before = _SNAPSHOTS.pop(result.job_id, {})
    after = _matching(task, cwd) if task.writes else {}
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


# --- worktrees ----------------------------------------------------------------------------


class _Worktrees:
    """Git worktrees of the project for isolated tasks, made from the project as it was
    when the batch started (uncommitted changes to tracked files included)."""

    def __init__(self, batch_id: str, project: str) -> None:
        self.project = project
        self.folder = os.path.join(store.job_dir(batch_id), "worktrees")
        self.patches = os.path.join(store.job_dir(batch_id), "patches")
        self.made: dict[str, str] = {}
        snapshot = self._git("stash", "create").stdout.strip()
        self.base = snapshot or self._git("rev-parse", "HEAD").stdout.strip()
        if not self.base:
            raise plan.PlanError(
                project, ["isolation = 'worktree' needs a git repository with a commit"]
            )

    def _git(self, *args: str, cwd: str | None = None) -> proc.ProcResult:
        return proc.run(["git", "-C", cwd or self.project, *args], timeout=120)

    def add(self, task_id: str) -> str:
        path = os.path.join(self.folder, paths.safe_name(task_id, "task id"))
        os.makedirs(self.folder, exist_ok=True)
        done = self._git("worktree", "add", "--detach", path, self.base)
        if not done.ok:
            raise plan.PlanError(self.project, [f"git worktree add failed: {done.stderr.strip()}"])
        self.made[task_id] = path
        return path

    def has(self, task_id: str) -> bool:
        return task_id in self.made

    def patch(self, task_id: str) -> tuple[str, list[str]]:
        """The task's change as a patch file (its path, "" if none) and the files it touches."""
        tree = self.made[task_id]
        self._git("add", "-A", cwd=tree)
        diff = proc.run(["git", "-C", tree, "diff", "--cached", "--binary", self.base], timeout=120)
        names = self._git("diff", "--cached", "--name-only", self.base, cwd=tree).stdout.split()
        if not diff.stdout.strip():
            return "", []
        os.makedirs(self.patches, exist_ok=True)
        path = os.path.join(self.patches, f"{paths.safe_name(task_id, 'task id')}.patch")
        state.atomic_write(path, diff.stdout)
        return path, names

    def apply(self, patch: str) -> tuple[bool, str]:
        """Apply the patch to the project if it applies cleanly; (applied, why not)."""
        check = self._git("apply", "--check", patch)
        if not check.ok:
            return False, (check.stderr.strip().splitlines() or ["does not apply"])[0]
        done = self._git("apply", patch)
        return done.ok, done.stderr.strip()

    def close(self) -> None:
        for path in self.made.values():
            self._git("worktree", "remove", "--force", path)
        self._git("worktree", "prune")


def _bring_back(result: TaskResult, worktrees: _Worktrees, succeeded: bool) -> None:
    if not succeeded:
        return
    patch, names = worktrees.patch(result.id)
    result.files_changed, result.patch = names, patch
    if not patch:
        return
    applied, why = worktrees.apply(patch)
    result.patch_applied = applied
    if not applied:
        result.reason = f"its patch does not apply to the project ({why}); kept at {patch}"


# --- the summary -----------------------------------------------------------------------------


def summary_file(batch_id: str) -> str:
    return os.path.join(store.job_dir(batch_id), "summary.json")


def _summary(
    batch: store.JobRecord,
    the_plan: plan.Plan,
    analysis: plan.Analysis,
    results: list[TaskResult],
    started: float,
) -> dict[str, Any]:
    ended = time.time()
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    return {
        "batch": batch.id,
        "plan": the_plan.source,
        "project": batch.cwd,
        "started_at": started,
        "ended_at": ended,
        "duration": round(ended - started, 3),
        "max_concurrent": the_plan.max_concurrent,
        "strategy": the_plan.strategy,
        "on_failure": the_plan.on_failure,
        "counts": counts,
        "waves": analysis.waves,
        "tasks": [
            {k: v for k, v in asdict(r).items() if k != "prompt"}
            | {"duration": round(r.duration, 3)}
            for r in results
        ],
        "left_for_claude": [
            {"id": r.id, "reason": r.reason, "prompt": r.prompt}
            for r in results
            if r.status == "left-for-claude"
        ],
    }


def render(summary: dict[str, Any]) -> str:
    """The summary as a table, then the tasks left for Claude with their prompts."""
    from omcm.core.humanize import abbreviate, duration, plural

    counts = ", ".join(f"{n} {status}" for status, n in summary["counts"].items())
    lines = [
        f"batch {summary['batch']}: {plural(len(summary['tasks']), 'task')} in "
        f"{duration(summary['duration'])} ({counts}); summary: {summary_file(summary['batch'])}",
        f"{'TASK':<16} {'STATUS':<15} {'PROVIDER/MODEL':<26} {'TIME':>6} {'TOKENS':>13}  "
        "FILES / WHY",
    ]
    for task in summary["tasks"]:
        route = f"{task['provider']}/{task['model']}" if task["provider"] else "-"
        tokens = task["tokens"]
        shown = f"{abbreviate(tokens.get('input', 0))}↓ {abbreviate(tokens.get('output', 0))}↑"
        detail = ", ".join(task["files_changed"]) or task["reason"]
        if task["status"] != "done" or task["patch_applied"] is False:
            detail = task["reason"]
        lines.append(
            f"{task['id'][:16]:<16} {task['status']:<15} {route[:26]:<26} "
            f"{duration(task['duration']):>6} {shown if tokens else '-':>13}  {detail}"
        )
    for left in summary["left_for_claude"]:
        lines.append(
            f"\nLeft for Claude: {left['id']} ({left['reason']}). Its prompt:\n{left['prompt']}"
        )
    return "\n".join(lines)

"""The handoff context: what another CLI needs to know to carry on Claude's work.

Built from real sources: the session transcript (the user's last prompt, the
todo list from TodoWrite / task-list tool calls, files touched by Edit / Write
tool calls), ``git status``, and ``.omcm/notes/decisions.md``. Written as
``<project>/.omcm/handoff/context.md`` with a ``context.json`` twin, secrets
masked. Transcripts can be huge, so they are read from the end, in bounded
chunks, and only lines that can matter are decoded.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field

from omcm.core import paths, proc, sessions
from omcm.core.errors import OmcmError
from omcm.core.masking import mask
from omcm.core.state import atomic_write
from omcm.core.tail import lines_from_end

TYPE_CHECKING = False
if TYPE_CHECKING:
    from omcm.config.schema import ContextConfig
    from omcm.routing.usage import ProviderLimits

MAX_SCAN = 8 * 1024 * 1024  # never read more than this of a transcript
EDIT_TOOLS = {
    "Edit": "file_path",
    "Write": "file_path",
    "MultiEdit": "file_path",
    "NotebookEdit": "notebook_path",
}
# Only lines holding one of these can matter; everything else is never decoded.
_USER, _TOOL_USE, _TOOL_RESULT = b'"user"', b'"tool_use"', b'"tool_result"'
_TODO_TOOLS = (b'"TodoWrite"', b'"TaskCreate"', b'"TaskUpdate"')
_EDIT_TOOLS = tuple(f'"{name}"'.encode() for name in EDIT_TOOLS)


@dataclass
class Todo:
    content: str
    status: str = "pending"


@dataclass
class TranscriptFacts:
    last_prompt: str = ""
    todos: list[Todo] | None = None  # None: no todo list in the part read
    files: list[str] = field(default_factory=list)  # most recent first


@dataclass
class HandoffContext:
    project: str
    created_at: str
    session_id: str
    target: str
    usage: str
    task: str
    last_prompt: str
    todos: list[Todo]
    recent_files: list[str]
    decisions: list[str]

    def markdown(self, limit: int) -> str:
        lines = [
            "# Task handoff context",
            "",
            f"> Handed over from Claude Code to {self.target} by OMCM",
            f"> Created: {self.created_at}",
            "",
            "---",
            "",
            "## Session",
            "| Item | Value |",
            "|------|-------|",
            f"| Project path | `{self.project}` |",
            f"| Time | {self.created_at} |",
            f"| Claude usage | {self.usage} |",
            f"| Session | `{self.session_id}` |",
            "",
            "## Current task",
            self.task or "(no description)",
            "",
        ]
        if self.last_prompt:
            quoted = "\n".join(f"> {line}" for line in self.last_prompt.splitlines()[:40])
            lines += ["The user's last request:", quoted, ""]
        open_todos = [t for t in self.todos if t.status != "completed"]
        if open_todos:
            marks = {"in_progress": "[~]", "pending": "[ ]"}
            lines += [
                "## Open todos",
                *[f"- {marks.get(t.status, '[ ]')} {t.content}" for t in open_todos],
                "",
            ]
        if self.recent_files:
            lines += ["## Recently modified files", *[f"- {f}" for f in self.recent_files], ""]
        if self.decisions:
            lines += ["## Decisions", *[f"{i}. {d}" for i, d in enumerate(self.decisions, 1)], ""]
        return _cap("\n".join(lines), limit)


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    note = "\n\n[… handoff context cut at context.max_context_length]\n"
    return text[: max(0, limit - len(note))] + note


def read_transcript(path: str, want_files: int = 10) -> TranscriptFacts:
    """Scan a Claude Code transcript from its end for the facts a handoff needs."""
    facts = TranscriptFacts()
    if not path:
        return facts
    seen_files: dict[str, None] = {}
    tasks = _TaskList()
    try:
        for raw in lines_from_end(path, (_USER, _TOOL_USE), MAX_SCAN):
            if not _wanted(raw, facts, len(seen_files) < want_files):
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(entry, dict) or entry.get("isSidechain"):
                continue
            _take(entry, facts, seen_files, tasks)
            done_files = len(seen_files) >= want_files
            if facts.last_prompt and facts.todos is not None and done_files:
                break
    except OSError:
        return facts
    if facts.todos is None and tasks.used:
        facts.todos = tasks.todos()
    facts.files = list(seen_files)[:want_files]
    return facts


class _TaskList:
    """The task list of Claude Code's task tools, rebuilt from a transcript read backwards.

    Claude Code 2.1.197 offers ``TaskCreate`` / ``TaskUpdate`` instead of
    ``TodoWrite``: one call creates or changes one task, so the whole list takes
    every call (the latest status of a task is the first update seen). A task's id
    comes from its creation's result (``toolUseResult.task.id``, or the text
    ``Task #N created``).
    """

    def __init__(self) -> None:
        self.used = False
        self.ids: dict[str, str] = {}  # TaskCreate tool_use_id -> task id
        self.status: dict[str, str] = {}  # task id -> latest status
        self.subject: dict[str, str] = {}  # task id -> latest subject
        self.created: list[tuple[str, str]] = []  # (task id, subject), newest first
        self.failed: set[str] = set()  # calls that failed (2.1.332: "No such tool available")

    def result(self, content: object, extra: object) -> None:
        """Note the task id a TaskCreate result names."""
        task = extra.get("task") if isinstance(extra, dict) else None
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            use_id, text = str(block.get("tool_use_id", "")), str(block.get("content", ""))
            if block.get("is_error"):
                self.failed.add(use_id)
            elif isinstance(task, dict) and task.get("id") is not None:
                self.ids[use_id] = str(task["id"])
            elif text.startswith("Task #") and " created" in text:
                self.ids[use_id] = text[len("Task #") :].split(" ", 1)[0]

    def call(self, name: str, use_id: str, data: dict[str, object]) -> None:
        if use_id in self.failed:
            return
        self.used = True
        if name == "TaskCreate" and data.get("subject"):
            self.created.append((self.ids.get(use_id, f"?{use_id}"), str(data["subject"])))
            return
        task = str(data.get("taskId", ""))
        if isinstance(data.get("status"), str):
            self.status.setdefault(task, str(data["status"]))
        if isinstance(data.get("subject"), str):
            self.subject.setdefault(task, str(data["subject"]))

    def todos(self) -> list[Todo]:
        return [
            Todo(self.subject.get(task, subject), self.status.get(task, "pending"))
            for task, subject in reversed(self.created)
            if self.status.get(task) != "deleted"
        ]


def _wanted(raw: bytes, facts: TranscriptFacts, need_files: bool) -> bool:
    """Whether a line can hold a fact still missing (cheap byte tests, no decoding)."""
    if _TOOL_USE in raw:
        todos = facts.todos is None and any(tool in raw for tool in _TODO_TOOLS)
        return todos or (need_files and any(tool in raw for tool in _EDIT_TOOLS))
    if _TOOL_RESULT in raw:  # only a TaskCreate result (the task's id) or a failed call
        return facts.todos is None and (b"Task #" in raw or b"tool_use_error" in raw)
    return not facts.last_prompt


def _take(
    entry: dict[str, object], facts: TranscriptFacts, files: dict[str, None], tasks: _TaskList
) -> None:
    message = entry.get("message")
    if not isinstance(message, dict):
        return
    content = message.get("content")
    if entry.get("type") == "user" and facts.todos is None:
        tasks.result(content, entry.get("toolUseResult"))
    if entry.get("type") == "user" and not facts.last_prompt and not entry.get("isMeta"):
        text = _user_text(content)
        if text and not text.lstrip().startswith(("<command-", "<local-command")):
            facts.last_prompt = text
        return
    if entry.get("type") != "assistant" or not isinstance(content, list):
        return
    for block in reversed(content):
        if not isinstance(block, dict) or block.get("type") != "tool_use":
            continue
        name, data = block.get("name"), block.get("input")
        if not isinstance(data, dict) or not isinstance(name, str):
            continue
        if name in EDIT_TOOLS:
            target = data.get(EDIT_TOOLS[name])
            if isinstance(target, str) and target:
                files.setdefault(target, None)
        elif facts.todos is None:
            _take_todos(name, str(block.get("id", "")), data, facts, tasks)


def _take_todos(
    name: str, use_id: str, data: dict[str, object], facts: TranscriptFacts, tasks: _TaskList
) -> None:
    """A todo-list tool call: TodoWrite holds the whole list, a task tool one change of it."""
    todos = data.get("todos")
    if use_id in tasks.failed:
        return
    if name == "TodoWrite" and not tasks.used and isinstance(todos, list):
        facts.todos = [
            Todo(str(t.get("content", "")), str(t.get("status", "pending")))
            for t in todos
            if isinstance(t, dict)
        ]
    elif name in ("TaskCreate", "TaskUpdate"):
        tasks.call(name, use_id, data)


def _user_text(content: object) -> str:
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        texts = [
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        ]
        return "\n".join(t for t in texts if isinstance(t, str)).strip()
    return ""


def git_changed_files(project: str, limit: int) -> list[str]:
    """Files ``git status`` reports as changed, newest first."""
    result = proc.run(
        ["git", "status", "--porcelain", "-z", "--untracked-files=normal"], cwd=project, timeout=10
    )
    if not result.ok:
        return []
    names = [entry[3:] for entry in result.stdout.split("\0") if len(entry) > 3]

    def mtime(name: str) -> float:
        try:
            return os.path.getmtime(os.path.join(project, name))
        except OSError:
            return 0.0

    return sorted(names, key=mtime, reverse=True)[:limit]


def read_decisions(project: str) -> list[str]:
    path = os.path.join(paths.project_dir(project), "notes", "decisions.md")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError):
        return []
    items = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        for prefix in ("- ", "* ", "+ "):
            if stripped.startswith(prefix):
                stripped = stripped[len(prefix) :]
        head, _, rest = stripped.partition(". ")
        items.append(rest if head.isdigit() and rest else stripped)
    return items


def _recorded_prompt(session_id: str) -> str:
    """The user's last prompt as the UserPromptSubmit hook recorded it.

    Preferred to the transcript's: Claude Code writes its transcript through a
    queue, so a subagent call made right after a prompt can find it not yet there.
    """
    try:
        return sessions.info(session_id).last_prompt
    except OmcmError:
        return ""  # no real session (e.g. `omcm handoff` run outside Claude Code)


def build(
    *,
    project: str,
    session_id: str,
    transcript_path: str,
    task: str,
    target: str,
    usage: str,
    settings: ContextConfig,
) -> HandoffContext:
    limit = settings.recent_files_limit if settings.include_recent_files else 0
    facts = read_transcript(transcript_path, want_files=limit)
    files: list[str] = []
    if settings.include_recent_files and limit:
        inside = project.rstrip(os.sep) + os.sep
        relative = [f[len(inside) :] if f.startswith(inside) else f for f in facts.files]
        changed = [f for f in git_changed_files(project, limit + 1) if not f.startswith(".omcm/")]
        files = list(dict.fromkeys([*relative, *changed]))[:limit]
    return HandoffContext(
        project=project,
        created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        session_id=session_id,
        target=target,
        usage=usage,
        task=mask(task),
        last_prompt=mask(_recorded_prompt(session_id) or facts.last_prompt),
        todos=[Todo(mask(t.content), t.status) for t in (facts.todos or [])]
        if settings.include_todos
        else [],
        recent_files=files,
        decisions=[mask(d) for d in read_decisions(project)] if settings.include_decisions else [],
    )


def write(context: HandoffContext, limit: int) -> tuple[str, str]:
    """Write ``context.md`` and ``context.json`` under ``<project>/.omcm/handoff``."""
    folder = os.path.join(paths.project_dir(context.project), "handoff")
    markdown = context.markdown(limit)
    md_path = os.path.join(folder, "context.md")
    atomic_write(md_path, markdown)
    ignore = os.path.join(folder, ".gitignore")
    if not os.path.exists(ignore):
        atomic_write(ignore, "# written by OMCM: handoff files are not part of the project\n*\n")
    data = asdict(context)
    atomic_write(
        os.path.join(folder, "context.json"), json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    )
    return md_path, markdown


def continue_commands(project: str) -> dict[str, str]:
    """Shell commands that carry on the handed-over work in OpenCode or Codex."""
    import shlex

    ask = (
        "Read .omcm/handoff/context.md and continue the work it describes, "
        "starting with the open todos."
    )
    where = shlex.quote(project)
    return {
        "opencode": f"cd {where} && opencode --prompt {shlex.quote(ask)}",
        "codex": f"cd {where} && codex {shlex.quote(ask)}",
    }


def usage_text(limits: ProviderLimits) -> str:
    """Claude's usage as the handoff context states it."""
    parts = []
    for label, window in (("5-hour", limits.five_hour), ("weekly", limits.seven_day)):
        pct = window.used_percentage
        parts.append(f"{label}: {'unknown' if pct is None else f'{pct:.0f}%'}")
    return ", ".join(parts)

"""Per-session bookkeeping under ``sessions/<session_id>/``: the one owner of ``session.json``
and of the call marks the delivery hook reads."""

from __future__ import annotations

import os
import time

from omcm.core import state
from omcm.core.state import StateRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    class Event(Protocol):
        """What :func:`record_event` needs of a hook's payload."""

        session_id: str
        hook_event_name: str
        cwd: str
        transcript_path: str


#: Characters of the user's last prompt kept for the handoff context.
PROMPT_KEPT = 4000


def record_event(
    payload: Event, source: str = "", take_notice: bool = False, prompt: str = ""
) -> SessionInfo:
    """Note in ``session.json`` that a hook for this session ran, and return the record.

    With ``take_notice``, a pending notice is handed over (in the returned record)
    and cleared in the file, so it is shown once.
    """
    now = time.time()
    notice = ""

    def mutate(info: SessionInfo) -> SessionInfo:
        nonlocal notice
        event = payload.hook_event_name
        info.events[event] = info.events.get(event, 0) + 1
        info.last_event, info.last_event_at = event, now
        if payload.cwd:
            info.cwd = payload.cwd
        if payload.transcript_path:
            info.transcript_path = payload.transcript_path
        if source:
            info.source = source
            info.started_at = info.started_at or now
        if prompt:
            info.last_prompt = prompt[:PROMPT_KEPT]
        notice = info.pending_notice
        if take_notice:
            info.pending_notice = ""
        return info

    info = state.update(_info_file(payload.session_id), SessionInfo, mutate)
    info.pending_notice = notice  # written cleared, handed over as it was
    return info


def info(session_id: str) -> SessionInfo:
    """What OMCM saw of the session (empty if no hook of it ran)."""
    return state.load(_info_file(session_id), SessionInfo)


def leave_notice(session_id: str, message: str, *, limit_told: bool = False) -> None:
    """Keep ``message`` for the session's next hook that can show it (once); ``limit_told``:
    it tells the user that Claude hit its limit."""

    def mutate(seen: SessionInfo) -> None:
        seen.pending_notice = message
        if limit_told:
            seen.limit_told_at = time.time()

    state.update(_info_file(session_id), SessionInfo, mutate)


def _info_file(session_id: str) -> str:
    return state.session_file(session_id, "session.json")


def call_mark_file(session_id: str, tool_use_id: str) -> str:
    from omcm.core import paths

    calls = os.path.join(_dir(session_id), "calls")
    return os.path.join(calls, paths.safe_name(tool_use_id, "tool_use_id"))


def mark_call(session_id: str, tool_use_id: str, job_id: str) -> None:
    """Record what PreToolUse made of a subagent call, for the delivery hook beside it:
    the background job it started, or "" (none)."""
    if not tool_use_id:
        return
    path = call_mark_file(session_id, tool_use_id)
    if job_id:
        state.atomic_write(path, job_id)  # a reader sees the whole id or no file
        return
    # "" (the common case, on every call that stays on Claude): an empty file says it
    # whole the moment it exists, so no temporary file and rename are needed.
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))


def read_call_mark(session_id: str, tool_use_id: str) -> str | None:
    """The mark :func:`mark_call` left ("" for no job), or None while there is none yet."""
    try:
        with open(call_mark_file(session_id, tool_use_id), encoding="utf-8") as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return None


def forget_call(session_id: str, tool_use_id: str) -> None:
    try:
        os.unlink(call_mark_file(session_id, tool_use_id))
    except FileNotFoundError:
        pass


def forget_calls(session_id: str) -> None:
    """Drop the session's call marks (the delivery hooks that read them have ended)."""
    import shutil

    shutil.rmtree(os.path.join(_dir(session_id), "calls"), ignore_errors=True)


def review_store(session_id: str) -> str:
    """The review gate's snapshots of the session's work tree (:mod:`omcm.review.gate`)."""
    return os.path.join(_dir(session_id), "review-store")


def forget_review_store(session_id: str) -> None:
    """Drop the review gate's snapshots (the session ended; the next prompt takes anew)."""
    store = review_store(session_id)
    if os.path.isdir(store):
        import shutil

        shutil.rmtree(store, ignore_errors=True)


def tool_call_file(tool_use_id: str) -> str:
    from omcm.core import paths

    name = paths.safe_name(tool_use_id, "tool_use_id")
    return os.path.join(paths.state_dir(), "tool-calls", f"{name}.json")


def note_tool_call(tool_use_id: str, session_id: str, transcript_path: str, cwd: str) -> None:
    """Keep which session made a tool call of OMCM's MCP server (its PreToolUse hook does):
    the server is told only the call's id (``_meta["claudecode/toolUseId"]``)."""
    from omcm.core import fastjson

    origin = {"session_id": session_id, "transcript_path": transcript_path, "cwd": cwd}
    state.atomic_write(tool_call_file(tool_use_id), fastjson.dumps(origin))


def take_tool_call(tool_use_id: str) -> dict[str, str] | None:
    """Who made the tool call :func:`note_tool_call` kept (and forget it); None if unknown."""
    from omcm.core import fastjson

    path = tool_call_file(tool_use_id)
    try:
        with open(path, "rb") as handle:
            found = fastjson.loads(handle.read())
        os.unlink(path)
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict):
        return None
    return {key: str(found.get(key) or "") for key in ("session_id", "transcript_path", "cwd")}


def relay_file(session_id: str, tool_use_id: str) -> str:
    from omcm.core import paths

    name = paths.safe_name(tool_use_id, "tool_use_id")
    return os.path.join(_dir(session_id), "relay", f"{name}.txt")


def keep_relay(session_id: str, tool_use_id: str, text: str) -> None:
    """Keep a routed call's answer for the PostToolUse hook that puts it in place of the
    relay agent's output (:mod:`omcm.hooks.relay`)."""
    state.atomic_write(relay_file(session_id, tool_use_id), text)


def take_relay(session_id: str, tool_use_id: str) -> str | None:
    """The answer :func:`keep_relay` kept for the call (and forget it); None if none."""
    path = relay_file(session_id, tool_use_id)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        os.unlink(path)
    except OSError:
        return None
    return text


def note_job(session_id: str) -> None:
    """A call of this session became a background job (the Stop hook then looks for them)."""
    state.atomic_write(os.path.join(_dir(session_id), "jobs-started"), "")


def started_jobs(session_id: str) -> bool:
    """Whether any call of this session became a background job (no job is read)."""
    return os.path.exists(os.path.join(_dir(session_id), "jobs-started"))


def _dir(session_id: str) -> str:
    from omcm.core import paths

    return paths.session_dir(session_id)


#: How far back :func:`claude_version` looks: 2.1.332 writes each API request's
#: shape and body into the transcript, tens of KB per line without a version.
VERSION_SCAN = 4 * 1024 * 1024


def claude_version(transcript_path: str) -> tuple[int, ...] | None:
    """The Claude Code version the session's transcript records (its entries carry it).

    Read backwards in 64 KB steps; the newest ``"version":"X.Y.Z"`` wins.
    """
    import re

    if not transcript_path:
        return None
    found = None
    try:
        with open(transcript_path, "rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            start, carry = end, b""
            while found is None and start > 0 and end - start < VERSION_SCAN:
                step = min(65536, start)
                start -= step
                handle.seek(start)
                chunk = handle.read(step) + carry
                matches = list(re.finditer(rb'"version":\s*"(\d+(?:\.\d+)+)"', chunk))
                if matches:
                    found = matches[-1].group(1)
                carry = chunk[:64]  # a match cut at the chunk's start
    except OSError:
        found = None
    if found:
        return tuple(int(part) for part in found.split(b"."))
    return running_version()


def running_version(env: dict[str, str] | None = None) -> tuple[int, ...] | None:
    """The version of the Claude Code process that runs this hook (``$CLAUDE_PID``, 2.1.2xx+).

    Interactive 2.1.332 writes its transcript in batches, so a hook early in a session
    can find no version there yet. The program's own files say it: the npm package's
    ``package.json`` beside the executable, or the native installer's ``versions/X.Y.Z``.
    """
    import json
    import re

    pid = (os.environ if env is None else env).get("CLAUDE_PID", "")
    if not pid.isdigit():
        return None
    candidates = []
    try:
        candidates.append(os.path.realpath(f"/proc/{pid}/exe"))
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            args = handle.read().split(b"\0")
        candidates += [os.path.realpath(a.decode(errors="replace")) for a in args[:2] if a]
    except OSError:
        return None
    for path in candidates:
        for part in reversed(path.split(os.sep)):
            if re.fullmatch(r"\d+\.\d+\.\d+", part):
                return tuple(int(n) for n in part.split("."))
        folder = os.path.dirname(path)
        for _ in range(3):
            try:
                with open(os.path.join(folder, "package.json"), encoding="utf-8") as handle:
                    package = json.load(handle)
            except (OSError, ValueError):
                folder = os.path.dirname(folder)
                continue
            version = str(package.get("version") or "")
            if "claude-code" in str(package.get("name")) and re.fullmatch(r"\d+(\.\d+)+", version):
                return tuple(int(n) for n in version.split("."))
            folder = os.path.dirname(folder)
    return None


def is_task_notification(prompt: str) -> bool:
    """A prompt that is Claude Code's ``<task-notification>`` of a finished background task."""
    return prompt.lstrip().startswith("<task-notification>")


def newest_in(cwd: str) -> str:
    """The session whose hooks last ran in the project dir ``cwd``; "" if none did.

    For slash commands on Claude Code versions that do not pass a ``!`` line its
    session id (2.1.62 sets no ``CLAUDE_CODE_SESSION_ID`` there; 2.1.197 does): the
    line runs in the project dir, whose session has recorded it on SessionStart.
    With two sessions open in one folder this picks the one that was active last.
    """

    from omcm.core import paths

    root = os.path.join(paths.state_dir(), "sessions")
    wanted = os.path.realpath(cwd)
    best, best_at = "", -1.0
    try:
        entries = list(os.scandir(root))
    except OSError:
        return ""
    for entry in entries:
        if not entry.is_dir():
            continue
        found = state.load(os.path.join(entry.path, "session.json"), SessionInfo)
        seen = found.last_event_at or 0.0
        if found.cwd and os.path.realpath(found.cwd) == wanted and seen > best_at:
            best, best_at = entry.name, seen
    return best


def known(session_id: str) -> bool:
    """Whether OMCM has seen the session (a hook of it ran, or a mode was set for it)."""
    return os.path.isdir(_dir(session_id))


def seen() -> list[tuple[str, SessionInfo]]:
    """Every session OMCM has a folder for, with what it saw of each, the latest first."""
    from omcm.core import paths

    root = os.path.join(paths.state_dir(), "sessions")
    try:
        names = [e.name for e in os.scandir(root) if e.is_dir()]
    except OSError:
        return []
    found = [
        (name, state.load(os.path.join(root, name, "session.json"), SessionInfo)) for name in names
    ]
    return sorted(found, key=lambda pair: pair[1].last_event_at or 0.0, reverse=True)


class SessionInfo(StateRecord):
    """``sessions/<id>/session.json``: what OMCM saw of one Claude Code session."""

    cwd: str = ""
    transcript_path: str = ""
    source: str = ""
    started_at: float | None = None
    last_event: str = ""
    last_event_at: float | None = None
    events: dict[str, int] = {}
    pending_notice: str = ""  # shown to the user by the next hook that can show it
    limit_told_at: float | None = None  # when OMCM told this session Claude hit its limit
    last_prompt: str = ""  # as UserPromptSubmit saw it (the transcript may lag behind)

"""The files an ``ask`` or ``consensus`` names, read into the provider's prompt.

Each path (relative to the project, or absolute) must name a readable file. A
file with uncommitted changes in its git repository is given as its diff (what
changed is usually what the question is about) followed by nothing else; any
other file as its content. Up to ``mcp.file_chars`` characters go in; files past
that are named by path, for the provider (an agent CLI in the same project) to
read itself. Anything wrong with a path is an error naming it.
"""

from __future__ import annotations

import os

from omcm.core import proc

#: Bytes of one file read at most (a larger one is named, not read).
MAX_FILE = 4 * 1024 * 1024


class FileProblem(Exception):
    """A named file cannot be given to the provider: which one, and why."""


def attach(prompt: str, paths: list[str], cwd: str, budget: int) -> str:
    """``prompt`` followed by the files' text (diffs or contents), up to ``budget`` characters."""
    if not paths:
        return prompt
    found = [_resolve(path, cwd) for path in paths]
    parts, named, left = [], [], budget
    for shown, full in found:
        text, how = _read(shown, full)
        if text is None or len(text) > left:
            named.append(shown)
            continue
        left -= len(text)
        parts.append(f"--- {shown} ({how}) ---\n{text.rstrip()}\n")
    tail = ""
    if named:
        tail = "\nNot included for length (read them yourself): " + ", ".join(named) + "\n"
    return f"{prompt.rstrip()}\n\nFiles named with this task:\n\n" + "\n".join(parts) + tail


def _resolve(path: str, cwd: str) -> tuple[str, str]:
    if not path.strip():
        raise FileProblem("`files` holds an empty path")
    full = os.path.normpath(os.path.join(cwd, os.path.expanduser(path)))
    if os.path.isdir(full):
        raise FileProblem(f"`files`: {path} is a directory (name the files in it)")
    if not os.path.exists(full):
        raise FileProblem(f"`files`: {path} does not exist (looked for {full})")
    if not os.access(full, os.R_OK):
        raise FileProblem(f"`files`: {path} cannot be read (permission denied)")
    return path, full


def _read(shown: str, full: str) -> tuple[str | None, str]:
    """The file's text (None: too large to read) and what it is (its diff, or its content)."""
    diff = _diff(full)
    if diff:
        return diff, "uncommitted diff"
    if os.path.getsize(full) > MAX_FILE:
        return None, "too large"
    try:
        with open(full, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise FileProblem(f"`files`: {shown} cannot be read ({exc.strerror or exc})") from None
    if b"\0" in raw[:8192]:
        raise FileProblem(f"`files`: {shown} is not a text file")
    try:
        return raw.decode("utf-8"), "content"
    except UnicodeDecodeError as exc:
        raise FileProblem(f"`files`: {shown} is not UTF-8 text (byte {exc.start})") from None


def _diff(full: str) -> str:
    """The file's uncommitted changes against HEAD ("" outside git, or unchanged)."""
    folder = os.path.dirname(full)
    done = proc.run(
        ["git", "-C", folder, "diff", "--no-color", "HEAD", "--", os.path.basename(full)],
        timeout=20,
    )
    return done.stdout if done.ok else ""

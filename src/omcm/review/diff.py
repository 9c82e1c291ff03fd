"""What a review reads: a unified diff, cut to ``review.max_diff_kb`` at file boundaries.

:func:`staged` is the pre-commit hook's (``git diff --cached``, only the files named);
:mod:`omcm.review.snapshot` gives the review gate a turn's diff. Every git command goes
through :func:`git` (the one subprocess wrapper, :func:`omcm.core.proc.run`).
"""

from __future__ import annotations

from omcm.core import proc
from omcm.core.errors import OmcmError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

#: Flags that make every diff plain and the same for everyone: no colour, no external
#: diff driver or textconv of the user's, renames found.
DIFF_FLAGS = ("--no-color", "--no-ext-diff", "--no-textconv", "-M")


class Diff:
    """A diff to review: its text (within the size cap), the files in it, those cut off."""

    __slots__ = ("files", "left_out", "size", "text")

    def __init__(self, text: str, files: list[str], left_out: list[str], size: int) -> None:
        self.text, self.files, self.left_out, self.size = text, files, left_out, size

    @property
    def empty(self) -> bool:
        return not self.text.strip()


def git(
    args: list[str], cwd: str, *, env: Mapping[str, str] | None = None, timeout: float = 60
) -> str:
    """``git ARGS`` in ``cwd``; its stdout, or :class:`OmcmError` with git's own words."""
    extra = dict(env or {})
    done = proc.run(["git", *args], cwd=cwd, env=proc.child_env(extra), timeout=timeout)
    if done.not_found:
        raise OmcmError("git is not installed (it is needed to see what changed)")
    if not done.ok:
        said = (done.stderr.strip() or done.error or f"exit {done.returncode}").splitlines()
        raise OmcmError(f"git {' '.join(args[:2])} in {cwd}: {said[-1] if said else 'failed'}")
    return done.stdout


def toplevel(cwd: str) -> str:
    """The work tree ``cwd`` is in; :class:`OmcmError` when it is in none."""
    try:
        return git(["rev-parse", "--show-toplevel"], cwd).strip()
    except OmcmError:
        raise OmcmError(f"{cwd} is not in a git work tree") from None


def staged(cwd: str, files: list[str], max_kb: int) -> Diff:
    """The staged change (``git diff --cached``) of ``files`` (all staged files if none)."""
    pathspec = ["--", *files] if files else []
    text = git(["diff", "--cached", *DIFF_FLAGS, *pathspec], cwd)
    return cut(text, max_kb)


def cut(text: str, max_kb: int) -> Diff:
    """``text`` kept whole file by file while it fits ``max_kb``; a first file that alone
    is larger is cut at a line boundary. The rest is listed as left out."""
    limit = max_kb * 1024
    parts = _per_file(text)
    kept: list[str] = []
    files: list[str] = []
    left_out: list[str] = []
    used = 0
    for name, part in parts:
        size = len(part.encode("utf-8"))
        if used + size <= limit:
            kept.append(part)
            files.append(name)
            used += size
        elif not kept:
            head = part.encode("utf-8")[:limit].decode("utf-8", "ignore")
            head = head[: head.rfind("\n") + 1] or head
            kept.append(head + f"[… the diff of {name} is cut here: review.max_diff_kb]\n")
            files.append(name)
            used = limit
        else:
            left_out.append(name)
    return Diff("".join(kept), files, left_out, len(text.encode("utf-8")))


def _per_file(text: str) -> list[tuple[str, str]]:
    """The diff split at each ``diff --git a/X b/Y`` line: (Y, its part)."""
    parts: list[tuple[str, str]] = []
    for chunk in text.split("\ndiff --git ")[0:]:
        if not chunk.strip():
            continue
        body = chunk if chunk.startswith("diff --git ") else "diff --git " + chunk
        head = body.split("\n", 1)[0]
        name = head.rsplit(" b/", 1)[-1] if " b/" in head else head[len("diff --git ") :]
        parts.append((name, body if body.endswith("\n") else body + "\n"))
    return parts

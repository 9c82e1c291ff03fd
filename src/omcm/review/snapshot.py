"""The state of a work tree as a git tree, kept apart from the user's repository.

The review gate needs a turn's whole change, new files included, without touching
the user's index, stash or object store. :func:`take` stages the work tree as it is
into a private index (a copy of the repository's, so only files whose stat changed
are hashed again) and writes the tree, with new objects going to a private object
directory that borrows the repository's as an alternate. Two such trees diff like
any commits. Costs: a copy of the index and two short git runs.
"""

from __future__ import annotations

import os
import shutil

from omcm.review.diff import DIFF_FLAGS, Diff, cut, git


class Repo:
    """Where a work tree's repository keeps what a snapshot needs."""

    __slots__ = ("index", "objects", "toplevel")

    def __init__(self, toplevel: str, objects: str, index: str) -> None:
        self.toplevel, self.objects, self.index = toplevel, objects, index


def locate(cwd: str) -> Repo:
    """The repository ``cwd`` is in (:class:`~omcm.core.errors.OmcmError` if none)."""
    from omcm.core.errors import OmcmError

    try:
        out = git(
            ["rev-parse", "--show-toplevel", "--git-path", "objects", "--git-path", "index"], cwd
        )
    except OmcmError:
        raise OmcmError(f"{cwd} is not in a git work tree") from None
    top, objects, index = (line.strip() for line in out.splitlines()[:3])
    return Repo(
        top, os.path.abspath(os.path.join(cwd, objects)), os.path.abspath(os.path.join(cwd, index))
    )


def _env(repo: Repo, store: str) -> dict[str, str]:
    return {
        "GIT_INDEX_FILE": os.path.join(store, "index"),
        "GIT_OBJECT_DIRECTORY": os.path.join(store, "objects"),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": repo.objects,
    }


def take(repo: Repo, store: str) -> str:
    """The work tree of ``repo`` now (tracked and new files, ignored ones left out) as a
    tree id; its objects go to ``store``."""
    os.makedirs(os.path.join(store, "objects"), exist_ok=True)
    private = os.path.join(store, "index")
    try:
        shutil.copyfile(repo.index, private)
    except FileNotFoundError:  # a repository without a commit or an index yet
        try:
            os.unlink(private)
        except FileNotFoundError:
            pass
    env = _env(repo, store)
    git(["add", "--all", "--", "."], repo.toplevel, env=env, timeout=120)
    return git(["write-tree"], repo.toplevel, env=env).strip()


def diff(repo: Repo, store: str, before: str, after: str, max_kb: int) -> Diff:
    """What changed from tree ``before`` to tree ``after``, cut to ``max_kb``."""
    text = git(["diff", *DIFF_FLAGS, before, after], repo.toplevel, env=_env(repo, store))
    return cut(text, max_kb)

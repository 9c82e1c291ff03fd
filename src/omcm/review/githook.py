"""``omcm git-hook install|remove``: a plain git pre-commit hook that runs ``omcm review``.

For people without the pre-commit framework (with it, ``.pre-commit-hooks.yaml`` at
the repository root declares ``omcm-review``). The hook goes where git looks for
hooks (``git rev-parse --git-path hooks``: ``core.hooksPath`` is honoured). An
existing hook is never overwritten without ``force``; with it, the old one is kept
as ``NAME.pre-omcm`` and ``remove`` puts it back.
"""

from __future__ import annotations

import os
import shlex
import sys

from omcm.core.errors import OmcmError
from omcm.review.diff import git

HOOKS = ("pre-commit",)
#: The line that marks a hook as OMCM's (``remove`` touches no other).
MARK = "# omcm git-hook:"
BACKUP = ".pre-omcm"


def hooks_dir(cwd: str) -> str:
    """Where git runs hooks from for the repository at ``cwd``."""
    try:
        found = git(["rev-parse", "--git-path", "hooks"], cwd).strip()
    except OmcmError:
        raise OmcmError(f"{cwd} is not in a git repository") from None
    return os.path.abspath(os.path.join(cwd, found))


def script(hook: str, python: str = sys.executable) -> str:
    """The hook: this Python's ``omcm review``, else ``omcm`` on PATH, else a clear error."""
    quoted = shlex.quote(python)
    return (
        "#!/bin/sh\n"
        f"{MARK} {hook} — the staged change is reviewed by a provider (omcm review).\n"
        "# Installed by `omcm git-hook install`; `omcm git-hook remove` takes it out.\n"
        "# Skip it once: git commit --no-verify\n"
        f"if [ -x {quoted} ]; then exec {quoted} -m omcm review --hook git-hook; fi\n"
        f"if command -v omcm >/dev/null 2>&1; then exec omcm review --hook git-hook; fi\n"
        f'echo "omcm git-hook: omcm is no longer installed ({python} is gone); run '
        f"'omcm git-hook remove', or commit with --no-verify\" >&2\n"
        "exit 1\n"
    )


def _check(hook: str) -> None:
    if hook not in HOOKS:
        raise OmcmError(f"git hook {hook!r}: OMCM installs only {', '.join(HOOKS)}")


def is_ours(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return MARK in handle.read(4096)
    except OSError:
        return False


def install(cwd: str, hook: str = "pre-commit", *, force: bool = False) -> list[str]:
    """Write the hook; what was done, line by line."""
    _check(hook)
    folder = hooks_dir(cwd)
    path = os.path.join(folder, hook)
    said = []
    if os.path.lexists(path) and not is_ours(path):
        if not force:
            raise OmcmError(
                f"{path} exists and is not OMCM's; `omcm git-hook install --force` keeps it as "
                f"{hook}{BACKUP} and puts OMCM's in its place (with the pre-commit framework, "
                "add the omcm-review hook to .pre-commit-config.yaml instead)"
            )
        backup = path + BACKUP
        if os.path.lexists(backup):
            raise OmcmError(f"{backup} exists already: move it away first")
        os.replace(path, backup)
        said.append(f"kept the existing hook as {backup}")
    os.makedirs(folder, exist_ok=True)
    temporary = f"{path}.omcm-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(script(hook))
    os.chmod(temporary, 0o755)
    os.replace(temporary, path)
    said.append(f"installed {path}: each commit's staged change is reviewed (omcm review)")
    return said


def remove(cwd: str, hook: str = "pre-commit") -> list[str]:
    """Take OMCM's hook out (and put back the one it replaced); what was done."""
    _check(hook)
    path = os.path.join(hooks_dir(cwd), hook)
    backup = path + BACKUP
    if not os.path.lexists(path):
        return [f"no {hook} hook at {path}; nothing to remove"]
    if not is_ours(path):
        raise OmcmError(f"{path} is not OMCM's hook; it was left alone")
    os.unlink(path)
    said = [f"removed {path}"]
    if os.path.lexists(backup):
        os.replace(backup, path)
        said.append(f"put back the hook it had replaced ({hook}{BACKUP})")
    return said

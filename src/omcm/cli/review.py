"""``omcm review``, ``omcm git-hook`` and ``omcm review-gate``: code review by a provider."""

from __future__ import annotations

import os
import sys

from omcm import config as cfg
from omcm.core.errors import OmcmError
from omcm.providers import REGISTERED

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

#: How each way of running ``omcm review`` is named in the routing log and ``omcm jobs``.
TOOLS = {"": "omcm review", "pre-commit": "pre-commit", "git-hook": "git-hook"}


def add_parser(sub: Any) -> None:
    review = sub.add_parser(
        "review",
        help="review the staged change with a provider (the pre-commit hook runs this)",
        description="Review the staged change (git diff --cached) of FILES, or of every "
        "staged file. Exit 1 when a finding reaches review.block_on, or when the review "
        "could not be done or read and review.on_error is fail.",
        epilog="examples:\n  omcm review\n  omcm review app.py --provider codex",
    )
    review.add_argument("files", nargs="*", metavar="FILE", help="only these staged files")
    review.add_argument(
        "--provider",
        choices=list(REGISTERED),
        help="this provider reviews (default: review.provider)",
    )
    review.add_argument(
        "--cwd", metavar="DIR", help="the repository (default: the current directory)"
    )
    review.add_argument(
        "--hook", choices=["pre-commit", "git-hook"], default="", help=argparse_hidden()
    )
    review.set_defaults(handler=cmd_review)

    hook = sub.add_parser(
        "git-hook",
        help="a plain git pre-commit hook that runs omcm review",
        epilog="examples:\n  omcm git-hook install\n  omcm git-hook remove",
    )
    hsub = hook.add_subparsers(title="git-hook commands", metavar="COMMAND", required=True)
    install = hsub.add_parser(
        "install",
        help="write the hook (an existing one needs --force)",
        epilog="example:\n  omcm git-hook install --force",
    )
    install.add_argument("hook", nargs="?", default="pre-commit", choices=["pre-commit"])
    install.add_argument("--force", action="store_true", help="keep an existing hook aside")
    install.add_argument(
        "--cwd", metavar="DIR", help="the repository (default: the current directory)"
    )
    install.set_defaults(handler=cmd_git_hook_install)
    remove = hsub.add_parser(
        "remove",
        help="take the hook out (and put back what it replaced)",
        epilog="example:\n  omcm git-hook remove",
    )
    remove.add_argument("hook", nargs="?", default="pre-commit", choices=["pre-commit"])
    remove.add_argument(
        "--cwd", metavar="DIR", help="the repository (default: the current directory)"
    )
    remove.set_defaults(handler=cmd_git_hook_remove)

    gate = sub.add_parser(
        "review-gate",
        help="the review gate at Stop for one Claude Code session (on, off)",
        epilog="examples:\n  omcm review-gate on\n  omcm review-gate status --session ID",
    )
    gate.add_argument("switch", choices=["on", "off", "status"], nargs="?", default="status")
    gate.add_argument("--session", help="session id (default: $CLAUDE_CODE_SESSION_ID)")
    gate.set_defaults(handler=cmd_review_gate)


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


def cmd_review(args: argparse.Namespace) -> int:
    from omcm.review import diff, run

    conf = cfg.load()
    cwd = _cwd(args)
    for name in args.files:  # before git: a mistyped name is the first thing to say
        from omcm.core.userfile import shown

        if not name:
            raise OmcmError("FILE: the path is empty")
        where = os.path.join(cwd, name)
        if not os.path.lexists(where):
            raise OmcmError(f"FILE {shown(name)}: no such file in {shown(cwd)}")
        if os.path.isdir(where):
            raise OmcmError(f"FILE {shown(name)} is a folder: name the staged files to review")
    project = diff.toplevel(cwd)
    change = diff.staged(cwd, list(args.files), conf.review.max_diff_kb)
    if not change.empty:
        count = len(change.files)
        print(
            f"omcm review: reviewing {count} staged file{'s' if count != 1 else ''} "
            f"({change.size / 1024:.1f} KB)…",
            file=sys.stderr,
            flush=True,
        )
    verdict = run.run(
        change,
        conf,
        project=project,
        tool=TOOLS[args.hook],
        what="a change staged for commit",
        provider=args.provider or "",
    )
    for line in run.report(verdict, conf):
        print(line)
    if verdict.state == "cancelled":
        return 130
    return 0 if verdict.passes(conf.review.on_error) else 1


def cmd_git_hook_install(args: argparse.Namespace) -> int:
    from omcm.review import githook

    for line in githook.install(_cwd(args), args.hook, force=args.force):
        print(f"omcm: {line}")
    return 0


def cmd_git_hook_remove(args: argparse.Namespace) -> int:
    from omcm.review import githook

    for line in githook.remove(_cwd(args), args.hook):
        print(f"omcm: {line}")
    return 0


def _cwd(args: argparse.Namespace) -> str:
    from omcm.core.userfile import folder

    return folder(args.cwd, "--cwd") if args.cwd is not None else os.getcwd()


def cmd_review_gate(args: argparse.Namespace) -> int:
    from omcm.cli.session import session_of
    from omcm.routing import session_mode

    session = session_of(args)
    conf = cfg.load()
    if args.switch in ("on", "off"):
        session_mode.set_review_gate(session, args.switch)
    record = session_mode.current(session)
    reviewer = conf.review.gate_provider(record.review_gate)
    if reviewer is None:
        print(
            "OMCM review gate: off for this session; Claude's stops are not reviewed "
            "(/omcm:review-gate on turns it on)."
        )
        return 0
    if args.switch == "on":
        from omcm.review import gate

        gate.turn_started(session, os.getcwd())  # changes from now on are reviewed
    who = reviewer or (conf.review.provider or "the reviewing provider (review.provider)")
    print(
        f"OMCM review gate: on for this session. When Claude ends a turn that changed files, "
        f"{who} reviews that change; findings at or above {conf.review.block_on} come back to "
        "Claude once before it stops (/omcm:review-gate off turns it off)."
    )
    return 0

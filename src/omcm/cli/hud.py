"""``omcm hud`` and ``omcm hud setup``: the status line, and installing it in Claude Code."""

from __future__ import annotations

import sys

from omcm.core import paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def add_parser(sub: Any) -> None:
    hud = sub.add_parser(
        "hud",
        help="print the status line (what Claude Code runs)",
        epilog="examples:\n  omcm hud < status-line-input.json\n  omcm hud setup --refresh 2",
    )
    hsub = hud.add_subparsers(title="hud commands", metavar="COMMAND")
    setup = hsub.add_parser(
        "setup",
        help="make omcm hud Claude Code's status line",
        epilog="examples:\n"
        "  omcm hud setup\n"
        "  omcm hud setup --refresh 2\n"
        "  omcm hud setup --remove",
    )
    setup.add_argument("--remove", action="store_true", help="restore the previous status line")
    setup.add_argument(
        "--settings",
        metavar="FILE",
        help="settings.json to edit (default: ~/.claude/settings.json)",
    )
    setup.add_argument(
        "--refresh",
        type=float,
        metavar="SECONDS",
        help="refreshInterval in seconds (re-run on a timer)",
    )
    setup.set_defaults(handler=cmd_hud_setup)
    hud.set_defaults(handler=cmd_hud)


def cmd_hud(_args: argparse.Namespace) -> int:
    from omcm.hud.statusline import main as statusline

    return statusline()


def hud_command() -> str:
    """The command settings.json runs as the status line: ``omcm hud`` in its fast form.

    It runs every few hundred milliseconds, so it calls the status line directly
    with this interpreter: a console script would first import ``re`` and the
    CLI, about half the status line's whole budget. The trailing comment keeps
    it recognisable as OMCM's.
    """
    import shlex

    argv = [sys.executable, *paths.fast_start("omcm.hud.statusline", "run", paths.import_path())]
    return f"{shlex.join(argv)}  # omcm hud"


def cmd_hud_setup(args: argparse.Namespace) -> int:
    from omcm.core.userfile import target
    from omcm.hud import claude_settings

    settings = (
        target(args.settings, "--settings")
        if args.settings is not None
        else claude_settings.default_file()
    )
    chain = paths.statusline_chain()
    if args.remove:
        result = claude_settings.remove(settings, chain, hud_command())
    else:
        result = claude_settings.install(settings, hud_command(), chain, args.refresh)
    print(result.message)
    return 0

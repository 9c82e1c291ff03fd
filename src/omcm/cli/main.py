"""The ``omcm`` command: its parser and the one place that runs a subcommand's handler.

Each command group is a module of this package with an ``add_parser(sub)`` and its
handlers: :mod:`~omcm.cli.doctor` (doctor, setup), :mod:`~omcm.cli.status`,
:mod:`~omcm.cli.routing` (route, log), :mod:`~omcm.cli.jobs` (run, jobs, result,
cancel), :mod:`~omcm.cli.batch`, :mod:`~omcm.cli.pool`, :mod:`~omcm.cli.stats`
(stats, savings), :mod:`~omcm.cli.session` (mode, handoff), :mod:`~omcm.cli.hud`,
:mod:`~omcm.cli.config`, :mod:`~omcm.cli.review` (review, git-hook, review-gate),
:mod:`~omcm.cli.schedule`. A handler raises :class:`~omcm.core.errors.OmcmError`
for what the user must fix; :func:`main` prints it as one line.
"""

from __future__ import annotations

import sys

from omcm import __version__
from omcm.core.errors import OmcmError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any

    Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words == ["hud"]:  # the status line: runs every few hundred ms, skip argparse
        from omcm.hud.statusline import main as statusline

        return statusline()
    parser = build_parser()
    args, extra = parser.parse_known_args(words)
    trailing = getattr(args, "trailing", "")
    if extra and trailing and getattr(args, trailing) is None and not extra[0].startswith("-"):
        # `omcm schedule add NAME --every 1d --provider P PROMPT`: argparse gives an optional
        # positional its chance right after NAME, so a PROMPT after the options comes back here.
        setattr(args, trailing, " ".join(extra))
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except OmcmError as exc:
        print(f"omcm: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `omcm log | head`
        sys.stderr.close()
        return 0


DESCRIPTION = (
    "OMCM hands Claude Code's subagent work to Codex, Gemini and OpenCode by rule, by "
    "keyword or as Claude's usage limit nears. These commands check the setup, explain "
    "and review routing, and manage modes, the status line and the configuration."
)


def _parser_class() -> type[argparse.ArgumentParser]:
    """Every parser, subcommands included, refuses abbreviated options.

    argparse accepts any unique prefix by default, so a mistyped ``--mode`` would
    silently become ``--model``; ``allow_abbrev`` is per parser, hence the class.
    """
    import argparse

    class Parser(argparse.ArgumentParser):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["allow_abbrev"] = False
            super().__init__(*args, **kwargs)

    return Parser


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command: each command group adds its own."""
    from omcm.cli import (
        batch,
        config,
        doctor,
        hud,
        jobs,
        pool,
        review,
        routing,
        schedule,
        session,
        stats,
        status,
    )

    parser = _parser_class()(prog="omcm", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"omcm {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in (
        doctor.add_parser,
        status.add_parser,
        routing.add_parser,
        jobs.add_parser,
        batch.add_parser,
        review.add_parser,
        schedule.add_parser,
        pool.add_parser,
        stats.add_parsers,
        session.add_parser,
        doctor.add_setup_parser,
        hud.add_parser,
        config.add_parser,
    ):
        add(sub)
    return parser


__all__ = ["main"]

"""The ``omcm`` command: its parser and the one place that runs a subcommand's handler.

Each command group is a module of this package with an ``add_parser(sub)`` and its
handlers: :mod:`~omcm.cli.doctor` (doctor, setup), :mod:`~omcm.cli.status`,
:mod:`~omcm.cli.routing` (route, log), :mod:`~omcm.cli.jobs` (run, jobs, result,
cancel), :mod:`~omcm.cli.batch`, :mod:`~omcm.cli.pool`, :mod:`~omcm.cli.stats`
(stats, savings), :mod:`~omcm.cli.session` (mode, handoff), :mod:`~omcm.cli.hud`,
:mod:`~omcm.cli.config`, :mod:`~omcm.cli.review` (review, git-hook, review-gate),
:mod:`~omcm.cli.schedule`. A handler raises :class:`~omcm.core.errors.OmcmError`
for what the user must fix; :func:`main` prints it as one line (and, for a command
given ``--json``, as ``{"error": {...}}`` on stdout too). Exit codes: 2 for a usage
error, 1 for any other failure. Anything else that goes wrong is a bug: one line names
it and the error log that holds its traceback; no traceback reaches the terminal.
"""

from __future__ import annotations

import sys

from omcm import __version__
from omcm.core.errors import OmcmError, cut

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any, NoReturn

    Handler = Callable[[argparse.Namespace], int]

#: Exit codes: a usage error (argparse's own), and every other failure.
USAGE, FAILED = 2, 1
#: An argument longer than this is cut where a message quotes it.
QUOTED = 200


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words == ["hud"]:  # the status line: runs every few hundred ms, skip argparse
        from omcm.hud.statusline import main as statusline

        return statusline()
    as_json = "--json" in words
    parser = build_parser(json_errors=as_json)
    args = parser.parse_args(words)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return USAGE
    try:
        return handler(args)
    except OmcmError as exc:
        return _failed(str(exc), "error", as_json and getattr(args, "json", False))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `omcm log | head`
        sys.stderr.close()
        return 0
    except OSError as exc:
        if not exc.filename:
            raise
        return _failed(_os_error(exc), "error", as_json and getattr(args, "json", False))
    except Exception as exc:  # a bug: one line and the log that holds the traceback
        import traceback

        from omcm.core.state import log_error

        what = f"internal error in omcm {' '.join(cut(w, 40) for w in words[:3])}: " + cut(
            f"{type(exc).__name__}: {exc}", QUOTED
        )
        log = log_error(what, traceback.format_exc())
        return _failed(f"{what} (the traceback is in {log})", "internal", as_json)
    finally:
        _notices()


def _os_error(exc: OSError) -> str:
    """A file OMCM could not read or write, named, with what to do when it is state."""
    import os
    import re

    from omcm.core import paths

    name = re.sub(r"\.tmp-\d+-\d+$", "", str(exc.filename))
    message = f"{cut(name)}: {exc.strerror or exc}"
    state_dir = paths.state_dir()
    if os.path.abspath(name).startswith(state_dir + os.sep):
        message += (
            f"; OMCM keeps its state in {state_dir}, which must be writable "
            "(or set OMCM_STATE_DIR to a folder that is)"
        )
    return message


def _failed(message: str, kind: str, as_json: bool) -> int:
    """Say why the command failed: on stderr, and as JSON on stdout for ``--json``."""
    print(f"omcm: {message}", file=sys.stderr)
    if as_json:
        _json_error(message, kind, FAILED)
    return FAILED


def _json_error(message: str, kind: str, code: int) -> None:
    """``{"error": {...}}`` on stdout: what a script that asked for ``--json`` reads."""
    import json

    print(json.dumps({"error": {"kind": kind, "message": message, "exit": code}}), flush=True)


def _notices() -> None:
    """Damaged state files found while the command ran: each said once, on stderr."""
    from omcm.core.state import take_notices

    for notice in take_notices():
        print(notice, file=sys.stderr)


DESCRIPTION = (
    "OMCM hands Claude Code's subagent work to Codex, Gemini and OpenCode by rule, by "
    "keyword or as Claude's usage limit nears. These commands check the setup, explain "
    "and review routing, and manage modes, the status line and the configuration."
)
EPILOG = """examples:
  omcm doctor                     what works, what is missing, what to run
  omcm route --explain --agent explore
  omcm stats --since 30d --html stats.html
  omcm COMMAND --help             each command's options and an example"""


def _parser_class(json_errors: bool) -> type[argparse.ArgumentParser]:
    """The class of every parser, subcommands included.

    It refuses abbreviated options (argparse accepts any unique prefix by default, so a
    mistyped ``--mode`` would silently become ``--model``; ``allow_abbrev`` is per parser,
    hence the class); keeps the examples in each help as written; makes the parser that
    met an unknown argument report it with its own usage (argparse leaves it to the top
    one); cuts long arguments out of its messages; and with ``json_errors`` also says a
    usage error as JSON on stdout.
    """
    import argparse

    class Parser(argparse.ArgumentParser):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["allow_abbrev"] = False
            kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
            super().__init__(*args, **kwargs)

        def parse_known_args(  # type: ignore[override]
            self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
        ) -> tuple[argparse.Namespace, list[str]]:
            found, extras = super().parse_known_args(args, namespace)
            trailing = getattr(found, "trailing", "")
            if (
                extras
                and trailing
                and getattr(found, trailing, None) is None
                and not extras[0].startswith("-")
            ):
                # `omcm schedule add NAME --every 1d --provider P PROMPT`: argparse gives an
                # optional positional its chance right after NAME, so a PROMPT after the
                # options comes back unrecognised: it is the positional.
                setattr(found, trailing, " ".join(extras))
                extras = []
            if extras:
                shown = " ".join(cut(word, QUOTED) for word in extras[:5])
                more = f" (and {len(extras) - 5} more)" if len(extras) > 5 else ""
                self.error(f"unrecognized arguments: {shown}{more}")
            return found, extras

        def error(self, message: str) -> NoReturn:
            message = " ".join(cut(word, QUOTED) for word in message.split(" "))
            self.print_usage(sys.stderr)
            print(f"{self.prog}: error: {message} ({self.prog} --help says more)", file=sys.stderr)
            if json_errors:
                _json_error(f"{self.prog}: error: {message}", "usage", USAGE)
            self.exit(USAGE)

    return Parser


def build_parser(*, json_errors: bool = False) -> argparse.ArgumentParser:
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

    parser = _parser_class(json_errors)(prog="omcm", description=DESCRIPTION, epilog=EPILOG)
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

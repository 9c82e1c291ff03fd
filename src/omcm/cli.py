"""The ``omcm`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence

from omcm import __version__, paths, state
from omcm import config as cfg
from omcm.errors import OmcmError

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omcm", description=__doc__)
    parser.add_argument("--version", action="version", version=f"omcm {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    doctor = sub.add_parser("doctor", help="check the installation and say what is missing")
    doctor.add_argument("--plugin-root", help="the plugin directory (slash commands pass it)")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.set_defaults(handler=cmd_doctor)

    status = sub.add_parser("status", help="config, routing counters, fallback and usage state")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)

    config = sub.add_parser("config", help="show, read, change or check config.toml")
    csub = config.add_subparsers(title="config commands", metavar="ACTION", required=True)
    csub.add_parser("path", help="print the config file's path").set_defaults(handler=cfg_path)
    show = csub.add_parser("show", help="print the effective config as TOML")
    show.set_defaults(handler=cfg_show)
    get = csub.add_parser("get", help="print one key's value, e.g. routing.max_workers")
    get.add_argument("key")
    get.set_defaults(handler=cfg_get)
    setp = csub.add_parser("set", help="set one key, keeping the file's comments")
    setp.add_argument("key")
    setp.add_argument(
        "value", help='a TOML value: true, 3, "text", ["a", "b"]; bare text is a string'
    )
    setp.set_defaults(handler=cfg_set)
    csub.add_parser("validate", help="check config.toml").set_defaults(handler=cfg_validate)
    csub.add_parser("init", help="write a commented config.toml with every default").set_defaults(
        handler=cfg_init
    )
    return parser


def cmd_doctor(args: argparse.Namespace) -> int:
    from omcm import doctor

    checks = doctor.run_checks(args.plugin_root)
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2, ensure_ascii=False))
    else:
        print(doctor.render(checks))
    return 1 if any(c.status == doctor.FAIL for c in checks) else 0


def cmd_status(args: argparse.Namespace) -> int:
    from omcm.status import collect, render

    report = collect()
    print(json.dumps(report, indent=2, ensure_ascii=False) if args.json else render(report))
    return 0


def cfg_path(_args: argparse.Namespace) -> int:
    print(paths.config_file())
    return 0


def cfg_show(_args: argparse.Namespace) -> int:
    from omcm.config_schema import render_defaults, validate_file

    path = paths.config_file()
    config = validate_file(path)
    origin = path if os.path.exists(path) else f"{path} (missing: defaults)"
    print(f"# effective configuration from {origin}\n")
    print(render_defaults(config, cfg.Config, []))
    return 0


def cfg_get(args: argparse.Namespace) -> int:
    from omcm.config_schema import get_value, toml_value, validate_file

    value = get_value(validate_file(paths.config_file()), args.key)
    print(value if isinstance(value, str) else toml_value(value))
    return 0


def cfg_set(args: argparse.Namespace) -> int:
    from omcm.config_schema import set_value, toml_value

    path = paths.config_file()
    value, kept = set_value(path, args.key, args.value)
    print(f"{args.key} = {toml_value(value)}  ({path})")
    if not kept:
        print("note: the file had to be rewritten whole; its comments were not kept",
              file=sys.stderr)
    return 0


def cfg_validate(_args: argparse.Namespace) -> int:
    from omcm.config_schema import validate_file

    path = paths.config_file()
    validate_file(path)
    print(f"{path}: valid" if os.path.exists(path) else f"{path}: missing (defaults in use)")
    return 0


def cfg_init(_args: argparse.Namespace) -> int:
    from omcm.config_schema import ensure_file

    path = paths.config_file()
    print(f"wrote {path}" if ensure_file(path) else f"{path} exists; left as it is")
    return 0


def age(seconds_ago: float | None) -> str:
    if seconds_ago is None:
        return "never"
    delta = max(0, time.time() - seconds_ago)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{delta / size:.0f}{unit} ago"
    return f"{delta:.0f}s ago"


__all__ = ["age", "main", "state"]

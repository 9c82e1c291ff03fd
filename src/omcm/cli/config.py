"""``omcm config``: show, read, change, check and create ``config.toml``."""

from __future__ import annotations

import os

from omcm.core import paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any


def add_parser(sub: Any) -> None:
    config = sub.add_parser(
        "config",
        help="show, read, change or check config.toml",
        epilog="examples:\n  omcm config init\n  omcm config set fusion_default true",
    )
    csub = config.add_subparsers(title="config commands", metavar="COMMAND", required=True)
    csub.add_parser(
        "path", help="print the config file's path", epilog="example:\n  omcm config path"
    ).set_defaults(handler=cfg_path)
    show = csub.add_parser(
        "show", help="print the effective config as TOML", epilog="example:\n  omcm config show"
    )
    show.set_defaults(handler=cfg_show)
    get = csub.add_parser(
        "get",
        help="print one key's value, e.g. routing.max_workers",
        epilog="examples:\n  omcm config get routing.max_workers\n  omcm config get agents",
    )
    get.add_argument("key", metavar="KEY", help="a dotted key (omcm config reference lists them)")
    get.set_defaults(handler=cfg_get)
    setp = csub.add_parser(
        "set",
        help="set one key, keeping the file's comments",
        epilog="examples:\n"
        "  omcm config set fusion_default true\n"
        '  omcm config set routing.prefer_claude \'["architect", "planner"]\'\n'
        "  omcm config set agents.explore.provider codex",
    )
    setp.add_argument("key", metavar="KEY", help="a dotted key (omcm config reference lists them)")
    setp.add_argument(
        "value",
        metavar="VALUE",
        help='a TOML value: true, 3, "text", ["a", "b"]; bare text is a string',
    )
    setp.set_defaults(handler=cfg_set)
    csub.add_parser(
        "validate", help="check config.toml", epilog="example:\n  omcm config validate"
    ).set_defaults(handler=cfg_validate)
    csub.add_parser(
        "init",
        help="write a commented config.toml with every default",
        epilog="example:\n  omcm config init",
    ).set_defaults(handler=cfg_init)
    csub.add_parser(
        "reference",
        help="every key, default and meaning as a Markdown table",
        epilog="example:\n  omcm config reference",
    ).set_defaults(handler=cfg_reference)


def cfg_path(_args: argparse.Namespace) -> int:
    print(paths.config_file())
    return 0


def cfg_show(_args: argparse.Namespace) -> int:
    from omcm.config.edit import render
    from omcm.config.validate import validate_file

    path = paths.config_file()
    config = validate_file(path)
    origin = path if os.path.exists(path) else f"{path} (missing: defaults)"
    print(f"# effective configuration from {origin}\n")
    print(render(config), end="")
    return 0


def cfg_get(args: argparse.Namespace) -> int:
    from omcm.config.edit import get_value, toml_value
    from omcm.config.validate import validate_file

    value = get_value(validate_file(paths.config_file()), args.key)
    print(value if isinstance(value, str) else toml_value(value))
    return 0


def cfg_set(args: argparse.Namespace) -> int:
    from omcm.config.edit import set_value, toml_value

    path = paths.config_file()
    value = set_value(path, args.key, args.value)
    print(f"{args.key} = {toml_value(value)}  ({path})")
    return 0


def cfg_validate(_args: argparse.Namespace) -> int:
    from omcm.config.validate import validate_file

    path = paths.config_file()
    validate_file(path)
    print(f"{path}: valid" if os.path.exists(path) else f"{path}: missing (defaults in use)")
    return 0


def cfg_init(_args: argparse.Namespace) -> int:
    from omcm.config.edit import ensure_file

    path = paths.config_file()
    print(f"wrote {path}" if ensure_file(path) else f"{path} exists; left as it is")
    return 0


def cfg_reference(_args: argparse.Namespace) -> int:
    from omcm.config.edit import reference_rows

    print("| key | default | meaning |\n|---|---|---|")
    for key, default, meaning in reference_rows():
        escaped = meaning.replace("|", "\\|")
        print(f"| `{key}` | `{default}` | {escaped} |")
    return 0

"""``omcm config get|set|init|reference``: reading one key, and edits that keep the user's file.

``config set`` validates the whole file with the new value before writing it, and
changes only that key's line where it can (comments and layout stay); ``config
init`` writes every default with its meaning as a comment.
"""

from __future__ import annotations

import os
import tomllib
from typing import Any

import tomli_w

from omcm.config.schema import Config
from omcm.config.validate import parse_text, validate_data
from omcm.core.errors import ConfigError
from omcm.core.records import Record, Section


def get_value(config: Config, key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        if isinstance(node, Record) and part in {s.name for s in node._specs()}:
            node = getattr(node, part)
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise ConfigError(f"unknown key '{key}' (see `omcm config show`)")
    return node.dump() if isinstance(node, Record) else node


def parse_value(raw: str) -> Any:
    """A command-line value as TOML (``true``, ``3``, ``["a", "b"]``), else a plain string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def set_value(path: str, key: str, raw: str) -> tuple[Any, bool]:
    """Set ``key`` in the file at ``path``, validating first; return (value, comments kept)."""
    parts = key.split(".")
    value = parse_value(raw)
    current = get_value(Config(), key)  # raises for unknown keys
    if isinstance(current, str) and not isinstance(value, str):
        value = raw  # `omcm config set providers.codex.command 42` means the text 42
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        text = ""
    data = tomllib.loads(text) if text.strip() else {}
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{path}: '{part}' is not a table; cannot set '{key}'")
    node[parts[-1]] = value
    validate_data(data, path)
    edited = edit_in_place(text, parts, value)
    kept = edited is not None and tomllib.loads(edited) == data
    new_text = edited if kept and edited is not None else tomli_w.dumps(data)
    parse_text(new_text, path)
    from omcm.core.state import atomic_write

    atomic_write(path, new_text)
    return value, kept


def edit_in_place(text: str, parts: list[str], value: Any) -> str | None:
    """Change one key's line in ``text``, keeping everything else; None if not simple.

    Handles ``key = value`` lines (values may span lines) under ``[table]``
    headers, and adds a missing key at the end of its table or a new table.
    """
    line_value = toml_value(value)
    table, key = parts[:-1], parts[-1]
    lines = text.splitlines(keepends=True)
    current: list[str] = []
    table_end = None  # a top-level key ends before the first [table] header, not at EOF
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("["):
            if current == table and table_end is None:
                table_end = i
            current = _header(stripped)
            if current == table:
                table_end = None
            continue
        if current != table or "=" not in stripped or stripped.startswith("#"):
            continue
        name = stripped.split("=", 1)[0].strip().strip('"')
        if name != key:
            continue
        end = _value_end(lines, i)
        indent = line[: len(line) - len(line.lstrip())]
        comment = _trailing_comment(lines[end]) if end == i else ""
        lines[i : end + 1] = [f"{indent}{key} = {line_value}{comment}\n"]
        return "".join(lines)
    entry = f"{key} = {line_value}\n"
    if table_end is None and current == table:
        table_end = len(lines)
    if table_end is not None:
        insert_at = table_end
        while insert_at > 0 and not lines[insert_at - 1].strip():
            insert_at -= 1
        if insert_at and not lines[insert_at - 1].endswith("\n"):
            lines[insert_at - 1] += "\n"
        lines.insert(insert_at, entry)
        return "".join(lines)
    block = ("\n" if text.strip() else "") + f"[{'.'.join(table)}]\n{entry}"
    return text + ("" if not text or text.endswith("\n") else "\n") + block


def toml_value(value: Any) -> str:
    """``value`` as it stands right of ``=`` on one line (tables inline)."""
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return tomli_w.dumps({"v": value}).strip()[len("v = ") :]


def _toml_key(key: str) -> str:
    bare = key and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in key)
    return key if bare else toml_value(key)


def _header(stripped: str) -> list[str]:
    inner = stripped.split("]", 1)[0].lstrip("[").strip()
    return [p.strip().strip('"') for p in inner.split(".")]


def _value_end(lines: list[str], start: int) -> int:
    depth = 0
    for j in range(start, len(lines)):
        text = lines[j].split("#", 1)[0] if j > start else lines[j].split("=", 1)[1].split("#")[0]
        depth += text.count("[") + text.count("{") - text.count("]") - text.count("}")
        if depth <= 0:
            return j
    return start


def _trailing_comment(line: str) -> str:
    body = line.rstrip("\n")
    in_string = None
    for i, ch in enumerate(body):
        if in_string:
            if ch == in_string:
                in_string = None
        elif ch in "\"'":
            in_string = ch
        elif ch == "#":
            return "  " + body[i:].strip()
    return ""


def default_toml() -> str:
    """A commented config.toml holding every default."""
    return render_defaults(Config(), Config, [])


def render_defaults(record: Record, section: type[Section], table: list[str]) -> str:
    scalars, tables = [], []
    for spec in section._specs():
        value = getattr(record, spec.name)
        doc = section.DOCS.get(spec.name, "")
        if isinstance(value, Section):
            tables.append(render_defaults(value, type(value), [*table, spec.name]))
            continue
        line = f"{spec.name} = {toml_value(value)}"
        scalars.append(f"# {doc}\n{line}\n" if doc else f"{line}\n")
    head = f"[{'.'.join(table)}]\n" if table and scalars else ""
    body = head + "\n".join(scalars)
    return "\n".join(part for part in [body, *tables] if part.strip())


def reference_rows() -> list[tuple[str, str, str]]:
    """(key, default, meaning) for every leaf key: the README's configuration table."""
    rows: list[tuple[str, str, str]] = []

    def walk(record: Record, section: type[Section], prefix: str) -> None:
        for spec in section._specs():
            value = getattr(record, spec.name)
            key = f"{prefix}{spec.name}"
            if isinstance(value, Section):
                walk(value, type(value), key + ".")
            else:
                shown = toml_value(value)
                rows.append((key, shown, section.DOCS.get(spec.name, "")))

    walk(Config(), Config, "")
    return rows


def ensure_file(path: str) -> bool:
    """Write the commented defaults to ``path`` unless a config exists; True if written."""
    if os.path.exists(path):
        return False
    from omcm.core.state import atomic_write

    atomic_write(path, default_toml())
    return True

"""``omcm config get|set|init|show|reference``: one key, and edits that keep the user's file.

The file is read and written with tomlkit, which keeps every comment, blank line
and the user's layout: ``config set`` changes one value (adding its table when it
is missing) and validates the whole file with the new value before anything is
written. Keys are checked against the schema, including those under a table of
the user's own naming (``agents.NAME.provider``, ``prices."codex/MODEL".input``).
``config init`` writes every default with its meaning as a comment, and the
per-agent and price tables as commented examples.
"""

from __future__ import annotations

import os
import tomllib
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import InlineTable

from omcm.config.schema import Config
from omcm.config.validate import validate_data
from omcm.core.errors import ConfigError
from omcm.core.records import _MISSING, Record, Section

#: What ``config init`` shows for tables whose keys are the user's to name.
EXAMPLES: dict[str, tuple[str, dict[str, Any]]] = {
    "agents": ("explore", {"provider": "codex", "model": "gpt-5.1-codex-mini"}),
    "prices": ("codex/my-model", {"input": 1.25, "output": 10.0, "source": "my contract"}),
}
#: How much of a value an error message quotes.
QUOTE = 80


def plain(value: Any) -> Any:
    """A config value as plain data (records and tables of records dumped)."""
    if isinstance(value, Record):
        return value.dump()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def get_value(config: Config, key: str) -> Any:
    """The value of ``key`` (``routing.max_workers``, ``agents``) as plain data."""
    node: Any = config
    for part in _parts(key):
        if isinstance(node, Record) and part in {s.name for s in node._specs()}:
            node = getattr(node, part)
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise ConfigError(f"unknown key {_quote(key)} (see `omcm config show`)")
    return plain(node)


def leaf_default(key: str) -> Any:
    """The schema's default for ``key``, raising :class:`ConfigError` for a key the schema
    does not have. Under a table of the user's naming (``agents.NAME.provider``) it is
    the field's default; a new key of a free-form table (``balancing.weights.NAME``) has
    none (``None``)."""
    parts = _parts(key)
    section: type[Section] = Config
    record: Record | None = Config()  # the defaults at this depth (None: a named table's)
    index = 0
    while index < len(parts):
        last = index == len(parts) - 1
        specs = {s.name: s for s in section._specs()}
        spec = specs.get(parts[index])
        if spec is None:
            break
        if record is not None:
            value = getattr(record, spec.name)
        else:
            value = None if spec.default is _MISSING else plain(spec.default)
        named = _named_table(section, spec.name)
        if named is not None and not last:
            if index + 1 == len(parts) - 1:
                return {}  # a whole named table: agents.explore = {provider = "codex"}
            section, record, index = named, None, index + 2
            continue
        if isinstance(value, Section):
            if last:
                return plain(value)
            section, record, index = type(value), value, index + 1
            continue
        if last:
            return plain(value)
        if isinstance(value, dict) and index + 1 == len(parts) - 1:
            return plain(value).get(parts[-1])
        break
    raise ConfigError(f"unknown key {_quote(key)} (see `omcm config show`)")


def _named_table(section: type[Section], name: str) -> type[Section] | None:
    """The record type of ``name``'s tables when it is a table of tables the user names
    (``agents``: ``dict[str, AgentOverride]``)."""
    import sys

    for owner in section.__mro__:
        annotation = vars(owner).get("__annotations__", {}).get(name)
        if annotation is None:
            continue
        text = str(annotation)
        if not (text.startswith("dict[str, ") and text.endswith("]")):
            return None
        found = vars(sys.modules[owner.__module__]).get(text[10:-1].strip())
        return found if isinstance(found, type) and issubclass(found, Section) else None
    return None


def parse_value(raw: str) -> Any:
    """A command-line value as TOML (``true``, ``3``, ``["a", "b"]``), else a plain string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def set_value(path: str, key: str, raw: str) -> Any:
    """Set ``key`` in the file at ``path`` (validating the whole file first); the value set."""
    parts = _parts(key)
    current = leaf_default(key)  # raises for a key the schema does not have
    value = parse_value(raw)
    if isinstance(current, str) and not isinstance(value, str):
        value = raw  # `omcm config set providers.codex.command 42` means the text 42
    doc = _read(path)
    node: Any = doc
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None or (isinstance(child, InlineTable) and not child):
            child = tomlkit.table(is_super_table=depth + 1 < len(parts) - 1)
            node[part] = child
        elif not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(f"{path}: '{where}' is not a table, so '{key}' cannot be set in it")
        node = child
    node[parts[-1]] = value
    validate_data(doc.unwrap(), path)
    from omcm.core.state import atomic_write

    atomic_write(path, doc.as_string())
    return value


def _read(path: str) -> tomlkit.TOMLDocument:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return tomlkit.document()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from exc
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def _parts(key: str) -> list[str]:
    """``a.b."c.d".e`` as its parts (a quoted part may hold dots)."""
    parts, current, quoted = [], "", False
    for char in key:
        if char == '"':
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    if quoted or not all(parts):
        raise ConfigError(f"{_quote(key)} is not a key (e.g. routing.max_workers)")
    return parts


def _quote(text: str) -> str:
    shown = text if len(text) <= QUOTE else text[: QUOTE - 1] + "…"
    return repr(shown)


def toml_value(value: Any) -> str:
    """``value`` as it stands right of ``=`` on one line (tables inline; keys left unset,
    empty or null, out)."""
    value = plain(value)
    if isinstance(value, dict):
        shown = [f"{_key(k)} = {toml_value(v)}" for k, v in value.items() if v not in (None, "")]
        return "{ " + ", ".join(shown) + " }" if shown else "{}"
    return str(tomlkit.item(value).as_string())


# --- whole files ---------------------------------------------------------------------


def default_toml() -> str:
    """A commented config.toml holding every default."""
    return render(Config(), examples=True)


def render(config: Config, *, examples: bool = False) -> str:
    """``config`` as TOML, each key under its meaning; tables of the user's naming as
    tables (or, when empty and ``examples``, a commented example of one)."""
    doc = tomlkit.document()
    _fill(doc, config, Config, examples)
    return doc.as_string()


def _fill(node: Any, record: Record, section: type[Section], examples: bool) -> None:
    """Add ``record``'s keys to ``node``: its values first, then its tables."""
    tables: list[tuple[str, Any]] = []
    keys = 0
    for spec in section._specs():
        value = getattr(record, spec.name)
        if isinstance(value, Section) or _named_table(section, spec.name) is not None:
            tables.append((spec.name, value))
        elif value is not None:  # TOML has no null: an unset optional key is left out
            if keys:
                node.add(tomlkit.nl())
            keys += 1
            _comment(node, section.DOCS.get(spec.name, ""))
            item = plain(value)
            if isinstance(item, dict):  # a small table of values stays on its line
                inline = tomlkit.inline_table()
                inline.update(item)
                item = inline
            node.add(spec.name, item)
    for name, value in tables:
        doc = section.DOCS.get(name, "")
        if isinstance(value, Section):
            only_tables = all(
                isinstance(getattr(value, s.name), Section) for s in type(value)._specs()
            )
            table = tomlkit.table(is_super_table=only_tables)
            if doc and not only_tables:
                _comment(table, doc)
                table.add(tomlkit.nl())
            _fill(table, value, type(value), examples)
            node.add(name, table)
        elif value:
            node.add(name, _named_tables(value))
        elif examples and name in EXAMPLES:
            _add_example(node, name, doc)


def _named_tables(value: dict[str, Record]) -> Any:
    """``[agents.explore]``-style tables, one per name (unset keys left out)."""
    outer = tomlkit.table(is_super_table=True)
    for name, record in value.items():
        inner = tomlkit.table()
        for field, field_value in record.dump().items():
            if field_value not in (None, ""):
                inner.add(field, field_value)
        outer.add(name, inner)
    return outer


def _add_example(node: Any, name: str, doc: str) -> None:
    """A commented example of a table the user names (``# [agents.explore]``)."""
    example_name, fields = EXAMPLES[name]
    node.add(tomlkit.nl())
    _comment(node, doc or name)
    node.add(tomlkit.comment(f"[{name}.{_key(example_name)}]"))
    for field, field_value in fields.items():
        node.add(tomlkit.comment(f"{field} = {tomlkit.item(field_value).as_string()}"))


def _comment(node: Any, text: str, width: int = 88) -> None:
    import textwrap

    for line in textwrap.wrap(text, width):
        node.add(tomlkit.comment(line))


def _key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else f'"{name}"'


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

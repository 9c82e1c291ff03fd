"""Validation of ``config.toml`` with pydantic, and edits that keep the user's file.

The pydantic models are built from the record classes in :mod:`omcm.config`
(one declaration of the schema), with ``extra="forbid"`` so a mistyped key is an
error naming the file and the key. Only the CLI and a hook that finds a changed
config file import this module.
"""

from __future__ import annotations

import difflib
import os
import sys
import tomllib
import typing
from typing import Any, Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from omcm import config as cfg
from omcm.errors import ConfigError
from omcm.records import _MISSING, Record, Section

_MODELS: dict[type[Section], type[BaseModel]] = {}


def model_for(section: type[Section]) -> type[BaseModel]:
    """The pydantic model of one config table (built once per process)."""
    if section in _MODELS:
        return _MODELS[section]
    fields: dict[str, Any] = {}
    for spec in section._specs():
        annotation = _python_type(section, spec.name)
        rules = dict(section.RULES.get(spec.name, {}))
        choices = rules.pop("choices", None)
        if choices:
            literal: Any = Literal[tuple(choices)]
            is_list = typing.get_origin(annotation) is list
            annotation = list.__class_getitem__(literal) if is_list else literal
        default = ... if spec.default is _MISSING else spec.default  # no default: required
        if isinstance(default, Section):
            default = model_for(type(default)).model_validate(default.dump())
        fields[spec.name] = (
            annotation,
            Field(default=default, description=section.DOCS.get(spec.name), **rules),
        )
    model: type[BaseModel] = create_model(
        section.__name__,
        __config__=ConfigDict(extra="forbid", strict=True, validate_default=False),
        **fields,
    )
    _MODELS[section] = model
    return model


def _python_type(section: type[Section], name: str) -> Any:
    """The field's annotation as a type, from the class that declares it (tables are
    declared in :mod:`omcm.config` and in the provider modules)."""
    owner = next(k for k in section.__mro__ if name in vars(k).get("__annotations__", {}))
    annotation = vars(owner)["__annotations__"][name]
    if isinstance(annotation, str):
        namespace = dict(vars(sys.modules[owner.__module__]))
        value = eval(annotation, namespace)  # annotations of our own schema, not user input
    else:
        value = annotation
    if isinstance(value, type) and issubclass(value, Section):
        return model_for(value)
    args = typing.get_args(value)
    inner: Any = args[1] if typing.get_origin(value) is dict else None
    if isinstance(inner, type) and issubclass(inner, Section):
        return dict[str, model_for(inner)]  # type: ignore[misc]
    if value is float:
        return float | int
    if str(value) == "dict[str, float]":
        return dict[str, float | int]
    return value


def parse_text(text: str, where: str) -> cfg.Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    return validate_data(data, where)


def layered(data: dict[str, Any]) -> dict[str, Any]:
    """The user's tables laid over the defaults: every key not written keeps its default.

    This holds at every depth (``[providers.opencode.model] low = "…"`` keeps the
    command, the other tiers and every other provider), and a provider's ``model``
    written as one string (``model = "provider/model"``) sets all three tiers.
    Lists and other values the user writes replace the default whole.
    """
    return _merge(cfg.Config().dump(), _expand_models(data))


def _expand_models(data: dict[str, Any]) -> dict[str, Any]:
    providers = data.get("providers")
    if not isinstance(providers, dict):
        return data
    expanded = dict(providers)
    for name, table in providers.items():
        if isinstance(table, dict) and isinstance(table.get("model"), str):
            expanded[name] = table | {"model": dict.fromkeys(cfg.TIERS, table["model"])}
    return data | {"providers": expanded}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        below = base.get(key)
        if isinstance(below, dict) and isinstance(value, dict):
            merged[key] = _merge(below, value)
        else:
            merged[key] = value
    return merged


def validate_data(data: dict[str, Any], where: str) -> cfg.Config:
    """Validate what the user wrote, laid over the defaults (:func:`layered`)."""
    try:
        model = model_for(cfg.Config).model_validate(layered(data))
    except ValidationError as exc:
        raise ConfigError(f"{where}: " + "; ".join(_describe(e) for e in exc.errors())) from exc
    config = cfg.Config.parse(model.model_dump(), where)
    if config.recovery_threshold >= config.threshold:
        raise ConfigError(
            f"{where}: key 'recovery_threshold' must be below 'threshold' "
            f"({config.recovery_threshold} >= {config.threshold}); otherwise fallback never ends"
        )
    return config


def validate_file(path: str) -> cfg.Config:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return cfg.Config()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return parse_text(text, path)


def _describe(error: Any) -> str:
    loc = [str(part) for part in error["loc"] if not str(part).startswith(("function-", "literal"))]
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        section = _section_at(loc[:-1])
        known = [s.name for s in section._specs()] if section else []
        hint = difflib.get_close_matches(loc[-1], known, n=1)
        suggestion = f" (did you mean '{'.'.join([*loc[:-1], hint[0]])}'?)" if hint else ""
        return f"unknown key '{key}'{suggestion}"
    if error["type"] == "missing":
        return f"key '{key}' is required"
    got = error.get("input")
    shown = repr(got) if not isinstance(got, dict) else "a table"
    return f"key '{key}': {error['msg'].lower()} (got {shown})"


def _section_at(loc: list[str]) -> type[Section] | None:
    section: type[Section] = cfg.Config
    for part in loc:
        spec_default = next((s.default for s in section._specs() if s.name == part), _MISSING)
        if not isinstance(spec_default, Section):
            return None
        section = type(spec_default)
    return section


def get_value(config: cfg.Config, key: str) -> Any:
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
    current = get_value(cfg.Config(), key)  # raises for unknown keys
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
    from omcm.state import atomic_write

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
    return render_defaults(cfg.Config(), cfg.Config, [])


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

    walk(cfg.Config(), cfg.Config, "")
    return rows


def ensure_file(path: str) -> bool:
    """Write the commented defaults to ``path`` unless a config exists; True if written."""
    if os.path.exists(path):
        return False
    from omcm.state import atomic_write

    atomic_write(path, default_toml())
    return True

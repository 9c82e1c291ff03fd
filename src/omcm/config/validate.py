"""Validation of ``config.toml`` with pydantic.

The pydantic models are built from the record classes in :mod:`omcm.config.schema`
(one declaration of the schema), with ``extra="forbid"`` so a mistyped key is an
error naming the file and the key. Only the CLI and a hook that finds a changed
config file import this module.
"""

from __future__ import annotations

import difflib
import sys
import tomllib
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from omcm.config.schema import TIERS, Config
from omcm.core.errors import ConfigError
from omcm.core.records import _MISSING, Section
from omcm.providers import REGISTERED

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


def parse_text(text: str, where: str) -> Config:
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
    return _merge(Config().dump(), _expand_models(data))


def _expand_models(data: dict[str, Any]) -> dict[str, Any]:
    providers = data.get("providers")
    if not isinstance(providers, dict):
        return data
    expanded = dict(providers)
    for name, table in providers.items():
        if isinstance(table, dict) and isinstance(table.get("model"), str):
            expanded[name] = table | {"model": dict.fromkeys(TIERS, table["model"])}
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


def validate_data(data: dict[str, Any], where: str) -> Config:
    """Validate what the user wrote, laid over the defaults (:func:`layered`)."""
    try:
        model = model_for(Config).model_validate(layered(data))
    except ValidationError as exc:
        described = dict.fromkeys(_describe(e) for e in exc.errors())
        raise ConfigError(f"{where}: " + "; ".join(described)) from exc
    config = Config.parse(model.model_dump(), where)
    problems = _across(config)
    if problems:
        raise ConfigError(f"{where}: " + "; ".join(problems))
    return config


def _across(config: Config) -> list[str]:
    """What no single key's rule sees: keys that must agree with each other."""
    problems = []
    if config.recovery_threshold >= config.threshold:
        problems.append(
            f"key 'recovery_threshold' must be below 'threshold' "
            f"({config.recovery_threshold} >= {config.threshold}); otherwise fallback never ends"
        )
    gate = config.review.gate
    if isinstance(gate, str) and gate not in REGISTERED:
        problems.append(
            f"key 'review.gate' must be true, false or a provider name "
            f"({', '.join(REGISTERED)}), not {gate!r}"
        )
    for name, table in config.providers.dump().items():
        pool = table.get("pool") if isinstance(table, dict) else None
        if isinstance(pool, dict) and pool.get("min", 0) > pool.get("max", 0):
            problems.append(
                f"key 'providers.{name}.pool.min' ({pool['min']}) must not be above "
                f"'providers.{name}.pool.max' ({pool['max']})"
            )
    return problems


def validate_file(path: str) -> Config:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot be read ({why})") from exc
    return parse_text(text, path)


#: What pydantic adds to a key for each alternative of a union (``gate = true | "codex"``).
_UNION_TAGS = {"bool": "true or false", "str": "a string", "int": "an integer"}


def _describe(error: Any) -> str:
    loc = [str(part) for part in error["loc"] if not str(part).startswith(("function-", "literal"))]
    union = _union_error(loc, error)
    if union:
        return union
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        section = _section_at(loc[:-1])
        known = [s.name for s in section._specs()] if section else []
        hint = difflib.get_close_matches(loc[-1], known, n=1)
        suggestion = f" (did you mean '{'.'.join([*loc[:-1], hint[0]])}'?)" if hint else ""
        return f"unknown key '{key}'{suggestion}"
    if error["type"] == "missing":
        return f"key '{key}' is required"
    from omcm.core.errors import cut

    got = error.get("input")
    shown = cut(repr(got)) if not isinstance(got, dict) else "a table"
    return f"key '{key}': {cut(error['msg'].lower())} (got {shown})"


def _union_error(loc: list[str], error: Any) -> str:
    """One message for a value that fits no alternative of a union (pydantic gives one per
    alternative, each under the alternative's name); "" for any other error."""
    if len(loc) < 2 or loc[-1] not in _UNION_TAGS or not error["type"].endswith("_type"):
        return ""
    section = _section_at(loc[:-2])
    if section is None or loc[-2] not in {s.name for s in section._specs()}:
        return ""
    kinds = [k.__name__ for k in typing.get_args(_python_type(section, loc[-2]))]
    wanted = " or ".join(_UNION_TAGS[k] for k in kinds if k in _UNION_TAGS)
    return f"key '{'.'.join(loc[:-1])}': expected {wanted} (got {error.get('input')!r})"


def _section_at(loc: list[str]) -> type[Section] | None:
    section: type[Section] = Config
    for part in loc:
        spec_default = next((s.default for s in section._specs() if s.name == part), _MISSING)
        if not isinstance(spec_default, Section):
            return None
        section = type(spec_default)
    return section

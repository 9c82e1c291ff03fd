"""Typed records for hook payloads and state files, without pydantic.

A hook is a new interpreter on every Claude Code event. Importing pydantic costs
several times the bare interpreter start-up (see ``benchmarks/``), so the hot
path validates Claude Code's payloads and OMCM's own state files with this small
layer instead: class annotations declare the fields, :meth:`Record.parse` checks
every value and names each problem with its path, and keys a record does not
declare are ignored (Claude Code's payloads gain fields between versions).
pydantic stays where it earns its cost: the user-written ``config.toml``.

Supported annotations: ``str``, ``int``, ``float``, ``bool``, ``Any``,
``X | None``, ``X | Y`` (the first that fits), ``list[X]``, ``dict[str, X]`` and
other :class:`Record` classes.
"""

from __future__ import annotations

import sys

from omcm.core.errors import OmcmError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar, Self, dataclass_transform
else:

    def dataclass_transform(**_kwargs: object) -> object:
        return lambda cls: cls


_MISSING = object()


class RecordError(OmcmError):
    """A value does not fit its record; ``problems`` lists ``(path, message)``."""

    def __init__(self, where: str, problems: list[tuple[str, str]]) -> None:
        self.where = where
        self.problems = problems
        listed = "; ".join(f"{path or '(top level)'}: {msg}" for path, msg in problems)
        super().__init__(f"{where}: {listed}")


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _scalar(kind: type, label: str) -> Callable[[object, str, list[tuple[str, str]]], object]:
    def check(value: object, path: str, problems: list[tuple[str, str]]) -> object:
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            problems.append((path, f"expected {label}, got {_show(value)} ({_type_name(value)})"))
            return _MISSING
        return value

    return check


def _any(value: object, _path: str, _problems: list[tuple[str, str]]) -> object:
    return value


def _split_top(text: str, sep: str) -> list[str]:
    if sep not in text:
        return [text.strip()]
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


#: Checkers of annotations that name no record class ("str", "list[str]", "float | None"),
#: compiled once per process whatever module declares them: a hook compiles each record
#: class it uses, and most fields repeat a few such annotations.
_PLAIN: dict[str, Callable[[object, str, list[tuple[str, str]]], object]] = {}


def _compile(
    annotation: str, namespace: dict[str, object]
) -> Callable[[object, str, list[tuple[str, str]]], object]:
    found = _PLAIN.get(annotation)
    if found is not None:
        return found
    names: list[str] = []
    check = _build(annotation, namespace, names)
    if not names:
        _PLAIN[annotation] = check
    return check


def _build(
    annotation: str, namespace: dict[str, object], names: list[str]
) -> Callable[[object, str, list[tuple[str, str]]], object]:
    """The checker of ``annotation``; record classes it looks up are added to ``names``."""
    options = _split_top(annotation, "|")
    if len(options) > 1:
        nullable = "None" in options
        rest = [o for o in options if o != "None"]
        if len(rest) != 1:
            return _union(annotation, [_build(o, namespace, names) for o in rest], nullable)
        inner = _build(rest[0], namespace, names)

        def check_optional(value: object, path: str, problems: list[tuple[str, str]]) -> object:
            if value is None and nullable:
                return None
            return inner(value, path, problems)

        return check_optional
    name = annotation.strip()
    scalars = {
        "str": (str, "a string"),
        "int": (int, "an integer"),
        "float": (float, "a number"),
        "bool": (bool, "true or false"),
    }
    if name in scalars:
        return _scalar(*scalars[name])
    if name in ("Any", "object"):
        return _any
    if name.startswith("list[") and name.endswith("]"):
        item = _build(name[5:-1], namespace, names)

        def check_list(value: object, path: str, problems: list[tuple[str, str]]) -> object:
            if not isinstance(value, list):
                problems.append((path, f"expected an array, got {_type_name(value)}"))
                return _MISSING
            return [item(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]

        return check_list
    if name.startswith("dict[") and name.endswith("]"):
        key, val = _split_top(name[5:-1], ",")
        if key != "str":
            raise TypeError(f"record dict keys must be str, not {key!r}")
        inner_val = _build(val, namespace, names)

        def check_dict(value: object, path: str, problems: list[tuple[str, str]]) -> object:
            if not isinstance(value, dict):
                problems.append((path, f"expected an object, got {_type_name(value)}"))
                return _MISSING
            return {k: inner_val(v, f"{path}.{k}", problems) for k, v in value.items()}

        return check_dict
    names.append(name)
    target = namespace.get(name)
    if isinstance(target, type) and issubclass(target, Record):
        record_cls = target

        def check_record(value: object, path: str, problems: list[tuple[str, str]]) -> object:
            if not isinstance(value, dict):
                problems.append((path, f"expected an object, got {_type_name(value)}"))
                return _MISSING
            return record_cls._from(value, path, problems)

        return check_record
    raise TypeError(f"unsupported record annotation {annotation!r}")


def _union(
    annotation: str,
    checks: list[Callable[[object, str, list[tuple[str, str]]], object]],
    nullable: bool,
) -> Callable[[object, str, list[tuple[str, str]]], object]:
    """``A | B``: the first alternative the value fits (``gate = true`` or ``gate = "codex"``)."""

    def check_union(value: object, path: str, problems: list[tuple[str, str]]) -> object:
        if value is None and nullable:
            return None
        for check in checks:
            tried: list[tuple[str, str]] = []
            found = check(value, path, tried)
            if not tried:
                return found
        shown = " or ".join(part for part in _split_top(annotation, "|") if part != "None")
        problems.append((path, f"expected {shown}, got {_show(value)} ({_type_name(value)})"))
        return _MISSING

    return check_union


class _Spec:
    __slots__ = ("check", "default", "name")

    def __init__(self, name: str, check: Callable[..., object], default: object) -> None:
        self.name = name
        self.check = check
        self.default = default


def _deep(value: object) -> object:
    """``value`` copied all the way down (records, lists and dicts; the rest is immutable)."""
    if isinstance(value, Record):
        return value._copy()
    if isinstance(value, list):
        return [_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: _deep(v) for k, v in value.items()}
    return value


def _fresh(default: object) -> object:
    if isinstance(default, Record):
        return default._copy()
    if isinstance(default, list):
        return list(default)
    if isinstance(default, dict):
        return dict(default)
    return default


@dataclass_transform(kw_only_default=True)
class Record:
    """Base class: declare fields as annotations, defaults as class values."""

    __specs: ClassVar[dict[type, tuple[_Spec, ...]]] = {}

    @classmethod
    def _specs(cls) -> tuple[_Spec, ...]:
        specs = Record.__specs.get(cls)
        if specs is None:
            collected: dict[str, _Spec] = {}
            for klass in reversed(cls.__mro__):
                namespace = vars(sys.modules[klass.__module__])
                for name, annotation in vars(klass).get("__annotations__", {}).items():
                    if name.startswith("_") or str(annotation).startswith("ClassVar"):
                        continue
                    default = vars(klass).get(name, _MISSING)
                    if isinstance(annotation, type):  # a field added after the class was made
                        check = _compile(annotation.__name__, {annotation.__name__: annotation})
                    else:
                        check = _compile(str(annotation), namespace)
                    collected[name] = _Spec(name, check, default)
            specs = Record.__specs[cls] = tuple(collected.values())
        return specs

    def __init__(self, **values: Any) -> None:
        for spec in self._specs():
            if spec.name in values:
                setattr(self, spec.name, values.pop(spec.name))
            elif spec.default is _MISSING:
                raise TypeError(f"{type(self).__name__}: missing field {spec.name!r}")
            else:
                setattr(self, spec.name, _fresh(spec.default))
        if values:
            raise TypeError(f"{type(self).__name__}: unknown fields {sorted(values)}")

    @classmethod
    def _from(cls, data: dict[str, Any], prefix: str, problems: list[tuple[str, str]]) -> Self:
        self = cls.__new__(cls)
        for spec in cls._specs():
            path = f"{prefix}.{spec.name}" if prefix else spec.name
            if spec.name not in data:
                if spec.default is _MISSING:
                    problems.append((path, "field required"))
                    continue
                value = _fresh(spec.default)
            else:
                value = spec.check(data[spec.name], path, problems)
            object.__setattr__(self, spec.name, value)
        return self

    @classmethod
    def parse(cls, data: object, where: str) -> Self:
        """Validate ``data`` (decoded JSON); raise :class:`RecordError` naming ``where``."""
        if not isinstance(data, dict):
            raise RecordError(where, [("", f"expected an object, got {_type_name(data)}")])
        problems: list[tuple[str, str]] = []
        record = cls._from(data, "", problems)
        if problems:
            raise RecordError(where, problems)
        return record

    def _copy(self) -> Self:
        """A copy that shares nothing mutable with this record (its values are already
        checked: copied as they are, not dumped and parsed again)."""
        copy = type(self).__new__(type(self))
        for spec in self._specs():
            object.__setattr__(copy, spec.name, _deep(getattr(self, spec.name)))
        return copy

    def dump(self) -> dict[str, Any]:
        """The record as plain JSON-ready data."""
        return {spec.name: _dump(getattr(self, spec.name)) for spec in self._specs()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record) or type(other) is not type(self):
            return False
        return self.dump() == other.dump()

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dataclass

    def __repr__(self) -> str:
        fields = ", ".join(f"{s.name}={getattr(self, s.name)!r}" for s in self._specs())
        return f"{type(self).__name__}({fields})"


def _dump(value: object) -> object:
    if isinstance(value, Record):
        return value.dump()
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


class Section(Record):
    """A table of ``config.toml``; ``DOCS`` describes its keys, ``RULES`` bounds them.

    Declared here rather than in :mod:`omcm.config` because each provider module
    declares its own table (:class:`omcm.providers.base.ProviderSettings`).
    """

    DOCS: ClassVar[dict[str, str]] = {}
    RULES: ClassVar[dict[str, dict[str, Any]]] = {}

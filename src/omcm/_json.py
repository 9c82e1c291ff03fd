"""The JSON reader and writer every hot path uses.

A hook is a new interpreter per Claude Code event and its budget is about twice
the interpreter's bare start-up. The ``json`` package costs a third of that on
import alone, because its pure-Python layer compiles regular expressions
(``re``, ``enum``, ``functools``, ``collections``). The C accelerator ``_json``
that does the real work needs none of it, so this module drives ``_json``'s
scanner and encoder directly, with the same results as ``json.loads`` and
``json.dumps(ensure_ascii=False)``; where ``_json`` is missing (another Python
implementation) it falls back to ``json``. ``pretty=True`` output, used only by
the CLI, always goes through ``json``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Raised for text that is not JSON (``json.JSONDecodeError`` is a subclass).
JSONDecodeError = ValueError

_WS = " \t\n\r"


def _constant(name: str) -> float:
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


def _not_serializable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class _Context:
    """The attributes ``_json.make_scanner`` reads from a decoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_constant)
    memo: dict[str, str] = {}


try:
    import _json

    _scan = _json.make_scanner(_Context())
    _encode = _json.make_encoder(
        {}, _not_serializable, _json.encode_basestring, None, ":", ",", False, False, True
    )
except (ImportError, AttributeError, TypeError):  # pragma: no cover - other Pythons
    _scan = _encode = None


def loads(text: str | bytes) -> Any:
    """Parse JSON text (bytes must be UTF-8); raise ``ValueError`` naming the position."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")
    if _scan is None:  # pragma: no cover
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = _scan(text, start)
    except StopIteration as stop:
        raise _error("Expecting value", text, stop.value) from None
    if text[end:].strip(_WS):
        raise _error("Extra data", text, end + len(text[end:]) - len(text[end:].lstrip(_WS)))
    return value


def _error(message: str, text: str, position: int) -> ValueError:
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    return ValueError(f"{message}: line {line} column {column} (char {position})")


def dumps(value: Any, *, pretty: bool = False) -> str:
    """Compact JSON with non-ASCII text kept as it is; ``pretty`` indents (CLI output)."""
    if pretty or _encode is None:
        import json

        if pretty:
            return json.dumps(value, ensure_ascii=False, indent=2)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))  # pragma: no cover
    if isinstance(value, str):
        return _json.encode_basestring(value)  # type: ignore[no-any-return]
    return "".join(_encode(value, 0))

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


class JSONDecodeError(ValueError):
    """Text that is not JSON, with the position, like ``json.JSONDecodeError``."""

    def __init__(self, msg: str, doc: str, pos: int) -> None:
        self.msg, self.doc, self.pos = msg, doc, pos
        self.lineno = doc.count("\n", 0, pos) + 1
        self.colno = pos - doc.rfind("\n", 0, pos)
        super().__init__(f"{msg}: line {self.lineno} column {self.colno} (char {pos})")


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

    _scan: Any = _json.make_scanner(_Context())  # type: ignore[arg-type]
    _encode: Any = _json.make_encoder(
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
        raise JSONDecodeError("Expecting value", text, stop.value) from None
    except ValueError as exc:  # the scanner's own json.JSONDecodeError
        raise JSONDecodeError(getattr(exc, "msg", str(exc)), text, getattr(exc, "pos", 0)) from None
    except SystemError:
        # CPython 3.11's scanner raises most errors as json.decoder.JSONDecodeError, which
        # it looks up in sys.modules only: not loaded yet (the hot path never loads it), it
        # fails without an exception. Load it and parse again, for the real message.
        import sys

        if "json.decoder" in sys.modules:
            raise JSONDecodeError("Invalid JSON", text, start) from None
        import json.decoder

        return loads(text)
    rest = text[end:]
    if rest.strip(_WS):
        raise JSONDecodeError("Extra data", text, end + len(rest) - len(rest.lstrip(_WS)))
    return value


def dumps(value: Any, *, pretty: bool = False) -> str:
    """Compact JSON with non-ASCII text kept as it is; ``pretty`` indents (CLI output)."""
    if pretty or _encode is None:
        import json

        if pretty:
            return json.dumps(value, ensure_ascii=False, indent=2)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))  # pragma: no cover
    if isinstance(value, str):
        return _json.encode_basestring(value)
    return "".join(_encode(value, 0))

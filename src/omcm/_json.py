"""The JSON reader and writer every hot path uses.

Kept in one place so the hook's start-up cost of JSON is paid once and can be
measured (``benchmarks/``): ``json`` is the only sizeable import a hook needs.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

JSONDecodeError = json.JSONDecodeError


def loads(text: str | bytes) -> Any:
    return json.loads(text)


def dumps(value: Any, *, pretty: bool = False) -> str:
    if pretty:
        return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

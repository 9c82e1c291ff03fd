"""``omcm.core.fastjson``: the hot path's JSON, without the ``json`` package loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from omcm.core import fastjson

DAMAGED = ['{"event": "call", "time": "damaged"', '{"a": 1', "{", '{"a"', "[1,", "nul", ""]


@pytest.mark.parametrize("text", DAMAGED)
def test_damaged_text_is_a_value_error_naming_the_position(text: str) -> None:
    with pytest.raises(ValueError, match=r"char \d+"):
        fastjson.loads(text)


def test_damaged_text_is_a_value_error_where_json_was_never_imported() -> None:
    """CPython 3.11's scanner looks ``json.decoder`` up in sys.modules only; a hook's process
    has not loaded it, and a truncated line used to surface as SystemError."""
    script = (
        "import sys\n"
        "from omcm.core import fastjson\n"
        "assert 'json.decoder' not in sys.modules, 'the test needs a process without json'\n"
        f"for text in {DAMAGED!r}:\n"
        "    try:\n"
        "        fastjson.loads(text)\n"
        "    except ValueError as exc:\n"
        "        print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(DAMAGED)
    assert all(line.startswith("JSONDecodeError ") for line in lines)
    assert lines[0] == "JSONDecodeError Expecting ',' delimiter: line 1 column 36 (char 35)"


def test_round_trip() -> None:
    value = {"a": [1, 2.5, None, True], "b": "ü\n"}
    assert fastjson.loads(fastjson.dumps(value)) == value

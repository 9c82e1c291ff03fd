"""Claude's own tokens for one session, summed from its transcripts for the HUD.

The status-line JSON has no session totals: in Claude Code 2.1.197
``context_window.total_input_tokens`` is the *last* response's input plus cache
tokens and ``total_output_tokens`` its output (the context now, observed and
read in the CLI's source). So the HUD adds up ``message.usage`` of every
assistant entry in the session's transcript and its subagents' transcripts
(``<session>/subagents/*.jsonl``), counting input as OMCM does for providers
(fresh + cache writes + cache reads) and each API message once (Claude Code
writes one entry per content block, all with the same ``message.id``).

The status line runs every few hundred milliseconds, so each run reads only
what was appended since the last one: ``sessions/<id>/claude-tokens.json``
keeps per file the offset read up to, the last message id and the sums.
"""

from __future__ import annotations

import os

from omcm.core import fastjson, state

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CACHE_FILE = "claude-tokens.json"
#: Most bytes read from one transcript per run; the rest is read by the next runs.
MAX_READ = 8 * 1024 * 1024
_INPUT_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def session_tokens(session_id: str, transcript_path: str) -> tuple[int, int] | None:
    """``(input, output)`` tokens Claude used in this session so far; ``None`` if unknown."""
    if not transcript_path or not os.path.exists(transcript_path):
        return None
    cache_path = state.session_file(session_id, CACHE_FILE)
    stored = _load(cache_path).get("files")
    files: dict[str, Any] = stored if isinstance(stored, dict) else {}
    changed = False
    for path in [transcript_path, *_subagent_files(transcript_path)]:
        seen = files.get(path)
        updated = _scan(path, seen if isinstance(seen, dict) else {})
        if updated is not None:
            files[path] = updated
            changed = True
    if changed:
        state.atomic_write(cache_path, fastjson.dumps({"version": 1, "files": files}))
    tokens_in = sum(_count(seen.get("input")) for seen in files.values())
    tokens_out = sum(_count(seen.get("output")) for seen in files.values())
    return tokens_in, tokens_out


def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = fastjson.loads(handle.read())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _subagent_files(transcript_path: str) -> list[str]:
    folder = os.path.join(transcript_path.removesuffix(".jsonl"), "subagents")
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [os.path.join(folder, name) for name in names if name.endswith(".jsonl")]


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)


def _scan(path: str, seen: dict[str, Any]) -> dict[str, Any] | None:
    """``seen`` brought up to date with the lines appended to ``path``; ``None``: unchanged."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return None
    offset = _count(seen.get("offset"))
    if size < offset:  # rewritten: start over
        seen, offset = {}, 0
    if size == offset:
        return None
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(min(size - offset, MAX_READ))
    except OSError:
        return None
    end = data.rfind(b"\n") + 1  # only whole lines; a line being written waits
    if end == 0:
        return None
    tokens_in, tokens_out = _count(seen.get("input")), _count(seen.get("output"))
    last_id = seen.get("last_id", "")
    for line in data[:end].split(b"\n"):
        if b'"usage"' not in line or b'"assistant"' not in line:
            continue
        message = _message(line)
        if message is None or (message.get("id") and message.get("id") == last_id):
            continue
        usage = message.get("usage")
        if isinstance(usage, dict):
            tokens_in += sum(_count(usage.get(key)) for key in _INPUT_KEYS)
            tokens_out += _count(usage.get("output_tokens"))
        last_id = message.get("id") or ""
    return {"offset": offset + end, "last_id": last_id, "input": tokens_in, "output": tokens_out}


def _message(line: bytes) -> dict[str, Any] | None:
    try:
        entry = fastjson.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(entry, dict) or entry.get("type") != "assistant":
        return None
    message = entry.get("message")
    return message if isinstance(message, dict) else None

"""A provider's answer: as Claude reads it, where it is kept, and when it is given again.

- :func:`frame` puts the answer between a first line that says what it is and a
  footer with the numbers, cut at ``delegation.max_answer_chars`` (the whole text
  stays in its output file);
- :func:`save` keeps the whole answer under ``outputs/<session>/`` (a job keeps
  its own in its folder);
- :func:`keep` and :func:`recall` are the answer store: an identical call of the
  same session (same agent and prompt) within ``delegation.repeat_window`` seconds
  gets the stored answer instead of a new run (``sessions/<id>/answers/``).
"""

from __future__ import annotations

import hashlib
import os
import time

from omcm.calls.call import Outcome
from omcm.calls.routing_log import Tokens
from omcm.core import fastjson, paths, state
from omcm.core.records import RecordError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from omcm.calls.call import RoutedCall
    from omcm.providers.base import Usage


def tokens_of(usage: Usage) -> Tokens:
    """A provider's usage as the routing log counts it."""
    return Tokens(
        input=usage.input, cached=usage.cached, output=usage.output, reasoning=usage.reasoning
    )


def frame(
    agent: str,
    provider_name: str,
    model: str,
    text: str,
    *,
    tokens: Tokens,
    seconds: float,
    output_path: str,
    cap: int,
    head: str = "",
) -> str:
    """A provider's answer as Claude gets it: a first line that says what it is, the answer
    (cut at ``cap``, the rest in ``output_path``), and a footer with the numbers."""
    from omcm.providers import PROVIDERS

    shown = text
    if len(text) > cap:
        shown = (
            text[:cap].rstrip() + f"\n\n[… answer cut at {cap} of {len(text)} characters; "
            f"the full answer is in {output_path}]"
        )
    known = PROVIDERS.get(provider_name)
    label = known.label if known else provider_name
    head = head or (
        f"[OMCM] This {agent} subagent task was completed by {label} "
        f"(model {model}) instead of a Claude subagent. What follows is the subagent's "
        "result, not an error or a refusal: use it as the subagent's answer and do not "
        "run the task again."
    )
    foot = (
        f"— omcm: {agent} → {provider_name}/{model} · {tokens.input:,} in / "
        f"{tokens.output:,} out tokens · {seconds:.1f}s · full output: {output_path}"
    )
    return f"{head}\n\n{shown}\n\n{foot}"


def outputs_dir(session_id: str) -> str:
    return os.path.join(paths.state_dir(), "outputs", paths.safe_name(session_id, "session id"))


def save(call: RoutedCall, outcome: Outcome, path: str = "") -> str:
    """Keep the whole answer (at ``path``, else beside the session's outputs); its path."""
    if not path:
        source = call.source
        name = (
            paths.safe_name(source.tool_use_id, "tool_use_id")
            if source.tool_use_id
            else f"call-{int(time.time() * 1000)}"
        )
        path = os.path.join(outputs_dir(source.session_id or source.door), f"{name}.md")
        header = (
            f"<!-- omcm: {call.decision.agent} → {outcome.provider}/{outcome.model}, "
            f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} -->\n"
        )
        state.atomic_write(path, header + outcome.text + "\n")
    else:
        state.atomic_write(path, outcome.text + "\n")
    return path


# --- the answer store ------------------------------------------------------------------


class Stored(Outcome):
    """An answer kept for repeated calls (``sessions/<id>/answers/<key>.json``)."""

    at: float = 0.0


def _file(call: RoutedCall) -> str:
    key = hashlib.sha256(f"{call.decision.agent}\0{call.task.prompt}".encode()).hexdigest()[:32]
    return os.path.join(paths.session_dir(call.source.session_id), "answers", f"{key}.json")


def recall(call: RoutedCall, window: int) -> Outcome | None:
    """The answer an identical call of this session got within ``window`` seconds, if any."""
    if window <= 0 or not call.source.session_id:
        return None
    try:
        with open(_file(call), "rb") as handle:
            stored = Stored.parse(fastjson.loads(handle.read()), "stored answer")
    except (OSError, ValueError, RecordError):
        return None  # none, or damaged (then a new run replaces it)
    age = time.time() - stored.at
    if age > window or not stored.text:
        return None
    found = Outcome.parse({**stored.dump(), "ended": "cache", "attempts": []}, "stored answer")
    found.age = age
    return found


def keep(call: RoutedCall, outcome: Outcome) -> None:
    """Store an answered call's answer for :func:`recall`."""
    if not call.source.session_id:
        return
    stored = Stored.parse({**outcome.dump(), "attempts": []}, "answer")
    stored.at = time.time()
    state.atomic_write(_file(call), fastjson.dumps(stored.dump()))

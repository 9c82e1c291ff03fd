"""What subagents cost Claude on this machine, observed, and what a routed call avoided.

Every subagent that runs on Claude is written to the routing log as a
``subagent`` line (:class:`omcm.calls.routing_log.SubagentEntry`) with its real usage:
the PostToolUse hook reads a foreground subagent's ``tool_response`` (Claude Code
puts ``usage``, ``totalTokens`` and ``totalDurationMs`` there); a background one
(Claude Code 2.1.198+) has none there, so PostToolUse leaves a note and the
task notification that hands its result back later supplies the total, with the
per-request split read from the subagent's own transcript.

:class:`Observed` keeps running sums per agent and per tier
(``claude-subagents.json`` in the state dir), so a routed call can be credited
at once with the Claude tokens it avoided: the mean of what the same agent cost
Claude here, or, with no observation of that agent, of its tier, and how many
observations stand behind the figure. With none, the figure is unknown — never
a constant. ``omcm savings`` recomputes the same from the log for any period.
"""

from __future__ import annotations

import os
import time

from omcm.core import fastjson, paths, state
from omcm.core.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.calls.routing_log import SubagentEntry

OBSERVED = "claude-subagents.json"
#: Tag of a task notification's usage block, and of the fields in it.
_USAGE = ("<usage>", "</usage>")


class Sums(Record):
    """Running sums of one agent's (or tier's) subagents on Claude."""

    n: int = 0
    total: int = 0
    input: int = 0  # cache not included
    cache: int = 0  # cache reads and writes
    output: int = 0

    def add(self, entry: SubagentEntry) -> None:
        self.n += 1
        self.total += entry.total
        self.input += entry.input
        self.cache += entry.cache_creation + entry.cache_read
        self.output += entry.output


class Observed(state.StateRecord):
    """``claude-subagents.json``: what subagents cost Claude here, per agent and per tier."""

    agents: dict[str, Sums] = {}
    tiers: dict[str, Sums] = {}
    updated_at: float = 0.0


class Estimate(Record):
    """The Claude tokens a routed call avoided, and what the figure rests on."""

    tokens: int
    basis: str  # "agent" | "tier"
    key: str  # the agent or tier name
    n: int  # observations behind it

    def describe(self) -> str:
        what = f"{self.key} subagents" if self.basis == "agent" else f"{self.key}-tier subagents"
        return f"mean of {self.n} {what} observed on Claude"


def estimate(observed: Observed, agent: str, tier: str) -> Estimate | None:
    """The mean Claude cost of ``agent`` here, else of its ``tier``; None with no observation."""
    for basis, table, key in (("agent", observed.agents, agent), ("tier", observed.tiers, tier)):
        sums = table.get(key)
        if sums is not None and sums.n:
            return Estimate(tokens=round(sums.total / sums.n), basis=basis, key=key, n=sums.n)
    return None


def load() -> Observed:
    return state.load(paths.state_file(OBSERVED), Observed)


def record(entry: SubagentEntry) -> None:
    """Log one subagent that ran on Claude and add it to the observed sums."""
    from omcm.calls import routing_log

    routing_log.append(entry)

    def mutate(observed: Observed) -> None:
        observed.agents.setdefault(entry.agent, Sums()).add(entry)
        observed.tiers.setdefault(entry.tier, Sums()).add(entry)
        observed.updated_at = time.time()

    state.update(paths.state_file(OBSERVED), Observed, mutate)


def from_usage(usage: dict[str, Any]) -> dict[str, int]:
    """Anthropic usage (``input_tokens`` without the cache) as the entry's token fields."""

    def count(name: str) -> int:
        value = usage.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return {
        "input": count("input_tokens"),
        "cache_creation": count("cache_creation_input_tokens"),
        "cache_read": count("cache_read_input_tokens"),
        "output": count("output_tokens"),
    }


# --- background subagents: the note PostToolUse leaves, the notification that ends it ------


def pending_file(session_id: str, agent_id: str) -> str:
    folder = os.path.join(paths.session_dir(session_id), "claude-subagents")
    return os.path.join(folder, paths.safe_name(agent_id, "agent id") + ".json")


def keep_pending(entry: SubagentEntry, agent_id: str) -> None:
    """Note a background subagent's start (PostToolUse) until its notification ends it."""
    path = pending_file(entry.session_id, agent_id)
    state.atomic_write(path, fastjson.dumps(entry.dump()))


def pending(session_id: str, agent_id: str) -> SubagentEntry | None:
    """The note :func:`keep_pending` left for this subagent, if OMCM saw it start."""
    from omcm.calls.routing_log import SubagentEntry

    path = pending_file(session_id, agent_id)
    try:
        with open(path, "rb") as handle:
            return SubagentEntry.parse(fastjson.loads(handle.read()), path)
    except (OSError, ValueError):
        return None


def forget_pending(session_id: str, agent_id: str) -> None:
    try:
        os.unlink(pending_file(session_id, agent_id))
    except FileNotFoundError:
        pass


def notification_fields(prompt: str) -> dict[str, str]:
    """``task-id``, ``tool-use-id``, ``status`` and the usage fields of a task notification."""
    import re

    found = {
        name: match.group(1).strip()
        for name in ("task-id", "tool-use-id", "status")
        if (match := re.search(rf"<{name}>(.*?)</{name}>", prompt, re.S))
    }
    start, end = prompt.find(_USAGE[0]), prompt.find(_USAGE[1])
    if start >= 0 and end > start:
        block = prompt[start + len(_USAGE[0]) : end]
        for name in ("subagent_tokens", "tool_uses", "duration_ms"):
            match = re.search(rf"<{name}>\s*(\d+)\s*</{name}>", block) or re.search(
                rf"{name}:\s*(\d+)", block
            )
            if match:
                found[name] = match.group(1)
    return found


class Spent(Record):
    """A subagent's usage, summed over the model responses its transcript holds."""

    input: int = 0
    cache_creation: int = 0
    cache_read: int = 0
    output: int = 0
    requests: int = 0
    model: str = ""
    last: dict[str, int] = {}  # the last response's usage, as :func:`from_usage` gives it

    @property
    def total(self) -> int:
        return self.input + self.cache_creation + self.cache_read + self.output

    def counts(self) -> dict[str, int]:
        return {
            "input": self.input,
            "cache_creation": self.cache_creation,
            "cache_read": self.cache_read,
            "output": self.output,
        }


def subagent_transcript(transcript_path: str, agent_id: str) -> str:
    """``<session>/subagents/agent-<id>.jsonl`` beside the session's ``<session>.jsonl``."""
    if not transcript_path.endswith(".jsonl") or not agent_id:
        return ""
    folder = transcript_path[: -len(".jsonl")]
    name = "agent-" + paths.safe_name(agent_id, "agent id") + ".jsonl"
    return os.path.join(folder, "subagents", name)


def subagent_usage(
    transcript_path: str, agent_id: str, final: dict[str, int] | None = None, wait: float = 0.0
) -> Spent | None:
    """A subagent's usage over every model request it made, from its own transcript.

    Claude Code 2.1.332 writes that file in batches, so its last response may land
    after the hook runs. ``final``, the last response's usage as the tool result
    reports it, tells when the file is complete: the file is read again (for up to
    ``wait`` seconds) until its last response is that one, and if it never gets
    there, ``final`` is counted as the missing last request. None when the file
    does not exist.
    """
    import time

    path = subagent_transcript(transcript_path, agent_id)
    if not path or not os.path.exists(path):
        return None
    deadline = time.monotonic() + wait
    size = -1
    while True:
        found = transcript_usage(path)
        if final is not None and found.last == final:
            return found
        if final is None:
            # No last response to look for: the file is complete once Claude Code marks
            # the subagent finished (agent-<id>.meta.json) and the file stops growing.
            now = os.path.getsize(path)
            if (now == size and _finished(path)) or time.monotonic() >= deadline:
                return found if found.requests else None
            size = now
        elif time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    for name, value in final.items():
        setattr(found, name, getattr(found, name) + value)
    found.requests += 1
    found.last = dict(final)
    return found


def _finished(path: str) -> bool:
    """Whether ``agent-<id>.meta.json`` beside ``path`` says the subagent finished (True when
    there is no such file: older releases write none)."""
    from omcm.core import fastjson

    try:
        with open(path[: -len(".jsonl")] + ".meta.json", "rb") as handle:
            meta = fastjson.loads(handle.read())
    except (OSError, ValueError):
        return True
    return not isinstance(meta, dict) or bool(meta.get("finished", True))


def transcript_usage(path: str, limit: int = 64 * 1024 * 1024) -> Spent:
    """Summed usage of a subagent transcript's model responses (their count, the model).

    Read line by line (at most ``limit`` bytes); only ``assistant`` lines are parsed,
    and a response split over several lines (one per content block, same message
    id) counts once. ``last`` is the newest response by its timestamp, wherever it stands
    in the file.
    """
    from omcm.core import fastjson

    spent = Spent()
    seen: set[str] = set()
    latest = ""  # the newest response's timestamp: a busy 2.1.62 writes them out of order
    read = 0
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                read += len(raw)
                if read > limit:
                    break
                if b'"assistant"' not in raw or b'"usage"' not in raw:
                    continue
                try:
                    line = fastjson.loads(raw.decode("utf-8", "replace"))
                except ValueError:
                    continue
                message = line.get("message") if isinstance(line, dict) else None
                if not isinstance(message, dict) or line.get("type") != "assistant":
                    continue
                ident = str(message.get("id") or len(seen))
                if ident in seen:
                    continue
                seen.add(ident)
                counts = from_usage(message.get("usage") or {})
                for name, value in counts.items():
                    setattr(spent, name, getattr(spent, name) + value)
                stamp = str(line.get("timestamp") or "")
                if stamp >= latest:  # ISO times compare as text; none: the file's order
                    latest, spent.last = stamp, counts
                spent.model = str(message.get("model") or spent.model)
    except OSError:
        return Spent()
    spent.requests = len(seen)
    return spent

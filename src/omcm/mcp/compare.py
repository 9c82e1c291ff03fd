"""A ``consensus``'s comparison of its answers, made without asking a model.

What is compared, and said so in the text Claude gets: the file paths each
answer names, the names it puts in backticks, the verdict word its opening
states (yes/no, approve/reject, safe/unsafe, …), and how many of its words the
others share. These are surface facts of the texts, not a judgement of which
answer is right; an answer that states no verdict is said to state none.
"""

from __future__ import annotations

import re

from omcm.core.records import Record

#: Paths with an extension (``src/app.py``, ``README.md:12``), not inside a URL.
_EXT = r"\.[A-Za-z][A-Za-z0-9]{0,7}"
_PATH = re.compile(rf"(?<![\w/.:-])((?:[\w.-]+/)+[\w-]+{_EXT}|[\w-]{{2,}}{_EXT})\b(?!/)")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.I)
_TICKED = re.compile(r"`([^`\n]{1,60})`")
_WORD = re.compile(r"[a-z][a-z0-9_'-]{3,}")
#: Verdict words looked for in an answer's opening, strongest phrases first.
_VERDICTS = (
    (
        "no",
        r"\b(?:do not|don't|should not|shouldn't|not safe|unsafe|reject(?:ed)?|request "
        r"changes|incorrect|wrong|disagree|no)\b",
    ),
    ("yes", r"\b(?:lgtm|looks good|approved?|safe|correct|agree|yes)\b"),
)
#: Characters of an answer's opening in which a verdict counts.
OPENING = 300


class Answer(Record):
    """One provider's part of a consensus."""

    provider: str
    model: str = ""
    text: str = ""  # "" when it gave no answer
    error: str = ""  # why it gave none
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    job_id: str = ""


def verdict(text: str) -> tuple[str, str]:
    """(``yes``/``no``/"", the words found) in the answer's opening."""
    opening = text[:OPENING].lower()
    best: tuple[int, str, str] | None = None
    for kind, pattern in _VERDICTS:
        found = re.search(pattern, opening)
        if found and (best is None or found.start() < best[0]):
            best = (found.start(), kind, found.group(0))
    return (best[1], best[2]) if best else ("", "")


def paths(text: str) -> set[str]:
    cleaned = _URL.sub(" ", text)
    return {m.group(1) for m in _PATH.finditer(cleaned)}


def ticked(text: str) -> set[str]:
    return {m.group(1).strip() for m in _TICKED.finditer(text) if m.group(1).strip()}


def words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def compare(answers: list[Answer]) -> str:
    """The comparison of the answers given (at least two, else a line saying so)."""
    given = [a for a in answers if a.text]
    head = (
        "Comparison (made without a model: the file paths and `names` each answer mentions, "
        f"the verdict word in its first {OPENING} characters, and the share of words in common; "
        "surface facts, not a judgement of which is right):"
    )
    if len(given) < 2:
        return f"{head}\n- fewer than two answers came back, so nothing was compared"
    lines = [head, _verdicts(given)]
    lines += _sets("files named", {a.provider: paths(a.text) for a in given})
    lines += _sets("`names` used", {a.provider: ticked(a.text) for a in given})
    lines.append(_overlap(given))
    return "\n".join(lines)


def _verdicts(given: list[Answer]) -> str:
    found = {a.provider: verdict(a.text) for a in given}
    parts = [
        f"{p} {kind} (“{said}”)" if kind else f"{p} states none"
        for p, (kind, said) in found.items()
    ]
    kinds = {kind for kind, _ in found.values() if kind}
    if len(kinds) > 1:
        summary = "they DISAGREE"
    elif kinds and all(kind for kind, _ in found.values()):
        summary = "they agree"
    elif kinds:
        summary = "no disagreement, but not all state one"
    else:
        summary = "none states one"
    return f"- verdict: {'; '.join(parts)} → {summary}"


def _sets(what: str, named: dict[str, set[str]]) -> list[str]:
    every = set.union(*named.values())
    if not every:
        return [f"- {what}: none"]
    common = set.intersection(*named.values())
    lines = [f"- {what} by all: {_list(common) or 'none'}"]
    for provider, mine in named.items():
        only = mine - set.union(set(), *(v for p, v in named.items() if p != provider))
        if only:
            lines.append(f"  only {provider}: {_list(only)}")
    return lines


def _overlap(given: list[Answer]) -> str:
    sets = {a.provider: words(a.text) for a in given}
    pairs = []
    names = list(sets)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            union = sets[first] | sets[second]
            share = len(sets[first] & sets[second]) / len(union) if union else 0.0
            pairs.append(f"{first}/{second} {share:.0%}")
    return "- words in common (of either's distinct words of 4+ letters): " + ", ".join(pairs)


def _list(items: set[str], most: int = 12) -> str:
    ordered = sorted(items)
    shown = ", ".join(ordered[:most])
    return shown + (f" (+{len(ordered) - most} more)" if len(ordered) > most else "")

"""Parsing helpers the provider modules share.

Reading the CLIs' JSON output, turning their error texts into one short line,
sorting an error into auth / rate limit / other, and reading the reset hints
a rate-limited CLI gives ("try again at 3:28 PM", "retry in 30s",
``retry-after`` headers) as a unix time.
"""

from __future__ import annotations

import time

from omcm.core import fastjson
from omcm.providers.base import ProviderResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Iterator, Mapping
    from typing import Any

    from omcm.core.proc import ProcResult
    from omcm.providers.base import Outcome

MAX_ERROR = 200

_AUTH = (
    r"(?i)\b401\b|\b403\b|unauthori[sz]ed|unauthenticated|not logged in|log ?in required"
    r"|missing environment variable|api[ _-]?key|auth method|credentials?\b|permission denied"
)
_RATE = r"(?i)\b429\b|too many requests|rate[ _-]?limit|resource[ _]exhausted|usage limit|quota"


def regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled (``re`` caches it): patterns are kept as text so that importing
    a provider module, which every hook does, does not import ``re``."""
    import re

    return re.compile(pattern)


# -- output -------------------------------------------------------------------


def json_lines(text: str) -> Iterator[dict[str, Any]]:
    """Every line of ``text`` that is a JSON object (other lines are skipped)."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            value = fastjson.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            yield value


def last_json_object(text: str) -> dict[str, Any] | None:
    """The last JSON object in ``text`` that starts at the beginning of a line.

    It may span several lines (pretty-printed) and follow other output, such
    as a stack trace.
    """
    import json

    decoder = json.JSONDecoder()
    starts = [m.start() for m in regex(r"(?m)^\{").finditer(text)]
    for start in reversed(starts):
        try:
            value, _end = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def one_line(text: str, limit: int = MAX_ERROR) -> str:
    """The first non-empty line of ``text``, whitespace collapsed, cut at ``limit`` between
    two words (a login hint must not end in half a word)."""
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if line:
            return line if len(line) <= limit else _cut_between_words(line, limit)
    return ""


def _cut_between_words(line: str, limit: int) -> str:
    """``line`` cut to at most ``limit`` characters after its last whole word, with ``…``;
    at ``limit`` when the line has no space late enough (a URL, a path)."""
    head = line[: limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2 and line[limit - 1] != " ":
        head = head[:space]
    return head.rstrip(" ,;:") + "…"


def last_line(text: str, limit: int = MAX_ERROR) -> str:
    """The last non-empty line of ``text``, as :func:`one_line` would show it."""
    lines = [line for line in text.splitlines() if line.strip()]
    return one_line(lines[-1], limit) if lines else ""


# -- outcomes -----------------------------------------------------------------


def process_failure(result: ProcResult) -> ProviderResult | None:
    """The outcome when the program did not run or was killed, else ``None``."""
    if result.not_found:
        return ProviderResult(outcome="not_installed", error=result.error or "not installed")
    if result.timed_out:
        return ProviderResult(outcome="timeout", error=result.error or "timed out")
    return None


def crash(result: ProcResult) -> ProviderResult:
    """A run that failed without a structured error: exit code and the last stderr line."""
    detail = last_line(result.stderr) or last_line(result.stdout)
    error = f"exited with code {result.returncode}"
    return ProviderResult(outcome="crash", error=f"{error}: {detail}" if detail else error)


def classify(message: str, status: int = 0) -> Outcome:
    """auth / rate_limited / api_error, from an HTTP status when known, else the text."""
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "api_error"
    if regex(_RATE).search(message):
        return "rate_limited"
    if regex(_AUTH).search(message):
        return "auth"
    return "api_error"


def failure(
    outcome: Outcome, message: str, now: float, headers: Mapping[str, str] | None = None
) -> ProviderResult:
    """A classified failure; a rate limit carries its reset time when the hints give one."""
    reset_at = None
    if outcome == "rate_limited":
        reset_at = reset_from_headers(headers or {}, now) or reset_from_text(message, now)
    return ProviderResult(outcome=outcome, error=one_line(message) or outcome, reset_at=reset_at)


# -- reset hints --------------------------------------------------------------

_UNITS = {
    "ms": 0.001,
    "millisecond": 0.001,
    "milliseconds": 0.001,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}
_PART = (
    r"\d+(?:\.\d+)?\s*"
    r"(?:ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)(?![a-z])"
)
_SPAN = rf"(?i)(?:{_PART}\s*)+"
_PARTS = r"(?i)(\d+(?:\.\d+)?)\s*([a-z]+)"
_IN = rf"(?i)(?:try again|retry)\s+(?:in|after)\s+((?:{_PART}\s*)+)"
_AT = (
    r"try again at\s+(?:(?P<mon>[A-Z][a-z]{2})\w*\.? (?P<day>\d{1,2})(?:st|nd|rd|th)?,? "
    r"(?P<year>\d{4}),?\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?"
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def seconds(text: str) -> float | None:
    """Seconds in a duration: ``"30"``, ``"30s"``, ``"6m0s"``, ``"1.5 minutes"``, ``"20ms"``."""
    text = text.strip()
    try:
        return max(float(text), 0.0)
    except ValueError:
        pass
    if not regex(_SPAN).fullmatch(text):
        return None
    return sum(float(n) * _UNITS[unit.lower()] for n, unit in regex(_PARTS).findall(text))


def reset_from_text(text: str, now: float) -> float | None:
    """The reset time a message names: "retry in 30s", "try again at 3:28 PM"."""
    match = regex(_IN).search(text)
    if match:
        span = seconds(match.group(1))
        if span is not None:
            return now + span
    match = regex(_AT).search(text)
    if match:
        return _wall_clock(match, now)
    return None


def _wall_clock(match: re.Match[str], now: float) -> float | None:
    """A local wall-clock time (the CLI runs on this machine, in this time zone)."""
    hour, minute = int(match["hour"]), int(match["minute"])
    ampm = (match["ampm"] or "").replace(".", "").upper()
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "PM" else 0)
    if hour > 23 or minute > 59:
        return None
    # The CLI drops the seconds: the limit lifts before the end of the named minute.
    if match["year"]:
        month = match["mon"].lower()[:3]
        if month not in _MONTHS:
            return None
        date = (int(match["year"]), _MONTHS.index(month) + 1, int(match["day"]))
        return time.mktime((*date, hour, minute + 1, 0, 0, 0, -1))
    today = time.localtime(now)
    year, month_no, day = today.tm_year, today.tm_mon, today.tm_mday
    at = time.mktime((year, month_no, day, hour, minute + 1, 0, 0, 0, -1))
    if at <= now:  # a time already past today means tomorrow
        at = time.mktime((year, month_no, day + 1, hour, minute + 1, 0, 0, 0, -1))
    return at


def reset_from_headers(headers: Mapping[str, str], now: float) -> float | None:
    """The reset time HTTP headers give: ``retry-after(-ms)``, ``x-ratelimit-reset-*``."""
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    if "retry-after-ms" in lower:
        span = seconds(lower["retry-after-ms"])
        if span is not None:
            return now + span / 1000
    if "retry-after" in lower:
        value = lower["retry-after"]
        span = seconds(value)
        if span is not None:
            return now + span
        from email.utils import parsedate_tz

        parsed = parsedate_tz(value)
        if parsed:
            from email.utils import mktime_tz

            return float(mktime_tz(parsed))
    spans = [
        seconds(lower[k])
        for k in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
        if k in lower
    ]
    known = [s for s in spans if s is not None]
    return now + max(known) if known else None

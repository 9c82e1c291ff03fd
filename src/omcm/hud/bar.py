"""The status line's text (pure: no files, no clock, no environment).

:func:`build_view` gathers what the line shows from the state records and the
status-line JSON; :func:`render` turns that :class:`HudView` into one line::

    hulw │ 5h:92%(1h12m) wk:29% │ FALLBACK │ C:1.2k↓ 567↑|O:25.8k↓ 9↑ │ ⇄3/10 │ gemini⏸12m

Segments, in order: the session's mode; Claude's usage per window (``?`` when
unknown, ``≥`` before an old reading that is only a lower bound, the time to
the reset from the warning mark, 70 %, on); the fallback marker; tokens of this
session, ``↓`` in and ``↑`` out, for Claude (``C``, summed from the session's
transcripts by :mod:`omcm.hud.claude_tokens`) and each provider
that was used (each provider's own mark: ``O`` codex/OpenAI, ``G`` gemini, ``OC``
opencode, ``L`` ollama); calls routed out of all subagent calls, and calls of OMCM's MCP
tools apart (``mcp:2``); the session's Claude
tokens avoided (``saved ~412k``, estimated from subagents observed on Claude; ``+2?``:
routed calls with no estimate yet); the project's warm
pools (``♨OC 1/2 9m``: one of two warm servers busy, the pool stops in 9 minutes
without a call); whoever is cooling down after a rate limit (Claude itself while it
rejects requests) with the time left. Empty segments are left
out; background jobs running (``⚙2``) and finished with an answer nobody has
received yet (``✓1``). When a width is given and the line does not fit, the token breakdown goes
first, then everything but mode, usage and fallback.

Kept lean on purpose: the status line starts a new interpreter every few hundred
milliseconds, so nothing heavy is imported (no typing at run time, no
dataclasses, no datetime).
"""

from __future__ import annotations

from omcm.core.humanize import abbreviate, duration
from omcm.routing.usage import (
    FIVE_HOURS,
    MAX_AGE,
    SEVEN_DAYS,
    claude_reading,
    percent,
    window_usage,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from omcm.calls.counters import Counters
    from omcm.routing.usage import FallbackState, ProviderLimits

    Window = tuple[str, float | None, float | None, bool]  # label, %, resets in, fresh

SEP = " │ "
RESET = "\x1b[0m"
GREEN = "\x1b[32m"
YELLOW = "\x1b[33m"
RED = "\x1b[31m"
BOLD_RED = "\x1b[1;31m"
BOLD_CYAN = "\x1b[1;36m"
FULL, NO_TOKENS, SMALL = 0, 1, 2


class HudView:
    """Everything one status line shows, already reduced to plain values."""

    __slots__ = (
        "alert_at",
        "asked",
        "calls",
        "cooldowns",
        "fallback",
        "jobs",
        "logins",
        "mode",
        "pools",
        "routed",
        "saved",
        "tokens",
        "warn_at",
        "windows",
    )

    def __init__(
        self,
        *,
        mode: str = "",
        windows: list[Window] | None = None,
        fallback: bool = False,
        tokens: list[tuple[str, int, int]] | None = None,
        routed: int = 0,
        calls: int = 0,
        asked: int = 0,
        cooldowns: list[tuple[str, float]] | None = None,
        jobs: tuple[int, int] = (0, 0),
        pools: list[tuple[str, int, int, float]] | None = None,
        saved: tuple[int, int] = (0, 0),
        logins: list[str] | None = None,
        warn_at: float = 70,
        alert_at: float = 90,
    ) -> None:
        self.mode = mode
        #: ``(label, percentage or None, seconds to reset or None, fresh)`` per window.
        self.windows = windows if windows is not None else []
        self.fallback = fallback
        #: ``(label, input tokens, output tokens)``, Claude first.
        self.tokens = tokens if tokens is not None else []
        self.routed = routed
        self.calls = calls
        #: calls of OMCM's MCP tools (each provider run of an ask or a consensus)
        self.asked = asked
        #: ``(name, seconds left)`` of everyone cooling down.
        self.cooldowns = cooldowns if cooldowns is not None else []
        #: background jobs (running, finished with an answer nobody has received)
        self.jobs = jobs
        #: warm pools of this project: ``(mark, servers busy, servers up, seconds to idle stop)``
        self.pools = pools if pools is not None else []
        #: this session's Claude tokens avoided (estimated) and routed calls with no estimate
        self.saved = saved
        #: providers that routing found not logged in (skipped until they are)
        self.logins = logins if logins is not None else []
        self.warn_at = warn_at
        self.alert_at = alert_at


# --- building the view -------------------------------------------------------------


def _windows(limits: ProviderLimits, now: float, max_age: float) -> list[Window]:
    known = claude_reading(limits, now, max_age)[0] is not None
    shown: list[Window] = []
    for label, window, length in (
        ("5h", limits.five_hour, FIVE_HOURS),
        ("wk", limits.seven_day, SEVEN_DAYS),
    ):
        value, fresh = window_usage(window, now, max_age, length)
        if not known:
            value = None
        resets = window.resets_at
        left = resets - now if value and resets is not None and resets > now else None
        shown.append((label, value, left, fresh))
    return shown


def _provider_tokens(counters: Counters | None) -> list[tuple[str, int, int]]:
    if counters is None:
        return []
    from omcm.providers import REGISTERED

    # Claude first, then the registered providers in their order, then any other name.
    order = ["claude", *REGISTERED]
    names = [n for n in order if n in counters.providers]
    names += sorted(n for n in counters.providers if n not in order)
    rows = []
    for name in names:
        used = counters.providers[name]
        if used.calls or used.input_tokens or used.output_tokens:
            mark = "C" if name == "claude" else used.mark or _mark_of(name)
            rows.append((mark, used.input_tokens, used.output_tokens))
    return rows


def _mark_of(name: str) -> str:
    """A registered provider's own mark (counters written before marks were kept have none)."""
    from omcm.providers import REGISTERED

    if name not in REGISTERED:
        return name
    module = __import__(f"omcm.providers.{name}", fromlist=["PROVIDER"])
    mark: str = module.PROVIDER.hud
    return mark


def _doors(counters: Counters | None) -> tuple[int, int, int]:
    """(subagent calls, of them routed, calls of OMCM's MCP tools): a tool call is no
    subagent call, so it is counted apart (counters from before doors were kept: all
    subagent calls)."""
    if counters is None:
        return 0, 0, 0
    other = [d for name, d in counters.doors.items() if name != "hook"]
    mcp = counters.doors.get("mcp")
    calls = counters.calls - sum(d.calls for d in other)
    routed = counters.routed - sum(d.routed for d in other)
    return calls, routed, mcp.calls if mcp else 0


def _cooldowns(limits: ProviderLimits, now: float) -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    if limits.claude_limited_until is not None and limits.claude_limited_until > now:
        rows.append(("claude", limits.claude_limited_until - now))
    for name in sorted(limits.providers):
        health = limits.providers[name]
        until = max(health.cooldown_until or 0.0, health.circuit_open_until or 0.0)
        if until > now:
            rows.append((name, until - now))
    return rows


def build_view(
    claude: tuple[int, int] | None,
    limits: ProviderLimits,
    fallback: FallbackState,
    counters: Counters | None,
    now: float,
    *,
    mode: str = "",
    jobs: tuple[int, int] = (0, 0),
    pools: list[tuple[str, int, int, float]] | None = None,
    max_age: float = MAX_AGE,
    warn_at: float = 70,
    alert_at: float = 90,
) -> HudView:
    """The view for this moment.

    ``claude`` is this session's Claude tokens (in, out), ``counters`` its OMCM
    counters (``None``: not known / none yet).
    """
    tokens = _provider_tokens(counters)
    if claude is not None:
        tokens.insert(0, ("C", *claude))
    calls, routed, asked = _doors(counters)
    return HudView(
        mode=mode,
        windows=_windows(limits, now, max_age),
        fallback=fallback.active,
        tokens=tokens,
        routed=routed,
        calls=calls,
        asked=asked,
        saved=(counters.avoided, counters.avoided_unknown) if counters else (0, 0),
        cooldowns=_cooldowns(limits, now),
        logins=sorted(n for n, h in limits.providers.items() if h.login_problem),
        jobs=jobs,
        pools=pools,
        warn_at=warn_at,
        alert_at=alert_at,
    )


# --- rendering ---------------------------------------------------------------------


def _paint(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{RESET}" if color else text


def _usage(view: HudView, with_reset: bool, color: bool) -> str:
    parts = []
    for label, value, left, fresh in view.windows:
        if value is None:
            parts.append(f"{label}:?")
            continue
        text = f"{label}:{'' if fresh else '≥'}{percent(value)}%"
        if with_reset and left is not None and value >= view.warn_at:
            text += f"({duration(left)})"
        code = RED if value >= view.alert_at else YELLOW if value >= view.warn_at else GREEN
        parts.append(_paint(text, code, color))
    return " ".join(parts)


def _tokens(view: HudView) -> str:
    return "|".join(f"{label}:{abbreviate(i)}↓ {abbreviate(o)}↑" for label, i, o in view.tokens)


def _segments(view: HudView, level: int, color: bool) -> list[str]:
    segments = [
        _paint(view.mode, BOLD_CYAN, color) if view.mode else "",
        _usage(view, level != SMALL, color),
        _paint("FALLBACK", BOLD_RED, color) if view.fallback else "",
    ]
    if level == FULL:
        segments.append(_tokens(view))
    if level != SMALL:
        doors = [f"⇄{view.routed}/{view.calls}" if view.calls else ""]
        doors.append(f"mcp:{view.asked}" if view.asked else "")
        segments.append(" ".join(d for d in doors if d))
        tokens, unknown = view.saved
        saved = [f"~{abbreviate(tokens)}"] if tokens else []
        if unknown:
            saved.append(f"+{unknown}?")
        segments.append("saved " + " ".join(saved) if saved else "")
        running, unread = view.jobs
        jobs = [f"⚙{running}" if running else "", f"✓{unread}" if unread else ""]
        segments.append(" ".join(j for j in jobs if j))
        segments.append(
            " ".join(f"♨{mark} {busy}/{up} {duration(left)}" for mark, busy, up, left in view.pools)
        )
        segments.append(
            " ".join(
                [_paint(f"{name}⏸{duration(left)}", YELLOW, color) for name, left in view.cooldowns]
                + [_paint(f"{name}✗login", RED, color) for name in view.logins]
            )
        )
    return [s for s in segments if s]


def render(view: HudView, *, width: int | None = None, color: bool = True) -> str:
    """The status line for ``view``; the widest form that fits ``width`` columns."""
    level = FULL
    if width is not None:
        for level in (FULL, NO_TOKENS, SMALL):  # the last one tried is kept if none fits
            if len(SEP.join(_segments(view, level, False))) <= width:
                break
    return SEP.join(_segments(view, level, color))


def with_chained(line: str, chained: str) -> str:
    """OMCM's line followed by the output of the user's own (chained) status line."""
    chained = chained.strip("\n")
    if not chained.strip():
        return line
    first, _, rest = chained.partition("\n")
    return f"{line}{SEP}{first}" + (f"\n{rest}" if rest else "")


def minimal_line(error: object = None) -> str:
    """What the status line shows when building the real one failed."""
    if error is None:
        return "omcm: status unavailable"
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if len(text) > 60:
        text = text[:57] + "..."
    return f"omcm: status unavailable ({text})"

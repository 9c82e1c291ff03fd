"""Session modes (hulw, ulw, autopilot, save-tokens): the one table, and a session's mode.

:data:`MODES` declares each mode once: its name, the keyword aliases in every
language, the slash-command names, what it routes and its one-line summary.
Everything else reads it: the keyword detector builds its patterns from the
aliases (:mod:`omcm.routing.keywords`), the engine asks :meth:`Mode.routes`, ``omcm mode``,
the HUD and the notes Claude gets (:func:`describe`) say what the same methods
say. Adding an alias is one edit here.

A mode belongs to one Claude Code session (``sessions/<id>/mode.json``). It
lasts until it is cancelled, replaced, or the session is cleared; a resumed
session keeps it.

This module is imported by the keyword detector on every prompt, so it imports
nothing at load time (state and usage are imported where they are used).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from omcm.config import Config

    class SessionMode(Protocol):
        """What these functions read of a session's mode (:mod:`omcm.routing.session_mode`)."""

        mode: str
        fusion: bool
        task: str


LOW, MEDIUM, HIGH = "low", "medium", "high"
TIER_ORDER = (LOW, MEDIUM, HIGH)


class Mode:
    """One mode, as every part of OMCM sees it."""

    __slots__ = (
        "aliases",
        "by_usage",
        "commands",
        "fusion",
        "name",
        "needs_fusion",
        "reason",
        "roles",
        "split_work",
        "summary",
        "tiers",
        "title",
    )

    def __init__(
        self,
        name: str,
        *,
        title: str,
        aliases: tuple[str, ...],
        commands: tuple[str, ...],
        reason: str,
        summary: str,
        tiers: tuple[str, ...] = (),
        roles: tuple[str, ...] = (),
        by_usage: bool = False,
        fusion: bool = False,
        needs_fusion: bool = False,
        split_work: bool = False,
    ) -> None:
        self.name = name
        #: shown to users and Claude: "hybrid ultrawork (hulw)"
        self.title = title
        #: keywords, lower case; a space matches any run of spaces or one hyphen
        self.aliases = aliases
        #: slash-command names (``/hulw``, ``/omcm:hulw``)
        self.commands = commands
        #: the engine's reason code when the mode routes a call
        self.reason = reason
        self.summary = summary
        #: the tiers it routes (unless ``by_usage``)
        self.tiers = frozenset(tiers)
        #: only agents of these roles (empty: every role)
        self.roles = frozenset(roles)
        #: the tiers follow Claude's usage (:func:`omcm.routing.usage.ulw_tiers`)
        self.by_usage = by_usage
        #: the mode is fusion by definition (it implies provider routing)
        self.fusion = fusion
        #: the mode routes only when fusion was asked for; otherwise routing is as without it
        self.needs_fusion = needs_fusion
        #: Claude is asked to split the work into parallel subagent tasks
        self.split_work = split_work

    def tiers_at(
        self, usage: float | None, fusion: bool, usage_threshold: float, threshold: float
    ) -> frozenset[str] | None:
        """The tiers this mode routes now; None when it routes nothing by itself.

        None means the mode leaves routing to the rules below it (autopilot without
        fusion); an empty set means the mode holds every call on Claude for now
        (ulw under its usage band).
        """
        if self.needs_fusion and not fusion:
            return None
        if self.by_usage:
            from omcm.routing.usage import ulw_tiers

            return ulw_tiers(usage, usage_threshold, threshold)
        return self.tiers

    def routes(self, tier: str, role: str, tiers: frozenset[str]) -> bool:
        """Whether an agent of ``tier`` and ``role`` goes to providers, given :meth:`tiers_at`."""
        return tier in tiers and (not self.roles or role in self.roles)


DONE_MARKER = "AUTOPILOT: DONE"
"""How Claude says an autopilot task is finished where it keeps no todo list (2.1.332
offers no todo tool): the Stop hook lets the session stop on it."""

FUSION_WORDS = ("fusion", "퓨전")
"""Words after ``autopilot`` that ask for fusion (so do the aliases of a fusion mode)."""

MODES: dict[str, Mode] = {
    mode.name: mode
    for mode in (
        Mode(
            "hulw",
            title="hybrid ultrawork (hulw)",
            aliases=("hulw", "hybrid ultrawork", "하이브리드 울트라워크"),
            commands=("hulw",),
            reason="mode-hulw",
            summary="MEDIUM and LOW agents go to providers, always; Claude splits the work "
            "into parallel subagent tasks with disjoint files",
            tiers=(LOW, MEDIUM),
            fusion=True,
            split_work=True,
        ),
        Mode(
            "ulw",
            title="ultrawork (ulw)",
            aliases=("ulw", "ultrawork", "울트라워크"),
            commands=("ulw", "ultrawork"),
            reason="mode-ulw",
            summary="routing follows Claude's usage: under routing.usage_threshold nothing, "
            "then LOW, then LOW and MEDIUM, from threshold every tier",
            by_usage=True,
            split_work=True,
        ),
        Mode(
            "autopilot",
            title="autopilot",
            aliases=("autopilot", "오토파일럿"),
            commands=("autopilot",),
            reason="mode-autopilot",
            summary="Claude plans, executes and verifies until its todos are done; with "
            "fusion (or fusion_default) MEDIUM and LOW agents go to providers",
            tiers=(LOW, MEDIUM),
            needs_fusion=True,
            split_work=True,
        ),
        Mode(
            "save-tokens",
            title="save-tokens",
            aliases=("save-tokens", "토큰 절약 모드"),
            commands=("save-tokens",),
            reason="mode-save-tokens",
            summary="LOW and MEDIUM agents that explore, analyse, review or write go to "
            "providers; agents that change code stay on Claude",
            tiers=(LOW, MEDIUM),
            roles=("explore", "analysis", "review", "writing"),
        ),
    )
}


# --- what a session's mode routes now -----------------------------------------------


def routing_now(
    mode: SessionMode, usage: float | None, config: Config
) -> tuple[frozenset[str], frozenset[str]]:
    """(tiers, roles) the session sends to providers now by mode or ``fusion_default``.

    ``roles`` empty means every role. Fallback and pins come on top (the engine).
    """
    found = MODES.get(mode.mode)
    tiers = (
        found.tiers_at(usage, mode.fusion, config.routing.usage_threshold, config.threshold)
        if found
        else None
    )
    if found is None or tiers is None:  # no mode of its own: fusion_default decides
        return (frozenset({LOW, MEDIUM}) if config.fusion_default else frozenset()), frozenset()
    return tiers, found.roles


def routed_tiers(mode: SessionMode, usage: float | None, config: Config) -> list[str]:
    """Tiers the session's mode routes at ``usage``, LOW first (roles aside)."""
    tiers, _roles = routing_now(mode, usage, config)
    return [t for t in TIER_ORDER if t in tiers]


def routed_agents(mode: SessionMode, usage: float | None, config: Config) -> list[str]:
    """The agents of the tier table the session's mode sends to providers now.

    Agents config pins to Claude are left out; ``omcm mode show`` asks the engine
    itself, and a test checks the two agree.
    """
    from omcm.routing import agents

    tiers, roles = routing_now(mode, usage, config)
    return [
        name
        for name, tier in agents.tier_table().items()
        if tier in tiers
        and (not roles or agents.role_of(name) in roles)
        and not agents.pinned_to_claude(name, config)
    ]


def band(mode: SessionMode, usage: float | None, config: Config) -> str:
    """A short key for what the mode routes now; a change is worth telling Claude."""
    return ",".join(routed_tiers(mode, usage, config)) or "none"


def describe(mode: SessionMode, usage: float | None, config: Config, fallback: bool = False) -> str:
    """What the mode means now, for Claude (about 120 words at most)."""
    found = MODES[mode.mode]
    shown = "unknown" if usage is None else f"{usage:.0f}%"
    parts = [f"OMCM {found.title} mode is on for this session (Claude usage: {shown})."]
    if found.by_usage:
        middle = (config.routing.usage_threshold + config.threshold) / 2
        parts.append(
            f"Routing follows usage: from {config.routing.usage_threshold}% LOW tier goes to "
            f"providers, from {middle:g}% MEDIUM too, from {config.threshold}% all."
        )
    parts.append(_routing_sentence(mode, usage, config, fallback))
    if found.split_work and (mode.fusion or not found.needs_fusion):
        parts.append(
            "Split the work into independent subagent tasks that touch disjoint files "
            "and launch them together in one message so they run in parallel."
        )
    if found.name == "autopilot":
        task = f" Task: {mode.task[:160]}." if mode.task else ""
        parts.append(
            f"Work autonomously:{task} plan it as a todo list, execute, verify (run the "
            "tests), and repeat until every todo is done, without stopping to ask unless "
            f"blocked. When all of it is done and verified, end with the line {DONE_MARKER}. "
            "The user ends it with `cancel autopilot` or /omcm:cancel-autopilot."
        )
    if found.roles and mode.mode:
        parts.append("Prefer delegating such work to subagents.")
    return " ".join(parts)


def _routing_sentence(
    mode: SessionMode, usage: float | None, config: Config, fallback: bool
) -> str:
    if fallback:
        return (
            "Fallback is active (Claude usage near its limit): every subagent, HIGH tier "
            "included, runs on Codex/Gemini/OpenCode."
        )
    tiers, roles = routing_now(mode, usage, config)
    if not tiers:
        return "For now every subagent stays on Claude."
    names = " and ".join(t.upper() for t in TIER_ORDER if t in tiers)
    kinds = " " + _listed(sorted(_ROLE_WORDS[r] for r in roles), "or") if roles else ""
    examples = ", ".join(routed_agents(mode, usage, config)[:4])
    stays = "HIGH tier" if HIGH not in tiers else "nothing"
    if roles:
        stays = "every other subagent"
    return (
        f"{names} tier{kinds} subagents (e.g. {examples}) run on Codex/Gemini/OpenCode and "
        f"come back as the subagent's result; {stays} stays on Claude."
    )


_ROLE_WORDS = {
    "explore": "exploring",
    "analysis": "analysis",
    "review": "review",
    "writing": "writing",
    "planning": "planning",
    "build": "building",
}


def _listed(words: list[str], last: str) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"


def reference_table(commands_dir: str) -> str:
    """The README's table of modes, from :data:`MODES` (``scripts/sync-readme``).

    A slash command is listed when ``commands_dir`` holds its file.
    """
    import os

    rows = ["| mode | keywords | slash command | what it routes |", "|---|---|---|---|"]
    for mode in MODES.values():
        aliases = ", ".join(f"`{a}`" for a in mode.aliases)
        slash = ", ".join(
            f"`/omcm:{c} <task>`"
            for c in mode.commands
            if os.path.exists(os.path.join(commands_dir, f"{c}.md"))
        )
        rows.append(f"| {mode.title} | {aliases} | {slash or '—'} | {mode.summary} |")
    return "\n".join(rows) + "\n"

"""``omcm hud``: Claude Code's status line, and OMCM's sensor of Claude's usage.

Claude Code hands its real usage percentages only to the status-line command,
so each run records ``rate_limits`` in ``provider-limits.json`` (never replacing
newer data with older), steps the fallback state machine (every transition is
kept in ``fallback-state.json`` and the routing log), adds up Claude's tokens
for the session from its transcripts (:mod:`omcm.hud.claude_tokens`: the JSON only
has the current context), and prints one line. It
runs every few hundred milliseconds, so it imports only what it needs, writes
only when something changed, and never breaks the status bar: any error prints
a minimal line and is logged.
"""

from __future__ import annotations

import os
import sys
import time

from omcm.calls import counters
from omcm.core import fastjson, paths, state
from omcm.hud import bar, claude_tokens
from omcm.routing import gauges, session_mode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from omcm.config import Config


def run() -> None:
    """The status line as settings.json runs it: :func:`main`, then the process ends
    without the interpreter's teardown (:func:`omcm.core.exit_now`)."""
    from omcm.core import exit_now

    exit_now(main())


def main() -> int:
    raw = b""
    try:
        raw = sys.stdin.buffer.read()
        line = render_line(raw, time.time())
    except Exception as exc:  # the status bar must always get a line
        import traceback

        state.log_error("the status line failed", traceback.format_exc())
        line = bar.minimal_line(f"{type(exc).__name__}; see {paths.error_log()}")
    line = _chain(line, raw)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return 0


def read_input(raw: bytes) -> dict[str, Any]:
    """The status-line JSON, leniently: anything that is not an object counts as empty."""
    if not raw.strip():
        return {}
    try:
        data = fastjson.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def render_line(raw: bytes, now: float) -> str:
    from omcm import config

    data = read_input(raw)
    try:
        conf: Config | None = config.load()
    except Exception:  # an invalid config is shown, not fatal to the status bar
        conf = None
    threshold = conf.threshold if conf else 90
    recovery = conf.recovery_threshold if conf else 85
    limits = gauges.record_claude_usage(data, now)
    fallback, switched = gauges.step_fallback(limits, now, threshold, recovery)
    if switched is not None:
        from omcm.calls import routing_log

        routing_log.note_fallback(switched, threshold, recovery)
    session_id = data.get("session_id")
    seen, mode, claude = None, "", None
    if isinstance(session_id, str) and session_id:
        try:
            seen = counters.load().sessions.get(session_id)
            mode = session_mode.current(session_id).mode
        except Exception:
            seen, mode = None, ""
        claude = _claude_tokens(session_id, data.get("transcript_path"))
    view = bar.build_view(
        claude,
        limits,
        fallback,
        seen,
        now,
        mode=mode,
        jobs=_job_counts(),
        pools=_pools(data),
        warn_at=conf.routing.usage_threshold if conf else 70,
        alert_at=threshold,
    )
    line = bar.render(view, width=_width(), color=not os.environ.get("NO_COLOR"))
    if conf is None:
        line += " │ config invalid: omcm config validate"
    if state.MOVED_ASIDE:  # the whole message (where the copy went) is in the error log
        names = ", ".join(sorted({os.path.basename(p) for p in state.MOVED_ASIDE}))
        line += f" │ damaged {names} moved aside: see {paths.error_log()}"
        state.MOVED_ASIDE.clear()
    return line


def _job_counts() -> tuple[int, int]:
    """(running, finished and unread) background jobs; nothing imported when there are none."""
    if not os.path.exists(os.path.join(paths.state_dir(), "jobs", "summary.json")):
        return 0, 0
    from omcm.jobs import store

    return store.counts()


def _pools(data: dict[str, Any]) -> list[tuple[str, int, int, float]]:
    """The warm pools of the session's project; nothing imported when there are none."""
    where = paths.state_dir() + "/pools"
    if not os.path.isdir(where):
        return []
    from omcm.providers import pool

    workspace = data.get("workspace")
    cwd = (workspace.get("current_dir") if isinstance(workspace, dict) else None) or data.get("cwd")
    if not isinstance(cwd, str) or not cwd:
        return []
    project, now = os.path.realpath(cwd), time.time()
    return [
        (
            p.mark or p.provider,
            sum(s.state == "busy" for s in p.servers),
            len(p.servers),
            p.idle_left(now),
        )
        for p in pool.pools(clean=False)
        if p.project == project
    ]


def _claude_tokens(session_id: str, transcript_path: object) -> tuple[int, int] | None:
    """This session's Claude tokens; ``None`` when they cannot be read (logged, not fatal)."""
    if not isinstance(transcript_path, str):
        return None
    try:
        return claude_tokens.session_tokens(session_id, transcript_path)
    except Exception:
        import traceback

        state.log_error("the status line could not count Claude's tokens", traceback.format_exc())
        return None


def _width() -> int | None:
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        return int(columns)
    try:
        fd = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.get_terminal_size(fd).columns
    except OSError:
        return None
    finally:
        os.close(fd)


def _chain(line: str, raw: bytes) -> str:
    """Show the user's own status line after OMCM's, when ``omcm hud setup`` chained one."""
    chain_file = paths.statusline_chain()
    if not os.path.exists(chain_file):
        return line
    try:
        from omcm.hud import claude_settings

        previous = claude_settings.chained_status_line(chain_file)
        if not previous:
            return line
        return bar.with_chained(line, claude_settings.run_chained(previous, raw))
    except Exception:
        return line


if __name__ == "__main__":
    raise SystemExit(main())

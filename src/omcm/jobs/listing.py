"""Jobs as a person reads them: the recent ones as a table, a finished one's answer.

One wording for every face that shows jobs: ``omcm jobs`` / ``omcm result`` and
the MCP tools ``jobs`` / ``result``.
"""

from __future__ import annotations

import time

from omcm.core.errors import OmcmError
from omcm.jobs import store

#: Jobs that ended longer ago than this are left out of the list unless all are asked for.
RECENT = 86400.0


def recent(every: bool, now: float) -> list[store.JobRecord]:
    """Running jobs, damaged ones and those that ended within a day (``every``: all kept)."""
    return [
        r
        for r in store.all_jobs(damaged=True)
        if every
        or not r.finished
        or r.state == store.DAMAGED
        or (r.ended_at or r.created_at) > now - RECENT
    ]


def table(shown: list[store.JobRecord], now: float) -> str:
    """The jobs as a table, one line each, with a note on answers nobody has read."""
    from omcm.core.humanize import duration

    lines = [
        f"{'JOB':<24} {'STATE':<9} {'PROVIDER/MODEL':<28} {'AGENT':<16} {'AGE':>6} "
        f"{'TIME':>6} {'TOKENS':>13}  TASK"
    ]
    for r in shown:
        route = (
            f"{r.provider}/{r.model}"
            if r.provider
            else (f"{r.routes[0].provider}/{r.routes[0].model or '-'}" if r.routes else "-")
        )
        tokens = f"{r.tokens.input:,}↓ {r.tokens.output:,}↑" if r.provider else "-"
        flag = " *" if r.unread else ""
        known = r.state != store.DAMAGED  # a damaged record's times are not known
        age = duration(now - r.created_at) if known else "-"
        took = duration(r.elapsed(now)) if known else "-"
        lines.append(
            f"{r.id:<24} {r.state:<9} {route[:28]:<28} {r.agent[:16]:<16} "
            f"{age:>6} {took:>6} {tokens:>13}  {r.title[:60]}{flag}"
        )
    if any(r.unread for r in shown):
        lines.append("* finished, answer not yet read: omcm result JOB")
    return "\n".join(lines)


def footer(record: store.JobRecord, now: float) -> str:
    """A finished job's numbers: provider/model, tokens, seconds and its id."""
    tokens = record.tokens
    return (
        f"— {record.provider}/{record.model} · {tokens.input:,} in / {tokens.output:,} out "
        f"tokens · {record.elapsed(now):.1f}s · job {record.id}"
    )


def answer(record: store.JobRecord) -> str:
    """A job's whole answer (``output.md``); :class:`OmcmError` naming the file if unreadable."""
    try:
        with open(store.output_file(record.id), encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError as exc:
        raise OmcmError(
            f"job {record.id} is done but its answer {store.output_file(record.id)} "
            f"cannot be read ({exc.strerror or exc})"
        ) from None


def wait(job_id: str, seconds: float | None, stop: object = None) -> store.JobRecord:
    """The job's record once it has ended, or after ``seconds`` (None: no limit), or as soon
    as ``stop()`` says why to stop waiting."""
    deadline = None if seconds is None else time.monotonic() + seconds
    record = store.load(job_id)
    while not record.finished:
        if deadline is not None and time.monotonic() >= deadline:
            break
        if callable(stop) and stop():
            break
        time.sleep(0.25)
        record = store.load(job_id)
    return record

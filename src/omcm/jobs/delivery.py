"""What Claude is told about background jobs, and handing each answer over exactly once.

Three ways an answer reaches Claude, all through :func:`omcm.jobs.store.claim_delivery`
so no answer is handed over twice:

- **interactive sessions**: the delivery hook (``pre-tool-use-wait``, an
  ``async`` + ``asyncRewake`` PreToolUse hook) waits for the job and exits 2 with
  the answer, which wakes the session as soon as the job ends;
- **``-p`` / SDK sessions** (no new turn can start once the turn has ended): the
  Stop hook waits for the session's jobs and blocks with their answers;
- **the session ended first**: the next SessionStart in the project offers them.

Observed on Claude Code 2.1.332 (see the README); the text always starts with
``[OMCM]``, which the SessionStart note tells Claude to trust.
"""

from __future__ import annotations

import time

from omcm.core.errors import OmcmError
from omcm.jobs import store

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from omcm.config import Config


def started_text(record: store.JobRecord) -> str:
    """The hook's answer to a call that became a background job (one or two lines)."""
    from omcm.providers import PROVIDERS

    first = record.routes[0]
    label = PROVIDERS[first.provider].label
    model = first.model or "its default model"
    return (
        f"[OMCM] This {record.agent} subagent task was handed to {label} (model {model}) as "
        f"background job {record.id}; nothing went wrong. Its result will arrive by itself as "
        "a separate notification when the job ends: carry on with other work meanwhile and do "
        "not run this task yourself."
    )


def answer_text(record: store.JobRecord, config: Config) -> str:
    """The finished job as Claude gets it: the subagent's result, or that it was not done."""
    if record.kind == "batch":
        return _batch_text(record, config)
    asked = record.source == "mcp"  # the ask tool's background: true, not a subagent call
    what = "ask" if asked else f"{record.agent} subagent task"
    task = f"the {what} “{record.title}” (tool call {record.tool_use_id})"
    if record.state != "done":
        again = (
            "do it yourself now, or ask again"
            if asked
            else ("run it yourself now, or issue the subagent call again")
        )
        return (
            f"[OMCM] Background job {record.id}: {task} was NOT done ({record.state}: "
            f"{record.reason}). No answer will come from OMCM for it: {again}."
        )
    from omcm.calls.answers import frame
    from omcm.providers import PROVIDERS

    try:
        with open(store.output_file(record.id), encoding="utf-8") as handle:
            text = handle.read().strip()
    except OSError as exc:
        text = f"(the answer file {store.output_file(record.id)} cannot be read: {exc.strerror})"
    label = PROVIDERS[record.provider].label if record.provider in PROVIDERS else record.provider
    use = (
        "What follows is its answer: use it and do not ask again."
        if asked
        else "What follows is the subagent's result, not an error: use it as the subagent's "
        "answer and do not run the task again."
    )
    head = (
        f"[OMCM] Background job {record.id} finished: {task} was completed by {label} (model "
        f"{record.model}). {use}"
    )
    return frame(
        record.agent,
        record.provider,
        record.model,
        text,
        tokens=record.tokens,
        seconds=record.elapsed(time.time()),
        output_path=store.output_file(record.id),
        cap=config.delegation.max_answer_chars,
        head=head,
    )


def _batch_text(record: store.JobRecord, config: Config) -> str:
    call = f" (tool call {record.tool_use_id})" if record.tool_use_id else ""
    if record.state != "done":
        return (
            f"[OMCM] Batch job {record.id}{call} ({record.title}) did not run to the end "
            f"({record.state}: {record.reason}). `omcm result {record.id}` shows what it did."
        )
    try:
        with open(store.output_file(record.id), encoding="utf-8") as handle:
            text = handle.read().strip()
    except OSError as exc:
        text = f"(the summary {store.output_file(record.id)} cannot be read: {exc.strerror})"
    cap = config.delegation.max_answer_chars
    if len(text) > cap:
        text = text[:cap].rstrip() + f"\n[… cut at {cap} characters; omcm result {record.id}]"
    return (
        f"[OMCM] Batch job {record.id}{call} finished ({record.reason}). Its summary follows: "
        "what each task did, by which provider. Tasks left for Claude, if any, are yours to do "
        f"now; nothing else needs redoing.\n\n{text}"
    )


def pending(session_id: str) -> list[store.JobRecord]:
    """This session's jobs whose answers have not reached Claude yet (finished or not)."""
    waiting = store.summary()
    found = []
    for job_id in [*waiting.running, *waiting.undelivered]:
        try:
            record = store.load(job_id)
        except OmcmError:
            continue  # pruned meanwhile
        if record.deliver and record.session_id == session_id and not record.delivered:
            found.append(record)
    return found


def take_finished(records: list[store.JobRecord], how: str, config: Config) -> list[str]:
    """Claim every finished one of ``records``; their texts (those another path took: none)."""
    texts = []
    for record in records:
        fresh = store.load(record.id)
        if fresh.finished:
            taken = store.claim_delivery(record.id, how)
            if taken is not None:
                texts.append(answer_text(taken, config))
    return texts


def wait_and_take(
    session_id: str,
    how: str,
    config: Config,
    *,
    poll: float = 0.5,
    settle: float = 0.3,
    stop: Callable[[], bool] | None = None,
) -> list[str]:
    """Wait until at least one of the session's pending jobs ends, then take what has ended.

    Jobs ending within ``settle`` seconds of the first are taken together (Claude Code
    allows a Stop hook only a few blocks in a row). Nothing pending: at once, [].
    """
    while True:
        waiting = pending(session_id)
        if not waiting or (stop is not None and stop()):
            return []
        if any(store.load(r.id).finished for r in waiting):
            time.sleep(settle)
            texts = take_finished(pending(session_id), how, config)
            if texts:
                return texts
        time.sleep(poll)


def offer_for_project(cwd: str, config: Config, session_id: str) -> str:
    """For SessionStart: answers of jobs in this project that no session received, and the
    jobs of other sessions still running there."""
    import os

    here = os.path.realpath(cwd) if cwd else ""
    waiting = store.summary()
    candidates = [*waiting.undelivered, *waiting.running]
    ours = [
        r
        for r in (store.load(i) for i in candidates if os.path.exists(store.job_file(i)))
        if r.deliver and not r.delivered and r.cwd and os.path.realpath(r.cwd) == here
    ]
    texts = take_finished([r for r in ours if r.finished], "session-start", config)
    running = [r for r in ours if not r.finished and r.session_id != session_id]
    parts = []
    if texts:
        parts.append(
            "OMCM: background subagent tasks of an earlier session in this project ended after "
            "that session did. Their results:\n\n" + "\n\n".join(texts)
        )
    if running:
        listed = ", ".join(f"{r.id} ({r.agent}: {r.title[:60]})" for r in running)
        parts.append(
            f"OMCM: background jobs of an earlier session are still running here: {listed}. "
            "`omcm result ID` shows each once it ends."
        )
    return "\n\n".join(parts)

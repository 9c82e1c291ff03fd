"""What each MCP tool does: the routed-call pipeline's door ``mcp``.

Everything here is plain, blocking Python (the server runs it in a thread) and
goes through the owners every other door uses: a call is decided once
(:func:`omcm.calls.pipeline.decide`, routed as ``omcm run`` routes a task asked
for on purpose: the agent's tier picks the chain, or the one provider named),
becomes a job (:func:`omcm.jobs.worker.start`) and is run in this process
(:func:`omcm.jobs.worker.run`: worker slots, the provider chain with its
fallbacks, cooldowns and login checks, the handoff context, masking) or by a
detached worker (``background``), and is booked once when the job ends (its
routing-log line says ``source: mcp``; counters, Claude tokens avoided).
``stop()`` says why to stop a running call (the client cancelled it): the
provider's process group is killed within a poll. ``step`` hears each step of a
run, for progress notifications.
"""

from __future__ import annotations

import threading
import time

from omcm.calls.call import Source, Task
from omcm.core import sessions
from omcm.core.errors import OmcmError
from omcm.core.records import Record
from omcm.mcp import files
from omcm.mcp.tools import CONSENSUS_AGENT, AskArgs, ConsensusArgs, JobArgs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from omcm.calls.call import RoutedCall, Step
    from omcm.config import Config
    from omcm.jobs.store import JobRecord
    from omcm.mcp.compare import Answer

    Stop = Callable[[], str]
    Heard = Callable[[Step], None]


class Reply(Record):
    """A tool's result: its text, and whether the task was not done (``isError``)."""

    text: str
    error: bool = False


class Origin(Record):
    """Where a tool call came from: the Claude session, its transcript and project."""

    session_id: str = ""
    transcript_path: str = ""
    cwd: str = ""
    tool_use_id: str = ""


def origin(tool_use_id: str, env: Mapping[str, str], cwd: str) -> Origin:
    """Who made the call ``tool_use_id``: as the PreToolUse hook of OMCM's MCP tools noted
    it; without its note (hooks off), the session Claude Code started the server for
    (``CLAUDE_CODE_SESSION_ID``, 2.1.197+), else the one whose hooks last ran in ``cwd``."""
    noted = sessions.take_tool_call(tool_use_id) if tool_use_id else None
    if noted and noted["session_id"]:
        return Origin(tool_use_id=tool_use_id, **noted)
    project = env.get("CLAUDE_PROJECT_DIR") or cwd
    session = env.get("CLAUDE_CODE_SESSION_ID") or sessions.newest_in(project)
    transcript = sessions.info(session).transcript_path if session else ""
    return Origin(
        session_id=session, transcript_path=transcript, cwd=project, tool_use_id=tool_use_id
    )


def _source(where: Origin, tool: str) -> Source:
    return Source(
        door="mcp",
        session_id=where.session_id,
        tool_use_id=where.tool_use_id,
        tool_name=tool,
        cwd=where.cwd,
        transcript_path=where.transcript_path,
    )


def _decide(source: Source, task: Task, conf: Config, provider: str, model: str) -> RoutedCall:
    from omcm.calls import pipeline
    from omcm.routing import engine

    def requested(call: engine.Call, conf: Config, st: engine.EngineState) -> engine.Decision:
        return engine.direct(call, conf, st, provider, model)

    return pipeline.decide(source, task, conf, requested)


def _skipped(call: RoutedCall) -> str:
    found = "; ".join(f"{p}: {why}" for p, why in call.decision.skipped.items())
    return found or "none is enabled for this agent's tier"


def _task(prompt: str, agent: str, named: list[str], cwd: str, conf: Config) -> Task:
    task = Task(prompt=files.attach(prompt, named, cwd, conf.mcp.file_chars), agent=agent)
    first = next((line.strip() for line in prompt.splitlines() if line.strip()), "")
    task.description = first[:120]
    return task


# --- ask ---------------------------------------------------------------------------------


def ask(args: AskArgs, where: Origin, conf: Config, *, stop: Stop, step: Heard) -> Reply:
    """Run one task on a provider: its answer with a footer, or (``background``) a job id."""
    from omcm.calls import pipeline
    from omcm.jobs import store, worker

    try:
        task = _task(args.prompt, args.agent, args.files, where.cwd, conf)
    except files.FileProblem as exc:
        return Reply(text=f"ask: {exc}", error=True)
    call = _decide(_source(where, "ask"), task, conf, args.provider, args.model)
    if not call.routed:
        pipeline.book(call)
        return Reply(
            text=f"ask: no provider can take it now ({_skipped(call)}). Do it yourself, or "
            "see `omcm doctor`.",
            error=True,
        )
    if args.background:
        return _start(call, where)
    job = worker.start(call, reason="an ask (MCP tool)", timeout=conf.mcp.timeout, spawn_now=False)
    ended = worker.run(job.id, watch=step, stop=stop) or store.load(job.id)
    try:
        store.mark_read(job.id)  # Claude has it in hand: nobody is owed this answer
    except (OSError, OmcmError):
        pass
    return answered(ended, conf.delegation.max_answer_chars)


def _start(call: RoutedCall, where: Origin) -> Reply:
    """A background ask: a job whose answer reaches Claude by itself, once."""
    from omcm.jobs import worker
    from omcm.providers import PROVIDERS

    deliver = bool(where.session_id)
    job = worker.start(call, reason="a background ask (MCP tool)", deliver=deliver)
    first = job.routes[0]
    label = f"{PROVIDERS[first.provider].label} (model {first.model or 'its default model'})"
    if deliver:
        sessions.note_job(where.session_id)  # the Stop hook waits for it under -p
        if where.tool_use_id:
            sessions.mark_call(where.session_id, where.tool_use_id, job.id)  # the rewake hook
        later = (
            "Its answer will arrive by itself as a separate notification when it ends: carry "
            f"on meanwhile (or call `result` with job {job.id} to wait for it)."
        )
    else:
        later = f"No Claude session is known to deliver it to: call `result` with job {job.id}."
    return Reply(text=f"[OMCM] The ask went to {label} as background job {job.id}. {later}")


def no_job(where: Origin) -> None:
    """A background ask that did not become a job: the delivery hook waiting beside the
    call learns it at once rather than after its minute of waiting for a mark."""
    if where.session_id and where.tool_use_id:
        sessions.mark_call(where.session_id, where.tool_use_id, "")


def answered(record: JobRecord, cap: int) -> Reply:
    """A finished ask job as Claude gets it: the answer and a footer, or why there is none."""
    from omcm.jobs import listing, store

    if record.state != "done":
        tried = "; ".join(f"{a.provider}: {a.error or a.outcome}" for a in record.attempts)
        return Reply(
            text=f"ask not done ({record.state}: {record.reason})"
            + (f"; tried {tried}" if tried and tried not in record.reason else "")
            + f". Job {record.id}.",
            error=True,
        )
    text = listing.answer(record).strip()
    if len(text) > cap:
        full = store.output_file(record.id)
        cut = f"[… cut at {cap} of {len(text)} characters; all of it: {full}]"
        text = f"{text[:cap].rstrip()}\n\n{cut}"
    return Reply(text=f"{text}\n\n{listing.footer(record, time.time())}")


# --- consensus ---------------------------------------------------------------------------


def consensus(
    args: ConsensusArgs, where: Origin, conf: Config, *, stop: Stop, step: Heard
) -> Reply:
    """The same question to several providers at once: each answer, then a comparison."""
    from omcm.mcp.compare import compare

    try:
        task = _task(args.prompt, CONSENSUS_AGENT, args.files, where.cwd, conf)
    except files.FileProblem as exc:
        return Reply(text=f"consensus: {exc}", error=True)
    source = _source(where, "consensus")
    calls, left_out = _consensus_calls(source, task, conf, args.providers)
    if not calls:
        return Reply(
            text=f"consensus: no provider can take it now ({left_out or 'none is ready'}). "
            "See `omcm doctor`.",
            error=True,
        )
    answers = _run_all(calls, conf, stop, step)
    parts = [f"Consensus of {len(calls)} providers on: {task.description}"]
    if left_out:
        parts.append(f"(Not asked: {left_out}.)")
    cap = max(1000, conf.delegation.max_answer_chars // max(1, len(calls)))
    parts += [_section(a, cap) for a in answers]
    parts.append(compare(answers))
    if args.synthesize_with and any(a.text for a in answers) and not stop():
        made = _synthesis(args.synthesize_with, task, answers, source, conf, stop=stop, step=step)
        parts.append(made)
    if not any(a.text for a in answers):
        return Reply(text="\n\n".join(["consensus: no provider answered.", *parts]), error=True)
    return Reply(text="\n\n".join(parts))  # each call was booked as its job ended


def _consensus_calls(
    source: Source, task: Task, conf: Config, named: list[str]
) -> tuple[list[RoutedCall], str]:
    """One routed call per provider asked, and who was left out and why. Without ``named``:
    every ready provider, the tier's chain order first, at most ``mcp.consensus_max``."""
    from omcm.providers import REGISTERED

    chain = list(getattr(conf.routing.chains, _tier(task.agent)))
    order = named or list(dict.fromkeys([*chain, *REGISTERED]))
    calls: list[RoutedCall] = []
    left = []
    for provider in order:
        if not named and len(calls) >= conf.mcp.consensus_max:
            left.append(f"{provider}: over mcp.consensus_max")
            continue
        if not named and not conf.providers[provider].enabled:
            continue  # turned off on purpose: not worth a word
        call = _decide(source, task, conf, provider, "")
        if call.routed:
            calls.append(call)
        else:
            left.append(f"{provider}: {call.decision.skipped.get(provider, 'not ready')}")
    return calls, "; ".join(left)


def _tier(agent: str) -> str:
    from omcm.routing import agents

    return agents.tier_of(agents.normalise(agent), None)[0]


def _run_all(calls: list[RoutedCall], conf: Config, stop: Stop, step: Heard) -> list[Answer]:
    """Each call as a job, all at once (each in a thread; the worker slots cap them)."""
    from omcm.jobs import store, worker

    jobs = [
        worker.start(c, reason="a consensus (MCP tool)", timeout=conf.mcp.timeout, spawn_now=False)
        for c in calls
    ]
    ended: dict[str, JobRecord] = {}

    def run(job_id: str) -> None:
        try:
            ended[job_id] = worker.run(job_id, watch=step, stop=stop) or store.load(job_id)
        except Exception as exc:  # one provider's crash must not take the others' answers
            from omcm.core.state import log_error

            log_error(f"consensus job {job_id} crashed", repr(exc))
            ended[job_id] = store.load(job_id)

    threads = [threading.Thread(target=run, args=(j.id,), daemon=True) for j in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = []
    for job in jobs:
        record = ended.get(job.id) or store.load(job.id)
        try:
            store.mark_read(job.id)
        except (OSError, OmcmError):
            pass
        found.append(_answer_of(record))
    return found


def _answer_of(record: JobRecord) -> Answer:
    from omcm.jobs import listing
    from omcm.mcp.compare import Answer

    provider = record.provider or (record.routes[0].provider if record.routes else "?")
    found = Answer(
        provider=provider,
        model=record.model or (record.routes[0].model if record.routes else ""),
        tokens_in=record.tokens.input,
        tokens_out=record.tokens.output,
        seconds=round(record.elapsed(time.time()), 1),
        job_id=record.id,
    )
    if record.state == "done":
        try:
            found.text = listing.answer(record).strip()
        except OmcmError as exc:
            found.error = str(exc)
    else:
        found.error = f"{record.state}: {record.reason}"
    return found


def _section(answer: Answer, cap: int) -> str:
    from omcm.jobs import store

    if not answer.text:
        return f"## {answer.provider}: no answer ({answer.error}; job {answer.job_id})"
    head = (
        f"## {answer.provider} ({answer.model} · {answer.tokens_in:,} in / "
        f"{answer.tokens_out:,} out tokens · {answer.seconds:.1f}s · job {answer.job_id})"
    )
    text = answer.text
    if len(text) > cap:
        full = store.output_file(answer.job_id)
        text = f"{text[:cap].rstrip()}\n[… cut at {cap} characters; all of it: {full}]"
    return f"{head}\n{text}"


def _synthesis(
    provider: str,
    task: Task,
    answers: list[Answer],
    source: Source,
    conf: Config,
    *,
    stop: Stop,
    step: Heard,
) -> str:
    """One more call: ``provider`` reads the answers and writes a synthesis."""
    from omcm.calls import pipeline
    from omcm.jobs import store, worker

    given = "\n\n".join(f"### Answer from {a.provider}\n{a.text}" for a in answers if a.text)
    prompt = (
        "Several coding agents answered the question below. Write a short synthesis: where "
        "they agree, where they differ and which view holds up best, and why. Do not change "
        f"any file.\n\n## Question\n{task.prompt}\n\n## Their answers\n{given}"
    )
    synth = Task(prompt=prompt, agent=CONSENSUS_AGENT, description=f"synthesis: {task.title}")
    call = _decide(source, synth, conf, provider, "")
    if not call.routed:
        pipeline.book(call)
        return f"## synthesis: {provider} cannot take it now ({_skipped(call)})"
    job = worker.start(
        call, reason="a consensus synthesis", timeout=conf.mcp.timeout, spawn_now=False
    )
    record = worker.run(job.id, watch=step, stop=stop) or store.load(job.id)
    found = _answer_of(record)
    return _section(found, conf.delegation.max_answer_chars).replace(
        f"## {found.provider}", f"## synthesis by {found.provider}", 1
    )


# --- the job runtime ---------------------------------------------------------------------


def jobs(args: JobArgs) -> Reply:
    from omcm.jobs import listing

    now = time.time()
    shown = listing.recent(False, now)
    if not shown:
        return Reply(text="No jobs in the last day.")
    return Reply(text=listing.table(shown, now))


def result(args: JobArgs, conf: Config, *, stop: Stop) -> Reply:
    """A job's answer (waiting up to ``wait`` seconds); taking it counts as its delivery."""
    from omcm.jobs import listing, store

    try:
        job_id = store.find(args.job)
        record = listing.wait(job_id, args.wait, stop) if args.wait else store.load(job_id)
    except OmcmError as exc:
        return Reply(text=f"result: {exc}", error=True)
    if not record.finished:
        return Reply(
            text=f"Job {job_id} is {record.state} ({record.elapsed(time.time()):.0f}s so far). "
            "Call `result` again with `wait` to wait for it."
        )
    try:
        store.claim_delivery(job_id, "mcp-result")  # no hook hands it over again
        store.mark_read(job_id)
    except (OSError, OmcmError):
        pass
    if record.kind == "batch" or record.source != "mcp":
        from omcm.jobs.delivery import answer_text

        return Reply(text=answer_text(record, conf))
    reply = answered(record, conf.delegation.max_answer_chars)
    reply.error = False  # the result tool did its task: it tells how the job ended
    return reply


def cancel(args: JobArgs) -> Reply:
    from omcm.jobs import store, worker

    try:
        job_id = store.find(args.job)
        before = store.load(job_id)
        if before.finished:
            return Reply(text=f"Job {job_id} had already ended ({before.state}: {before.reason}).")
        after = worker.cancel(job_id)
    except OmcmError as exc:
        return Reply(text=f"cancel: {exc}", error=True)
    return Reply(text=f"Job {job_id} {after.state}: {after.reason}.")

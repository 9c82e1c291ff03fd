"""How many Claude tokens OMCM saves on one multi-subagent session: measured, both ways.

    .venv/bin/python benchmarks/savings.py [--keep DIR]

The real Claude Code (the newest pinned, tests/e2e/npm) runs the same scripted
session twice against a stub Anthropic API on 127.0.0.1: once without OMCM, once
with OMCM (``--plugin-dir``) where the prompt's ``hulw`` puts the session in hybrid
ultrawork, so MEDIUM and LOW agents go to a provider — the real ``codex`` CLI,
talking to a stub model server. The session: the main conversation hands seven
tasks to seven subagent types (Claude Code's Explore and general-purpose, four
project agents: writer, researcher, qa-tester, executor; and Plan, a HIGH agent that
stays on Claude either way), one after another in the foreground. Each subagent, wherever
it runs, makes four tool calls (list, read, search, read: Claude Code's Glob,
Read and Grep; codex's shell) over a small project (modules of Python's own
standard library, so the figure does not move as OMCM's code changes) and then
writes the same report.

Both stub servers count every request's tokens with one tokenizer (Claude's, from
the anthropic SDK 0.38; used for the providers' requests too, so those are
Claude-token equivalents) and simulate prompt caching by prefix: a request's
prefix that an earlier request sent in full counts as a cache read. The stub
answers Claude Code with those counts as its usage, so Claude Code's transcripts
and OMCM's ledger see realistic figures. Reported: Claude's requests, input
tokens (and how many were cache reads), output tokens and cost (genai-prices, the
model Claude Code asked for), both ways, and the ratio; and the provider's tokens
and requests that replaced them.

A third session (OMCM loaded, no mode, the prompt without ``hulw``) runs first in
the hulw session's sandbox, so OMCM's ledger has seen each agent on Claude once,
as on a machine where subagents ran on Claude before; the figure OMCM itself
would report (``omcm savings``) is printed beside the measured one. Needs
``scripts/setup --e2e``; under a minute.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.e2e.claude import NEWEST, Sandbox  # noqa: E402
from tests.e2e.stub_anthropic import (  # noqa: E402
    Reply,
    Request,
    StubAnthropic,
    as_blocks,
    is_conversation,
    is_subagent,
    issued,
    tool_result_text,
)
from tests.e2e.stub_models import Recorded, StubModels, StubUsage, codex_setup  # noqa: E402
from tests.e2e.stub_models import Reply as ModelReply  # noqa: E402

from omcm import config as omcm_config  # noqa: E402 - after the path is set
from omcm.stats.prices import Prices  # noqa: E402

#: Standard-library modules copied into the project the subagents look at.
LIBRARY = (
    "json/__init__.py",
    "json/decoder.py",
    "json/encoder.py",
    "json/scanner.py",
    "csv.py",
    "textwrap.py",
    "shlex.py",
    "queue.py",
    "heapq.py",
    "sched.py",
    "glob.py",
    "fnmatch.py",
    "bisect.py",
)
#: Project agents (``.claude/agents``), present in both runs; OMCM knows their tiers.
PROJECT_AGENTS = {
    "writer": "Writes documentation for a module.",
    "researcher": "Researches how parts of the code compare.",
    "qa-tester": "Finds untested edge cases.",
    "executor": "Plans and describes code changes.",
}
PRICED_AS = ("codex", "gpt-5.1-codex-mini")
"""What the provider's tokens are priced as (the stub's model has no price)."""


@dataclass(frozen=True)
class Step:
    """One tool call, as Claude Code's tool and as the shell command codex runs."""

    tool: str
    path: str  # under lib/
    pattern: str = ""

    def claude_call(self, project: Path) -> tuple[str, dict[str, Any]]:
        where = str(project / "lib" / self.path)
        if self.tool == "Glob":
            return "Glob", {"pattern": self.pattern, "path": where}
        if self.tool == "Grep":
            return "Grep", {
                "pattern": self.pattern,
                "path": where,
                "output_mode": "content",
                "-n": True,
            }
        return "Read", {"file_path": where}

    def command(self) -> str:
        where = f"lib/{self.path}".rstrip("/")
        if self.tool == "Glob":
            return f"find {where} -name '{self.pattern.rsplit('/', 1)[-1]}' | sort"
        if self.tool == "Grep":
            return f"grep -rnE '{self.pattern}' {where}"
        return f"cat -n {where}"


@dataclass(frozen=True)
class Task:
    key: str
    agent: str
    description: str
    prompt: str
    steps: tuple[Step, ...]

    @property
    def marker(self) -> str:
        return f"(task {self.key})"

    @property
    def tool_use_id(self) -> str:
        return f"toolu_savings_{self.key}"


TASKS = (
    Task(
        "t1",
        "Explore",
        "map JSON decoding errors",
        "Find where JSON decoding raises errors and how positions are reported.",
        (
            Step("Glob", "json", "**/*.py"),
            Step("Read", "json/decoder.py"),
            Step("Grep", "", "JSONDecodeError"),
            Step("Read", "json/scanner.py"),
        ),
    ),
    Task(
        "t2",
        "general-purpose",
        "explain csv DictReader",
        "Explain how csv.DictReader builds each row and where it could be faster.",
        (
            Step("Glob", "", "*.py"),
            Step("Read", "csv.py"),
            Step("Grep", "", "def __next__"),
            Step("Read", "shlex.py"),
        ),
    ),
    Task(
        "t3",
        "writer",
        "document textwrap",
        "Write reference documentation for the textwrap module's public functions.",
        (
            Step("Read", "textwrap.py"),
            Step("Grep", "textwrap.py", "^def |^class "),
            Step("Glob", "", "*.py"),
            Step("Read", "fnmatch.py"),
        ),
    ),
    Task(
        "t4",
        "researcher",
        "compare the queues",
        "Compare queue.PriorityQueue, heapq and sched: guarantees, costs, thread safety.",
        (
            Step("Read", "queue.py"),
            Step("Read", "heapq.py"),
            Step("Grep", "", "heappush|heappop"),
            Step("Read", "sched.py"),
        ),
    ),
    Task(
        "t5",
        "qa-tester",
        "edge cases of glob",
        "List edge cases of glob and fnmatch that deserve tests (hidden files, brackets).",
        (
            Step("Read", "glob.py"),
            Step("Read", "fnmatch.py"),
            Step("Grep", "", "re\\.compile|_compile"),
            Step("Glob", "", "*.py"),
        ),
    ),
    Task(
        "t6",
        "executor",
        "plan an encoder change",
        "Describe the change that would let json.dumps sort keys by a custom function.",
        (
            Step("Read", "json/encoder.py"),
            Step("Grep", "json", "sort_keys"),
            Step("Read", "json/__init__.py"),
            Step("Grep", "json", "c_make_encoder"),
        ),
    ),
    Task(
        "t7",
        "Plan",
        "plan the package split",
        "Plan how to split lib/ into packages by topic, with the imports to change.",
        (
            Step("Glob", "", "*.py"),
            Step("Grep", "", "^import |^from "),
            Step("Read", "bisect.py"),
            Step("Read", "sched.py"),
        ),
    ),
)
PROMPT = (
    "hulw review this small library: hand each of these tasks to a subagent, "
    "then sum up what they found."
)


# --- counting ---------------------------------------------------------------------------


@dataclass
class Count:
    requests: int = 0
    input: int = 0  # every input token, cache reads included
    cache_read: int = 0
    output: int = 0
    cost: float = 0.0
    unpriced: set[str] = field(default_factory=set)

    def add(self, other: Count) -> None:
        self.requests += other.requests
        self.input += other.input
        self.cache_read += other.cache_read
        self.output += other.output
        self.cost += other.cost
        self.unpriced |= other.unpriced


class Tokens:
    """Counts tokens with Claude's tokenizer and simulates prefix caching."""

    def __init__(self) -> None:
        from importlib.resources import files

        import tokenizers

        self.tokenizer = tokenizers.Tokenizer.from_file(str(files("anthropic") / "tokenizer.json"))
        self._known: dict[str, int] = {}
        self._written: set[str] = set()
        self._lock = threading.Lock()

    def of(self, text: str) -> int:
        found = self._known.get(text)
        if found is None:
            found = self._known[text] = len(self.tokenizer.encode(text).ids)
        return found

    def prompt(self, parts: list[str], cacheable: bool) -> tuple[int, int]:
        """(input tokens, of which cache reads) of a prompt made of ``parts`` in order.

        A prefix ending at a part boundary is a cache read when an earlier request
        sent exactly that prefix as its whole prompt (the API caches up to the last
        cache breakpoint, which Claude Code and codex put at the end) or as its
        fixed head (tools and system prompt, the first two parts).
        """
        with self._lock:
            total = cached = 0
            digest = hashlib.sha256()
            marks = []
            for part in parts:
                digest.update(part.encode())
                digest.update(b"\0")
                total += self.of(part)
                marks.append((digest.hexdigest(), total))
            if cacheable:
                for mark, upto in marks:
                    if mark in self._written:
                        cached = upto
                self._written.add(marks[-1][0])
                if len(marks) > 1:
                    self._written.add(marks[1][0])
            return total, cached


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def claude_parts(body: dict[str, Any]) -> list[str]:
    tools = _json(body.get("tools") or [])
    system = "\n".join(b.get("text", "") for b in as_blocks(body.get("system")))
    parts = [tools, system]
    for message in body.get("messages") or []:
        pieces = [str(message.get("role"))]
        for block in as_blocks(message.get("content")):
            kind = block.get("type")
            if kind == "text":
                pieces.append(block.get("text", ""))
            elif kind == "tool_use":
                pieces.append(block.get("name", "") + _json(block.get("input")))
            elif kind == "tool_result":
                pieces.append(tool_result_text(block))
            else:
                pieces.append(_json(block))
        parts.append("\n".join(pieces))
    return parts


def reply_text(blocks: tuple[dict[str, Any], ...]) -> str:
    return "".join(
        b["text"] if b["type"] == "text" else b["name"] + _json(b["input"]) for b in blocks
    )


def codex_parts(body: dict[str, Any]) -> list[str]:
    parts = [_json(body.get("tools") or []), str(body.get("instructions") or "")]
    parts += [_json(item) for item in body.get("input") or []]
    return parts


# --- the scripted work ------------------------------------------------------------------


def outline(path: Path) -> list[str]:
    """The top-level definitions of a module, with their line numbers."""
    found = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        match = re.match(r"(def|class) (\w+)", line)
        if match:
            found.append(f"{match.group(2)} (line {n})")
    return found


def report(task: Task, project: Path) -> str:
    """The report a subagent writes at the end of ``task``, wherever it runs."""
    lines = [f"Findings {task.marker}: {task.description}.", ""]
    for step in task.steps:
        if step.tool != "Read":
            continue
        names = outline(project / "lib" / step.path)
        lines.append(
            f"- lib/{step.path} ({len(names)} top-level definitions): "
            + ", ".join(names[:18])
            + ("." if len(names) <= 18 else ", and more.")
        )
        lines.append(
            f"  The module keeps its state in plain objects; {names[0] if names else 'it'} is "
            "the entry point most callers use, and the helpers after it are private."
        )
    lines += [
        "",
        f"Answer to “{task.prompt}”: the code above is where it happens; the searches "
        "found no other callers, so a change stays inside these files. Risks: behaviour "
        "on empty input, and the C accelerator that shadows the pure-Python code when "
        "it is available. Suggested next step: a focused test per bullet above.",
    ]
    return "\n".join(lines)


def task_in(text: str) -> Task | None:
    return next((t for t in TASKS if t.marker in text), None)


class ClaudeSide:
    """The stub Anthropic API's responder: the main conversation and every subagent."""

    def __init__(self, project: Path, tokens: Tokens) -> None:
        self.project = project
        self.tokens = tokens
        self.counts: dict[str, Count] = {"main": Count(), "subagents": Count(), "side": Count()}
        self.subagent_runs: dict[str, int] = {}
        self.models: set[str] = set()
        self._lock = threading.Lock()
        self.prices = Prices(omcm_config.load())

    def __call__(self, request: Request) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        if is_conversation(request) and is_subagent(request):
            kind, reply = "subagents", self._subagent(request)
        elif is_conversation(request):
            kind, reply = "main", self._main(request)
        else:
            kind, reply = "side", Reply.text("ok")
        total, cached = self.tokens.prompt(claude_parts(body), is_conversation(request))
        output = self.tokens.of(reply_text(reply.blocks))
        usage = {
            "input_tokens": total - cached if kind == "side" else 0,
            "cache_creation_input_tokens": 0 if kind == "side" else total - cached,
            "cache_read_input_tokens": cached,
            "output_tokens": output,
        }
        model = request.model
        priced = self.prices.cost(
            "claude",
            model,
            time.time(),
            input=total,
            cached=cached,
            cache_write=usage["cache_creation_input_tokens"],
            output=output,
        )
        with self._lock:
            self.models.add(model)
            count = self.counts[kind]
            count.requests += 1
            count.input += total
            count.cache_read += cached
            count.output += output
            if priced.usd is None:
                count.unpriced.add(f"{model}: {priced.source}")
            else:
                count.cost += priced.usd
        return Reply(blocks=reply.blocks, stop_reason=reply.stop_reason, usage=usage)

    def _main(self, request: Request) -> Reply:
        results = []
        answered = {
            block.get("tool_use_id"): tool_result_text(block)
            for message in request.messages
            for block in as_blocks(message.get("content"))
            if block.get("type") == "tool_result"
        }
        for task in TASKS:
            result = answered.get(task.tool_use_id)
            if result is not None:
                results.append(result)
                continue
            if issued(request, task.tool_use_id):
                return Reply.text("Waiting for the subagent.")
            call = {
                "description": task.description,
                "prompt": f"{task.prompt} {task.marker}",
                "subagent_type": task.agent,
                "run_in_background": False,
            }
            said = "I'll hand this part to a subagent." if task is TASKS[0] else ""
            return Reply.tool_use("Agent", call, task.tool_use_id, text=said)
        heads = [r.strip().splitlines()[0][:160] for r in results if r.strip()]
        return Reply.text("Summary of the review:\n" + "\n".join(f"- {h}" for h in heads))

    def _subagent(self, request: Request) -> Reply:
        first = request.messages[0] if request.messages else {}
        text = "\n".join(b.get("text", "") for b in as_blocks(first.get("content")))
        task = task_in(text)
        if task is None:
            return Reply.text("I cannot tell which task this is.")
        done = sum(
            1
            for message in request.messages
            if message.get("role") == "assistant"
            for block in as_blocks(message.get("content"))
            if block.get("type") == "tool_use"
        )
        with self._lock:
            if done == 0:
                self.subagent_runs[task.key] = self.subagent_runs.get(task.key, 0) + 1
        if done < len(task.steps):
            name, tool_input = task.steps[done].claude_call(self.project)
            return Reply.tool_use(name, tool_input, text=f"Step {done + 1}: {name}.")
        return Reply.text(report(task, self.project))


class ProviderSide:
    """The stub model server's responder: codex runs the same steps with its shell."""

    def __init__(self, project: Path, tokens: Tokens) -> None:
        self.project = project
        self.tokens = tokens
        self.count = Count()
        self.tasks: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, record: Recorded) -> ModelReply:
        body = record.body if isinstance(record.body, dict) else {}
        items = body.get("input") or []
        task = task_in(_json(items))
        done = sum(1 for item in items if item.get("type") == "function_call_output")
        if task is None:
            reply = ModelReply(text="I cannot tell which task this is.")
        elif done < len(task.steps):
            command = task.steps[done].command()
            reply = ModelReply(
                tool=("exec_command", {"cmd": command}), narration=f"Step {done + 1}: {command}"
            )
        else:
            reply = ModelReply(text=report(task, self.project))
        total, cached = self.tokens.prompt(codex_parts(body), True)
        said = reply.text if reply.tool is None else reply.narration + _json(reply.tool)
        output = self.tokens.of(said)
        with self._lock:
            if task is not None and done == 0:
                self.tasks[task.key] = self.tasks.get(task.key, 0) + 1
            self.count.requests += 1
            self.count.input += total
            self.count.cache_read += cached
            self.count.output += output
        return ModelReply(
            text=reply.text,
            tool=reply.tool,
            narration=reply.narration,
            usage=StubUsage(input=total, cached=cached, output=output, reasoning=0),
        )


# --- the two runs -----------------------------------------------------------------------


def make_project(sandbox: Sandbox) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in LIBRARY:
        target = sandbox.project / "lib" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stdlib / name, target)
    agents = sandbox.project / ".claude" / "agents"
    agents.mkdir(parents=True, exist_ok=True)
    for name, description in PROJECT_AGENTS.items():
        (agents / f"{name}.md").write_text(
            f"---\nname: {name}\ndescription: {description}\ntools: Read, Grep, Glob\n---\n"
            f"You are the project's {name}. {description} Report what you found, briefly.\n"
        )


@dataclass
class Run:
    claude: dict[str, Count]
    models: set[str]
    provider: Count
    routed: list[dict[str, Any]]
    seconds: float
    sandbox: Sandbox

    @property
    def total(self) -> Count:
        total = Count()
        for count in self.claude.values():
            total.add(count)
        return total


WITHOUT, OBSERVING, HULW = "without OMCM", "OMCM, no mode", "OMCM in hulw"


def run_once(root: Path, how: str) -> Run:
    """One session. ``OBSERVING`` and ``HULW`` share ``root``: OMCM's ledger of what each
    agent cost on Claude (written in the first) is what it estimates the second's savings
    from, as on a user's machine where subagents ran on Claude before."""
    tokens = Tokens()
    sandbox = Sandbox(root, NEWEST)
    make_project(sandbox)
    claude = ClaudeSide(sandbox.project, tokens)
    provider = ProviderSide(sandbox.project, tokens)
    with StubModels(responder=provider) as models, StubAnthropic(claude) as stub:
        sandbox.api_url = stub.url
        if how != WITHOUT:
            setup = codex_setup(models.url, sandbox.home)
            sandbox.extra_env.update(setup.env)
            codex = setup.table("codex")
            sandbox.write_config(
                tomli_w.dumps(
                    {
                        "routing": {"chains": {"low": ["codex"], "medium": ["codex"]}},
                        "providers": {"codex": codex},
                    }
                )
            )
        started = time.monotonic()
        run = sandbox.prompt(
            PROMPT if how != OBSERVING else PROMPT.removeprefix("hulw "),
            plugin_dir=None if how == WITHOUT else REPO,
            timeout=600,
        )
        seconds = time.monotonic() - started
        if run.returncode != 0:
            raise SystemExit(run.describe())
    routed = [
        line
        for line in (sandbox.routing_log() if how == HULW else [])
        if line.get("outcome") == "routed" and line.get("session_id") == run.session_id
    ]
    outcome = Run(claude.counts, claude.models, provider.count, routed, seconds, sandbox)
    check(outcome, claude, provider, how == HULW)
    return outcome


def check(run: Run, claude: ClaudeSide, provider: ProviderSide, routes: bool) -> None:
    """The session did what the figure claims, or the benchmark says what went wrong."""
    stays = {t.key for t in TASKS if t.agent == "Plan"} if routes else {t.key for t in TASKS}
    moved = {t.key for t in TASKS} - stays
    problems = []
    if set(claude.subagent_runs) != stays:
        problems.append(
            f"subagents on Claude: {sorted(claude.subagent_runs)}, want {sorted(stays)}"
        )
    if set(provider.tasks) != moved:
        problems.append(f"tasks on the provider: {sorted(provider.tasks)}, want {sorted(moved)}")
    if routes and len(run.routed) != len(moved):
        problems.append(f"routing log has {len(run.routed)} routed calls, want {len(moved)}")
    if problems:
        raise SystemExit("the session did not go as scripted: " + "; ".join(problems))


def omcm_estimate(run: Run) -> dict[str, Any]:
    """What ``omcm savings`` says the hulw session's routed calls avoided."""
    session = run.routed[0]["session_id"]
    done = run.sandbox.omcm("savings", "--json", "--since", "all", "--session", session)
    if done.returncode != 0:
        raise SystemExit(f"omcm savings failed: {done.stderr}")
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def row(label: str, count: Count) -> str:
    cost = f"${count.cost:.4f}" + (" (part unpriced)" if count.unpriced else "")
    return (
        f"  {label:<22}{count.requests:>9,}{count.input:>12,}{count.cache_read:>12,}"
        f"{count.output:>10,}   {cost}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the sandboxes here (transcripts, logs)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omcm-bench-savings-") as tmp:
        root = args.keep or Path(tmp)
        without = run_once(root / "without-omcm", WITHOUT)
        run_once(root / "with-omcm", OBSERVING)
        with_ = run_once(root / "with-omcm", HULW)
        estimate = omcm_estimate(with_)
        priced = Prices(omcm_config.load()).cost(
            *PRICED_AS,
            time.time(),
            input=with_.provider.input,
            cached=with_.provider.cache_read,
            output=with_.provider.output,
        )
    print(
        f"Claude Code {NEWEST}, {len(TASKS)} subagent tasks x {len(TASKS[0].steps)} tool calls; "
        f"tokens counted with Claude's tokenizer; Claude models asked for: "
        f"{', '.join(sorted(without.models | with_.models))}"
    )
    header = f"  {'':<22}{'requests':>9}{'input':>12}{'cache read':>12}{'output':>10}   cost"
    for label, run in ((WITHOUT, without), (HULW, with_)):
        print(f"{label}: Claude side ({run.seconds:.0f} s)")
        print(header)
        for kind, count in run.claude.items():
            if count.requests or kind != "side":
                print(row(kind, count))
        print(row("all", run.total))
    before, after = without.total, with_.total
    print("Claude, with OMCM / without:")
    for name in ("input", "cache_read", "output", "requests"):
        a, b = getattr(after, name), getattr(before, name)
        print(f"  {name:<11}{a:>10,} / {b:>10,} = {a / b:.2f}  ({1 - a / b:.0%} fewer)")
    print(
        f"  {'cost':<11}{after.cost:>10.4f} / {before.cost:>10.4f} = {after.cost / before.cost:.2f}"
        f"  ({1 - after.cost / before.cost:.0%} less, USD)"
    )
    provider = with_.provider
    usd = "no price" if priced.usd is None else f"${priced.usd:.4f} ({priced.source})"
    print(
        f"Instead, codex: {provider.requests} requests, {provider.input:,} input tokens "
        f"({provider.cache_read:,} cache reads), {provider.output:,} output tokens "
        f"(Claude-token equivalents); priced as {'/'.join(PRICED_AS)}: {usd}"
    )
    measured = (before.input + before.output) - (after.input + after.output)
    print(
        f"Claude tokens avoided, measured (input + output, without - with): {measured:,}; "
        f"OMCM's own estimate (omcm savings, from the subagents it saw on Claude in the "
        f"session before): {estimate['claude_tokens_avoided']:,} over "
        f"{estimate['avoided_estimated_calls']} of {len(with_.routed)} routed calls"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

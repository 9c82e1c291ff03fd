"""``omcm stats`` over a year of heavy use: half a million routing-log lines.

    .venv/bin/python benchmarks/stats.py [--lines 500000] [--runs 5] [--before SRC]

Writes a year of lines through the real ``omcm.calls.routing_log.append`` (so the log
rotates every 10 MB and each rotated file is indexed by the detached indexer, as
on a user's machine): subagent calls that stayed on Claude, routed calls with one
or two provider attempts, subagents costed on Claude, and a damaged line now and
then. Then times ``omcm stats`` and ``omcm savings`` as a user runs them, a new
process each run, and prints each case's median wall time, CPU time (user and
system, the command's worker processes included) and peak memory (its largest
process):

- the first report, when the rotated files have no ``.rows`` yet (the first report
  after an upgrade, or after the detached indexer was killed): they are removed
  before each run;
- later reports, over the saved ``.rows``.

``--before SRC`` times the ``omcm`` package in ``SRC`` as well (the ``src`` folder of
another checkout: ``git worktree add /tmp/stats-before 0659abc`` gives
``/tmp/stats-before/src``), over its own copy of the same log, the two in turn run by
run (A B A B ...); it prints the ratio of each pair's times (median) and checks that
both printed the same. Targets (issue 20): on the 2-core development machine, the
first report of a year by day within 4 s, a later one within 1 s. Runs in a temporary
state dir; nothing touches your home.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

YEAR = 365 * 86400
PROVIDERS = {
    "codex": "gpt-5.1-codex-mini",
    "gemini": "gemini-2.5-flash",
    "opencode": "openrouter/qwen/qwen3-coder",
    "ollama": "qwen3:8b",
}
AGENTS = (("explore", "low"), ("writer", "low"), ("executor", "medium"), ("designer", "medium"))


def write_year(lines: int, seed: int = 11) -> float:
    """Append ``lines`` lines spread over the last year; seconds it took."""
    from omcm.calls import routing_log
    from omcm.calls.routing_log import AttemptEntry, CallEntry, SubagentEntry, Tokens
    from omcm.core import paths

    chosen = random.Random(seed)
    start = time.time() - YEAR
    began = time.perf_counter()
    path = paths.routing_log()
    for n in range(lines):
        when = start + YEAR * n / lines
        agent, tier = chosen.choice(AGENTS)
        session = f"session-{n // 400:05d}"
        kind = chosen.random()
        if kind < 0.10:
            total = chosen.randint(5_000, 80_000)
            routing_log.append(
                SubagentEntry(
                    time=when,
                    session_id=session,
                    agent=agent,
                    tier=tier,
                    model="claude-opus-5-5",
                    input=total // 20,
                    cache_read=total - total // 20 - 800,
                    output=800,
                    total=total,
                    requests=chosen.randint(1, 12),
                )
            )
        elif kind < 0.40:
            routing_log.append(CallEntry(time=when, session_id=session, agent=agent, tier=tier))
        else:
            attempts = []
            for _ in range(1 if chosen.random() < 0.9 else 2):
                provider = chosen.choice(list(PROVIDERS))
                tokens = Tokens(
                    input=chosen.randint(2_000, 60_000),
                    cached=chosen.randint(0, 1_000),
                    output=chosen.randint(100, 4_000),
                    reasoning=chosen.randint(0, 500),
                )
                attempts.append(
                    AttemptEntry(
                        provider=provider,
                        model=PROVIDERS[provider],
                        outcome="ok",
                        duration=chosen.uniform(2, 90),
                        tokens=tokens,
                    )
                )
            routing_log.append(
                CallEntry(
                    time=when,
                    session_id=session,
                    tool_use_id=f"toolu_{n:08d}",
                    agent=agent,
                    tier=tier,
                    decision="providers",
                    outcome="routed",
                    reason="hulw-mode",
                    mode="hulw",
                    provider=attempts[-1].provider,
                    model=attempts[-1].model,
                    duration=sum(a.duration for a in attempts) + 0.1,
                    attempts=attempts,
                    tokens=attempts[-1].tokens,
                    prompt_chars=chosen.randint(200, 4_000),
                    answer_chars=chosen.randint(200, 20_000),
                    context_path="/home/user/project/.omcm/handoff/context.md",
                )
            )
        if n % 50_000 == 49_999:
            with open(path, "a") as handle:
                handle.write('{"event": "call", "time": "damaged"\n')
    return time.perf_counter() - began


def wait_for_indexes(timeout: float = 600) -> float:
    from omcm.calls import routing_log

    began = time.monotonic()
    while time.monotonic() - began < timeout:
        rotated = routing_log.files()[:-1]
        if all(os.path.exists(f + ".rows") for f in rotated):
            break
        time.sleep(0.2)
    return time.monotonic() - began


#: One run: wall seconds, CPU seconds, peak MiB, what it printed.
Sample = tuple[float, float, float, str]


def cases(now: float) -> list[tuple[str, list[str], float | None, bool]]:
    """(label, arguments, target in seconds or None, whether the ``.rows`` are removed
    first) of each case. The windows are dates, so that every run reports the same."""
    year = time.strftime("%Y-%m-%dT%H:%M", time.localtime(now - 400 * 86400))
    week = time.strftime("%Y-%m-%dT%H:%M", time.localtime(now - 7 * 86400))
    return [
        ("first report: a year by day", ["stats", "--since", year], 4.0, True),
        ("a year by day", ["stats", "--since", year], 1.0, False),
        ("a year by hour", ["stats", "--since", year, "--by", "hour"], None, False),
        (
            "a year by week, --json",
            ["stats", "--since", year, "--by", "week", "--json"],
            None,
            False,
        ),
        ("the last 7 days", ["stats", "--since", week], None, False),
        ("savings, a year", ["savings", "--since", year], None, False),
        ("savings, the last 7 days", ["savings", "--since", week], None, False),
    ]


class Side:
    """One ``omcm`` (the one running this, or another checkout's) over its own log copy."""

    def __init__(self, name: str, state: Path, src: str | None) -> None:
        self.name, self.state = name, state
        self.env = os.environ | {"OMCM_STATE_DIR": str(state)}
        if src:
            self.env["PYTHONPATH"] = src
        self.out = state.parent / f"{name}.out"

    def forget_rows(self) -> None:
        for rows in self.state.glob("routing-log.jsonl.*.rows"):
            rows.unlink()

    def run(self, args: list[str]) -> Sample:
        """(wall s, CPU s, peak MiB, what it printed) of one run of ``omcm ARGS``."""
        with open(self.out, "w+b") as out:
            began = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "omcm", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - began
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            printed = out.read().decode("utf-8", "replace")
        if proc.returncode != 0:
            raise SystemExit(f"{self.name}: omcm {' '.join(args)} failed: {printed[-500:]}")
        # ru_maxrss: the largest of the process and the worker processes it waited for
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, printed


def measure(sides: list[Side], args: list[str], first: bool, runs: int) -> list[list[Sample]]:
    """Each side's runs of ``omcm ARGS``, the sides in turn (A B A B ...), after a warm-up."""
    found: list[list[Sample]] = [[] for _ in sides]
    for n in range(runs + 1):
        for side, samples in zip(sides, found, strict=True):
            if first:
                side.forget_rows()
            sample = side.run(args)
            if n:
                samples.append(sample)
    printed = {samples[-1][3] for samples in found}
    if len(printed) > 1:
        raise SystemExit(f"omcm {' '.join(args)}: the two printed different reports")
    return found


def show(label: str, target: float | None, found: list[list[Sample]]) -> None:
    cells = []
    for samples in found:
        wall = statistics.median(s[0] for s in samples)
        cpu = statistics.median(s[1] for s in samples)
        peak = statistics.median(s[2] for s in samples)
        cells.append(f"{wall:6.2f} s {cpu:6.2f} s {peak:5.0f} MiB")
    if len(found) == 2:
        pairs = list(zip(*found, strict=True))
        wall = statistics.median(a[0] / b[0] for a, b in pairs)
        cpu = statistics.median(a[1] / b[1] for a, b in pairs)
        cells.append(f"{wall:5.2f} {cpu:5.2f}")
    aim = f"  target <= {target:g} s" if target else ""
    print(f"{label:30} " + "   ".join(cells) + aim, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", metavar="SRC", help="another checkout's src to compare")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omcm-bench-stats-") as tmp:
        state = Path(tmp) / "state"
        os.environ["OMCM_STATE_DIR"] = str(state)
        os.environ["OMCM_CONFIG_DIR"] = str(Path(tmp) / "config")
        from omcm.calls import routing_log

        wrote = write_year(args.lines)
        indexed = wait_for_indexes()
        files = routing_log.files()
        size = sum(os.path.getsize(f) for f in files) / 1024 / 1024
        print(
            f"wrote {args.lines:,} lines ({size:.0f} MB in {len(files)} files) in {wrote:.1f} s; "
            f"the detached indexers were done {indexed:.1f} s later"
        )
        sides = [Side("this", state, None)]
        if args.before:
            other = Path(tmp) / "before"
            other.mkdir()
            for name in files:
                shutil.copy2(name, other)
            sides.append(Side("before", other, os.path.abspath(args.before)))
        columns = "   ".join(f"{s.name + ': wall, CPU, peak':29}" for s in sides)
        ratio = "   this/before: wall, CPU" if args.before else ""
        print(f"median of {args.runs} runs{' (in turn)' if args.before else ''}")
        print(f"{'report':30} {columns}{ratio}")
        for label, case, target, first in cases(time.time()):
            show(label, target, measure(sides, case, first, args.runs))


if __name__ == "__main__":
    main()

"""``omcm stats`` over a year of heavy use: half a million routing-log lines.

    .venv/bin/python benchmarks/stats.py [--lines 500000] [--runs 3]

Writes a year of lines through the real ``omcm.calls.routing_log.append`` (so the log
rotates every 10 MB and each rotated file is indexed by the detached indexer, as
on a user's machine): subagent calls that stayed on Claude, routed calls with one
or two provider attempts, subagents costed on Claude, and a damaged line now and
then. Then times ``omcm stats`` as a user runs it (a new process, the report over
the whole year, by day and by hour, text and JSON), median of ``--runs``; and once
with the rotated files' rows removed, which the report rebuilds on both cores.
Target (issue 12): under 2 s for the year. Runs in a temporary state dir.
"""

from __future__ import annotations

import argparse
import os
import random
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


def timed(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "omcm", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        times.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise SystemExit(f"omcm {' '.join(args)} failed: {done.stderr[-500:]}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omcm-bench-stats-") as tmp:
        os.environ["OMCM_STATE_DIR"] = str(Path(tmp) / "state")
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
        cases = {
            "year, by day": ["stats", "--since", "all", "--by", "day"],
            "year, by hour": ["stats", "--since", "all", "--by", "hour"],
            "year, by week, --json": ["stats", "--since", "all", "--by", "week", "--json"],
            "last 7 days (default)": ["stats"],
            "savings, year": ["savings", "--since", "all"],
            "savings, last 7 days": ["savings"],
        }
        for label, case in cases.items():
            print(f"{label:28} median {timed(case, args.runs):.2f} s")
        for rows in Path(tmp, "state").glob("routing-log.jsonl.*.rows"):
            rows.unlink()
        Path(tmp, "state", "prices-cache.json").unlink()
        cold = timed(["stats", "--since", "all", "--by", "day"], 1)
        print(
            f"{'year, by day, nothing saved':28} {cold:.2f} s "
            "(rows rebuilt on every core, prices looked up)"
        )


if __name__ == "__main__":
    main()

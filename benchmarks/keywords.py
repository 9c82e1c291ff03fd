"""Speed of keyword detection, the check every UserPromptSubmit hook runs.

    .venv/bin/python benchmarks/keywords.py [--runs 200]

Targets: a 10 KB prompt without a keyword under 1 ms per call (the common case
must be nearly free), and every pathological input below (each made an early
draft backtrack for seconds) under 0.5 s. The unit tests check what these
inputs detect; this script checks how long it takes, away from a loaded test
run where timings flake.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from omcm.routing.keywords import detect

NASTY = [
    "a" * 20_000 + " ulw",
    "<a " * 3000 + "ulw",
    "<a>" * 3000 + " ulw",
    "<a><ab></ab>" * 2000 + " ulw",
    "`" * 5000 + " ulw",
    "'" * 5000 + "ulw",
    "{" * 3000 + " ulw",
    "ulw/" * 3000,
    "x" * 10_000 + "/" + " ulw" * 500,
    " " * 50_000 + "ulw" + " " * 50_000,
    "ulw" + " \t" * 25_000 + "x",
    "hybrid" + " " * 50_000 + "x ulw",
    "ulw " + "!" * 50_000 + "x",
    "울트라워크로" + " " * 50_000 + "해",
    "what is ulw? " * 2000,
]


def log_text(size: int) -> str:
    line = "2024-05-01 12:00:00 ERROR test_login failed at src/app/session.py:42 (timeout)\n"
    return (line * (size // len(line) + 1))[:size]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    failed = False
    prompt = log_text(10_000)
    detect(prompt)
    samples = []
    for _ in range(args.runs):
        start = time.perf_counter()
        detect(prompt)
        samples.append(time.perf_counter() - start)
    median = statistics.median(samples)
    ok = median < 0.001
    failed |= not ok
    print(
        f"10 KB prompt, no keyword: median {median * 1e6:.0f} us per call "
        f"(target < 1000 us) {'ok' if ok else 'MISSED'}"
    )
    worst = 0.0
    for text in NASTY:
        start = time.perf_counter()
        detect(text)
        took = time.perf_counter() - start
        worst = max(worst, took)
        if took >= 0.5:
            failed = True
            print(f"  MISSED: {text[:30]!r}… took {took:.3f} s")
    print(
        f"pathological inputs: slowest {worst * 1000:.1f} ms (target < 500 ms) "
        f"{'ok' if worst < 0.5 else 'MISSED'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

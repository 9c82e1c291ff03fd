"""How long the whole test suite takes, and its slowest tests: ``scripts/test`` as CI runs it.

    .venv/bin/python benchmarks/suite.py                       # this checkout
    .venv/bin/python benchmarks/suite.py --checkout /tmp/base  # another one (a worktree)

Set-up (``scripts/setup --e2e``: the environment, the pinned CLIs) runs first and is not
timed; then ``scripts/test --durations 20`` runs, timed from start to end (lint, format,
types and every test), and the slowest 20 tests it reports are printed with the total.
The figures in the README's Benchmarks section come from here. ``OMCM_TEST_WORKERS`` sets
the number of test workers (four by default; a checkout from before pytest-xdist runs its
tests one at a time whatever it says).

The development machine's speed changes from hour to hour (other guests on its host), so
two figures tell runs apart: a fixed pure-Python workload timed just before and just after
the suite (best of three: the machine's speed then), and the CPU-seconds the whole system
spent while the suite ran (Linux: from ``/proc/stat``; the suite's own work, whatever the
speed). Compare checkouts run one after the other, not figures from different days.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
DURATION = re.compile(r"^\s*(\d+\.\d+)s (call|setup|teardown)\s+(\S+)")
SUMMARY = re.compile(r"=+ (.*) in ([\d.]+)s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=HERE, help="the checkout to run")
    parser.add_argument("--log", type=Path, help="keep the whole output here")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    if not (checkout / "scripts" / "test").is_file():
        print(f"suite: {checkout} has no scripts/test", file=sys.stderr)
        return 2
    setup = subprocess.run(
        [str(checkout / "scripts" / "setup"), "--e2e"], cwd=checkout, check=False
    )
    if setup.returncode:
        print(f"suite: scripts/setup --e2e failed in {checkout}", file=sys.stderr)
        return 1
    speed_before = reference_seconds()
    busy = busy_cpu_seconds()
    started = time.monotonic()
    proc = subprocess.run(
        [str(checkout / "scripts" / "test"), "--durations", "20", "-q"],
        cwd=checkout,
        capture_output=True,
        text=True,
        env=os.environ,
        check=False,
    )
    wall = time.monotonic() - started
    busy = busy_cpu_seconds() - busy
    speed_after = reference_seconds()
    output = proc.stdout + proc.stderr
    if args.log:
        args.log.write_text(output)
    slowest = [m.groups() for m in map(DURATION.match, output.splitlines()) if m]
    summary = [m.groups() for m in map(SUMMARY.search, output.splitlines()) if m]
    print(f"checkout: {checkout} ({_commit(checkout)})")
    print(f"scripts/test after set-up: {wall / 60:.1f} min ({wall:.0f} s), exit {proc.returncode}")
    if summary:
        outcome, seconds = summary[-1]
        print(f"pytest: {outcome} in {float(seconds):.0f} s")
    if busy >= 0:
        print(f"system CPU while it ran: {busy:.0f} CPU-s")
    print(f"reference workload: {speed_before:.2f} s before, {speed_after:.2f} s after")
    print("slowest 20:")
    for seconds, phase, test in slowest[:20]:
        print(f"  {float(seconds):7.1f} s  {phase:8}  {test}")
    return proc.returncode


REFERENCE = "total = 0\nfor i in range(4_000_000):\n    total += i * i % 7"


def reference_seconds() -> float:
    """The best of three timings of a fixed pure-Python loop, in a fresh interpreter."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-S", "-c", REFERENCE], check=True)
        times.append(time.perf_counter() - started)
    return min(times)


def busy_cpu_seconds() -> float:
    """CPU-seconds all cores have spent on work since boot, time stolen by the host not counted
    (-1 where /proc/stat is missing)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return -1.0
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _commit(checkout: Path) -> str:
    found = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() or "?"


if __name__ == "__main__":
    raise SystemExit(main())

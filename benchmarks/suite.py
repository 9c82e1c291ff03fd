"""How long the whole test suite takes, and its slowest tests: ``scripts/test`` as CI runs it.

    .venv/bin/python benchmarks/suite.py                       # this checkout
    .venv/bin/python benchmarks/suite.py --checkout /tmp/base  # another one (a worktree)

Set-up (``scripts/setup --e2e``: the environment, the pinned CLIs) runs first and is not
timed; then ``scripts/test --durations 20`` runs, timed from start to end (lint, format,
types and every test), and the slowest 20 tests it reports are printed with the total.
The figures in the README's Benchmarks section come from here. ``OMCM_TEST_WORKERS`` sets
the number of test workers (four by default; a checkout from before pytest-xdist runs its
tests one at a time whatever it says).
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
    print("slowest 20:")
    for seconds, phase, test in slowest[:20]:
        print(f"  {float(seconds):7.1f} s  {phase:8}  {test}")
    return proc.returncode


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

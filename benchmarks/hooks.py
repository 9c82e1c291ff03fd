"""Wall time of OMCM's hot paths against the bare interpreter, measured side by side.

    .venv/bin/python benchmarks/hooks.py [--runs 60] [--only NAME] [--json]

Each case is one new process per run, as Claude Code starts it (the hooks through
``hooks/omcm-hook``, the status line as ``omcm hud setup`` writes it), and runs
interleave with ``python -c pass`` (the same interpreter) so both see the same
machine load. Targets (from the issues): median within 1.5x the bare start-up for
a PreToolUse call that stays on Claude and a UserPromptSubmit prompt of 10 KB
with no keyword, through the launcher; routing overhead of a routed call (hook
wall time minus the provider process's own wall time) with a 50 MB transcript
under 150 ms. ``pre-tool-use (plain python -c)`` is the hook without the
launcher's ``-S``, for comparison. Everything runs in a temporary state dir;
nothing touches your home.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from omcm.core import paths  # the status line's command, as omcm hud setup writes it

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
#: exactly what hooks/omcm-hook runs
HOOK = "from omcm.hooks.runner import run; run()"
#: the status line command ``omcm hud setup`` wrote before it started Python with -S
OLD_HUD = "from omcm.statusline import main; main()"


def timed(argv: list[str], stdin: bytes, env: dict[str, str], cwd: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, input=stdin, capture_output=True, env=env, cwd=cwd, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed: {done.stderr.decode()[-500:]}")
    return elapsed


def side_by_side(
    case: Callable[[], float], bare: Callable[[], float], runs: int
) -> tuple[float, float]:
    case(), bare()  # warm the page cache and the byte-code
    ours, base = [], []
    for _ in range(runs):
        base.append(bare())
        ours.append(case())
    return statistics.median(ours), statistics.median(base)


def payload(event: str, **fields: object) -> bytes:
    data = {
        "session_id": "bench-session",
        "transcript_path": "",
        "cwd": str(REPO),
        "hook_event_name": event,
        "permission_mode": "default",
        **fields,
    }
    return json.dumps(data).encode()


def write_transcript(path: Path, size: int) -> None:
    """A synthetic Claude Code transcript of ``size`` bytes: mostly tool traffic."""
    filler = (
        json.dumps(
            {
                "type": "assistant",
                "message": {"role": "assistant", "content": [{"type": "text", "text": "x" * 2000}]},
            }
        )
        + "\n"
    )
    todo = (
        json.dumps(
            {
                "type": "assistant",
                "message": {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "t",
                            "name": "TodoWrite",
                            "input": {
                                "todos": [
                                    {
                                        "content": "benchmark task",
                                        "status": "pending",
                                        "activeForm": "x",
                                    }
                                ]
                            },
                        }
                    ],
                },
            }
        )
        + "\n"
    )
    user = json.dumps({"type": "user", "message": {"role": "user", "content": "do it"}}) + "\n"
    with open(path, "w") as handle:
        handle.write(user + todo)
        written = len(user) + len(todo)
        while written < size:
            handle.write(filler)
            written += len(filler)
        handle.write(todo)


def fake_codex(folder: Path) -> Path:
    """A stand-in ``codex`` that answers like ``codex exec --json`` at once."""
    script = folder / "codex"
    script.write_text(
        "#!/bin/sh\ncat >/dev/null\n"
        'echo \'{"type":"thread.started","thread_id":"t"}\'\n'
        'echo \'{"type":"item.completed","item":{"id":"i","type":"agent_message",'
        '"text":"BENCH-ANSWER"}}\'\n'
        'echo \'{"type":"turn.completed","usage":{"input_tokens":10,'
        '"cached_input_tokens":0,"output_tokens":2,"reasoning_output_tokens":0}}\'\n'
    )
    script.chmod(0o755)
    return script


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--only", help="run one case: pre-tool-use, user-prompt, hud, routed")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="CHECKOUT",
        help="also run another checkout's hooks (its launcher and .venv), interleaved with "
        "these: before/after figures measured in one run",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="omcm-bench-") as tmp:
        home = Path(tmp)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CLAUDE")},
            "OMCM_STATE_DIR": str(home / "state"),
            "OMCM_CONFIG_DIR": str(home / "config"),
            "HOME": str(home),
            "NO_COLOR": "1",
        }
        cwd = str(REPO)

        def bare() -> float:
            return timed([PYTHON, "-c", "pass"], b"", env, cwd)

        def hook(event: str, data: bytes) -> Callable[[], float]:
            return lambda: timed([PYTHON, "-c", HOOK, event], data, env, cwd)

        agent = payload(
            "PreToolUse",
            tool_name="Agent",
            tool_use_id="toolu_bench",
            tool_input={
                "description": "look",
                "prompt": "find the bug",
                "subagent_type": "executor",
            },
        )
        text = ("please look at this log line\n" * 400)[:10240]
        prompt = payload("UserPromptSubmit", prompt=text)
        status = json.dumps(
            {
                "session_id": "bench-session",
                "rate_limits": {
                    "five_hour": {"used_percentage": 42.0, "resets_at": time.time() + 3600},
                    "seven_day": {"used_percentage": 12.0, "resets_at": time.time() + 86400},
                },
                "context_window": {"total_input_tokens": 1234, "total_output_tokens": 567},
            }
        ).encode()

        def launched(event: str, data: bytes, root: Path = REPO) -> Callable[[], float]:
            """The hook as Claude Code runs it: the checkout's launcher and environment."""
            python = str(root / ".venv" / "bin" / "python")
            launcher_env = {**env, "OMCM_PYTHON": python, "CLAUDE_PLUGIN_ROOT": str(root)}
            argv = ["sh", str(root / "hooks" / "omcm-hook"), event]
            return lambda: timed(argv, data, launcher_env, cwd)

        hud = [PYTHON, *paths.fast_start("omcm.hud.statusline", "run", paths.import_path())]
        cases: dict[str, Callable[[], float]] = {
            "pre-tool-use": launched("pre-tool-use", agent),
            "user-prompt": launched("user-prompt-submit", prompt),
            "hud": lambda: timed(hud, status, env, cwd),
            "pre-tool-use (plain python -c)": hook("pre-tool-use", agent),
        }
        if args.before:
            old = args.before.resolve()
            # The status line as `omcm hud setup` wrote it before the -S form.
            old_hud = [str(old / ".venv" / "bin" / "python"), "-c", OLD_HUD]
            cases |= {
                "pre-tool-use (before)": launched("pre-tool-use", agent, old),
                "user-prompt (before)": launched("user-prompt-submit", prompt, old),
                "hud (before)": lambda: timed(old_hud, status, env, cwd),
            }
        results = {}
        for name, case in cases.items():
            if args.only and not name.startswith(args.only):
                continue
            ours, base = side_by_side(case, bare, args.runs)
            results[name] = {
                "median_ms": round(ours * 1000, 1),
                "bare_ms": round(base * 1000, 1),
                "ratio": round(ours / base, 2),
            }
        if not args.only or args.only == "routed":
            results["routed"] = routed_overhead(home, env, cwd, min(args.runs, 20))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for name, row in results.items():
            print(f"{name:24} " + "  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


def routed_overhead(home: Path, env: dict[str, str], cwd: str, runs: int) -> dict[str, float]:
    """A routed call with a 50 MB transcript: hook wall time minus the provider's own time."""
    transcript = home / "transcript.jsonl"
    write_transcript(transcript, 50 * 1024 * 1024)
    bin_dir = home / "bin"
    bin_dir.mkdir()
    fake_codex(bin_dir)
    project = home / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    config = home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "fusion_default = true\n[delegation]\nrepeat_window = 0\n"
        '[providers.codex]\ncommand = "%s"\n' % (bin_dir / "codex")
    )
    log = home / "state" / "routing-log.jsonl"
    overheads, walls = [], []
    for n in range(runs + 1):
        data = payload(
            "PreToolUse",
            tool_name="Agent",
            tool_use_id=f"toolu_{n}",
            transcript_path=str(transcript),
            cwd=str(project),
            tool_input={"description": "bench", "prompt": f"task {n}", "subagent_type": "executor"},
        )
        wall = timed([PYTHON, "-c", HOOK, "pre-tool-use"], data, env, str(project))
        entry = json.loads(log.read_text().splitlines()[-1])
        assert entry["outcome"] == "routed", entry
        provider = sum(a["duration"] for a in entry["attempts"])
        if n:  # the first run warms the caches
            overheads.append(wall - provider)
            walls.append(wall)
    return {
        "median_overhead_ms": round(statistics.median(overheads) * 1000, 1),
        "median_wall_ms": round(statistics.median(walls) * 1000, 1),
        "transcript_mb": 50,
    }


if __name__ == "__main__":
    raise SystemExit(main())

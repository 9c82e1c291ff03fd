"""What the MCP ``ask`` tool adds on top of the provider's own time, next to a routed subagent call.

    .venv/bin/python benchmarks/mcp.py [--runs 7]

The real codex (the pinned one, tests/e2e/npm) talks to a stub model server that
answers at once. Measured, per call, OMCM's own time: the wall time of the call
as its caller sees it, minus the provider run's own duration (the routing-log
attempt's ``duration``: the codex process, or the warm server's turn):

- ``ask`` through the MCP server (started as ``.mcp.json`` starts it, spoken to by
  the MCP SDK's client): from sending ``tools/call`` to its result;
- a routed subagent call through the PreToolUse hook (the launcher run as Claude
  Code runs it, blocking: ``run_in_background: false``): from starting the hook to
  its answer.

Each with codex cold (a new process per call) and warm (``providers.codex.warm``: a
server from the pool; one call first to start it). Medians of ``--runs`` calls,
interleaved. Needs ``scripts/setup --e2e``.
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
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on the path, and this file is named
# like the MCP SDK: the SDK is imported with the folder left out.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "benchmarks"]
sys.path.insert(0, str(REPO))

import anyio  # noqa: E402
import tomli_w  # noqa: E402
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402
from tests.conftest import stop_jobs_under, stop_pools_under  # noqa: E402 - after the path
from tests.e2e.stub_models import Reply, StubModels, codex_setup  # noqa: E402

LAUNCHER = REPO / "hooks" / "omcm-hook"
PYTHON = REPO / ".venv" / "bin" / "python"


class Bench:
    """One throw-away user: state and config dirs, a codex setup, the environment."""

    def __init__(self, root: Path, models_url: str, warm: bool) -> None:
        self.root = root
        self.state, self.config = root / "state", root / "config"
        self.project = root / "project"
        for folder in (self.state, self.config, self.project):
            folder.mkdir(parents=True)
        home = root / "home"
        home.mkdir()
        setup = codex_setup(models_url, home)
        codex = setup.table("codex") | {"warm": warm}
        config = {
            "fusion_default": True,
            "delegation": {"repeat_window": 0},
            "routing": {"chains": {"low": ["codex"], "medium": ["codex"]}},
            "providers": {"codex": codex},
        }
        (self.config / "config.toml").write_text(tomli_w.dumps(config))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE", "OMCM"))}
        self.env |= setup.env | {
            "OMCM_STATE_DIR": str(self.state),
            "OMCM_CONFIG_DIR": str(self.config),
            "OMCM_PYTHON": str(PYTHON),
            "CLAUDE_CODE_ENTRYPOINT": "cli",
        }

    def attempt_seconds(self, tool_use_id: str) -> float:
        """The provider run's own duration for the call, from the routing log."""
        for line in (self.state / "routing-log.jsonl").read_text().splitlines():
            entry = json.loads(line)
            if entry.get("tool_use_id") == tool_use_id and entry.get("attempts"):
                return float(entry["attempts"][-1]["duration"])
        raise SystemExit(f"no routing-log line with attempts for {tool_use_id}")

    def hook_call(self, n: int) -> float:
        """OMCM's own time in one blocking routed subagent call (hook wall - provider)."""
        tool_use_id = f"toolu_bench_hook_{n}"
        payload = {
            "session_id": "bench",
            "hook_event_name": "PreToolUse",
            "cwd": str(self.project),
            "transcript_path": "",
            "tool_name": "Agent",
            "tool_use_id": tool_use_id,
            "tool_input": {
                "description": "answer",
                "prompt": f"Where is the entry point? ({n})",
                "subagent_type": "general-purpose",
                "run_in_background": False,
            },
        }
        began = time.perf_counter()
        done = subprocess.run(
            ["sh", str(LAUNCHER), "pre-tool-use"],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.project,
            check=True,
        )
        wall = time.perf_counter() - began
        assert "permissionDecisionReason" in done.stdout, done.stdout + done.stderr
        return wall - self.attempt_seconds(tool_use_id)

    async def asks(self, runs: int, hook_runs: list[float]) -> list[float]:
        """OMCM's own time in ``runs`` asks (tool call wall - provider), hook calls between."""
        params = StdioServerParameters(
            command="sh", args=[str(LAUNCHER), "mcp-server"], env=self.env, cwd=str(self.project)
        )
        found = []
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            for n in range(runs):
                tool_use_id = f"toolu_bench_ask_{n}"
                meta: Any = {"claudecode/toolUseId": tool_use_id}
                began = time.perf_counter()
                result = await client.call_tool(
                    "ask", {"prompt": f"Where is the entry point? ({n})"}, meta=meta
                )
                wall = time.perf_counter() - began
                assert not result.is_error, result
                found.append(wall - self.attempt_seconds(tool_use_id))
                hook_runs.append(await anyio.to_thread.run_sync(self.hook_call, n))
        return found


def measure(models_url: str, warm: bool, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="omcm-bench-mcp-") as tmp:
        bench = Bench(Path(tmp), models_url, warm)
        try:
            if warm:  # start the pool: the measured calls find a server up
                bench.hook_call(-1)
            hook: list[float] = []
            asks = anyio.run(bench.asks, runs, hook)
            ran = [
                attempt.get("warm") or "cold"
                for line in (bench.state / "routing-log.jsonl").read_text().splitlines()
                for attempt in json.loads(line).get("attempts") or []
            ]
        finally:
            stop_jobs_under(Path(tmp))
            stop_pools_under(Path(tmp))
    return {
        "codex": "warm" if warm else "cold",
        "runs_by_kind": {kind: ran.count(kind) for kind in sorted(set(ran))},
        "ask_overhead_ms_p50": round(statistics.median(asks) * 1000, 1),
        "hook_overhead_ms_p50": round(statistics.median(hook) * 1000, 1),
        "ask_overhead_ms_all": [round(x * 1000, 1) for x in asks],
        "hook_overhead_ms_all": [round(x * 1000, 1) for x in hook],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with StubModels(Reply(text="ANSWER: src/app.py")) as models:
        rows = [measure(models.url, warm, args.runs) for warm in (False, True)]
    for row in rows:
        print(json.dumps(row))
    print()
    print("| codex | `ask` (MCP): OMCM's own time, p50 | routed subagent call (hook): the same |")
    print("|---|---|---|")
    for row in rows:
        print(
            f"| {row['codex']} | {row['ask_overhead_ms_p50']:.0f} ms | "
            f"{row['hook_overhead_ms_p50']:.0f} ms |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

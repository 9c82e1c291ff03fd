"""How long a routed subagent call holds Claude up: background job vs synchronous answer.

    .venv/bin/python benchmarks/background.py [--delay 10] [--runs 3]

The real Claude Code (the newest pinned, tests/e2e/npm) runs ``claude -p`` with OMCM
against the stub Anthropic API; the model calls an Explore subagent, which OMCM
routes to the real codex talking to a stub model server that answers after
``--delay`` seconds. Measured: from the moment the PreToolUse hook received the
call to the moment Claude's next request (the one carrying the tool result)
reached the stub. With ``run_in_background`` absent the call becomes a
background job; with ``false`` it is answered in the hook. Target (issue): the
background call under 1 s. Needs ``scripts/setup --e2e``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import tomli_w

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.e2e.claude import NEWEST, Sandbox  # noqa: E402 - after the path is set
from tests.e2e.stub_anthropic import (  # noqa: E402
    AgentScript,
    StubAnthropic,
    as_blocks,
    is_main_conversation,
)
from tests.e2e.stub_models import Reply, StubModels, codex_setup  # noqa: E402

TOOL_USE_ID = "toolu_bench_explore"


def held_up(root: Path, delay: float, background: bool) -> float:
    """Seconds Claude waited for its next request after one routed call."""
    call = {"description": "find it", "prompt": "Find the entry point.", "subagent_type": "Explore"}
    if not background:
        call["run_in_background"] = False  # type: ignore[assignment]
    with (
        StubModels(Reply(text="ANSWER", delay=delay)) as models,
        StubAnthropic(AgentScript(call, "Agent", TOOL_USE_ID)) as stub,
    ):
        sandbox = Sandbox(root, NEWEST, stub.url)
        setup = codex_setup(models.url, sandbox.home)
        sandbox.extra_env.update(setup.env)
        codex = setup.table("codex")
        sandbox.write_config(
            tomli_w.dumps(
                {
                    "fusion_default": True,
                    "routing": {"chains": {"low": ["codex"]}},
                    "providers": {"codex": codex},
                }
            )
        )
        run = sandbox.prompt("benchmark: explore", timeout=delay * 6 + 60)
        if run.returncode != 0:
            raise SystemExit(run.describe())
        [hook] = [
            p
            for p in sandbox.traced_payloads("PreToolUse")
            if p["payload"].get("tool_use_id") == TOOL_USE_ID
        ]
        answered = next(
            r
            for r in stub.requests
            if is_main_conversation(r)
            and any(
                b.get("tool_use_id") == TOOL_USE_ID and b.get("type") == "tool_result"
                for m in r.messages
                for b in as_blocks(m.get("content"))
            )
        )
        return answered.received_at - float(hook["received_at"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=10.0, help="the provider's answer time")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {"background job": [], "synchronous": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.runs):
            for name, background in (("background job", True), ("synchronous", False)):
                results[name].append(held_up(Path(tmp, f"{name[:4]}-{n}"), args.delay, background))
    print(f"provider answer time: {args.delay:g} s, Claude Code {NEWEST}, {args.runs} runs each")
    for name, seconds in results.items():
        print(
            f"{name:<15} Claude held up: median {statistics.median(seconds):.2f} s "
            f"(min {min(seconds):.2f}, max {max(seconds):.2f})"
        )
    ok = statistics.median(results["background job"]) < 1.0
    print(f"target: background under 1 s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Per-call start-up of each provider CLI: a cold run against a warm server, side by side.

    .venv/bin/python benchmarks/providers.py [--runs 7] [--only codex] [--json]

Each pinned CLI (tests/e2e/npm: codex, gemini, opencode) talks to the stub model
server, which answers at once, so a call's wall time is the CLI's own overhead.
Cold: the provider's argv run as a new process, as OMCM runs it without warm mode
(``omcm.core.proc.run``). Warm: ``omcm.providers.pool.call`` to a pool whose server is already up
(the first warm call, which starts the server, is reported apart). Runs alternate
cold and warm so both see the same machine load. Memory is each warm server's
resident set (its whole process group) after the runs. Target (issue 11): a warm
OpenCode call's overhead at most 20 % of a cold one's, and no warm mode slower than
cold. ``ollama`` is measured cold through OpenCode against a stub Ollama server.
Everything runs in a temporary state dir and HOME; every pool is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CLIS = ("codex", "gemini", "opencode")


def measure(name: str, runs: int, root: Path) -> dict[str, Any]:
    from tests.e2e.stub_models import SETUPS, StubModels, child_env, pinned_bin

    from omcm.core import proc
    from omcm.providers import PROVIDERS, pool
    from omcm.providers.base import PoolSettings, ProviderRequest, WarmSettings

    provider = PROVIDERS[name]
    with StubModels() as stub:
        # opencode parses its own models catalog, as a user's does (the tests skip it).
        real = {"catalog": True} if name == "opencode" else {}
        setup = SETUPS[name](stub.url, root / name / "home", **real)
        env = child_env(setup)
        project = root / name / "project"
        project.mkdir(parents=True)
        settings = WarmSettings(
            command=str(pinned_bin(name)),
            args=list(setup.args),
            warm=True,
            pool=PoolSettings(min=1, max=1, idle_shutdown=600),
        )
        request = ProviderRequest(
            prompt="Say hi.",
            model=setup.model,
            sandbox="read-only",
            cwd=str(project),
            title="omcm: benchmark",
            extra_args=list(setup.args),
        )

        def cold() -> float:
            began = time.perf_counter()
            ran = proc.run(
                provider.argv(request, settings),
                input=provider.stdin(request),
                cwd=str(project),
                env=env | provider.cold_env(request, settings),
                timeout=120,
            )
            elapsed = time.perf_counter() - began
            if provider.parse(ran, time.time()).outcome != "ok":
                raise SystemExit(f"{name} cold run failed: {ran.stderr[-500:]}")
            return elapsed

        def warm() -> float:
            began = time.perf_counter()
            served = pool.call(name, settings, request, timeout=120, env=env)
            elapsed = time.perf_counter() - began
            if served.result["outcome"] != "ok":
                raise SystemExit(f"{name} warm call failed: {served.result}")
            return elapsed

        first_warm = warm()  # starts the pool and its server
        cold()  # the page cache and node's compile cache, as for a user's second run
        colds, warms = [], []
        for _ in range(runs):
            colds.append(cold())
            warms.append(warm())
        [live] = [p for p in pool.pools() if p.provider == name]
        rss = max((s.rss_kib for s in live.servers), default=0)
        pool.stop(live.key)
    cold_s, warm_s = statistics.median(colds), statistics.median(warms)
    return {
        "provider": name,
        "cold_s": round(cold_s, 3),
        "warm_s": round(warm_s, 3),
        "ratio": round(warm_s / cold_s, 3),
        "first_warm_s": round(first_warm, 3),
        "server_rss_mib": round(rss / 1024),
    }


def measure_ollama(runs: int, root: Path) -> dict[str, Any]:
    """A call to a local model through OpenCode, cold (the model answers at once)."""
    from tests.e2e.stub_models import StubModels, opencode_home_env, pinned_bin

    from omcm.core import proc
    from omcm.providers import PROVIDERS
    from omcm.providers.base import ProviderRequest
    from omcm.providers.ollama import OllamaSettings

    provider = PROVIDERS["ollama"]
    with StubModels(ollama=("qwen3:8b",)) as stub:
        # opencode's own models catalog, as a user's opencode has it.
        env = proc.child_env(opencode_home_env(root / "ollama" / "home", catalog=True))
        project = root / "ollama" / "project"
        project.mkdir(parents=True)
        settings = OllamaSettings.parse(
            {
                "command": str(pinned_bin("opencode")),
                "host": stub.url,
                "model": dict.fromkeys(("low", "medium", "high"), "qwen3:8b"),
            },
            "ollama",
        )
        request = ProviderRequest(
            prompt="Say hi.", model="qwen3:8b", sandbox="read-only", cwd=str(project)
        )
        times = []
        for _ in range(runs + 1):
            began = time.perf_counter()
            health = provider.health(settings, ["qwen3:8b"], env, time.time())
            ran = proc.run(
                provider.argv(request, settings),
                input=provider.stdin(request),
                cwd=str(project),
                env=env | provider.cold_env(request, settings),
                timeout=120,
            )
            times.append(time.perf_counter() - began)
            if health or provider.parse(ran, time.time()).outcome != "ok":
                raise SystemExit(f"ollama run failed: {health} {ran.stderr[-500:]}")
    return {"provider": "ollama (opencode)", "cold_s": round(statistics.median(times[1:]), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only", choices=[*CLIS, "ollama"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="omcm-bench-providers-") as tmp:
        root = Path(tmp)
        os.environ["OMCM_STATE_DIR"] = str(root / "state")
        os.environ["OMCM_CONFIG_DIR"] = str(root / "config")
        try:
            rows = [measure(name, args.runs, root) for name in CLIS if args.only in (None, name)]
            if args.only in (None, "ollama"):
                rows.append(measure_ollama(args.runs, root))
        finally:
            from omcm.providers import pool

            for live in pool.pools():
                pool.stop(live.key)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        if "warm_s" in row:
            print(
                f"{row['provider']:18} cold {row['cold_s']:.3f}s  warm {row['warm_s']:.3f}s  "
                f"ratio {row['ratio']:.2f}  first warm call {row['first_warm_s']:.2f}s  "
                f"server RSS {row['server_rss_mib']} MiB"
            )
        else:
            print(f"{row['provider']:18} cold {row['cold_s']:.3f}s")


if __name__ == "__main__":
    main()

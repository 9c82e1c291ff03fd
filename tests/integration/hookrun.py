"""Run a hook as Claude Code does: a real process, JSON on stdin, one answer on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def run_hook(
    event: str,
    payload: dict[str, Any] | str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[dict[str, Any] | None, subprocess.CompletedProcess[str]]:
    """Run ``python -m omcm.hooks EVENT``; return (parsed answer or None, the process)."""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CLAUDE")}
    full_env.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "omcm.hooks", event],
        input=data,
        text=True,
        capture_output=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.strip()
    if not out:
        return None, done
    assert len(out.splitlines()) == 1, f"more than one line on stdout: {out!r}"
    return json.loads(out), done

"""One readiness verdict: routing skips a provider that is not logged in at once (issue 16,
defect 6), and says why in the log, ``omcm route`` and the status line."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from omcm.calls import routing_log
from omcm.cli.main import main
from omcm.config import Config
from omcm.core import paths, proc
from omcm.providers import readiness
from omcm.routing import gauges

#: A codex that is not logged in: ``login status`` says so; a run would hang (it must not run).
NOT_LOGGED_IN = """#!/bin/sh
echo "$@" >> "{calls}"
if [ "$1" = login ]; then echo "Not logged in" >&2; exit 1; fi
cat >/dev/null; sleep 60
"""


@pytest.fixture
def codex(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ``codex`` first on PATH; its invocations are appended to the returned file."""
    folder = tmp_path / "bin"
    folder.mkdir()
    calls = tmp_path / "codex-calls"
    program = folder / "codex"
    program.write_text(NOT_LOGGED_IN.format(calls=calls))
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    for key in ("CODEX_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    return calls


def config_file(text: str) -> None:
    path = Path(paths.config_file())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_codex_that_is_not_logged_in_is_not_ready(codex: Path) -> None:
    verdict = readiness.check("codex", Config().providers.codex, proc.child_env(), time.time())
    assert (verdict.ready, verdict.reason, verdict.fix) == (False, "not-logged-in", "codex login")
    assert verdict.why() == "not-logged-in: not logged in (fix: codex login)"


def test_the_login_verdict_is_kept_until_its_files_change(codex: Path) -> None:
    settings, env = Config().providers.codex, proc.child_env()
    for _ in range(3):
        assert not readiness.check("codex", settings, env, time.time()).ready
    assert codex.read_text().splitlines() == ["login status"]  # asked once, then kept
    auth = Path(os.environ["HOME"]) / ".codex" / "auth.json"
    auth.parent.mkdir()
    auth.write_text("{}")  # `codex login` writes it: ask again
    readiness.check("codex", settings, env, time.time())
    assert codex.read_text().splitlines() == ["login status"] * 2
    readiness.check("codex", settings, env, time.time(), fresh=True)  # the doctor asks anew
    assert len(codex.read_text().splitlines()) == 3


def test_omcm_run_on_a_codex_not_logged_in_fails_at_once_with_the_fix(
    codex: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    began = time.monotonic()
    assert main(["run", "--provider", "codex", "say hello"]) == 1
    assert time.monotonic() - began < 30  # not codex's 300 s timeout: it never ran
    err = capsys.readouterr().err
    assert "codex: not-logged-in: not logged in (fix: codex login)" in err
    assert "exec" not in codex.read_text()  # only `login status` ran


def test_a_routed_subagent_falls_through_past_a_provider_not_logged_in(
    codex: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Routing, `omcm route --explain`, the log and the status line all say why."""
    config_file(
        'fusion_default = true\n[routing.chains]\nmedium = ["codex"]\n'
        "[providers.gemini]\nenabled = false\n[providers.opencode]\nenabled = false\n"
    )
    assert main(["route", "--explain", "--agent", "executor"]) == 0
    out = capsys.readouterr().out
    assert "decision: CLAUDE  [no-provider-available]" in out
    assert "skipped codex: not-logged-in: not logged in (fix: codex login)" in out
    assert "exec" not in codex.read_text()
    assert gauges.load().providers["codex"].login_problem == "not logged in"
    from omcm.hud import statusline

    line = statusline.render_line(b'{"session_id": "s"}', time.time())
    assert "codex✗login" in line
    # logging in clears it at the next probe
    for key in ("OPENAI_API_KEY",):
        os.environ[key] = "sk-test"
    try:
        assert main(["route", "--explain", "--agent", "executor"]) == 0
    finally:
        del os.environ["OPENAI_API_KEY"]
    assert "decision: PROVIDERS" in capsys.readouterr().out
    assert gauges.load().providers["codex"].login_problem == ""
    assert not list(routing_log.read())  # route --explain decides, it logs nothing

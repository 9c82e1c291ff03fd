"""The ollama provider: a local model through OpenCode or ``codex --oss``, never a pull."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from omcm.calls import inputs
from omcm.config import Config
from omcm.providers import PROVIDERS
from omcm.providers.base import ProviderRequest, ProviderSettings
from omcm.providers.ollama import OllamaSettings, host_of
from omcm.routing import engine
from omcm.routing.usage import ProviderLimits
from tests.e2e.stub_models import StubModels

OLLAMA = PROVIDERS["ollama"]


def settings(**changes: Any) -> ProviderSettings:
    base = Config().providers["ollama"].dump()
    if isinstance(changes.get("model"), str):
        changes["model"] = dict.fromkeys(("low", "medium", "high"), changes["model"])
    return OllamaSettings.parse(base | changes, "ollama")


def request(**changes: Any) -> ProviderRequest:
    values: dict[str, Any] = {
        "prompt": "PROMPT",
        "model": "qwen3:8b",
        "sandbox": "workspace-write",
        "cwd": "/proj",
        "title": "omcm: explore",
    }
    return ProviderRequest(**(values | changes))


@pytest.fixture
def server() -> Iterator[StubModels]:
    with StubModels(ollama=("qwen3:8b", "llama3.2:latest")) as stub:
        yield stub


@pytest.mark.parametrize(
    ("configured", "env", "host"),
    [
        ("", {}, "http://127.0.0.1:11434"),
        ("", {"OLLAMA_HOST": "0.0.0.0"}, "http://127.0.0.1:11434"),
        ("", {"OLLAMA_HOST": "0.0.0.0:9999"}, "http://127.0.0.1:9999"),
        ("", {"OLLAMA_HOST": "gpu-box"}, "http://gpu-box:11434"),
        ("", {"OLLAMA_HOST": "https://ollama.lan:8443/"}, "https://ollama.lan:8443"),
        ("http://10.0.0.5:11434", {"OLLAMA_HOST": "gpu-box"}, "http://10.0.0.5:11434"),
    ],
)
def test_the_server_is_the_configured_host_or_ollamas_own_variable(
    configured: str, env: dict[str, str], host: str
) -> None:
    assert host_of(settings(host=configured), env) == host


def test_it_is_off_until_a_model_is_named() -> None:
    config = Config.parse({"routing": {"chains": {"low": ["ollama", "gemini"]}}}, "config")
    call = engine.Call(agent_raw="explore")
    decision = engine.decide(call, config, engine.EngineState(mode="hulw"))
    assert [r.provider for r in decision.routes] == ["gemini"]
    assert decision.skipped == {
        "ollama": "no model named for the low tier ([providers.ollama.model])"
    }
    assert not OLLAMA.login(settings(), {}).ready


def test_with_a_model_it_takes_its_place_in_the_chain() -> None:
    config = Config.parse(
        {
            "routing": {"chains": {"low": ["ollama", "gemini"]}},
            "providers": {"ollama": {"model": {"low": "qwen3:8b"}}},
        },
        "config",
    )
    decision = engine.decide(
        engine.Call(agent_raw="explore"), config, engine.EngineState(mode="hulw")
    )
    assert [(r.provider, r.model) for r in decision.routes] == [
        ("ollama", "qwen3:8b"),
        ("gemini", "gemini-2.5-flash"),
    ]


def test_opencode_runs_the_model_through_its_openai_compatible_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = {"provider": {"mine": {"options": {"baseURL": "http://x"}}}, "theme": "dark"}
    monkeypatch.setenv("OPENCODE_CONFIG_CONTENT", json.dumps(user))
    monkeypatch.delenv("OPENCODE_PERMISSION", raising=False)
    chosen = settings(host="http://127.0.0.1:5555", model={"low": "qwen3:8b", "medium": "llama3.2"})
    argv = OLLAMA.argv(request(), chosen)
    assert argv[:2] == ["opencode", "run"]
    assert argv[argv.index("-m") + 1] == "ollama/qwen3:8b"
    env = OLLAMA.env(request(), chosen)
    laid = json.loads(env["OPENCODE_CONFIG_CONTENT"])
    assert laid["theme"] == "dark" and "mine" in laid["provider"]  # the user's config is kept
    assert laid["provider"]["ollama"]["options"] == {"baseURL": "http://127.0.0.1:5555/v1"}
    assert set(laid["provider"]["ollama"]["models"]) == {"qwen3:8b", "llama3.2"}
    assert "OPENCODE_PERMISSION" not in env
    read_only = OLLAMA.env(request(sandbox="read-only"), chosen)
    assert json.loads(read_only["OPENCODE_PERMISSION"]) == {"edit": "deny", "bash": "deny"}


def test_codex_runs_the_model_with_oss_and_never_its_own_provider() -> None:
    chosen = settings(agent="codex", host="http://127.0.0.1:5555", model="qwen3:8b")
    argv = OLLAMA.argv(request(sandbox="read-only"), chosen)
    assert argv[:5] == ["codex", "exec", "--oss", "--local-provider", "ollama"]
    assert argv[argv.index("-m") + 1] == "qwen3:8b"
    assert argv[argv.index("-s") + 1] == "read-only"
    assert OLLAMA.env(request(), chosen) == {"CODEX_OSS_BASE_URL": "http://127.0.0.1:5555/v1"}
    assert OLLAMA.program(settings(agent="codex", command="/opt/codex")) == "/opt/codex"


def test_a_present_model_is_healthy(server: StubModels) -> None:
    chosen = settings(host=server.url, model="qwen3:8b")
    assert OLLAMA.health(chosen, ["qwen3:8b"], {}, 0) == ""
    assert OLLAMA.health(chosen, ["llama3.2"], {}, 0) == ""  # no tag means :latest
    login = OLLAMA.login(chosen, {})
    assert login.ready and "has qwen3:8b" in login.detail


def test_a_missing_model_is_skipped_with_the_pull_command_and_never_pulled(
    server: StubModels,
) -> None:
    chosen = settings(host=server.url, model="qwen2.5-coder:7b")
    reason = OLLAMA.health(chosen, ["qwen2.5-coder:7b"], {}, 0)
    assert reason == (
        f"model qwen2.5-coder:7b is not on the Ollama server at {server.url}; OMCM never "
        "pulls a model itself (fix: ollama pull qwen2.5-coder:7b)"
    )
    assert not [r for r in server.requests if r.path == "/api/pull"]
    login = OLLAMA.login(chosen, {})
    assert (login.ready, login.fix) == (False, "ollama pull qwen2.5-coder:7b")


def test_a_server_that_is_down_is_skipped() -> None:
    with StubModels(ollama=()) as stub:
        url = stub.url
    reason = OLLAMA.health(settings(host=url, model="qwen3:8b"), ["qwen3:8b"], {}, 0)
    assert reason.startswith(f"the Ollama server at {url} is not answering (fix: start it: ")


def test_codex_needs_a_recent_ollama() -> None:
    with StubModels(ollama=("qwen3:8b",), ollama_version="0.13.3") as stub:
        chosen = settings(host=stub.url, model="qwen3:8b")
        assert OLLAMA.health(chosen, ["qwen3:8b"], {}, 0) == ""  # opencode does not care
        reason = OLLAMA.health(settings(host=stub.url, agent="codex"), ["qwen3:8b"], {}, 0)
    assert reason.startswith(f"Ollama 0.13.3 at {stub.url} is too old for codex --oss")


def test_routing_probes_the_model_and_moves_on(
    server: StubModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda command: f"/usr/bin/{command}")
    config = Config.parse(
        {
            "routing": {"chains": {"low": ["ollama", "gemini"]}},
            "providers": {"ollama": {"host": server.url, "model": {"low": "mistral:7b"}}},
        },
        "config",
    )
    route = engine.Route(provider="ollama", model="mistral:7b", sandbox="read-only")
    health = inputs.health(config, ProviderLimits(), 0.0, [route])
    assert not health["ollama"].available
    assert "ollama pull mistral:7b" in health["ollama"].reason


def test_a_local_model_costs_nothing() -> None:
    assert OLLAMA.local and not PROVIDERS["codex"].local


def test_the_doctor_reports_the_server_and_the_models(
    server: StubModels, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omcm.cli import doctor

    fake = tmp_path / "opencode"
    fake.write_text("#!/bin/sh\necho 1.18.33\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    off = doctor._provider("ollama", settings())
    assert (off.status, off.detail, off.ready) == (
        doctor.OK,
        "off: off until a model is named (omcm config set providers.ollama.model MODEL)",
        False,
    )
    ready = doctor._provider("ollama", settings(host=server.url, model="qwen3:8b"))
    assert ready.status == doctor.OK and f"server {server.url} has qwen3:8b" in ready.detail
    assert ready.ready
    missing = doctor._provider("ollama", settings(host=server.url, model="phi4"))
    assert (missing.status, missing.fix) == (doctor.WARN, "ollama pull phi4")


def test_omcm_run_says_which_model_the_server_lacks(
    server: StubModels, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`omcm run --provider ollama` said "no provider can run it (none set)" (issue 16, 8)."""
    from pathlib import Path

    from omcm.cli.main import main
    from omcm.core import paths

    monkeypatch.setattr("shutil.which", lambda command: f"/usr/bin/{command}")
    assert main(["run", "--provider", "ollama", "say hi"]) == 1
    assert "ollama: no model named for the medium tier" in capsys.readouterr().err
    config = Path(paths.config_file())
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[providers.ollama]\nhost = "{server.url}"\n')
    assert main(["run", "--provider", "ollama", "--model", "phi4", "say hi"]) == 1
    err = capsys.readouterr().err
    assert f"ollama: model phi4 is not on the Ollama server at {server.url}" in err
    assert "(fix: ollama pull phi4)" in err

"""Whether each provider CLI is logged in, found without a network call or a write."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from omcm.cli import doctor
from omcm.config import Config
from omcm.providers import PROVIDERS
from omcm.providers.base import ProviderSettings

CODEX, GEMINI, OPENCODE = PROVIDERS["codex"], PROVIDERS["gemini"], PROVIDERS["opencode"]


def conf(name: str, models: list[str] | None = None, **changes: object) -> ProviderSettings:
    """The provider's default settings with ``changes``; ``models`` fill the tiers in order."""
    defaults = Config().providers[name]
    if models is not None:
        changes["model"] = dict(zip(("low", "medium", "high"), [*models, "", ""][:3], strict=True))
    return type(defaults).parse(defaults.dump() | changes, name)


def fake_codex(folder: Path, logged_in: bool) -> str:
    """A stand-in for ``codex`` that answers ``login status`` like codex 0.169 does."""
    script = folder / "codex"
    message, code = ("Logged in using ChatGPT", 0) if logged_in else ("Not logged in", 1)
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "codex-cli 0.169.0"; exit 0; fi\n'
        '[ "$1 $2" = "login status" ] || exit 9\n'
        f'echo "{message}" >&2\nexit {code}\n'
    )
    script.chmod(0o755)
    return str(script)


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --- codex -------------------------------------------------------------------------------


@pytest.mark.parametrize("logged_in", [True, False])
def test_codex_asks_login_status(tmp_path: Path, logged_in: bool) -> None:
    home = tmp_path / "codex-user"
    home.mkdir()
    before = files(home)
    login = CODEX.login(conf("codex", command=fake_codex(tmp_path, logged_in)), {"HOME": str(home)})
    assert login.ready is logged_in
    if logged_in:
        assert login.detail == "codex login status: Logged in using ChatGPT"
    else:
        assert (login.detail, login.fix) == ("not logged in", "codex login")
    assert files(home) == before  # nothing written


def test_codex_with_an_api_key_in_the_environment(tmp_path: Path) -> None:
    login = CODEX.login(conf("codex", command="/nonexistent/codex"), {"OPENAI_API_KEY": "sk-1"})
    assert (login.ready, login.detail) == (True, "API key from $OPENAI_API_KEY")


def test_codex_own_model_provider_from_the_configured_args(tmp_path: Path) -> None:
    args = [
        "-c",
        "model_provider=stub",
        "-c",
        'model_providers.stub={name="Stub",base_url="http://127.0.0.1:1/v1",env_key="STUB_KEY"}',
    ]
    ready = CODEX.login(conf("codex", command="/nonexistent/codex", args=args), {"STUB_KEY": "x"})
    assert (ready.ready, ready.detail) == (True, "model provider stub, key from $STUB_KEY")
    missing = CODEX.login(conf("codex", command="/nonexistent/codex", args=args), {})
    assert (missing.ready, missing.fix) == (False, "export STUB_KEY=KEY")
    assert missing.detail == "model provider stub needs $STUB_KEY, which is not set"


def test_codex_own_model_provider_from_its_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        'model_provider = "ollama"\n[model_providers.ollama]\nbase_url = "http://x/v1"\n'
    )
    login = CODEX.login(conf("codex", command="/nonexistent/codex"), {"CODEX_HOME": str(tmp_path)})
    assert (login.ready, login.detail) == (True, "model provider ollama (needs no key)")


# --- gemini ------------------------------------------------------------------------------


def gemini_home(tmp_path: Path, settings: dict[str, object] | None, *extra: str) -> dict[str, str]:
    folder = tmp_path / ".gemini"
    folder.mkdir(exist_ok=True)
    if settings is not None:
        (folder / "settings.json").write_text(json.dumps(settings))
    for name in extra:
        (folder / name).write_text("{}")
    return {"HOME": str(tmp_path)}


def auth(kind: str) -> dict[str, object]:
    return {"security": {"auth": {"selectedType": kind}}}


@pytest.mark.parametrize(
    ("settings", "extra", "env", "ready", "detail"),
    [
        (auth("oauth-personal"), ["oauth_creds.json"], {}, True, "Login with Google"),
        (
            auth("oauth-personal"),
            [],
            {},
            False,
            "Login with Google is chosen but no login is stored",
        ),
        (auth("gemini-api-key"), [], {"GEMINI_API_KEY": "k"}, True, "API key from $GEMINI_API_KEY"),
        (
            auth("gemini-api-key"),
            [],
            {},
            False,
            "the Gemini API key method is chosen but GEMINI_API_KEY is not set",
        ),
        (auth("vertex-ai"), [], {"GOOGLE_API_KEY": "k"}, True, "Vertex AI"),
        (None, [], {"GEMINI_API_KEY": "k"}, True, "API key from $GEMINI_API_KEY"),
        (None, [], {}, False, "not logged in (no auth method chosen, no GEMINI_API_KEY)"),
        (
            {"selectedAuthType": "oauth-personal"},
            ["oauth_creds.json"],
            {},
            True,
            "Login with Google",
        ),
    ],
)
def test_gemini(
    tmp_path: Path,
    settings: dict[str, object] | None,
    extra: list[str],
    env: dict[str, str],
    ready: bool,
    detail: str,
) -> None:
    login = GEMINI.login(conf("gemini"), gemini_home(tmp_path, settings, *extra) | env)
    assert (login.ready, login.detail) == (ready, detail)
    if not ready:
        assert login.fix


def test_gemini_reads_its_dotenv(tmp_path: Path) -> None:
    env = gemini_home(tmp_path, auth("gemini-api-key"))
    (tmp_path / ".gemini" / ".env").write_text("# keys\nexport GEMINI_API_KEY='abc'\n")
    assert GEMINI.login(conf("gemini"), env).ready


# --- opencode ----------------------------------------------------------------------------


def test_opencode_stored_login_for_the_configured_models(tmp_path: Path) -> None:
    data = tmp_path / "data" / "opencode"
    data.mkdir(parents=True)
    (data / "auth.json").write_text(json.dumps({"anthropic": {"type": "api", "key": "x"}}))
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    ready = OPENCODE.login(conf("opencode", models=["anthropic/claude-x", "", ""]), env)
    assert (ready.ready, ready.detail) == (True, "anthropic: opencode auth login")
    missing = OPENCODE.login(conf("opencode", models=["openrouter/qwen"]), env)
    assert not missing.ready
    assert missing.detail == "no credentials for openrouter (the configured models' providers)"
    assert missing.fix == "opencode auth login  (choose openrouter)"


def test_opencode_config_content_with_a_local_server_and_comments(tmp_path: Path) -> None:
    content = '{\n  // a local server\n  "provider": {"stub": {"options": {"baseURL": "http://127.0.0.1:9/v1"}}}\n}'
    env = {"HOME": str(tmp_path), "OPENCODE_CONFIG_CONTENT": content}
    login = OPENCODE.login(conf("opencode", models=["stub/stub-model"]), env)
    assert (login.ready, login.detail) == (True, "stub: server at http://127.0.0.1:9/v1")


def test_opencode_without_models_takes_any_credential(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert not OPENCODE.login(conf("opencode", models=["", "", ""]), env).ready
    login = OPENCODE.login(conf("opencode", models=["", "", ""]), env | {"OPENAI_API_KEY": "k"})
    assert (login.ready, login.detail) == (True, "openai: $OPENAI_API_KEY")


# --- doctor ------------------------------------------------------------------------------


def test_doctor_does_not_call_a_provider_ready_without_a_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    codex = Path(fake_codex(bin_dir, logged_in=False))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for var in ("OPENAI_API_KEY", "CODEX_API_KEY", "CODEX_HOME"):
        monkeypatch.delenv(var, raising=False)
    [check] = [c for c in doctor.run_checks() if c.name == "codex"]
    assert check.status == doctor.WARN, check
    assert check.detail == f"codex-cli 0.169.0 at {codex}; not ready (not-logged-in): not logged in"
    assert check.ready is False
    assert check.fix == "codex login"
    rendered = doctor.render([check])
    assert rendered == f"! codex: {check.detail}\n    fix: codex login"

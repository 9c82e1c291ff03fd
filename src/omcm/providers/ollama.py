"""Ollama: coding work on a local model, run by an agent CLI pointed at the Ollama server.

The agent CLI is OpenCode by default (``agent = "opencode"``), or Codex
(``agent = "codex"``: ``codex exec --oss --local-provider ollama``). Checked with
opencode 1.18.33 and codex-cli 0.169.0 against an Ollama-compatible stub:

- OpenCode reaches Ollama through its OpenAI-compatible API: ``OPENCODE_CONFIG_CONTENT``
  (merged over the user's config) declares a provider ``ollama`` with
  ``baseURL HOST/v1`` and the configured models (opencode does not discover
  models, so each must be listed), and the model is passed as ``ollama/MODEL``.
  opencode then calls only ``POST /v1/chat/completions``; no key is sent.
- Codex takes the server from ``CODEX_OSS_BASE_URL=HOST/v1`` and calls
  ``GET /v1/models``, ``GET /api/version`` (0.13.4 or newer), ``GET /api/tags``
  and, **when the model is not listed there, ``POST /api/pull``**, before
  ``POST /v1/responses``.

A pull can be gigabytes, so OMCM never lets one happen: before every call it asks
``/api/tags`` whether the model is there, and a missing model (or a server that
is down) skips the provider with the command that fixes it. No model is assumed
present: a tier without a named model skips ``ollama``, so it is off until you
name one. Tokens are what the agent CLI reports; the cost is 0 everywhere.
"""

from __future__ import annotations

import os

from omcm.core import fastjson
from omcm.providers.base import Login, Provider, ProviderSettings, TierModels

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from omcm.core.proc import ProcResult
    from omcm.providers.base import ProviderRequest, ProviderResult

DEFAULT_HOST = "http://127.0.0.1:11434"
#: Oldest Ollama that ``codex --oss`` accepts.
CODEX_MIN_VERSION = (0, 13, 4)
#: opencode's provider id for the Ollama server in the config OMCM lays over the user's.
OPENCODE_ID = "ollama"


class OllamaModels(TierModels):
    DOCS = {
        "low": "Ollama model for LOW-tier agents (`ollama list` names it); empty: ollama is "
        "skipped for the tier.",
        "medium": "Ollama model for MEDIUM-tier agents; empty: skipped.",
        "high": "Ollama model for HIGH-tier agents; empty: skipped.",
    }


class OllamaSettings(ProviderSettings):
    """``[providers.ollama]``."""

    DOCS = ProviderSettings.DOCS | {
        "command": "The agent CLI's program (empty: `opencode` or `codex`, after `agent`).",
        "model": "Ollama model per tier, as `ollama list` names it (`qwen2.5-coder:7b`), or "
        "one string for all three. None is assumed: a tier without one skips ollama.",
        "host": "The Ollama server (empty: `$OLLAMA_HOST`, else http://127.0.0.1:11434).",
        "agent": "The agent CLI that runs the model: `opencode`, or `codex` "
        "(`codex exec --oss --local-provider ollama`).",
    }
    RULES = ProviderSettings.RULES | {"agent": {"choices": ("opencode", "codex")}}
    model: OllamaModels = OllamaModels()
    host: str = ""
    agent: str = "opencode"


class Ollama(Provider):
    """A local model on an Ollama server, through ``opencode run`` or ``codex exec --oss``."""

    name = "ollama"
    label = "Ollama (local)"
    hud = "L"
    install = "https://ollama.com/download, then: ollama pull MODEL"
    summary = "A local model on an Ollama server, run by OpenCode or Codex (cost 0)."
    defaults = OllamaSettings(timeout=600)
    local = True
    needs_model = True

    def program(self, settings: ProviderSettings) -> str:
        return settings.command or _agent(settings)

    def login(self, settings: ProviderSettings, env: Mapping[str, str]) -> Login:
        """Ready when a model is named, the server answers and has every named model."""
        host = host_of(settings, env)
        models = settings.model.named()
        if not models:
            return Login(
                False,
                "no model named, so ollama is off",
                "omcm config set providers.ollama.model MODEL  (then put ollama in routing.chains)",
            )
        trouble = _server_trouble(host, models, _agent(settings))
        if trouble:
            return Login(False, trouble[0], trouble[1])
        return Login(True, f"server {host} has {', '.join(models)}; agent {_agent(settings)}")

    def health(
        self, settings: ProviderSettings, models: list[str], env: Mapping[str, str], now: float
    ) -> str:
        trouble = _server_trouble(host_of(settings, env), models, _agent(settings))
        return f"{trouble[0]} (fix: {trouble[1]})" if trouble else ""

    def report(self, settings: ProviderSettings, env: Mapping[str, str], now: float) -> list[str]:
        host = host_of(settings, env)
        tags = _tags(host)
        if tags is None:
            return [f"server {host} is not answering"]
        return [f"server {host}: {len(tags)} models ({', '.join(sorted(tags)) or 'none'})"]

    def argv(self, request: ProviderRequest, settings: ProviderSettings) -> list[str]:
        """The agent CLI's argv for a local model."""
        from omcm.providers.codex import PROVIDER as CODEX
        from omcm.providers.opencode import PROVIDER as OPENCODE

        agent_settings = ProviderSettings(command=self.program(settings), args=settings.args)
        if _agent(settings) == "codex":
            argv = CODEX.argv(request, agent_settings)
            return [*argv[:2], "--oss", "--local-provider", "ollama", *argv[2:]]
        local = request.dump() | {"model": f"{OPENCODE_ID}/{request.model}"}
        return OPENCODE.argv(type(request).parse(local, "request"), agent_settings)

    def env(self, request: ProviderRequest, settings: ProviderSettings) -> dict[str, str]:
        from omcm.providers.opencode import PROVIDER as OPENCODE

        base = host_of(settings, os.environ).rstrip("/") + "/v1"
        if _agent(settings) == "codex":
            return {"CODEX_OSS_BASE_URL": base}
        try:
            user = fastjson.loads(os.environ.get("OPENCODE_CONFIG_CONTENT") or "{}")
        except ValueError:
            user = {}
        config: dict[str, Any] = user if isinstance(user, dict) else {}
        providers = dict(config.get("provider") or {})
        providers[OPENCODE_ID] = {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Ollama (local, via OMCM)",
            "options": {"baseURL": base},
            "models": {m: {"name": m} for m in settings.model.named()},
        }
        laid = {"OPENCODE_CONFIG_CONTENT": fastjson.dumps(config | {"provider": providers})}
        return laid | OPENCODE.env(request, settings)

    def parse(self, result: ProcResult, now: float) -> ProviderResult:
        from omcm.providers.codex import PROVIDER as CODEX
        from omcm.providers.opencode import PROVIDER as OPENCODE

        agent = CODEX if "--oss" in result.argv else OPENCODE
        return agent.parse(result, now)


def _agent(settings: ProviderSettings) -> str:
    return str(getattr(settings, "agent", "opencode") or "opencode")


def host_of(settings: ProviderSettings, env: Mapping[str, str]) -> str:
    """The server's base URL: the configured host, ``$OLLAMA_HOST``, or the default.

    ``OLLAMA_HOST`` may be ``host``, ``host:port`` or a URL, as Ollama reads it.
    """
    raw = str(getattr(settings, "host", "") or env.get("OLLAMA_HOST") or DEFAULT_HOST).strip()
    if "://" not in raw:
        raw = f"http://{raw}"
    scheme, _, rest = raw.partition("://")
    hostport = rest.split("/", 1)[0]
    if hostport.startswith("0.0.0.0"):  # a listen address: connect on loopback
        hostport = "127.0.0.1" + hostport[len("0.0.0.0") :]
    if ":" not in hostport.rsplit("]", 1)[-1]:
        hostport += ":11434"
    return f"{scheme}://{hostport}"


def _get(url: str, timeout: float = 2.0) -> tuple[int, Any] | None:
    """(status, decoded JSON) of a GET to the local server; None when it does not answer."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        connection.request("GET", parts.path or "/")
        response = connection.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    try:
        return response.status, fastjson.loads(raw.decode("utf-8", "replace")) if raw else None
    except ValueError:
        return response.status, None


def _tags(host: str) -> set[str] | None:
    """The models the server has (``/api/tags``), or None when it does not answer."""
    got = _get(f"{host}/api/tags")
    if got is None or got[0] != 200 or not isinstance(got[1], dict):
        return None
    listed = got[1].get("models")
    names: set[str] = set()
    for entry in listed if isinstance(listed, list) else []:
        if isinstance(entry, dict):
            names.update(str(entry[k]) for k in ("name", "model") if entry.get(k))
    return names


def _present(model: str, tags: set[str]) -> bool:
    """Whether ``model`` is among ``tags`` (a name without a tag means ``:latest``)."""
    return model in tags or (":" not in model and f"{model}:latest" in tags)


def _server_trouble(host: str, models: list[str], agent: str) -> tuple[str, str] | None:
    """(what is wrong, the fix) for a call to ``models`` on ``host``, or None when all is well."""
    tags = _tags(host)
    if tags is None:
        return (
            f"the Ollama server at {host} is not answering",
            "start it: ollama serve  (or set [providers.ollama] host)",
        )
    missing = [m for m in models if not _present(m, tags)]
    if missing:
        return (
            f"model {missing[0]} is not on the Ollama server at {host}; OMCM never pulls "
            "a model itself",
            f"ollama pull {missing[0]}",
        )
    if agent == "codex":
        got = _get(f"{host}/api/version")
        version = str(got[1].get("version") or "") if got and isinstance(got[1], dict) else ""
        numbers = tuple(int(p) for p in version.split("-")[0].split(".") if p.isdigit())
        if numbers and numbers != (0, 0, 0) and numbers < CODEX_MIN_VERSION:
            return (
                f"Ollama {version} at {host} is too old for codex --oss (it needs 0.13.4+)",
                'update Ollama, or set [providers.ollama] agent = "opencode"',
            )
    return None


PROVIDER = Ollama()

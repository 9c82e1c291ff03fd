"""Whether a provider can take a call now: one verdict for routing, the doctor, setup, status.

A provider is ready when it is enabled, has a model where it needs one, its
program is on PATH, it is logged in (or has its API key), and its own health
check passes (Codex's plan window, Ollama's server and models). The first check
that fails gives the verdict its reason code — ``disabled``, ``no-model``,
``not-installed``, ``not-logged-in``, ``unavailable`` — with what was found and
the command that fixes it. Routing skips such a provider at once (its reason in
the routing log, ``omcm route --explain`` and the status line) instead of
starting a CLI that would only fail, or hang retrying, minutes later.

The login checks are offline and write nothing of the CLI's. Most read a file;
Codex's runs ``codex login status`` (a Node start), so a provider may name
the files its login lives in (:meth:`~omcm.providers.base.Provider.login_files`)
and its verdict is kept in ``logins.json`` until one of them changes.
"""

from __future__ import annotations

import os
import shutil

from omcm.core import fastjson, paths, state
from omcm.core.records import Record, RecordError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from omcm.providers.base import Login, Provider, ProviderSettings

DISABLED, NO_MODEL, NOT_INSTALLED = "disabled", "no-model", "not-installed"
NOT_LOGGED_IN, UNAVAILABLE = "not-logged-in", "unavailable"
#: What each reason code means (the README's table).
REASONS = {
    DISABLED: "disabled in config",
    NO_MODEL: "no model is named where the provider needs one",
    NOT_INSTALLED: "its program is not on PATH",
    NOT_LOGGED_IN: "not logged in, or its API key is not set",
    UNAVAILABLE: "its own health check failed (plan window used up, server or model missing)",
}
LOGINS = "logins.json"
#: A kept login verdict is checked again after this long even if nothing changed.
LOGIN_TTL = 6 * 3600.0


class Readiness(Record):
    ready: bool
    reason: str = ""  # a key of REASONS, "" when ready
    detail: str = ""  # what was found
    fix: str = ""  # the command that fixes it

    def why(self) -> str:
        """``not-logged-in: codex: Not logged in (fix: codex login)``, for skip reasons."""
        coded = self.reason and self.reason != UNAVAILABLE  # its detail says what it is
        text = f"{self.reason}: {self.detail}" if coded else self.detail
        return f"{text} (fix: {self.fix})" if self.fix else text


def check(
    name: str,
    settings: ProviderSettings,
    env: Mapping[str, str],
    now: float,
    *,
    models: list[str] | None = None,
    fresh: bool = False,
) -> Readiness:
    """The provider's verdict for a call with ``models`` (default: every configured one);
    ``fresh`` ignores a kept login verdict (the doctor)."""
    from omcm.providers import PROVIDERS

    provider = PROVIDERS[name]
    if not settings.enabled:
        fix = f"omcm config set providers.{name}.enabled true"
        return Readiness(ready=False, reason=DISABLED, detail="disabled in config", fix=fix)
    wanted = [m for m in (models if models is not None else settings.model.named()) if m]
    if provider.needs_model and not wanted:
        return Readiness(
            ready=False,
            reason=NO_MODEL,
            detail="off until a model is named",
            fix=f"omcm config set providers.{name}.model MODEL",
        )
    program = provider.program(settings)
    if not shutil.which(program):
        return Readiness(
            ready=False,
            reason=NOT_INSTALLED,
            detail=f"`{program}` is not on PATH",
            fix=provider.install,
        )
    if provider.local:  # no login: it is ready when its server has the models
        trouble = provider.health(settings, wanted, env, now)
        if trouble:
            return _unavailable(trouble)
        return Readiness(ready=True, detail=provider.login(settings, env).detail)
    login = _login(name, provider, settings, env, now=now, fresh=fresh)
    if not login.ready:
        return Readiness(ready=False, reason=NOT_LOGGED_IN, detail=login.detail, fix=login.fix)
    trouble = provider.health(settings, wanted, env, now)
    if trouble:
        return _unavailable(trouble)
    return Readiness(ready=True, detail=login.detail)


def _unavailable(trouble: str) -> Readiness:
    """A failed health check; its ``… (fix: COMMAND)`` ending becomes the fix."""
    detail, marker, fix = trouble.rpartition(" (fix: ")
    if marker and fix.endswith(")"):
        return Readiness(ready=False, reason=UNAVAILABLE, detail=detail, fix=fix[:-1])
    return Readiness(ready=False, reason=UNAVAILABLE, detail=trouble)


# --- the login verdicts kept ----------------------------------------------------------


class _Kept(Record):
    stamp: str
    ready: bool
    detail: str = ""
    fix: str = ""
    at: float = 0.0


class _Logins(state.StateRecord):
    """``logins.json``: each provider's last login verdict and what it was read from."""

    providers: dict[str, _Kept] = {}


def _login(
    name: str,
    provider: Provider,
    settings: ProviderSettings,
    env: Mapping[str, str],
    *,
    now: float,
    fresh: bool,
) -> Login:
    from omcm.providers.base import Login

    files = provider.login_files(settings, env)
    if files is None:
        return provider.login(settings, env)  # cheap enough to ask every time
    stamp = _stamp(provider.program(settings), files, settings, env)
    path = paths.state_file(LOGINS)
    if not fresh:
        try:
            kept = state.load(path, _Logins).providers.get(name)
        except (OSError, RecordError):
            kept = None
        if kept is not None and kept.stamp == stamp and now - kept.at < LOGIN_TTL:
            return Login(kept.ready, kept.detail, kept.fix)
    login = provider.login(settings, env)
    if login.ready or login.fix:  # a definite verdict (not a CLI that did not answer)
        record = _Kept(stamp=stamp, ready=login.ready, detail=login.detail, fix=login.fix, at=now)

        def keep(logins: _Logins) -> None:
            logins.providers[name] = record

        try:
            state.update(path, _Logins, keep)
        except OSError:
            pass  # a read-only state dir only costs the next check its time
    return login


def _stamp(
    program: str, files: list[str], settings: ProviderSettings, env: Mapping[str, str]
) -> str:
    """What the login depends on: the program, its login files, the settings' arguments and
    which API-key variables are set (their values are never kept)."""
    parts = [shutil.which(program) or program, *settings.args]
    for path in [*files, parts[0]]:
        try:
            seen = os.stat(path)
            parts.append(f"{path}:{seen.st_mtime_ns}:{seen.st_size}:{seen.st_ino}")
        except OSError:
            parts.append(f"{path}:-")
    parts += sorted(k for k, v in env.items() if v and k.endswith(("_API_KEY", "_KEY", "TOKEN")))
    return fastjson.dumps(parts)

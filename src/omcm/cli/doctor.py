"""``omcm doctor``: what works, what is missing, and what to run about it."""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata

from omcm import __version__
from omcm import config as cfg
from omcm.core import paths, proc
from omcm.core.errors import ConfigError
from omcm.providers import REGISTERED

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from omcm.providers.base import ProviderSettings

OK, WARN, FAIL = "ok", "warn", "fail"
MARKS = {OK: "✔", WARN: "!", FAIL: "✘"}


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""
    ready: bool | None = None  # a provider's readiness (None: not a provider)


def run_checks(plugin_root: str | None = None) -> list[Check]:
    checks = [_python(), _packages(), *_config(), _state_dir()]
    checks.append(_program("claude", "Claude Code", "npm install -g @anthropic-ai/claude-code"))
    config = _safe_config()
    for name in REGISTERED:
        checks.append(_provider(name, config.providers[name]))
    checks.extend(_hooks_env(plugin_root))
    return checks


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    status = OK if sys.version_info >= (3, 11) else FAIL
    return Check("python", status, f"{version} at {sys.executable}", "install Python 3.11+")


def _packages() -> Check:
    found, missing = [f"omcm {__version__}"], []
    for name in ("pydantic", "platformdirs", "tomlkit", "rich", "genai-prices", "msgspec"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        return Check(
            "packages",
            FAIL,
            f"missing: {', '.join(missing)}",
            f"{paths.pip_install(sys.executable)} omcm",
        )
    return Check("packages", OK, ", ".join(found))


def _config() -> list[Check]:
    path = paths.config_file()
    if not os.path.exists(path):
        return [
            Check(
                "config",
                OK,
                f"{path} does not exist: defaults in use",
                "omcm config init  (writes a commented config.toml)",
            )
        ]
    try:
        from omcm.config.validate import validate_file

        validate_file(path)
    except ConfigError as exc:
        return [Check("config", FAIL, str(exc), f"edit {path}, then: omcm config validate")]
    return [Check("config", OK, f"{path} is valid")]


def _safe_config() -> cfg.Config:
    try:
        return cfg.load()
    except ConfigError:
        return cfg.Config()


def _state_dir() -> Check:
    where = paths.state_dir()
    try:
        os.makedirs(where, exist_ok=True)
        probe = os.path.join(where, f".doctor-{os.getpid()}")
        with open(probe, "w") as handle:
            handle.write("ok")
        os.unlink(probe)
    except OSError as exc:
        return Check(
            "state dir",
            FAIL,
            f"{where} is not writable ({exc.strerror})",
            "set OMCM_STATE_DIR to a writable directory",
        )
    return Check("state dir", OK, f"{where} is writable")


def _program(command: str, what: str, install: str, label: str | None = None) -> Check:
    name = label or command
    where = shutil.which(command)
    if not where:
        return Check(name, WARN if label else FAIL, f"{what} ({command}) is not on PATH", install)
    result = proc.run([where, "--version"], timeout=20)
    version = (result.stdout or result.stderr).strip().splitlines()
    shown = version[0] if result.ok and version else f"did not answer --version ({result.error})"
    return Check(name, OK if result.ok else WARN, f"{shown} at {where}")


def _provider(name: str, settings: ProviderSettings) -> Check:
    """The provider's readiness verdict (the one routing uses, asked afresh), and its
    version: only a ready provider is OK."""
    import time

    from omcm.providers import PROVIDERS, readiness

    verdict = readiness.check(name, settings, proc.child_env(), time.time(), fresh=True)
    if verdict.reason in (readiness.DISABLED, readiness.NO_MODEL):
        return Check(name, OK, f"off: {verdict.detail} ({verdict.fix})", ready=False)
    if verdict.reason == readiness.NOT_INSTALLED:
        return Check(name, WARN, verdict.detail, verdict.fix, ready=False)
    provider = PROVIDERS[name]
    shown = _version(provider.program(settings), quiet=not provider.version_writes)
    if not verdict.ready:
        why = f"{shown}; not ready ({verdict.reason}): {verdict.detail}"
        return Check(name, WARN, why, verdict.fix, ready=False)
    return Check(name, OK, f"{shown}; {verdict.detail}", ready=True)


def _version(program: str, *, quiet: bool) -> str:
    """``codex-cli 0.169.0 at /usr/bin/codex``, from its npm package.json when it has one;
    else by ``--version`` when that writes nothing (``quiet``)."""
    import json

    where = shutil.which(program) or program
    folder = os.path.dirname(os.path.realpath(where))
    for _ in range(4):
        try:
            with open(os.path.join(folder, "package.json"), encoding="utf-8") as handle:
                package = json.load(handle)
            if isinstance(package, dict) and package.get("version"):
                return f"{package.get('name', program)} {package['version']} at {where}"
        except (OSError, ValueError):
            pass
        folder = os.path.dirname(folder)
    if not quiet:
        return f"version not known (its --version writes files) at {where}"
    result = proc.run([where, "--version"], timeout=20)
    lines = (result.stdout or result.stderr).strip().splitlines()
    return f"{lines[0] if result.ok and lines else 'version not known'} at {where}"


def _hooks_env(plugin_root: str | None) -> list[Check]:
    """The hooks' environment imports omcm; and has the MCP SDK (the ``mcp`` extra) that
    the plugin's MCP server (the ``ask`` and ``consensus`` tools) runs on."""
    python, origin = hooks_python(plugin_root)
    if not python:
        return [
            Check(
                "hooks env",
                WARN,
                f"not built yet (looked in {origin})",
                "start a Claude Code session with the plugin (SessionStart builds it), "
                "or run /omcm:fusion-setup",
            )
        ]
    code = (
        "import importlib.util, omcm.hooks.runner, omcm; "
        "print(omcm.__version__, importlib.util.find_spec('mcp') is not None)"
    )
    result = proc.run([python, "-c", code], timeout=30)
    if not result.ok:
        return [
            Check(
                "hooks env",
                FAIL,
                f"{python} ({origin}) cannot import omcm: "
                f"{(result.stderr.strip().splitlines() or [result.error])[-1]}",
                f"{paths.pip_install(python)} omcm",
            )
        ]
    version, sdk = [*result.stdout.split(), "", ""][:2]
    checks = [Check("hooks env", OK, f"omcm {version} via {python} ({origin})")]
    if sdk == "True":
        checks.append(Check("mcp server", OK, f"the MCP SDK is installed in {python}"))
    else:
        checks.append(
            Check(
                "mcp server",
                WARN,
                f"no MCP SDK in {python}: the ask and consensus tools cannot start "
                "(omcm was installed without its mcp extra)",
                paths.install_extra(python, "mcp", plugin_root),
            )
        )
    return checks


def render(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{MARKS[check.status]} {check.name}: {check.detail}")
        if check.fix and check.status != OK:
            lines.append(f"    fix: {check.fix}")
    return "\n".join(lines)


def hooks_python(plugin_root: str | None) -> tuple[str, str]:
    """The Python the hook launcher would run, found as ``hooks/omcm-hook`` finds it, and
    where it came from; ("", where it looked) when there is none yet."""
    if os.environ.get("OMCM_PYTHON"):
        return os.environ["OMCM_PYTHON"], "OMCM_PYTHON"
    looked: list[str] = []
    roots = [r for r in (plugin_root, _checkout()) if r]
    for root in roots:
        candidate = os.path.join(root, ".venv", "bin", "python")
        if os.path.exists(candidate):
            return candidate, f"the checkout's environment {root}/.venv"
        try:
            with open(os.path.join(root, ".omcm-python"), encoding="utf-8") as handle:
                used = handle.read().strip()
        except OSError:
            used = ""
        if used and os.path.exists(used):
            return used, f"the Python the hooks last used ({root}/.omcm-python)"
    for env_dir in _plugin_envs():
        looked.append(env_dir)
        if os.path.exists(os.path.join(env_dir, ".omcm-stamp")):
            return os.path.join(env_dir, "bin", "python"), f"the plugin environment {env_dir}"
    return "", ", ".join(looked)


def _checkout() -> str:
    """The checkout this omcm runs from (``…/src/omcm``), if it is one."""
    import omcm

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(omcm.__file__))))
    return root if os.path.exists(os.path.join(root, "hooks", "omcm-hook")) else ""


def _plugin_envs() -> list[str]:
    """Where Claude Code keeps the plugin's data, newest layout first: $CLAUDE_PLUGIN_DATA,
    its plugins' data dirs (2.1.78+), the platform data dir (before)."""
    import glob

    found = []
    if os.environ.get("CLAUDE_PLUGIN_DATA"):
        found.append(os.path.join(os.environ["CLAUDE_PLUGIN_DATA"], "venv"))
    claude = os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")
    found += sorted(glob.glob(os.path.join(claude, "plugins", "data", "omcm-*", "venv")))
    found.append(os.path.join(paths.data_dir(), "venv"))
    return found


def _plugin_root(args: argparse.Namespace) -> str | None:
    from omcm.core.userfile import folder

    return None if args.plugin_root is None else folder(args.plugin_root, "--plugin-root")


def cmd_doctor(args: argparse.Namespace) -> int:
    checks = run_checks(_plugin_root(args))
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2, ensure_ascii=False))
    else:
        print(render(checks))
    if not any(c.ready for c in checks):
        print(
            "omcm: no provider is ready: OMCM can route nothing (see the fixes above)",
            file=sys.stderr,
        )
        return 1
    return 1 if any(c.status == FAIL for c in checks) else 0


def cmd_setup(args: argparse.Namespace) -> int:
    from omcm.config.edit import ensure_file
    from omcm.hud import claude_settings

    plugin_root = _plugin_root(args)
    path = paths.config_file()
    if ensure_file(path):
        print(f"Wrote a commented default config: {path}")
    checks = run_checks(plugin_root)
    print(render(checks))
    settings = claude_settings.default_file()
    try:
        with open(settings, encoding="utf-8") as handle:
            has_hud = "omcm" in handle.read()
    except OSError:
        has_hud = False
    if not has_hud:
        print(
            "! status line: OMCM's HUD is not installed; it is also how OMCM learns Claude's "
            "usage %.\n    fix: /omcm:hud-setup  (or: omcm hud setup)"
        )
    ready = [c.name for c in checks if c.ready]
    print(f"Providers ready: {', '.join(ready) or 'none yet'}.")
    return 0


def add_parser(sub: Any) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="check the installation and say what is missing",
        epilog="examples:\n  omcm doctor\n  omcm doctor --json",
    )
    doctor.add_argument(
        "--plugin-root", metavar="DIR", help="the plugin directory (slash commands pass it)"
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.set_defaults(handler=cmd_doctor)


def add_setup_parser(sub: Any) -> None:
    setup_all = sub.add_parser(
        "setup",
        help="doctor, default config, and what to do next",
        epilog="example:\n  omcm setup",
    )
    setup_all.add_argument(
        "--plugin-root", metavar="DIR", help="the plugin directory (slash commands pass it)"
    )
    setup_all.set_defaults(handler=cmd_setup)

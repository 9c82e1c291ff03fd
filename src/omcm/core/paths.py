"""Every path OMCM reads or writes, in one place.

Config lives in platformdirs' ``user_config_dir("omcm")`` and state and logs in
``user_state_dir("omcm")``; ``OMCM_CONFIG_DIR`` / ``OMCM_STATE_DIR`` override
them (users and tests). Per-project files live under ``<project>/.omcm/``.
Names that end up in paths (session ids, job ids) are checked here so no
payload can walk out of the state directory.
"""

from __future__ import annotations

import os
import sys

from omcm.core.errors import OmcmError

APP = "omcm"
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _user_dir(kind: str) -> str:
    """platformdirs' ``user_<kind>_dir("omcm")``.

    On Linux the XDG rule is applied here directly: importing platformdirs costs
    about as much as a whole hook's budget (a test checks both agree).
    """
    if sys.platform.startswith("linux"):
        variable, fallback = {
            "config": ("XDG_CONFIG_HOME", ".config"),
            "state": ("XDG_STATE_HOME", ".local/state"),
            "data": ("XDG_DATA_HOME", ".local/share"),
        }[kind]
        base = os.environ.get(variable, "").strip()
        if not base:
            base = os.path.join(os.path.expanduser("~"), fallback)
        return os.path.join(base, APP)
    import platformdirs

    return str(getattr(platformdirs, f"user_{kind}_dir")(APP))


def config_dir() -> str:
    override = os.environ.get("OMCM_CONFIG_DIR")
    if override:
        return os.path.abspath(os.path.expanduser(override))
    return _user_dir("config")


def state_dir() -> str:
    override = os.environ.get("OMCM_STATE_DIR")
    if override:
        return os.path.abspath(os.path.expanduser(override))
    return _user_dir("state")


def data_dir() -> str:
    """Where the hooks' own Python environment lives when Claude Code gives no data dir."""
    override = os.environ.get("CLAUDE_PLUGIN_DATA")
    if override:
        return override
    return _user_dir("data")


def claude_dir() -> str:
    """Claude Code's own folder: ``$CLAUDE_CONFIG_DIR``, else ``~/.claude``."""
    return os.environ.get("CLAUDE_CONFIG_DIR") or os.path.join(os.path.expanduser("~"), ".claude")


def config_file() -> str:
    return os.path.join(config_dir(), "config.toml")


def state_file(name: str) -> str:
    return os.path.join(state_dir(), safe_name(name, "state file name"))


def log_dir() -> str:
    return os.path.join(state_dir(), "logs")


def error_log() -> str:
    return os.path.join(log_dir(), "errors.log")


def routing_log() -> str:
    return os.path.join(state_dir(), "routing-log.jsonl")


def statusline_chain() -> str:
    """The user's own status line that ``omcm hud setup`` chained after OMCM's."""
    return os.path.join(state_dir(), "statusline-chain.json")


def session_dir(session_id: str) -> str:
    return os.path.join(state_dir(), "sessions", safe_name(session_id, "session id"))


def project_dir(project: str) -> str:
    """``<project>/.omcm``: per-project files (handoff context, notes)."""
    return os.path.join(project, ".omcm")


def safe_name(name: str, what: str) -> str:
    """Return ``name`` if it is safe as one path component, else raise naming ``what``."""
    if not name or len(name) > 128 or name in (".", "..") or not set(name) <= _SAFE:
        raise OmcmError(f"invalid {what} {name[:80]!r}: use 1-128 letters, digits, '-', '_' or '.'")
    return name


def import_path() -> list[str]:
    """Where this environment's ``omcm`` and its packages are, for an interpreter started
    with ``-S`` (no ``site``: a third of its start-up). Empty outside a virtual environment,
    where ``site`` finds more than its own packages (the user site, ``.pth`` files)."""
    if sys.prefix == sys.base_prefix:
        return []
    import site

    import omcm

    where = [os.path.dirname(os.path.dirname(os.path.abspath(omcm.__file__)))]
    return list(dict.fromkeys([*where, *site.getsitepackages()]))


def fast_start(module: str, function: str, where: list[str]) -> list[str]:
    """Interpreter flags and ``-c`` code that call ``module.function()`` with ``where`` as the
    import path and no ``site``, falling back to ``site`` should that path have gone stale
    (omcm moved); plain ``-c`` when ``where`` is empty. The cwd never joins the path
    (``-P``): a project's own ``json.py`` cannot shadow the standard library's."""
    load = f"from {module} import {function}"
    if not where:
        return ["-P", "-c", f"{load}; {function}()"]
    from omcm.core import fastjson

    code = (  # the path as JSON: double quotes read more easily inside a shell's single ones
        f"import sys\nsys.path += {fastjson.dumps(where)}\ntry:\n    {load}\nexcept ImportError:\n"
        f"    import site\n    site.main()\n    {load}\n{function}()"
    )
    return ["-S", "-P", "-c", code]


def pip_install(python: str) -> str:
    """The command that pip-installs into ``python``'s environment: its own pip, or, for an
    environment made without one (the launcher's, when the base Python's pip could install
    into it), a pip that installs there with ``--python`` (pip 22.3+)."""
    if os.path.exists(os.path.join(os.path.dirname(python), "pip")):
        return f"{python} -m pip install"
    return f"python3 -m pip --python {python} install"


def install_extra(python: str, extra: str, root: str | None = None) -> str:
    """The command that installs omcm with ``extra`` into ``python``'s environment: from
    the plugin copy ``root`` when known, else by name."""
    return f"{pip_install(python)} '{root or 'omcm'}[{extra}]'"

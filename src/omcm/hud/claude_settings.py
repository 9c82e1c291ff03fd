"""OMCM's status line in Claude Code's ``settings.json``: install, chain, remove.

A plugin cannot ship a status line, so ``omcm hud setup`` writes ``statusLine``
into the user's settings file. Every change backs the file up first
(``settings.json.omcm-backup-<UTC time>``), keeps every other key and the key
order, and is written atomically; a second install changes nothing. If the user
already has a status line of their own, OMCM chains it rather than replacing it:
the old ``statusLine`` object is kept in a chain file in OMCM's state
directory, and the HUD runs that command (:func:`run_chained`) with the same
stdin and shows its output next to OMCM's. :func:`remove` puts the old object
back exactly as it was (or deletes the key when there was none).

A settings file OMCM cannot understand (not JSON, not an object, a
``statusLine`` that is not an object with a ``command`` string) is left alone:
:class:`~omcm.core.errors.OmcmError` names the file and the problem.
"""

from __future__ import annotations

import os

from omcm.core import fastjson, state
from omcm.core.errors import OmcmError, cut

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Set for a chained status line, so an OMCM HUD started by it never chains again.
CHAIN_ENV = "OMCM_HUD_CHAINED"
#: Keys of the user's status line that OMCM's entry keeps (display preferences).
_KEPT_KEYS = ("padding", "hideVimModeIndicator", "refreshInterval")
_LEFT = "OMCM left it unchanged"


class Result:
    """What :func:`install` or :func:`remove` did; ``message`` is for the user."""

    __slots__ = ("backup", "changed", "message", "previous")

    def __init__(
        self,
        changed: bool,
        message: str,
        backup: str | None = None,
        previous: dict[str, Any] | None = None,
    ) -> None:
        self.changed = changed  # settings.json or the chain file was written
        self.message = message
        self.backup = backup  # the backup made before settings.json was changed
        self.previous = previous  # the user's own status line, chained by OMCM

    def __repr__(self) -> str:
        return (
            f"Result(changed={self.changed!r}, backup={self.backup!r}, "
            f"previous={self.previous!r}, message={self.message!r})"
        )


# --- reading and writing settings.json ---------------------------------------------


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _check_status_line(path: str, value: object) -> None:
    if not isinstance(value, dict):
        raise OmcmError(
            f'{cut(path)}: "statusLine" is {_kind(value)}, expected an object like '
            f'{{"type": "command", "command": "..."}}; {_LEFT}'
        )
    if not isinstance(value.get("command"), str):
        raise OmcmError(f'{cut(path)}: "statusLine" has no "command" string; {_LEFT}')


def read_settings(path: str) -> tuple[dict[str, Any], bytes | None]:
    """The settings object and the file's bytes (``({}, None)`` if it does not exist)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        raise OmcmError(f"cannot read {cut(path)}: {exc.strerror}") from exc
    if not raw.strip():
        return {}, raw
    try:
        data = fastjson.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise OmcmError(f"{cut(path)} is not UTF-8 text; {_LEFT}") from exc
    except fastjson.JSONDecodeError as exc:
        raise OmcmError(
            f"{cut(path)} is not valid JSON ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno}); {_LEFT}"
        ) from exc
    if not isinstance(data, dict):
        raise OmcmError(f"{cut(path)} holds {_kind(data)}, not a JSON object; {_LEFT}")
    if "statusLine" in data:
        _check_status_line(path, data["statusLine"])
    return data, raw


def _indent(raw: bytes | None) -> str:
    """The indentation the file already uses (two spaces for a new file)."""
    for line in (raw or b"").decode("utf-8", "replace").splitlines()[1:]:
        body = line.lstrip(" \t")
        if body and body != line:
            return line[: len(line) - len(body)]
    return "  "


def backup(path: str, raw: bytes) -> str:
    """Copy the file's bytes to ``<path>.omcm-backup-<UTC time>``; return the copy's path."""
    base = f"{path}.omcm-backup-{state.timestamp()}"
    target, n = base, 1
    while True:
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            n += 1
            target = f"{base}-{n}"
    with os.fdopen(fd, "wb") as handle:
        handle.write(raw)
    return target


def write_settings(path: str, data: dict[str, Any], raw: bytes | None) -> None:
    """Write ``data`` in place of the file (through a symlink), keeping its mode and indent."""
    target = os.path.realpath(path)  # a dotfiles symlink stays a symlink
    import json  # only when writing settings.json: the status line's own runs never get here

    text = json.dumps(data, indent=_indent(raw), ensure_ascii=False) + "\n"
    mode = os.stat(target).st_mode & 0o777 if raw is not None else None
    state.atomic_write(target, text)
    if mode is not None:
        os.chmod(target, mode)


# --- the chain file ----------------------------------------------------------------


def load_chain(chain_file: str) -> dict[str, Any] | None:
    """The chain file's record, or ``None`` when it is missing or unreadable."""
    try:
        with open(chain_file, "rb") as handle:
            data = fastjson.loads(handle.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def chained_status_line(chain_file: str) -> dict[str, Any] | None:
    """The user's own status line that OMCM's HUD runs too, if any."""
    chain = load_chain(chain_file)
    previous = chain.get("previous") if chain else None
    if isinstance(previous, dict) and isinstance(previous.get("command"), str):
        return previous
    return None


def _save_chain(
    chain_file: str, settings: str, command: str, previous: dict[str, Any] | None
) -> None:
    record = {
        "version": 1,
        "settings": settings,
        "installed_command": command,
        "previous": previous,
    }
    state.atomic_write(chain_file, fastjson.dumps(record, pretty=True) + "\n")


def looks_like_omcm(command: str) -> bool:
    """Whether a status-line command runs ``omcm hud`` (``…/omcm hud``, ``python -m omcm hud``)."""
    import itertools
    import shlex

    try:
        words = shlex.split(command)
    except ValueError:
        return False
    return any(
        os.path.basename(word) == "omcm" and nxt == "hud" for word, nxt in itertools.pairwise(words)
    )


def is_omcm(status_line: object, command: str, chain: dict[str, Any] | None) -> bool:
    """Whether ``status_line`` is OMCM's own (this command, the one installed, or ``omcm hud``)."""
    if not isinstance(status_line, dict):
        return False
    current = status_line.get("command")
    if not isinstance(current, str):
        return False
    installed = chain.get("installed_command") if chain else None
    return current in (command, installed) or looks_like_omcm(current)


# --- install / remove --------------------------------------------------------------


def _wanted(
    command: str, base: dict[str, Any] | None, refresh: float | None, keep_all: bool
) -> dict[str, Any]:
    """OMCM's statusLine object: ``base``'s other keys kept (all, or display preferences)."""
    wanted: dict[str, Any] = {"type": "command", "command": command}
    for key, value in (base or {}).items():
        if key not in wanted and (keep_all or key in _KEPT_KEYS):
            wanted[key] = value
    if refresh is not None:
        wanted["refreshInterval"] = refresh
    return wanted


def install(
    path: str, command: str, chain_file: str, refresh_interval: float | None = None
) -> Result:
    """Point ``statusLine`` in ``path`` at ``command``, chaining a status line already there."""
    if refresh_interval is not None and refresh_interval < 1:
        raise OmcmError(f"refresh interval must be at least 1 second, not {refresh_interval:g}")
    data, raw = read_settings(path)
    chain = load_chain(chain_file)
    current = data.get("statusLine")
    if is_omcm(current, command, chain):
        previous = chained_status_line(chain_file)
        wanted = _wanted(command, current, refresh_interval, keep_all=True)
    else:
        previous = current
        wanted = _wanted(command, current, refresh_interval, keep_all=False)
    chain_ok = (
        chain is not None
        and chain.get("installed_command") == command
        and chain.get("previous") == previous
    )
    if wanted == current and chain_ok:
        return Result(
            False,
            f"OMCM's status line is already installed in {path}; nothing changed",
            previous=previous,
        )
    saved = backup(path, raw) if raw is not None and wanted != current else None
    if not chain_ok:
        _save_chain(chain_file, path, command, previous)
    if wanted != current:
        data["statusLine"] = wanted
        write_settings(path, data, raw)
    message = f"Installed OMCM's status line in {path}"
    if previous is not None:
        message += f"; your own status line ({previous['command']}) runs inside it"
    if saved:
        message += f" (backup: {saved})"
    return Result(True, message, saved, previous)


def remove(path: str, chain_file: str, command: str = "") -> Result:
    """Take OMCM's status line out of ``path`` and put back the one it replaced, if any."""
    data, raw = read_settings(path)
    chain = load_chain(chain_file)
    current = data.get("statusLine")
    if current is None:
        return Result(False, f"{path} has no status line; nothing changed")
    if not is_omcm(current, command, chain):
        return Result(
            False, f"the status line in {path} is not OMCM's ({current['command']}); {_LEFT}"
        )
    previous = chained_status_line(chain_file)
    saved = backup(path, raw) if raw is not None else None
    if previous is None:
        del data["statusLine"]
        message = f"Removed OMCM's status line from {path}"
    else:
        data["statusLine"] = previous
        message = (
            f"Removed OMCM's status line from {path} and restored yours ({previous['command']})"
        )
    write_settings(path, data, raw)
    try:
        os.unlink(chain_file)
    except FileNotFoundError:
        pass
    return Result(True, f"{message} (backup: {saved})", saved, previous)


# --- running the chained status line -----------------------------------------------


def run_chained(previous: dict[str, Any], stdin: bytes | str, timeout: float = 2.0) -> str:
    """Run the user's own status-line command with the same stdin; return what it printed.

    It is the user's own shell command line, so it runs under ``/bin/sh -c``
    (the one place OMCM uses a shell). Nothing runs when this process is itself
    a chained status line (:data:`CHAIN_ENV`), so two OMCM HUDs cannot loop.
    A failure without output becomes a short note in its place.
    """
    command = previous.get("command")
    if os.environ.get(CHAIN_ENV) or not isinstance(command, str) or not command.strip():
        return ""
    from omcm.core import proc

    text = stdin.decode("utf-8", "replace") if isinstance(stdin, bytes) else stdin
    env = dict(os.environ)
    env[CHAIN_ENV] = "1"
    result = proc.run(["/bin/sh", "-c", command], input=text, env=env, timeout=timeout)
    output = result.stdout.rstrip("\n")
    if output.strip():
        return output
    if result.timed_out:
        return f"[your status line timed out after {timeout:g}s]"
    if not result.ok:
        why = result.error or f"exit {result.returncode}"
        return f"[your status line failed: {why}]"
    return ""


def default_file() -> str:
    """Claude Code's user settings: ``$CLAUDE_CONFIG_DIR/settings.json`` or ``~/.claude``'s."""
    from omcm.core import paths

    return os.path.join(paths.claude_dir(), "settings.json")

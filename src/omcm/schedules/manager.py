"""``omcm schedule add|list|remove``: a schedule's files written, enabled and taken away.

On Linux a systemd user timer and service (``$XDG_CONFIG_HOME/systemd/user``), enabled
at once when a user systemd manager answers (``systemctl --user``); where none runs
(containers, CI) the files are written and the command to enable them is said. On
macOS a launchd agent (``~/Library/LaunchAgents``). Elsewhere, or with ``target =
"cron"``, the crontab line to add. Whatever ``add`` wrote is listed in the schedule's
record, and ``remove`` deletes exactly that.
"""

from __future__ import annotations

import os
import sys
import time

from omcm.core import proc, state
from omcm.core.errors import OmcmError
from omcm.schedules import spec, units

TARGETS = ("systemd", "launchd", "cron")


def default_target() -> str:
    if sys.platform.startswith("linux"):
        return "systemd"
    if sys.platform == "darwin":
        return "launchd"
    return "cron"


def systemctl(*args: str) -> proc.ProcResult:
    """``systemctl --user ARGS`` (a missing systemctl is a result, not a crash)."""
    return proc.run(["systemctl", "--user", *args], timeout=30)


def user_manager_runs() -> bool:
    """Whether a user systemd manager answers (none in most containers and CI)."""
    return systemctl("show-environment").ok


def add(record: spec.Schedule, *, replace: bool = False, python: str = sys.executable) -> list[str]:
    """Write the schedule's files, enable it where a scheduler runs; what was done."""
    when = spec.period(record.every, record.at)
    existing = os.path.exists(spec.record_file(record.name))
    if existing and not replace:
        raise OmcmError(
            f"schedule {record.name!r} exists already (omcm schedule remove {record.name}, or "
            "add it again with --replace)"
        )
    said = remove(record.name) if existing else []
    env = dict(os.environ)
    record.created_at = time.time()
    if record.target == "systemd":
        said += _add_systemd(record, when, python, env)
    elif record.target == "launchd":
        said += _add_launchd(record, when, python, env)
    else:
        line = units.cron_line(record, when, python, env)
        said += [
            "no scheduler of OMCM's own here: add this line to your crontab (crontab -e):",
            f"    {line}",
        ]
    spec.save(record)
    return said


def _write(path: str, text: str, record: spec.Schedule) -> None:
    state.atomic_write(path, text)
    os.chmod(path, 0o644)
    record.files = [*record.files, path]


def _add_systemd(
    record: spec.Schedule, when: spec.Period, python: str, env: dict[str, str]
) -> list[str]:
    folder = units.systemd_dir(env)
    base = os.path.join(folder, f"{units.PREFIX}{record.name}")
    _write(base + ".service", units.systemd_service(record, python, env), record)
    _write(base + ".timer", units.systemd_timer(record, when), record)
    said = [f"wrote {base}.timer and {base}.service ({spec.described(record)})"]
    timer = f"{units.PREFIX}{record.name}.timer"
    if not user_manager_runs():
        return [
            *said,
            "no user systemd manager answers here (a container or CI?): the timer is not "
            f"enabled; where one runs: systemctl --user daemon-reload && systemctl --user "
            f"enable --now {timer}",
        ]
    reloaded = systemctl("daemon-reload")
    enabled = systemctl("enable", "--now", timer) if reloaded.ok else reloaded
    if not enabled.ok:
        why = (enabled.stderr.strip() or enabled.error).splitlines()
        return [*said, f"systemctl --user could not enable {timer}: {why[-1] if why else '?'}"]
    record.enabled = True
    return [*said, f"enabled {timer} (systemctl --user list-timers shows when it runs next)"]


def _add_launchd(
    record: spec.Schedule, when: spec.Period, python: str, env: dict[str, str]
) -> list[str]:
    path = os.path.join(units.launchd_dir(), f"{units.launchd_label(record.name)}.plist")
    _write(path, units.launchd_plist(record, when, python, env), record)
    said = [f"wrote {path} ({spec.described(record)})"]
    done = proc.run(["launchctl", "bootstrap", f"gui/{os.getuid()}", path], timeout=30)
    if done.ok:
        record.enabled = True
        return [*said, f"loaded it into launchd ({units.launchd_label(record.name)})"]
    why = (done.stderr.strip() or done.error).splitlines()
    return [
        *said,
        f"launchctl could not load it ({why[-1] if why else '?'}): "
        f"launchctl bootstrap gui/$(id -u) {path}",
    ]


def remove(name: str) -> list[str]:
    """Disable the schedule where it was enabled and delete every file ``add`` wrote."""
    record = spec.load(name)
    said = []
    if record.target == "systemd" and record.enabled:
        timer = f"{units.PREFIX}{record.name}.timer"
        done = systemctl("disable", "--now", timer)
        said.append(
            f"disabled {timer}"
            if done.ok
            else f"could not disable {timer}: {(done.stderr.strip() or done.error)[:200]}"
        )
    if record.target == "launchd" and record.enabled:
        proc.run(
            ["launchctl", "bootout", f"gui/{os.getuid()}/{units.launchd_label(name)}"], timeout=30
        )
    for path in record.files:
        try:
            os.unlink(path)
            said.append(f"deleted {path}")
        except FileNotFoundError:
            said.append(f"{path} was gone already")
    if record.target == "systemd" and record.enabled:
        systemctl("daemon-reload")
    if record.target == "cron":
        said.append(
            f"remove its line from your crontab (crontab -e): the one ending "
            f"'# omcm schedule {name}'"
        )
    spec.forget(name)
    said.append(f"schedule {name} removed")
    return said

"""What each scheduler is given for a schedule: systemd units, a launchd agent, a cron line.

Each one runs ``PYTHON -m omcm schedule run NAME`` in the schedule's directory, with
the variables OMCM and the provider CLIs are found by (``PATH``, ``OMCM_*``) as they
were when the schedule was added: a scheduler starts jobs with a bare environment.
"""

from __future__ import annotations

import os

from omcm.schedules.spec import DAYS, Period, Schedule, described

#: Variables copied into a scheduled run's environment (API keys are not: see the README).
KEPT_ENV = ("PATH", "OMCM_CONFIG_DIR", "OMCM_STATE_DIR", "OLLAMA_HOST")
PREFIX = "omcm-"
LAUNCHD_LABEL = "com.omcm.schedule."


def command(name: str, python: str) -> list[str]:
    return [python, "-m", "omcm", "schedule", "run", name]


def kept_env(env: dict[str, str]) -> dict[str, str]:
    return {k: env[k] for k in KEPT_ENV if env.get(k)}


# -- systemd --------------------------------------------------------------------------


def systemd_dir(env: dict[str, str]) -> str:
    """``$XDG_CONFIG_HOME/systemd/user`` (``~/.config/systemd/user``)."""
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "systemd", "user")


def _quote(word: str) -> str:
    """One word of a unit file's command line or Environment=, as systemd reads it."""
    escaped = word.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("$", "$$")
    return f'"{escaped}"' if any(c in word for c in " \t\"'\\;") or not word else escaped


def on_calendar(when: Period) -> str:
    """The timer's ``OnCalendar=`` for a period."""
    clock = f"{when.hour:02d}:{when.minute:02d}:00"
    if when.unit == "m":
        return f"*-*-* *:00/{when.count}:00"
    if when.unit == "h":
        return f"*-*-* 00/{when.count}:00:00"
    if when.unit == "d":
        return f"*-*-* {clock}"
    return f"{when.day} *-*-* {clock}"


def systemd_service(record: Schedule, python: str, env: dict[str, str]) -> str:
    lines = [
        "[Unit]",
        f"Description=OMCM scheduled task {record.name}",
        f"# Written by `omcm schedule add`; `omcm schedule remove {record.name}` deletes it.",
        "",
        "[Service]",
        "Type=oneshot",
        f"WorkingDirectory={_quote(record.cwd)}",
        "ExecStart=" + " ".join(_quote(w) for w in command(record.name, python)),
    ]
    lines += [f"Environment={_quote(f'{k}={v}')}" for k, v in kept_env(env).items()]
    return "\n".join(lines) + "\n"


def systemd_timer(record: Schedule, when: Period) -> str:
    return "\n".join(
        [
            "[Unit]",
            f"Description=Run OMCM scheduled task {record.name} ({described(record)})",
            "",
            "[Timer]",
            f"OnCalendar={on_calendar(when)}",
            "Persistent=true",
            f"Unit={PREFIX}{record.name}.service",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ]
    )


# -- launchd (macOS) --------------------------------------------------------------------


def launchd_dir() -> str:
    return os.path.join(os.path.expanduser("~"), "Library", "LaunchAgents")


def launchd_label(name: str) -> str:
    return f"{LAUNCHD_LABEL}{name}"


def launchd_plist(record: Schedule, when: Period, python: str, env: dict[str, str]) -> str:
    import plistlib

    agent: dict[str, object] = {
        "Label": launchd_label(record.name),
        "ProgramArguments": command(record.name, python),
        "WorkingDirectory": record.cwd,
        "EnvironmentVariables": kept_env(env),
        "RunAtLoad": False,
    }
    if when.unit in ("m", "h"):
        agent["StartInterval"] = when.seconds
    else:
        calendar: dict[str, int] = {"Hour": when.hour, "Minute": when.minute}
        if when.unit == "w":
            calendar["Weekday"] = (DAYS.index(when.day) + 1) % 7  # launchd: 0 = Sunday
        agent["StartCalendarInterval"] = calendar
    return plistlib.dumps(agent).decode("utf-8")


# -- cron -------------------------------------------------------------------------------


def cron_line(record: Schedule, when: Period, python: str, env: dict[str, str]) -> str:
    """The crontab line (cron's ``%`` is escaped; the environment goes before the command)."""
    import shlex

    if when.unit == "m":
        timing = f"*/{when.count} * * * *"
    elif when.unit == "h":
        timing = f"0 */{when.count} * * *"
    elif when.unit == "d":
        timing = f"{when.minute} {when.hour} * * *"
    else:
        timing = f"{when.minute} {when.hour} * * {(DAYS.index(when.day) + 1) % 7}"
    assignments = [f"{k}={shlex.quote(v)}" for k, v in kept_env(env).items()]
    words = " ".join(shlex.quote(w) for w in command(record.name, python))
    run = f"cd {shlex.quote(record.cwd)} && env {' '.join(assignments)} {words}"
    return f"{timing} {run}".replace("%", "\\%") + f"  # omcm schedule {record.name}"

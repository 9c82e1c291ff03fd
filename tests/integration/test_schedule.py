"""``omcm schedule``: unit files systemd itself accepts, a run that answers from a stand-in
provider as a job, and ``remove`` taking away exactly what ``add`` wrote.

``systemctl`` is a stand-in on PATH (it records its arguments): no test talks to a real
user systemd manager. ``systemd-analyze --user verify`` is the real one.
"""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from omcm.core.errors import OmcmError
from omcm.schedules import spec, units

CODEX = r"""#!/bin/sh
cat > "$(dirname "$0")/prompt.txt"
cat <<'EOF'
{"type":"item.completed","item":{"type":"agent_message","text":"docs/ is in sync with the code"}}
{"type":"turn.completed","usage":{"input_tokens":30,"output_tokens":7}}
EOF
"""
SYSTEMCTL = """#!/bin/sh
echo "$*" >> "$(dirname "$0")/systemctl.log"
if [ "$2" = show-environment ] && [ -z "$FAKE_MANAGER" ]; then
    echo "Failed to connect to bus: No such file or directory" >&2
    exit 1
fi
exit 0
"""


class User:
    """A user with a project, a task file, a stand-in codex and a stand-in systemctl."""

    def __init__(self, tmp_path: Path, *, manager: bool = False) -> None:
        self.root = tmp_path
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        for name, text in (("codex", CODEX), ("systemctl", SYSTEMCTL)):
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)
        self.project = tmp_path / "project"
        (self.project / "docs").mkdir(parents=True)
        self.task = self.project / "docs-sync.md"
        self.task.write_text("Bring docs/ in line with the code in src/.\n")
        self.env = {**os.environ, "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}"}
        if manager:
            self.env["FAKE_MANAGER"] = "1"
        config = Path(os.environ["OMCM_CONFIG_DIR"])
        config.mkdir(parents=True, exist_ok=True)
        (config / "config.toml").write_text(f'[providers.codex]\ncommand = "{self.bin}/codex"\n')
        self.units = Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user"

    def omcm(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "omcm", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def add(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.omcm(
            "schedule",
            "add",
            "docs-sync",
            "--every",
            "1d",
            "--at",
            "03:00",
            "--provider",
            "codex",
            "--file",
            str(self.task),
            "--cwd",
            str(self.project),
            *extra,
        )

    def systemctl_calls(self) -> list[str]:
        log = self.bin / "systemctl.log"
        return log.read_text().splitlines() if log.exists() else []

    def files(self) -> list[str]:
        return sorted(p.name for p in self.units.glob("*")) if self.units.exists() else []


def verify(paths: list[Path], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The real ``systemd-analyze --user verify``, away from any real user manager."""
    binary = shutil.which("systemd-analyze")
    assert binary, "systemd-analyze is missing (Debian's systemd package has it)"
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env["XDG_RUNTIME_DIR"] = str(runtime)
    return subprocess.run(
        [binary, "--user", "verify", *map(str, paths)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_add_writes_units_that_systemd_accepts(tmp_path: Path) -> None:
    user = User(tmp_path)
    done = user.add()
    assert done.returncode == 0, done.stderr
    timer, service = user.units / "omcm-docs-sync.timer", user.units / "omcm-docs-sync.service"
    assert user.files() == ["omcm-docs-sync.service", "omcm-docs-sync.timer"]
    assert f"omcm: wrote {timer} and {service} (every 1d at 03:00)" in done.stdout
    # No user manager here: nothing enabled, and the way to do it is said; exit 0.
    assert "no user systemd manager answers here" in done.stdout
    assert "systemctl --user enable --now omcm-docs-sync.timer" in done.stdout
    assert user.systemctl_calls() == ["--user show-environment"]
    checked = verify([timer, service], tmp_path)
    assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")
    text = timer.read_text()
    assert "OnCalendar=*-*-* 03:00:00\nPersistent=true\nUnit=omcm-docs-sync.service" in text
    assert f"ExecStart={sys.executable} -m omcm schedule run docs-sync" in service.read_text()
    assert f"WorkingDirectory={user.project}" in service.read_text()


def test_a_unit_with_a_bad_setting_fails_verification(tmp_path: Path) -> None:
    """The verification itself can fail (else the test above proves nothing)."""
    user = User(tmp_path)
    assert user.add().returncode == 0
    timer = user.units / "omcm-docs-sync.timer"
    timer.write_text(timer.read_text().replace("*-*-* 03:00:00", "at three"))
    assert verify([timer], tmp_path).returncode != 0


def test_schedule_run_answers_as_a_job(tmp_path: Path) -> None:
    user = User(tmp_path)
    assert user.add().returncode == 0
    done = user.omcm("schedule", "run", "docs-sync", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "docs/ is in sync with the code\n"
    assert (user.bin / "prompt.txt").read_text().startswith("Bring docs/ in line with the code")
    jobs: list[dict[str, Any]] = json.loads(user.omcm("jobs", "--all", "--json").stdout)
    [job] = jobs
    assert (job["state"], job["source"], job["cwd"]) == ("done", "schedule", str(user.project))
    assert job["title"].startswith("schedule docs-sync: Bring docs/ in line")
    log = Path(os.environ["OMCM_STATE_DIR"]) / "routing-log.jsonl"
    [line] = [json.loads(x) for x in log.read_text().splitlines()]
    assert (line["source"], line["tool_name"], line["job_id"]) == (
        "schedule",
        "schedule docs-sync",
        job["id"],
    )
    listed = user.omcm("schedule", "list")
    assert f"done {job['id']}" in listed.stdout and "every 1d at 03:00" in listed.stdout


def test_remove_deletes_what_add_wrote_and_disables_the_timer(tmp_path: Path) -> None:
    user = User(tmp_path, manager=True)
    user.units.mkdir(parents=True)
    (user.units / "mine.service").write_text("[Service]\nExecStart=/bin/true\n")
    done = user.add()
    assert done.returncode == 0, done.stderr
    assert "enabled omcm-docs-sync.timer" in done.stdout
    assert user.systemctl_calls() == [
        "--user show-environment",
        "--user daemon-reload",
        "--user enable --now omcm-docs-sync.timer",
    ]
    again = user.add()
    assert again.returncode == 1 and "exists already" in again.stderr
    removed = user.omcm("schedule", "remove", "docs-sync")
    assert removed.returncode == 0, removed.stderr
    assert user.files() == ["mine.service"]  # only what add wrote is gone
    assert user.systemctl_calls()[-2:] == [
        "--user disable --now omcm-docs-sync.timer",
        "--user daemon-reload",
    ]
    assert user.omcm("schedule", "list").stdout.startswith("no schedules")
    missing = user.omcm("schedule", "run", "docs-sync")
    assert missing.returncode == 1
    assert missing.stderr == "omcm: no schedule 'docs-sync' (schedules: none; omcm schedule list)\n"


def test_cron_is_a_line_to_add_and_nothing_is_written(tmp_path: Path) -> None:
    user = User(tmp_path)
    done = user.add("--target", "cron")
    assert done.returncode == 0, done.stderr
    assert user.files() == []
    line = done.stdout.splitlines()[1].strip()
    assert line.startswith(f"0 3 * * * cd {user.project} && env PATH=")
    assert line.endswith(
        f"{sys.executable} -m omcm schedule run docs-sync  # omcm schedule docs-sync"
    )


@pytest.mark.parametrize(
    ("every", "at", "error"),
    [
        ("7m", "", "--every 7m: give Nm (N divides 60), Nh (N divides 24), 1d or 1w"),
        ("2d", "", "--every 2d: give Nm (N divides 60), Nh (N divides 24), 1d or 1w"),
        ("daily", "", "--every 'daily': give Nm (N divides 60), Nh (N divides 24), 1d or 1w"),
        ("6h", "03:00", "--at '03:00' goes with --every 1d or 1w, not --every 6h"),
        ("1d", "25:00", "--at '25:00': give HH:MM (24-hour)"),
        ("1d", "Mon 03:00", "--at 'Mon 03:00': a day of the week goes with --every 1w"),
    ],
)
def test_periods_every_scheduler_keeps(every: str, at: str, error: str) -> None:
    with pytest.raises(OmcmError) as caught:
        spec.period(every, at)
    assert str(caught.value).startswith(error)


def test_each_scheduler_gets_the_same_times() -> None:
    record = spec.Schedule(name="n", every="1w", at="Fri 18:30", cwd="/p")
    week = spec.period("1w", "Fri 18:30")
    assert units.on_calendar(week) == "Fri *-*-* 18:30:00"
    assert units.on_calendar(spec.period("15m")) == "*-*-* *:00/15:00"
    assert units.on_calendar(spec.period("6h")) == "*-*-* 00/6:00:00"
    agent = plistlib.loads(units.launchd_plist(record, week, "/py", {"PATH": "/bin"}).encode())
    assert agent["StartCalendarInterval"] == {"Hour": 18, "Minute": 30, "Weekday": 5}
    assert agent["ProgramArguments"] == ["/py", "-m", "omcm", "schedule", "run", "n"]
    assert agent["EnvironmentVariables"] == {"PATH": "/bin"}
    hourly = plistlib.loads(units.launchd_plist(record, spec.period("2h"), "/py", {}).encode())
    assert hourly["StartInterval"] == 7200
    assert units.cron_line(record, week, "/py", {}).startswith("30 18 * * 5 cd /p && env ")


def test_systemd_quoting_keeps_spaces_and_percent() -> None:
    record = spec.Schedule(name="n", every="1d", cwd="/my project")
    service = units.systemd_service(record, "/opt/py 3/python", {"PATH": "/a b:/c%d"})
    assert 'WorkingDirectory="/my project"' in service
    assert 'ExecStart="/opt/py 3/python" -m omcm schedule run n' in service
    assert 'Environment="PATH=/a b:/c%%d"' in service


def test_names_become_file_names() -> None:
    with pytest.raises(OmcmError, match="use 1-64 letters, digits"):
        spec.check_name("../evil")


def test_the_prompt_may_follow_the_options(tmp_path: Path) -> None:
    user = User(tmp_path)
    done = user.omcm(
        "schedule",
        "add",
        "todo",
        "--every",
        "6h",
        "--agent",
        "writer",
        "--target",
        "cron",
        "Summarise the TODOs",
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(
        (Path(os.environ["OMCM_STATE_DIR"]) / "schedules" / "todo.json").read_text()
    )
    assert (record["prompt"], record["agent"], record["file"]) == (
        "Summarise the TODOs",
        "writer",
        "",
    )
    both = user.omcm(
        "schedule",
        "add",
        "x",
        "--every",
        "1d",
        "--agent",
        "writer",
        "--file",
        str(user.task),
        "a prompt too",
    )
    assert both.returncode == 1
    assert both.stderr == "omcm: give the task as PROMPT or with --file (one of them)\n"
    stray = user.omcm("schedule", "add", "y", "--every", "1d", "--agent", "w", "--bogus", "x")
    assert stray.returncode == 2 and "unrecognized arguments: --bogus x" in stray.stderr

"""Installing OMCM's status line in settings.json: backup, chaining, idempotence, removal."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from omcm.core.errors import OmcmError
from omcm.hud import claude_settings as cs

COMMAND = "'/opt/omcm/.venv/bin/omcm' hud"
THEIRS = {"type": "command", "command": "~/.claude/statusline.sh", "padding": 0}


@pytest.fixture
def settings(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".claude" / "settings.json"


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    return tmp_path / "state" / "statusline-chain.json"


def write(path: Path, data: object, indent: int | str = 2) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = (json.dumps(data, indent=indent) + "\n").encode()
    path.write_bytes(raw)
    return raw


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".omcm-backup-*"))


def install(settings: Path, chain: Path, refresh_interval: float | None = None) -> cs.Result:
    return cs.install(str(settings), COMMAND, str(chain), refresh_interval=refresh_interval)


def remove(settings: Path, chain: Path) -> cs.Result:
    return cs.remove(str(settings), str(chain))


# --- install -----------------------------------------------------------------------


def test_install_into_a_missing_file(settings: Path, chain: Path) -> None:
    result = install(settings, chain)
    assert result.changed
    assert result.backup is None
    assert result.message == f"Installed OMCM's status line in {settings}"
    assert json.loads(settings.read_text()) == {
        "statusLine": {"type": "command", "command": COMMAND}
    }
    assert json.loads(chain.read_text()) == {
        "version": 1,
        "settings": str(settings),
        "installed_command": COMMAND,
        "previous": None,
    }


def test_install_keeps_every_other_key_in_order_and_backs_up(settings: Path, chain: Path) -> None:
    original = {
        "model": "opus",
        "hooks": {"Stop": []},
        "permissions": {"allow": ["Bash(ls)"]},
        "env": {"A": "é"},
    }
    raw = write(settings, original, indent=4)
    result = install(settings, chain, refresh_interval=2)
    assert result.changed
    [saved] = backups(settings)
    assert result.backup == str(saved)
    assert saved.read_bytes() == raw
    assert result.message == f"Installed OMCM's status line in {settings} (backup: {saved})"
    text = settings.read_text()
    data = json.loads(text)
    assert list(data) == ["model", "hooks", "permissions", "env", "statusLine"]
    assert {k: data[k] for k in original} == original
    assert data["statusLine"] == {"type": "command", "command": COMMAND, "refreshInterval": 2}
    assert text == json.dumps(data, indent=4, ensure_ascii=False) + "\n"  # indent kept


def test_second_install_changes_nothing(settings: Path, chain: Path) -> None:
    write(settings, {"model": "opus"})
    install(settings, chain)
    before = (settings.read_bytes(), chain.read_bytes(), backups(settings))
    result = install(settings, chain)
    assert not result.changed
    assert result.backup is None
    assert result.message == (
        f"OMCM's status line is already installed in {settings}; nothing changed"
    )
    assert (settings.read_bytes(), chain.read_bytes(), backups(settings)) == before


def test_reinstall_with_a_new_interval_updates_only_that(settings: Path, chain: Path) -> None:
    write(settings, {"statusLine": THEIRS})
    install(settings, chain)
    result = install(settings, chain, refresh_interval=5)
    assert result.changed
    assert json.loads(settings.read_text())["statusLine"] == {
        "type": "command",
        "command": COMMAND,
        "padding": 0,
        "refreshInterval": 5,
    }
    assert result.previous == THEIRS  # still chained, not replaced by OMCM's own entry
    assert len(backups(settings)) == 2


def test_install_chains_an_existing_status_line(settings: Path, chain: Path) -> None:
    write(settings, {"model": "opus", "statusLine": THEIRS, "theme": "dark"})
    result = install(settings, chain)
    assert result.previous == THEIRS
    assert result.message == (
        f"Installed OMCM's status line in {settings}; your own status line "
        f"(~/.claude/statusline.sh) runs inside it (backup: {result.backup})"
    )
    data = json.loads(settings.read_text())
    assert list(data) == ["model", "statusLine", "theme"]  # same position
    assert data["statusLine"] == {"type": "command", "command": COMMAND, "padding": 0}
    assert cs.chained_status_line(str(chain)) == THEIRS


def test_an_older_omcm_command_is_not_chained(settings: Path, chain: Path) -> None:
    old = {"type": "command", "command": "/old/venv/bin/python -m omcm hud"}
    write(settings, {"statusLine": old})
    result = install(settings, chain)
    assert result.previous is None
    assert json.loads(settings.read_text())["statusLine"] == {"type": "command", "command": COMMAND}
    assert cs.chained_status_line(str(chain)) is None


def test_a_moved_omcm_keeps_the_chained_line(settings: Path, chain: Path) -> None:
    write(settings, {"statusLine": THEIRS})
    install(settings, chain)
    result = cs.install(str(settings), "/new/omcm hud", str(chain))
    assert result.previous == THEIRS
    assert json.loads(settings.read_text())["statusLine"]["command"] == "/new/omcm hud"
    assert json.loads(chain.read_text())["installed_command"] == "/new/omcm hud"


def test_install_keeps_the_file_mode_and_a_symlink(
    tmp_path: Path, settings: Path, chain: Path
) -> None:
    real = tmp_path / "dotfiles" / "claude-settings.json"
    write(real, {"model": "opus"})
    real.chmod(0o644)
    settings.parent.mkdir(parents=True)
    settings.symlink_to(real)
    install(settings, chain)
    assert settings.is_symlink()
    assert json.loads(real.read_text())["statusLine"]["command"] == COMMAND
    assert real.stat().st_mode & 0o777 == 0o644


def test_refresh_interval_below_one_is_refused(settings: Path, chain: Path) -> None:
    with pytest.raises(OmcmError, match=r"^refresh interval must be at least 1 second, not 0.5$"):
        install(settings, chain, refresh_interval=0.5)
    assert not settings.exists()


# --- malformed files are left alone ------------------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b'{"model": "opus",}\n',
            "{path} is not valid JSON (Expecting property name enclosed in double quotes at line 1 "
            "column 18); OMCM left it unchanged",
        ),
        (b'["a"]\n', "{path} holds an array, not a JSON object; OMCM left it unchanged"),
        (b'"text"', "{path} holds a string, not a JSON object; OMCM left it unchanged"),
        (
            b'{"statusLine": "my-hud.sh"}',
            '{path}: "statusLine" is a string, expected an object like {{"type": "command", '
            '"command": "..."}}; OMCM left it unchanged',
        ),
        (
            b'{"statusLine": null}',
            '{path}: "statusLine" is null, expected an object like {{"type": "command", '
            '"command": "..."}}; OMCM left it unchanged',
        ),
        (
            b'{"statusLine": {"type": "command"}}',
            '{path}: "statusLine" has no "command" string; OMCM left it unchanged',
        ),
        (b"\xff\xfe{}", "{path} is not UTF-8 text; OMCM left it unchanged"),
    ],
)
@pytest.mark.parametrize("action", ["install", "remove"])
def test_malformed_settings_are_left_untouched(
    settings: Path, chain: Path, content: bytes, problem: str, action: str
) -> None:
    settings.parent.mkdir(parents=True)
    settings.write_bytes(content)
    with pytest.raises(OmcmError) as caught:
        install(settings, chain) if action == "install" else remove(settings, chain)
    assert str(caught.value) == problem.format(path=settings)
    assert settings.read_bytes() == content
    assert backups(settings) == []
    assert not chain.exists()


def test_an_empty_file_counts_as_no_settings(settings: Path, chain: Path) -> None:
    settings.parent.mkdir(parents=True)
    settings.write_text("\n")
    result = install(settings, chain)
    assert result.backup is not None
    assert json.loads(settings.read_text()) == {
        "statusLine": {"type": "command", "command": COMMAND}
    }


# --- remove ------------------------------------------------------------------------


def test_remove_restores_the_chained_line_exactly(settings: Path, chain: Path) -> None:
    original = {"model": "opus", "statusLine": THEIRS, "theme": "dark"}
    write(settings, original)
    install(settings, chain)
    result = remove(settings, chain)
    assert result.changed
    assert result.message == (
        f"Removed OMCM's status line from {settings} and restored yours "
        f"(~/.claude/statusline.sh) (backup: {result.backup})"
    )
    data = json.loads(settings.read_text())
    assert data == original
    assert list(data) == list(original)
    assert not chain.exists()
    assert len(backups(settings)) == 2


def test_remove_deletes_the_key_when_there_was_none(settings: Path, chain: Path) -> None:
    write(settings, {"model": "opus"})
    install(settings, chain)
    result = remove(settings, chain)
    assert result.message == f"Removed OMCM's status line from {settings} (backup: {result.backup})"
    assert json.loads(settings.read_text()) == {"model": "opus"}


def test_remove_without_omcm_changes_nothing(settings: Path, chain: Path) -> None:
    raw = write(settings, {"statusLine": THEIRS})
    result = remove(settings, chain)
    assert not result.changed
    assert result.message == (
        f"the status line in {settings} is not OMCM's "
        "(~/.claude/statusline.sh); OMCM left it unchanged"
    )
    assert settings.read_bytes() == raw
    raw = write(settings, {"model": "opus"})
    result = remove(settings, chain)
    assert result.message == f"{settings} has no status line; nothing changed"
    assert settings.read_bytes() == raw
    assert backups(settings) == []


def test_remove_without_a_chain_file_still_removes_omcm(settings: Path, chain: Path) -> None:
    write(settings, {"statusLine": {"type": "command", "command": COMMAND}})
    remove(settings, chain)
    assert json.loads(settings.read_text()) == {}


def test_looks_like_omcm() -> None:
    assert cs.looks_like_omcm("/home/u/.venv/bin/omcm hud")
    assert cs.looks_like_omcm("'/a b/omcm' hud --width 80")
    assert cs.looks_like_omcm("python3 -m omcm hud")
    assert not cs.looks_like_omcm("omcm status")
    assert not cs.looks_like_omcm("~/bin/omcm-hud.sh")
    assert not cs.looks_like_omcm("echo 'unbalanced")


# --- running the chained line ------------------------------------------------------


def test_run_chained_passes_stdin_and_returns_the_output() -> None:
    previous = {"type": "command", "command": "printf 'mine:'; cat; printf '\\n'"}
    assert cs.run_chained(previous, b'{"session_id":"s"}', timeout=10) == 'mine:{"session_id":"s"}'


def test_run_chained_marks_the_child_and_never_nests(monkeypatch: pytest.MonkeyPatch) -> None:
    previous = {"type": "command", "command": 'printf "%s" "$OMCM_HUD_CHAINED"'}
    assert cs.run_chained(previous, "{}", timeout=10) == "1"
    monkeypatch.setenv(cs.CHAIN_ENV, "1")
    assert cs.run_chained(previous, "{}", timeout=10) == ""


def test_run_chained_failures_become_a_note() -> None:
    assert cs.run_chained({"command": "exit 3"}, "{}", timeout=10) == (
        "[your status line failed: exit 3]"
    )
    assert cs.run_chained({"command": "sleep 5"}, "{}", timeout=0.3) == (
        "[your status line timed out after 0.3s]"
    )
    assert cs.run_chained({"command": "echo partial; exit 1"}, "{}", timeout=10) == "partial"
    assert cs.run_chained({"command": ""}, "{}") == ""


def test_chained_status_line_is_lenient(chain: Path) -> None:
    assert cs.chained_status_line(str(chain)) is None
    chain.parent.mkdir(parents=True)
    chain.write_text("not json")
    assert cs.chained_status_line(str(chain)) is None
    chain.write_text(json.dumps({"previous": {"command": 5}}))
    assert cs.chained_status_line(str(chain)) is None
    assert os.path.exists(chain)

"""``claude plugin validate``: the manifests and hooks.json each Claude Code version will load.

A broken hooks.json does not fail a Claude Code run (the hooks are silently not
loaded), so this is the check that catches it. ``validate .`` checks
marketplace.json when there is one (plugin.json otherwise); ``validate
.claude-plugin/plugin.json`` checks plugin.json and hooks/hooks.json. 2.1.62 has
no ``--strict`` (and does not check hooks); the newer versions treat every
warning as an error with it, and 2.1.332 also runs the plugin directory's checks
(an icon is expected).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.claude import LEGACY, MODERN, NEWEST, REPO, VERSIONS, Sandbox, run_process
from tests.e2e.stub_anthropic import StubAnthropic

pytestmark = pytest.mark.e2e


def validate(sandbox: Sandbox, target: str, cwd: Path) -> tuple[int, str]:
    strict = [] if sandbox.version == LEGACY else ["--strict"]
    proc = run_process(
        [str(sandbox.cli), "plugin", "validate", *strict, target], cwd, sandbox.env(), timeout=60
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("target", "manifest"),
    [(".", "marketplace.json"), (".claude-plugin/plugin.json", "plugin.json")],
)
def test_validate_passes_without_warnings(
    version: str, target: str, manifest: str, tmp_path: Path, stub: StubAnthropic
) -> None:
    sandbox = Sandbox(tmp_path / "sandbox", version, stub.url)
    code, output = validate(sandbox, target, REPO)
    kind = "marketplace" if manifest == "marketplace.json" else "plugin"
    assert f"Validating {kind} manifest: {REPO / '.claude-plugin' / manifest}" in output
    assert "✔ Validation passed" in output, output
    assert "warning" not in output.lower(), output
    assert "⚠" not in output, output
    assert "✘" not in output, output
    if version == NEWEST:  # the plugin directory's checks pass too
        assert "✔ These checks found nothing to report" in output, output
    assert code == 0, output


WORDING = {
    NEWEST: "hooks.NotAnEvent: unknown hook event; entry ignored at runtime",
    "2.1.197": "hooks.NotAnEvent: Invalid key in record",
}


@pytest.mark.parametrize("version", MODERN)
def test_validate_plugin_json_also_checks_hooks_json(
    version: str, tmp_path: Path, stub: StubAnthropic
) -> None:
    """The negative control: the same command fails on a hooks.json Claude Code would drop."""
    sandbox = Sandbox(tmp_path / "sandbox", version, stub.url)
    copy = tmp_path / "plugin"
    shutil.copytree(REPO / ".claude-plugin", copy / ".claude-plugin")
    shutil.copytree(REPO / "hooks", copy / "hooks")
    shutil.copy(REPO / "README.md", copy / "README.md")
    hooks_json = copy / "hooks" / "hooks.json"
    hooks = json.loads(hooks_json.read_text())
    hooks["hooks"]["NotAnEvent"] = hooks["hooks"]["Stop"]
    hooks_json.write_text(json.dumps(hooks))
    code, output = validate(sandbox, ".claude-plugin/plugin.json", copy)
    assert code == 1, output
    assert f"Validating hooks: {hooks_json}" in output
    assert WORDING[version] in output, output
    assert "✘ Validation failed" in output

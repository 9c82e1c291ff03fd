"""``claude plugin validate --strict``: the manifests and hooks.json Claude Code will load.

A broken hooks.json does not fail a Claude Code run (the hooks are silently not
loaded), so this is the check that catches it. ``validate .`` checks
marketplace.json when there is one (plugin.json otherwise); ``validate
.claude-plugin/plugin.json`` checks plugin.json and hooks/hooks.json.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.claude import REPO, Sandbox, run_process

pytestmark = pytest.mark.e2e


def validate(sandbox: Sandbox, target: str, cwd: Path) -> tuple[int, str]:
    proc = run_process(
        [str(sandbox.cli), "plugin", "validate", "--strict", target], cwd, sandbox.env(), timeout=60
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("target", "manifest"),
    [(".", "marketplace.json"), (".claude-plugin/plugin.json", "plugin.json")],
)
def test_validate_strict_passes_without_warnings(
    sandbox: Sandbox, target: str, manifest: str
) -> None:
    code, output = validate(sandbox, target, REPO)
    kind = "marketplace" if manifest == "marketplace.json" else "plugin"
    assert f"Validating {kind} manifest: {REPO / '.claude-plugin' / manifest}" in output
    assert "✔ Validation passed" in output, output
    assert "warning" not in output.lower(), output
    assert "⚠" not in output
    assert code == 0, output


def test_validate_plugin_json_also_checks_hooks_json(sandbox: Sandbox, tmp_path: Path) -> None:
    """The negative control: the same command fails on a hooks.json Claude Code would drop."""
    copy = tmp_path / "plugin"
    shutil.copytree(REPO / ".claude-plugin", copy / ".claude-plugin")
    shutil.copytree(REPO / "hooks", copy / "hooks")
    hooks_json = copy / "hooks" / "hooks.json"
    hooks = json.loads(hooks_json.read_text())
    hooks["hooks"]["NotAnEvent"] = hooks["hooks"]["Stop"]
    hooks_json.write_text(json.dumps(hooks))
    code, output = validate(sandbox, ".claude-plugin/plugin.json", copy)
    assert code == 1, output
    assert f"Validating hooks: {hooks_json}" in output
    assert "hooks.NotAnEvent: Invalid key in record" in output
    assert "✘ Validation failed" in output

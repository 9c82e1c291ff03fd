from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from omcm import config
from omcm.config import edit, validate
from omcm.config.schema import AgentOverride
from omcm.core import paths
from omcm.core.errors import ConfigError
from omcm.core.records import Section

REPO = Path(__file__).resolve().parents[2]


def write(text: str) -> Path:
    path = Path(paths.config_file())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_means_defaults() -> None:
    loaded = config.load()
    assert loaded == config.Config()
    assert loaded.threshold == 90
    assert loaded.recovery_threshold == 85
    assert loaded.fusion_default is False
    assert loaded.auto_handoff is False
    assert loaded.routing.usage_threshold == 70
    assert loaded.routing.max_workers == 3
    assert loaded.context.max_context_length == 50000
    assert loaded.providers.codex.command == "codex"


def test_public_keys_exist() -> None:
    keys = {key for key, _, _ in edit.reference_rows()}
    expected = {
        "fusion_default",
        "threshold",
        "recovery_threshold",
        "auto_handoff",
        "routing.enabled",
        "routing.usage_threshold",
        "routing.max_workers",
        "routing.prefer_claude",
        "routing.prefer_providers",
        "routing.auto_delegate",
        "context.include_recent_files",
        "context.recent_files_limit",
        "context.include_todos",
        "context.include_decisions",
        "context.max_context_length",
        "balancing.strategy",
        "balancing.weights",
    }
    for provider in ("codex", "gemini", "opencode"):
        expected |= {f"providers.{provider}.{k}" for k in ("enabled", "command", "args", "timeout")}
        expected |= {f"providers.{provider}.model.{t}" for t in ("low", "medium", "high")}
    assert expected <= keys
    assert any(k.startswith("notifications.") for k in keys)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "routing = { max_worker = 3 }",
            "unknown key 'routing.max_worker' (did you mean 'routing.max_workers'?)",
        ),
        ('threshold = "90"', "key 'threshold': input should be a valid integer (got '90')"),
        (
            "[providers.codex]\ntimeout = 1",
            "key 'providers.codex.timeout': input should be greater than or equal to 5 (got 1)",
        ),
        (
            "recovery_threshold = 95",
            "key 'recovery_threshold' must be below 'threshold' (95 >= 90)",
        ),
        ("threshold = ", "not valid TOML"),
    ],
)
def test_invalid_file_names_file_key_and_expectation(text: str, message: str) -> None:
    path = write(text)
    with pytest.raises(ConfigError) as err:
        config.load()
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


def test_snapshot_is_reused_until_the_file_changes(mocker) -> None:  # type: ignore[no-untyped-def]
    write("fusion_default = true\n")
    assert config.load().fusion_default is True
    spy = mocker.spy(validate, "validate_file")
    assert config.load().fusion_default is True
    assert spy.call_count == 0
    path = write("fusion_default = false\n# changed size\n")
    os.utime(path, ns=(1, 1))
    assert config.load().fusion_default is False
    assert spy.call_count == 1


def test_invalid_file_is_never_served_from_an_old_snapshot() -> None:
    write("fusion_default = true\n")
    config.load()
    write("fusion_default = 1\n")
    with pytest.raises(ConfigError, match="fusion_default"):
        config.load()


def test_default_toml_is_valid_and_complete() -> None:
    text = edit.default_toml()
    assert validate.parse_text(text, "defaults") == config.Config()
    assert "# Most provider processes running at once" in text


def test_set_keeps_comments_and_other_keys() -> None:
    path = write(
        "# my settings\nfusion_default = false  # keep me\n\n[routing]\n"
        '# workers comment\nmax_workers = 3\nprefer_claude = [\n  "architect",\n]\n'
    )
    edit.set_value(str(path), "routing.max_workers", "5")
    edit.set_value(str(path), "fusion_default", "true")
    edit.set_value(str(path), "routing.prefer_claude", '["planner", "critic"]')
    edit.set_value(str(path), "providers.gemini.enabled", "false")
    text = path.read_text()
    assert text.startswith("# my settings\nfusion_default = true  # keep me\n")
    assert "# workers comment\nmax_workers = 5\n" in text
    assert 'prefer_claude = ["planner", "critic"]\n' in text
    assert "[providers.gemini]\nenabled = false\n" in text
    loaded = config.load()
    assert loaded.routing.max_workers == 5
    assert loaded.routing.prefer_claude == ["planner", "critic"]
    assert loaded.providers.gemini.enabled is False


def test_set_adds_a_new_top_level_key_above_the_first_table() -> None:
    path = write("# my settings\n[routing]\nusage_threshold = 60\n")
    assert edit.set_value(str(path), "fusion_default", "true") is True
    assert path.read_text() == (
        "# my settings\nfusion_default = true\n\n[routing]\nusage_threshold = 60\n"
    )


def test_set_validates_before_writing() -> None:
    path = write("threshold = 90\n")
    with pytest.raises(
        ConfigError, match=r"key 'threshold': input should be less than or equal to 100"
    ):
        edit.set_value(str(path), "threshold", "150")
    with pytest.raises(ConfigError, match=r"unknown key 'routing\.workers'"):
        edit.set_value(str(path), "routing.workers", "2")
    assert path.read_text() == "threshold = 90\n"


def test_set_string_keys_take_bare_text() -> None:
    path = write("")
    assert edit.set_value(str(path), "providers.codex.command", "/opt/codex") == "/opt/codex"
    assert config.load().providers.codex.command == "/opt/codex"


def test_readme_configuration_reference_matches_the_schema() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for key, default, _meaning in edit.reference_rows():
        row = re.search(rf"^\| `{re.escape(key)}` \| `(.*?)` \|", readme, re.MULTILINE)
        assert row, f"README's configuration reference lacks `{key}`"
        assert row.group(1) == default, f"README shows a stale default for `{key}`"


# --- layering: what the user does not write keeps its default, at every depth -----------


def _other_value(key: str, default: Any) -> Any:
    """A valid value for ``key`` that differs from its default."""
    rules = _rules_of(key)
    choices = rules.get("choices")
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default - 1 if "le" in rules and default + 1 > rules["le"] else default + 1
    if isinstance(default, str):
        if choices:
            return next(c for c in choices if c != default)
        return f"{default}-custom"
    if isinstance(default, list):
        return list(reversed(default)) if choices else ["custom-name"]
    if isinstance(default, dict) and key == "balancing.weights":
        return {"codex": 9.5}
    if key == "agents":
        return {"explore": {"provider": "codex"}}
    if key == "prices":
        return {"codex/my-model": {"input": 1.25, "output": 10.0, "source": "my contract"}}
    raise AssertionError(f"no other value for {key}={default!r}")


def _rules_of(key: str) -> dict[str, Any]:
    section: type[Section] = config.Config
    *tables, leaf = key.split(".")
    node: Any = config.Config()
    for part in tables:
        node = getattr(node, part)
        section = type(node)
    return dict(section.RULES.get(leaf, {}))


def _nested(key: str, value: Any) -> dict[str, Any]:
    *tables, leaf = key.split(".")
    data: dict[str, Any] = {leaf: value}
    for part in reversed(tables):
        data = {part: data}
    return data


LEAF_KEYS = [key for key, _, _ in edit.reference_rows()]


@pytest.mark.parametrize("key", LEAF_KEYS)
def test_a_partial_table_keeps_every_other_default(key: str) -> None:
    import tomli_w

    defaults = config.Config()
    value = _other_value(key, edit.get_value(defaults, key))
    write(tomli_w.dumps(_nested(key, value)))
    loaded = config.load().dump()
    expected = defaults.dump()
    node = expected
    *tables, leaf = key.split(".")
    for part in tables:
        node = node[part]
    if key == "balancing.weights":
        node[leaf] = node[leaf] | value  # a table, so its other keys keep their defaults too
    elif key == "agents":
        node[leaf] = {"explore": AgentOverride(provider="codex").dump()}
    elif key == "prices":
        node[leaf] = {"codex/my-model": value["codex/my-model"] | {"cached_input": None}}
    else:
        node[leaf] = value
    assert loaded == expected


def test_one_model_table_entry_keeps_the_command_and_the_other_tiers() -> None:
    write('[providers.opencode.model]\nlow = "ollama/qwen3"\n')
    loaded = config.load()
    assert loaded.providers.opencode.command == "opencode"
    assert loaded.providers.opencode.model.dump() == {
        "low": "ollama/qwen3",
        "medium": "",
        "high": "",
    }
    assert loaded.providers.codex == config.Config().providers.codex


def test_a_model_string_sets_all_three_tiers() -> None:
    write('[providers.opencode]\nmodel = "openrouter/qwen3-coder"\n')
    loaded = config.load()
    assert loaded.providers.opencode.model.dump() == dict.fromkeys(
        config.TIERS, "openrouter/qwen3-coder"
    )
    assert loaded.providers.opencode.command == "opencode"
    assert loaded.providers.opencode.timeout == 300


def test_a_model_of_the_wrong_type_is_named() -> None:
    path = write("[providers.codex]\nmodel = 5\n")
    with pytest.raises(ConfigError) as err:
        config.load()
    assert str(err.value).startswith(f"{path}: key 'providers.codex.model'")


def test_an_unknown_key_deep_in_a_partial_table_is_still_an_error() -> None:
    write('[providers.opencode.model]\nlowest = "x"\n')
    with pytest.raises(
        ConfigError,
        match=r"unknown key 'providers\.opencode\.model\.lowest' "
        r"\(did you mean 'providers\.opencode\.model\.low'\?\)",
    ):
        config.load()


# --- the file `config init` writes takes every documented edit (issue 16, defects 2 and 3) ---


def test_a_model_string_replaces_the_model_table_of_the_written_defaults() -> None:
    """`config set providers.ollama.model M` on the file `config init` wrote used to fail with
    TOMLDecodeError: Cannot overwrite a value."""
    path = Path(paths.config_file())
    assert edit.ensure_file(str(path))
    for provider in ("ollama", "opencode"):
        edit.set_value(str(path), f"providers.{provider}.model", "qwen2.5-coder:7b")
    loaded = config.load()
    model = loaded.providers.ollama.model
    assert [model.low, model.medium, model.high] == ["qwen2.5-coder:7b"] * 3
    assert loaded.providers.opencode.model.low == "qwen2.5-coder:7b"
    assert "# Whether OMCM may hand work to this provider." in path.read_text()


def test_the_written_defaults_take_named_tables_and_keep_their_comments() -> None:
    """`config init` wrote `agents = {}` and `prices = {}`, so the README's `[agents.explore]`
    and `[prices."codex/my-model"]` examples failed (declared twice)."""
    path = Path(paths.config_file())
    assert edit.ensure_file(str(path))
    text = path.read_text()
    assert "agents = {}" not in text and "prices = {}" not in text
    assert "# [agents.explore]" in text and '# [prices."codex/my-model"]' in text
    path.write_text(
        text + '\n[agents.explore]\nprovider = "codex"\n\n'
        '[prices."codex/my-model"]\ninput = 1.25\noutput = 10.0\nsource = "contract"\n'
    )
    assert config.load().agents["explore"].provider == "codex"
    edit.set_value(str(path), "agents.writer.provider", "gemini")
    with pytest.raises(ConfigError, match=r"prices\.codex/other\.output' is required"):
        edit.set_value(str(path), 'prices."codex/other".input', "2")  # a price needs all three
    edit.set_value(
        str(path), 'prices."codex/other"', '{input = 2, output = 8, source = "their page"}'
    )
    loaded = config.load()
    assert (loaded.agents["explore"].provider, loaded.agents["writer"].provider) == (
        "codex",
        "gemini",
    )
    assert loaded.prices["codex/other"].output == 8.0
    assert "# Route MEDIUM and LOW agents" in path.read_text()


def test_set_refuses_keys_the_named_tables_do_not_have() -> None:
    path = write("")
    with pytest.raises(ConfigError, match=r"unknown key 'agents\.explore\.color'"):
        edit.set_value(str(path), "agents.explore.color", "red")
    with pytest.raises(ConfigError, match="not a key"):
        edit.set_value(str(path), 'prices."codex', "1")
    assert path.read_text() == ""


def test_show_and_get_print_agent_and_price_tables(capsys: pytest.CaptureFixture[str]) -> None:
    """`config show` and `config get agents` raised TypeError (AgentOverride is not TOML
    serializable) while `config validate` called the file valid."""
    from omcm.cli.main import main

    write(
        '[agents.explore]\nprovider = "codex"\n\n'
        '[prices."codex/my-model"]\ninput = 1.25\noutput = 10.0\nsource = "contract"\n'
    )
    assert main(["config", "show"]) == 0
    shown = capsys.readouterr().out
    assert '[agents.explore]\nprovider = "codex"\n' in shown
    assert '[prices."codex/my-model"]\ninput = 1.25\noutput = 10.0\nsource = "contract"' in shown
    assert validate.parse_text(shown, "shown") == config.load()
    assert main(["config", "get", "agents"]) == 0
    assert capsys.readouterr().out.strip() == '{ explore = { provider = "codex" } }'
    assert main(["config", "get", "agents.explore.provider"]) == 0
    assert capsys.readouterr().out.strip() == "codex"


def test_a_pool_whose_min_is_above_its_max_is_refused() -> None:
    """`[providers.codex.pool] min = 5, max = 2` passed validation (issue 16, defect 13)."""
    write("[providers.codex.pool]\nmin = 5\nmax = 2\n")
    with pytest.raises(
        ConfigError, match=r"'providers\.codex\.pool\.min' \(5\) must not be above .*\(2\)"
    ):
        config.load()

"""Configuration: the generated default file stays in sync, and bad input gets an error naming key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import AppConfig, ConfigError, config_from_mapping, load_config, render_table
from bot.config_template import render_default_toml

ROOT = Path(__file__).resolve().parents[1]


def test_default_toml_is_generated_from_the_models():
    committed = (ROOT / "config" / "default.toml").read_text()
    assert committed == render_default_toml(), "run: python -m bot.config_template > config/default.toml"


def test_default_toml_loads_to_the_defaults():
    assert load_config(ROOT / "config" / "default.toml") == AppConfig()


def test_every_setting_is_documented():
    from bot.config import iter_settings

    undocumented = [key for key, _, doc in iter_settings(AppConfig()) if not doc.strip()]
    assert undocumented == []


def test_unknown_key_suggests_the_close_match():
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"broker": {"prot": 4002}})
    assert "broker.prot" in str(info.value)
    assert "did you mean `broker.port`" in str(info.value)


def test_bad_value_names_key_value_and_fix():
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"broker": {"port": 70000}})
    text = str(info.value)
    assert "`broker.port`" in text and "70000" in text and "at most 65535" in text


def test_remote_host_refused_unless_allowed():
    with pytest.raises(ConfigError, match="not a loopback address"):
        config_from_mapping({"broker": {"host": "192.0.2.10"}})
    cfg = config_from_mapping({"broker": {"host": "192.0.2.10", "allow_remote_host": True}})
    assert cfg.broker.host == "192.0.2.10"


def test_scenario_and_replay_are_exclusive():
    with pytest.raises(ConfigError, match="keep only one"):
        config_from_mapping({"broker": {"simulator_scenario": "spike", "simulator_replay_dir": "/tmp"}})


def test_toml_syntax_error_is_reported_with_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[broker\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_table_marks_changed_values():
    table = render_table(config_from_mapping({"broker": {"port": 7497}}))
    line = next(row for row in table.splitlines() if row.startswith("broker.port "))
    assert "7497" in line and line.endswith("*")


def test_check_config_cli_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text('[bot]\nmode = "paper"\n')
    assert main(["check-config", str(good)]) == 0
    assert "bot.mode" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text('[bot]\nmode = "yolo"\n')
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bot.mode" in err and "Traceback" not in err
    assert main(["check-config", str(tmp_path / "missing.toml")]) == 2


def test_rule_naming_an_unconfigured_external_signal_is_refused():
    from bot.settings.layers import LayerSettings

    rules = [rule.model_dump() for rule in LayerSettings().rules]
    rules[0]["signals"] = [*rules[0]["signals"], "external:pe_ratio"]
    with pytest.raises(ConfigError, match="external:pe_ratio"):
        config_from_mapping({"layers": {"rules": rules}})

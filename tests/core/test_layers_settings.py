"""LayerSettings: rules are checked when the configuration loads, not when a spike arrives."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.config import ConfigError, config_from_mapping
from bot.settings.layers import LayerSettings, QuorumRuleSettings, check_signal_names
from bot.settings.signals import ExternalRule, SignalSettings


def rule(name: str, m: int, *signals: str) -> dict:
    return {"name": name, "signals": list(signals), "m": m}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (rule("x", 1, "vix_rsl"), "unknown signal(s) ['vix_rsl']"),
        (rule("x", 1, "!!vix_rsi"), "malformed signal reference"),
        (rule("x", 3, "vix_rsi", "breadth"), "m=3 exceeds its 2 signals"),
        (rule("x", 1), "lists no signals"),
        (rule("x", 1, "vix_rsi", "vix_rsi"), "lists a signal twice"),
        (rule("Bad Name", 1, "vix_rsi"), "must match"),
    ],
)
def test_bad_rules_are_refused(data, message):
    with pytest.raises(ValidationError) as info:
        QuorumRuleSettings(**data)
    assert message in str(info.value)


def test_layers_must_refer_to_defined_rules():
    with pytest.raises(ValidationError, match=r"layer1 refers to undefined rule\(s\) \['nope'\]"):
        LayerSettings(layer1={"arm": ["nope"]})
    with pytest.raises(ValidationError, match="repeated: calm"):
        LayerSettings(rules=[rule("calm", 1, "!vix_rsi"), rule("calm", 1, "!vix_level")])
    with pytest.raises(ValidationError, match="layer 2 only"):
        LayerSettings(layer3={"thicken": ["l2_thicken"]})


def test_external_references_must_be_configured_as_signals():
    layers = LayerSettings(rules=[*LayerSettings().rules, QuorumRuleSettings(**rule("pe_drop", 1, "external:pe"))])
    with pytest.raises(ValueError, match=r"external:pe.*\[signals\] externals"):
        check_signal_names(layers, SignalSettings())
    ok = SignalSettings(externals=[ExternalRule(name="pe", file="pe.csv", direction="below", threshold=15.0)])
    check_signal_names(layers, ok)


def test_a_config_file_with_a_typo_in_a_rule_fails_at_load_with_the_key():
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"layers": {"rules": [rule("calm", 2, "!vix_rsi", "!vix_levl")]}})
    text = str(info.value)
    assert "layers.rules" in text and "!vix_levl" in text


def test_the_defaults_are_consistent_with_the_default_signals():
    check_signal_names(LayerSettings(), SignalSettings())
    compiled = LayerSettings().quorum_rules
    assert compiled["calm"].signals == ("!vix_rsi", "!vix_level", "!term_structure") and compiled["calm"].m == 2

"""The broker timings live in `[broker]`: validated with errors naming the key, and read by the facade from there."""

from __future__ import annotations

import pytest

from bot.broker import Broker, BrokerTuning
from bot.config import ConfigError, config_from_mapping
from bot.settings.broker import BrokerSettings


@pytest.mark.parametrize(
    ("key", "value", "fix"),
    [
        ("market_data_type", 5, "use one of 1, 2, 3 or 4"),
        ("watchdog_timeout_s", 0, "greater than 0"),
        ("watchdog_interval_s", -1.0, "greater than 0"),
        ("reconnect_initial_s", 0, "greater than 0"),
        ("initial_connect_attempts", 0, "at least 1"),
        ("historical_concurrency", 0, "at least 1"),
        ("pacing_retries", -1, "at least 0"),
        ("client_id_in_use_backoff_s", -0.5, "at least 0"),
    ],
)
def test_a_bad_timing_names_the_key_and_the_fix(key, value, fix) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_mapping({"broker": {key: value}})
    text = str(info.value)
    assert f"`broker.{key}`" in text and repr(value) in text and fix in text


def test_a_backoff_ceiling_below_the_first_wait_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"reconnect_max_s \(0.5\) is below broker.reconnect_initial_s \(2\)"):
        config_from_mapping({"broker": {"reconnect_initial_s": 2.0, "reconnect_max_s": 0.5}})


def test_a_legacy_tuning_replaces_only_the_keys_it_sets() -> None:
    settings = BrokerSettings(watchdog_interval_s=3.0, reconnect_max_s=5.0, library="ib_insync")
    broker = Broker(settings, tuning=BrokerTuning(reconnect_initial_s=0.1, client_id_in_use_backoff_s=1.0))
    assert broker.settings.reconnect_initial_s == 0.1 and broker.settings.client_id_in_use_backoff_s == 1.0
    assert broker.settings.watchdog_interval_s == 3.0 and broker.settings.reconnect_max_s == 5.0  # from the config
    assert BrokerTuning().apply(settings) == settings


def test_a_legacy_tuning_is_validated_like_the_config() -> None:
    with pytest.raises(ValueError, match="market_data_type"):
        BrokerTuning(market_data_type=7).apply(BrokerSettings())
    with pytest.raises(ValueError, match="reconnect_max_s"):
        BrokerTuning(reconnect_initial_s=5.0, reconnect_max_s=1.0).apply(BrokerSettings())

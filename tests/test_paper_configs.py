"""Every shipped configuration must validate: a broken example is the first thing a new user meets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "paper_configs").glob("*.toml"))


def test_there_are_configs_for_every_documented_setup():
    names = {path.stem for path in CONFIGS}
    assert {"sim", "ib_gateway_paper", "tws_paper", "approval", "live_example"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_loads(path):
    config = load_config(path)
    assert config.broker.host in ("127.0.0.1", "localhost")


def test_sim_config_starts_the_simulator():
    config = load_config(Path(__file__).resolve().parents[1] / "paper_configs" / "sim.toml")
    assert config.broker.uses_simulator and config.broker.simulator_scenario == "spike"


def test_live_example_is_not_live_by_default():
    config = load_config(Path(__file__).resolve().parents[1] / "paper_configs" / "live_example.toml")
    assert config.bot.mode == "approval" and config.bot.live_account

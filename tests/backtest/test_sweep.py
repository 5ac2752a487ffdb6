"""`alvh sweep`: every set is run and counted, bad grids are user errors, the table is per parameter value."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bot.backtest.sweep import combinations, config_with
from bot.cli import main
from bot.config import AppConfig, ConfigError

from .synth import make_data_dir


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data_dir(tmp_path_factory.mktemp("synth"))


def test_combinations_cover_the_whole_grid() -> None:
    sets = list(combinations({"a.x": (1.0, 2.0), "b.y": (3.0, 4.0, 5.0)}))
    assert len(sets) == 6 and {"a.x": 2.0, "b.y": 5.0} in sets


def test_overrides_are_validated_like_a_config_file() -> None:
    c = config_with(AppConfig(), {"condor.short_delta": 0.2, "sizing.h_max": 0.55})
    assert c.backtest.condor.short_delta == 0.2 and c.sizing.h_max == 0.55
    assert c.backtest.condor.take_profit == AppConfig().backtest.condor.take_profit
    assert config_with(AppConfig(), {"backtest.condor.short_delta": 0.2}) == config_with(
        AppConfig(), {"condor.short_delta": 0.2}
    )
    with pytest.raises(ConfigError, match="not a setting"):
        config_with(AppConfig(), {"condor.short_detla": 0.2})
    with pytest.raises(ConfigError, match="short_delta"):
        config_with(AppConfig(), {"condor.short_delta": 0.9})


def test_sweep_runs_and_counts_every_set(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "sweep"
    argv = ["sweep", "--data", str(data_dir), "--workers", "2", "--out", str(out), "--json"]
    argv += ["--grid", "condor.short_delta=0.1,0.2", "--grid", "competitors.futures_hedge_ratio=0.25,0.5,1"]
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["tried"] == 6 and payload["failed"] == 0 and len(payload["sets"]) == 6
    params = {(row["condor.short_delta"], row["competitors.futures_hedge_ratio"]) for row in payload["sets"]}
    assert len(params) == 6
    by_value = {(e["parameter"], e["value"]): e for e in payload["sensitivity"]}
    assert by_value[("condor.short_delta", 0.1)]["sets"] == 3
    assert by_value[("competitors.futures_hedge_ratio", 1.0)]["sets"] == 2
    # the hedge ratio cannot change the unhedged book, but it does change the hedged one
    unhedged = {by_value[("competitors.futures_hedge_ratio", h)]["unhedged.annual_return.median"] for h in (0.25, 1.0)}
    assert len(unhedged) == 1
    hedged = [
        by_value[("competitors.futures_hedge_ratio", h)]["futures_always.annual_return.median"] for h in (0.25, 1)
    ]
    assert hedged[0] != hedged[1]
    with (out / "sweep_sets.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 6
    assert "Parameter sets tried: 6" in (out / "sensitivity.md").read_text()


def test_bad_grid_is_a_user_error(data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["sweep", "--data", str(data_dir), "--grid", "condor.nope=1,2"]) == 2
    assert "not a setting" in capsys.readouterr().err
    assert main(["sweep", "--data", str(data_dir), "--grid", "condor.short_delta"]) == 2
    assert "expected KEY=V1,V2" in capsys.readouterr().err


def test_sweep_can_include_alvh_and_strategy_settings(data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["sweep", "--data", str(data_dir), "--workers", "1", "--alvh", "--json", "--grid", "sizing.h_max=0.5,0.6"]
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["tried"] == 2 and payload["failed"] == 0
    assert all("alvh.max_drawdown" in row for row in payload["sets"])

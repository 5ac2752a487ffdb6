"""`alvh backtest` on a synthetic directory: the documented files and columns, --json, and clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bot.cli import main

from .synth import make_data_dir

COLUMNS = ["date", "unhedged", "alvh", "vixy_constant", "vxth_calls", "futures_always"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data_dir(tmp_path_factory.mktemp("synth"))


def test_out_writes_the_documented_files(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert main(["backtest", "--data", str(data_dir), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"equity.csv", "metrics.json", "report.md", "equity_drawdown.png", "layers_vix.png"} <= names
    assert "window_table.png" in names and "cndr_check.png" in names
    equity = pd.read_csv(out / "equity.csv")
    assert list(equity.columns) == COLUMNS
    source_days = pd.read_csv(data_dir / "spx_daily.csv")["date"]
    assert equity["date"].tolist() == source_days.tolist()  # one row per trading day
    assert equity["unhedged"].notna().all() and equity["futures_always"].notna().all()
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["strategies"]) == set(COLUMNS[1:])
    assert metrics["windows_covered"]["Oct 2008"] is False  # 2017-2018 data: reported as not covered
    assert metrics["windows_covered"]["Feb 2018"] is True
    assert metrics["strategies"]["unhedged"]["windows"]["Oct 2008"] is None
    assert metrics["strategies"]["unhedged"]["window_hedge_pnl"]["Feb 2018"] == 0.0
    assert metrics["strategies"]["futures_always"]["window_hedge_pnl"]["Feb 2018"] > 0  # long VX in the spike
    assert metrics["condors"]["window_pnl"]["Feb 2018"] < 0 and metrics["condors"]["window_pnl"]["Oct 2008"] is None
    assert "not covered" in (out / "report.md").read_text()
    assert capsys.readouterr().out.startswith("wrote ")


def test_json_prints_metrics(data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["backtest", "--data", str(data_dir), "--json", "--start", "2017-09-01"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["period"]["start"] == "2017-09-01"
    assert metrics["strategies"]["unhedged"]["ran"] is True


def test_bad_data_is_one_clear_line_not_a_traceback(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in data_dir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    lines = (bad / "spx_daily.csv").read_text().splitlines()
    fields = lines[3].split(",")
    fields[4] = "oops"  # the close
    lines[3] = ",".join(fields)
    (bad / "spx_daily.csv").write_text("\n".join(lines) + "\n")
    assert main(["backtest", "--data", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad / 'spx_daily.csv'}:4: column 'close'" in err
    assert "Traceback" not in err


def test_bad_dates_are_user_errors(data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["backtest", "--data", str(data_dir), "--start", "2018-13-01"]) == 2
    assert "is not a date" in capsys.readouterr().err
    assert main(["backtest", "--data", str(data_dir), "--start", "2030-01-01", "--end", "2030-02-01"]) == 2
    assert "fewer than 2 trading days" in capsys.readouterr().err

"""Data loading and validation: every validator error names file, line and problem; x10 VX quotes rescale once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.backtest.cboe import read_cfe_directory, read_vix_history
from bot.backtest.data import load_directory
from bot.backtest.validate import DataError, Warnings

from .synth import make_data_dir

REAL_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data_dir(tmp_path_factory.mktemp("synth"))


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def _edit_line(path: Path, line_no: int, new: str) -> None:
    lines = path.read_text().splitlines()
    lines[line_no - 1] = new
    path.write_text("\n".join(lines) + "\n")


def test_synthetic_directory_loads_aligned(data_dir: Path) -> None:
    data = load_directory(data_dir)
    assert data.n == 320
    assert np.all(np.diff(data.dates.astype(np.int64)) > 0)
    f1 = data.vx.f1
    assert (f1 >= 0).all()
    # F1 is the nearest contract expiring strictly after the day
    assert all(data.vx.expiry[f1[i]] > data.dates[i] for i in range(data.n))


def test_bad_date_names_file_line_and_problem(data_dir: Path, tmp_path: Path) -> None:
    d = _copy(data_dir, tmp_path / "d")
    path = d / "spx_daily.csv"
    fields = path.read_text().splitlines()[4].split(",")
    fields[0] = "06/07/2017"
    _edit_line(path, 5, ",".join(fields))
    with pytest.raises(DataError) as info:
        load_directory(d)
    msg = str(info.value)
    assert msg.startswith(f"{path}:5:") and "'date'" in msg and "not a date" in msg


def test_non_numeric_cell(data_dir: Path, tmp_path: Path) -> None:
    d = _copy(data_dir, tmp_path / "d")
    path = d / "vix_family_daily.csv"
    fields = path.read_text().splitlines()[9].split(",")
    fields[4] = "n/a"
    _edit_line(path, 10, ",".join(fields))
    with pytest.raises(DataError) as info:
        load_directory(d)
    assert str(info.value).startswith(f"{path}:10:") and "'vix_close'" in str(info.value)


def test_duplicate_and_unsorted_dates(data_dir: Path, tmp_path: Path) -> None:
    d = _copy(data_dir, tmp_path / "d")
    path = d / "spx_daily.csv"
    lines = path.read_text().splitlines()
    _edit_line(path, 8, lines[6])  # line 8 repeats line 7
    with pytest.raises(DataError) as info:
        load_directory(d)
    assert str(info.value).startswith(f"{path}:8:") and "duplicate date" in str(info.value)
    lines[6], lines[7] = lines[7], lines[6]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        load_directory(d)
    assert str(info.value).startswith(f"{path}:8:") and "must increase" in str(info.value)


def test_missing_column_and_missing_file(data_dir: Path, tmp_path: Path) -> None:
    d = _copy(data_dir, tmp_path / "d")
    path = d / "fed_funds_daily.csv"
    path.write_text("date,rate\n2000-01-03,1.5\n")
    with pytest.raises(DataError) as info:
        load_directory(d)
    assert str(info.value).startswith(f"{path}:1:") and "missing column(s) ['value']" in str(info.value)
    path.unlink()
    with pytest.raises(DataError, match=r"fed_funds_daily\.csv: file not found"):
        load_directory(d)


def test_ragged_row_and_non_positive_price(data_dir: Path, tmp_path: Path) -> None:
    d = _copy(data_dir, tmp_path / "d")
    path = d / "cboe_cndr_index.csv"
    _edit_line(path, 6, "2017-06-08,101.0,extra,fields")
    with pytest.raises(DataError) as info:
        load_directory(d)
    assert str(info.value).startswith(f"{path}:6:") and "malformed CSV" in str(info.value)
    _edit_line(path, 6, "2017-06-08,-3")
    with pytest.raises(DataError) as info:
        load_directory(d)
    assert str(info.value).startswith(f"{path}:6:") and "not a positive price" in str(info.value)


def test_bad_bool_flag(data_dir: Path, tmp_path: Path) -> None:
    d = _copy(data_dir, tmp_path / "d")
    path = d / "vx_contracts.csv"
    fields = path.read_text().splitlines()[2].split(",")
    fields[-1] = "maybe"
    _edit_line(path, 3, ",".join(fields))
    with pytest.raises(DataError) as info:
        load_directory(d)
    assert str(info.value).startswith(f"{path}:3:") and "'settle_suspect'" in str(info.value)


def test_holiday_rows_and_suspect_settles_are_dropped(data_dir: Path, tmp_path: Path) -> None:
    d = _copy(data_dir, tmp_path / "d")
    vix = pd.read_csv(d / "vix_family_daily.csv")
    vix.loc[10, "spx_trading_day"] = False
    vix.to_csv(d / "vix_family_daily.csv", index=False)
    vx = pd.read_csv(d / "vx_contracts.csv")
    vx.loc[0, "settle_suspect"] = True
    vx.to_csv(d / "vx_contracts.csv", index=False)
    data = load_directory(d)
    assert data.n == 319
    assert np.datetime64(vix.loc[10, "date"]) not in set(data.dates)
    col = data.vx.codes.index(vx.loc[0, "contract"])
    assert np.isnan(data.vx.settle[0, col])
    assert any("spx_trading_day False" in w for w in data.warnings)


def _vx_rows(settle: float, flagged: bool | None) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "trade_date": ["2006-05-01", "2007-04-02"],
            "contract": ["VXK2006", "VXM2007"],
            "expiry": ["2006-05-17", "2007-06-20"],
            "settle": [settle, 14.0],
        }
    )
    if flagged is not None:
        frame["rescaled_div10"] = [flagged, False]
    return frame


def _shared_dir_with_vx(data_dir: Path, tmp_path: Path, vx: pd.DataFrame) -> Path:
    d = _copy(data_dir, tmp_path / "d")
    spx = pd.read_csv(d / "spx_daily.csv")
    vix = pd.read_csv(d / "vix_family_daily.csv")
    spx.loc[0, "date"], spx.loc[1, "date"] = "2006-05-01", "2007-04-02"
    vix.loc[0, "date"], vix.loc[1, "date"] = "2006-05-01", "2007-04-02"
    spx.iloc[:2].to_csv(d / "spx_daily.csv", index=False)
    vix.iloc[:2].to_csv(d / "vix_family_daily.csv", index=False)
    vx.to_csv(d / "vx_contracts.csv", index=False)
    return d


@pytest.mark.parametrize(
    ("settle", "flagged", "expected"),
    [
        (125.0, None, 12.5),  # raw x10 quote in the shared layout: divided
        (12.5, True, 12.5),  # already rescaled (the shared file): never divided twice
        (125.0, False, 12.5),  # unflagged x10 quote: divided
    ],
)
def test_x10_rescale_happens_exactly_once(
    data_dir: Path, tmp_path: Path, settle: float, flagged: bool | None, expected: float
) -> None:
    d = _shared_dir_with_vx(data_dir, tmp_path, _vx_rows(settle, flagged))
    data = load_directory(d)
    assert data.vx.settle[0, data.vx.codes.index("VXK2006")] == pytest.approx(expected)
    assert data.vx.settle[1, data.vx.codes.index("VXM2007")] == pytest.approx(14.0)  # after cutover: untouched


def test_flagged_row_still_at_x10_is_an_error(data_dir: Path, tmp_path: Path) -> None:
    d = _shared_dir_with_vx(data_dir, tmp_path, _vx_rows(125.0, True))
    with pytest.raises(DataError) as info:
        load_directory(d)
    assert str(info.value).startswith(f"{d / 'vx_contracts.csv'}:2:") and "x10" in str(info.value)


def test_raw_cboe_files(tmp_path: Path) -> None:
    (tmp_path / "CFE_K04_VX.csv").write_text(
        "Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\n"
        "3/26/2004,K (May 04),212.4,212.5,202.7,202.7,203.2,0,216,0,144\n"
        "5/19/2004,K (May 04),0,0,0,0,183.55,-8.95,0,0,1111\n"
    )
    (tmp_path / "CFE_J07_VX.csv").write_text(
        "CFE data is compiled for the convenience of site visitors\n"
        "Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\n"
        "3/23/2007,J (Apr 07),150,151,149,150,150.5,0,10,0,100\n"
        "3/26/2007,J (Apr 07),15.1,15.2,14.9,15,15.05,0,10,0,100\n"
    )
    frame = read_cfe_directory(tmp_path, Warnings())
    k04 = frame[frame.contract == "VXK2004"]
    assert list(k04.settle) == pytest.approx([20.32, 18.355])
    assert np.isnan(k04.close.iloc[1])  # 0 = no trade on the final settlement row
    assert str(k04.expiry.iloc[0])[:10] == "2004-05-19"
    assert list(frame[frame.contract == "VXJ2007"].settle) == pytest.approx([15.05, 15.05])
    (tmp_path / "CFE_J07_VX.csv").write_text(
        "Trade Date,Futures,Open,High,Low,Close,Settle,Change,Total Volume,EFP,Open Interest\n"
        "3/23/2007,J (Apr 07),150,151,149,150,,0,10,0,100\n"
    )
    with pytest.raises(DataError) as info:
        read_cfe_directory(tmp_path, Warnings())
    assert str(info.value).startswith(f"{tmp_path / 'CFE_J07_VX.csv'}:2:") and "'Settle' is empty" in str(info.value)


def test_vix_history_format(tmp_path: Path) -> None:
    path = tmp_path / "VIX_History.csv"
    path.write_text("DATE,OPEN,HIGH,LOW,CLOSE\n01/02/1990,17.240000,17.240000,17.240000,17.240000\n")
    frame = read_vix_history(path)
    assert str(frame.date.iloc[0])[:10] == "1990-01-02" and frame.vix_close.iloc[0] == 17.24
    path.write_text("DATE,OPEN,HIGH,LOW,CLOSE\n1990-01-02,17.24,17.24,17.24,17.24\n")
    with pytest.raises(DataError, match=r"VIX_History.csv:2: column 'DATE'.*%m/%d/%Y"):
        read_vix_history(path)


def test_real_data_loads() -> None:
    if not (REAL_DATA / "vix_family_daily.csv").is_file():
        pytest.skip(f"real data not found at {REAL_DATA.resolve()}")
    data = load_directory(REAL_DATA)
    day = data.index_of("2018-02-05")
    assert data.vx.settle[day, data.vx.f1[day]] == pytest.approx(33.225)
    assert data.vx.settle[day, data.vx.f2[day]] == pytest.approx(27.975)
    assert np.datetime64("2004-06-11") not in set(data.dates)  # spx_trading_day False row
    first = data.index_of("2004-03-26")
    assert 15 < data.vx.settle[first, data.vx.f1[first]] < 25  # already rescaled, not divided twice

"""Replay of ../shared/data: real closes reproduced at their close instants, real VX contracts, clear errors."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bot.settings.sim import SimSettings
from bot.sim.market import catalog, hours
from bot.sim.market.catalog import FutKey, front_two
from bot.sim.market.factory import build_market
from bot.sim.market.replay import FILES, ReplayError

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SAMPLE_DAYS = (dt.date(2018, 2, 5), dt.date(2018, 2, 12), dt.date(2018, 3, 1))

pytestmark = pytest.mark.skipif(
    not (DATA / "vix_family_daily.csv").is_file(), reason=f"shared market data not found at {DATA}"
)


@pytest.fixture(scope="module")
def replay():
    settings = SimSettings(replay_start=dt.date(2018, 1, 16), replay_end=dt.date(2018, 3, 29))
    return build_market(replay_dir=DATA, settings=settings)


@pytest.fixture(scope="module")
def real():
    vix = pd.read_csv(DATA / "vix_family_daily.csv", parse_dates=["date"]).set_index("date")
    spx = pd.read_csv(DATA / "spx_daily.csv", parse_dates=["date"]).set_index("date")
    vx = pd.read_csv(DATA / "vx_contracts.csv", parse_dates=["trade_date"])
    vixy = pd.read_csv(DATA / "vixy_daily.csv", parse_dates=["date"]).set_index("date")
    return vix, spx, vx, vixy


def _at(day: dt.date, hh: int, mm: int, ss: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm, ss), tzinfo=hours.ET).astimezone(dt.UTC)


@pytest.mark.parametrize("day", SAMPLE_DAYS)
def test_real_closes_at_1615_et(replay, real, day):
    vix, spx, vx, _ = real
    t = _at(day, 16, 15)
    ts = pd.Timestamp(day)
    assert replay.path.vix(t) == pytest.approx(vix.loc[ts, "vix_close"])
    assert replay.path.vix3m(t) == pytest.approx(vix.loc[ts, "vix3m_close"])
    assert replay.path.spx(t) == pytest.approx(spx.loc[ts, "close"])  # SPX closed at 16:00 and holds
    f1, f2 = front_two("VX", t)
    rows = vx[vx["trade_date"] == ts].set_index("contract")
    for key in (f1, f2):
        settle = rows.loc[f"VX{'FGHJKMNQUVXZ'[key.month - 1]}{key.year}", "settle"]
        assert replay.path.future(key, t) == pytest.approx(settle)
        q = replay.quote(catalog.con_id_of(key), t)  # VX trade until 16:00 CT, so they are quoted at 16:15 ET
        assert q.bid <= settle <= q.ask
    (bar,) = [b for b in replay.daily_bars(catalog.FIXED_IDS["VIX"], t, 30) if b.date == day]
    assert (bar.open, bar.high, bar.low, bar.close) == tuple(
        vix.loc[ts, ["vix_open", "vix_high", "vix_low", "vix_close"]]
    )


def test_2018_02_05_curve_inverts_as_it_did(replay):
    t = _at(dt.date(2018, 2, 5), 16, 15)
    f1, f2 = front_two("VX", t)
    assert replay.path.future(f1, t) == pytest.approx(33.225)
    assert replay.path.future(f2, t) == pytest.approx(27.975)


def test_vixy_is_rebased_by_real_returns(replay, real):
    vixy = real[3]
    a, b = dt.date(2018, 2, 2), dt.date(2018, 2, 5)
    ratio = replay.path.vixy(_at(b, 16, 0)) / replay.path.vixy(_at(a, 16, 0))
    assert ratio == pytest.approx(vixy.loc[pd.Timestamp(b), "close"] / vixy.loc[pd.Timestamp(a), "close"])
    assert replay.path.vixy(replay.info.start) == pytest.approx(replay.settings.vixy_start)


def test_intraday_moves_smoothly_between_closes(replay, real):
    vix = real[0]
    day, prev = dt.date(2018, 2, 5), dt.date(2018, 2, 2)
    lo, hi = vix.loc[pd.Timestamp(prev), "vix_close"], vix.loc[pd.Timestamp(day), "vix_close"]
    mid = replay.path.vix(_at(day, 12, 52))
    assert lo < mid < hi
    assert replay.path.vix(_at(day, 8, 0)) == pytest.approx(lo)  # before the open: the previous close


def test_warmup_history_and_expiry_settlement_are_real(replay, real):
    _vix, _, vx, _ = real
    bars = replay.daily_bars(catalog.FIXED_IDS["SPX"], replay.info.start, 400)
    assert len(bars) == 400 and bars[-1].date == dt.date(2018, 1, 16)
    feb = FutKey("VX", 2018, 2)  # expired 2018-02-14 inside the window
    final = vx[(vx["contract"] == "VXG2018") & (vx["trade_date"] == pd.Timestamp("2018-02-14"))]["settle"].iloc[0]
    assert replay.settlement_price(catalog.con_id_of(feb)) == pytest.approx(final, abs=0.005)
    fut_bars = replay.daily_bars(catalog.con_id_of(feb), replay.info.end, 500)
    assert fut_bars[-1].date == dt.date(2018, 2, 13)  # last full session before the expiry morning


def test_start_is_selectable_and_checked():
    settings = SimSettings(replay_start=dt.date(2019, 6, 3), replay_end=dt.date(2019, 7, 31))
    m = build_market(replay_dir=DATA, settings=settings)
    assert m.info.start.date() == dt.date(2019, 6, 3) and m.info.end.date() == dt.date(2019, 7, 31)
    with pytest.raises(ReplayError, match="warm-up"):
        build_market(replay_dir=DATA, settings=SimSettings(replay_start=dt.date(2011, 3, 1)))


def _copy(tmp_path: Path) -> Path:
    for name, _ in FILES.values():
        shutil.copy(DATA / name, tmp_path / name)
    return tmp_path


def test_missing_file_is_named(tmp_path):
    d = _copy(tmp_path)
    (d / "vixy_daily.csv").unlink()
    with pytest.raises(ReplayError, match=r"vixy_daily\.csv: missing"):
        build_market(replay_dir=d)


@pytest.mark.parametrize(
    ("name", "column", "value", "message"),
    [
        ("spx_daily.csv", "close", "abc", r"spx_daily\.csv: row 5: close 'abc' is not a number"),
        ("vix_family_daily.csv", "date", "2018-13-01", r"vix_family_daily\.csv: row 5: date .* not a YYYY-MM-DD"),
        ("vx_contracts.csv", "settle", "-1", r"vx_contracts\.csv: row 5: settle .* not positive"),
    ],
)
def test_malformed_file_gives_a_clear_error(tmp_path, name, column, value, message):
    d = _copy(tmp_path)
    df = pd.read_csv(d / name, dtype=str)
    df.loc[3, column] = value
    df.to_csv(d / name, index=False)
    with pytest.raises(ReplayError, match=message):
        build_market(replay_dir=d)


def test_missing_column_is_named(tmp_path):
    d = _copy(tmp_path)
    df = pd.read_csv(d / "vixy_daily.csv").drop(columns=["close"])
    df.to_csv(d / "vixy_daily.csv", index=False)
    with pytest.raises(ReplayError, match=r"vixy_daily\.csv: missing column\(s\) close"):
        build_market(replay_dir=d)


def test_series_interpolates_in_session_and_refuses_holes():
    from bot.sim.market.replay import Series

    days = [dt.date(2018, 3, 1), dt.date(2018, 3, 2), dt.date(2018, 3, 15)]
    s = Series.build(days, [10.0, 20.0, 30.0], "cboe", dt.time(16, 15))
    assert s.value(_at(days[1], 8, 0)) == 10.0  # before the open: previous close
    assert s.value(_at(days[1], 12, 52, 30)) == pytest.approx(15.0)  # half-way through 09:30-16:15
    assert s.value(_at(days[1], 16, 15)) == 20.0
    assert s.value(_at(dt.date(2018, 3, 5), 12, 0)) == 20.0  # a weekend and a day later: still the last close
    assert s.value(_at(dt.date(2018, 3, 14), 12, 0)) != s.value(_at(dt.date(2018, 3, 14), 12, 0))  # hole: NaN
    assert s.value(_at(days[2], 12, 0)) != s.value(_at(days[2], 12, 0))  # no previous close to move from
    assert s.value(_at(days[2], 16, 15)) == 30.0

"""Condor engine and implied-vol model: strikes at the target delta, sizing to the risk budget, exits by rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.backtest.condors import CondorEngine, spread_scale, vol_params
from bot.backtest.data import load_directory
from bot.backtest.volmodel import atm_term_points, atm_vol, smile_vol
from bot.pricing.black_scholes import bs_greeks
from bot.settings.backtest import CondorSettings, CostSettings, VolModelSettings

from .synth import make_data_dir

P = vol_params(VolModelSettings())


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory):
    return load_directory(make_data_dir(tmp_path_factory.mktemp("synth")))


def test_atm_term_structure_goes_through_the_indices() -> None:
    vix, vix9d, vix3m = np.array([20.0]), np.array([16.0]), np.array([24.0])
    points = atm_term_points(vix, vix9d, vix3m, P)
    r = P.atm_to_vix_ratio
    assert atm_vol(points, np.array([30 / 365]))[0] == pytest.approx(r * 0.20)
    assert atm_vol(points, np.array([9 / 365]))[0] == pytest.approx(r * 0.16)
    assert atm_vol(points, np.array([93 / 365]))[0] == pytest.approx(r * 0.24)
    mid = atm_vol(points, np.array([60 / 365]))[0]
    assert r * 0.20 < mid < r * 0.24


def test_missing_vix3m_reverts_toward_the_long_run_level() -> None:
    high = atm_term_points(np.array([40.0]), np.array([np.nan]), np.array([np.nan]), P)
    low = atm_term_points(np.array([11.0]), np.array([np.nan]), np.array([np.nan]), P)
    long_run = P.atm_to_vix_ratio * P.long_run_vol
    assert high[1][0] > high[2][0] > long_run  # inverted after a spike
    assert low[1][0] < low[2][0] < long_run  # upward sloping in calm markets
    assert high[0][0] > high[1][0]


def test_smile_puts_over_calls() -> None:
    atm, f, t = np.array(0.15), np.array(2700.0), np.array(45 / 365)
    put = smile_vol(atm, np.array(2500.0), f, t, np.array(130.0), P)
    call = smile_vol(atm, np.array(2900.0), f, t, np.array(130.0), P)
    flat = smile_vol(atm, np.array(2500.0), f, t, np.array(100.0), P)
    assert put > atm > call and flat == pytest.approx(0.15)


def test_condors_sized_to_the_risk_budget_and_shorts_at_target_delta(data) -> None:
    cfg = CondorSettings()
    engine = CondorEngine(data, cfg, VolModelSettings(), CostSettings())
    result = engine.run()
    assert len(result.trades) >= 8
    budget = cfg.risk_per_condor * cfg.capital
    for trade in result.trades:
        assert trade.max_loss <= budget
        assert trade.max_loss * (trade.quantity + 1) / trade.quantity > budget
        lp, sp, sc, lc = trade.strikes
        assert lp < sp < sc < lc
    first = result.trades[0]
    i = first.entry
    t = (first.expiry.astype(np.int64) - data.dates[i].astype(np.int64)) / 365
    atm = atm_vol(tuple(np.array([x[i]]) for x in engine.points), np.array([t]))[0]
    fwd = data.spx[i] * np.exp((data.rate[i] - cfg.dividend_yield) * t)
    vol = smile_vol(np.array(atm), np.array(first.strikes[1]), np.array(fwd), np.array(t), np.array(data.skew[i]), P)
    delta = bs_greeks(data.spx[i], first.strikes[1], t, data.rate[i], float(vol), "P", cfg.dividend_yield).delta
    assert abs(delta) == pytest.approx(cfg.short_delta, abs=0.03)  # strike grid rounding


def test_exits_follow_the_rules(data) -> None:
    cfg = CondorSettings()
    result = CondorEngine(data, cfg, VolModelSettings(), CostSettings()).run()
    for trade in result.trades:
        earned = trade.credit - trade.exit_value
        if trade.reason == "take_profit":
            assert earned >= cfg.take_profit * trade.credit - 1e-9
        elif trade.reason == "stop":
            assert -earned >= cfg.stop_multiple * trade.credit - 1e-9
        elif trade.reason == "exit_dte":
            assert (trade.expiry - data.dates[trade.exit]).astype(int) <= cfg.exit_dte
    reasons = {t.reason for t in result.trades}
    assert "take_profit" in reasons and "stop" in reasons  # calm months pay, the synthetic crash stops out
    # the daily P&L adds up to the trades' results net of costs
    gross = sum((t.credit - t.exit_value) * 100 * t.quantity for t in result.trades)
    assert result.pnl.sum() == pytest.approx(gross - result.costs.sum())


def test_wider_stop_never_exits_on_the_stop(data) -> None:
    cfg = CondorSettings(stop_multiple=100.0)
    result = CondorEngine(data, cfg, VolModelSettings(), CostSettings()).run()
    assert all(t.reason != "stop" for t in result.trades)


def test_spreads_widen_with_vix() -> None:
    assert spread_scale(np.array([10.0, 20.0, 40.0]), 1.0).tolist() == [1.0, 1.0, 2.0]


def test_real_data_condor_engine_runs_fast() -> None:
    real = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    if not (real / "vix_family_daily.csv").is_file():
        pytest.skip(f"real data not found at {real.resolve()}")
    data = load_directory(real).slice("2004-03-26", "2019-12-31")
    result = CondorEngine(data, CondorSettings(), VolModelSettings(), CostSettings()).run()
    assert len(result.trades) > 150
    assert np.isfinite(result.pnl).all()


def test_cndr_style_wings_by_delta_and_monthly_roll(data) -> None:
    cfg = CondorSettings(
        entry_schedule="monthly_expiry",
        entry_dte=30,
        max_open=1,
        short_delta=0.20,
        wing_delta=0.05,
        take_profit=1.0,
        stop_multiple=100.0,
        exit_dte=0,
    )
    engine = CondorEngine(data, cfg, VolModelSettings(), CostSettings())
    result = engine.run()
    expiry_days = set(np.searchsorted(engine.day_num, engine.expiries.astype(np.int64), side="right") - 1)
    assert len(result.trades) >= 8
    for trade in result.trades:
        assert trade.entry == 0 or trade.entry in expiry_days  # entries only on the roll
        assert trade.reason in ("expiry", "open_at_end")  # held to expiry
    first = result.trades[1]
    i = first.entry
    t = (first.expiry.astype(np.int64) - data.dates[i].astype(np.int64)) / 365
    atm = atm_vol(tuple(np.array([x[i]]) for x in engine.points), np.array([t]))[0]
    fwd = data.spx[i] * np.exp((data.rate[i] - cfg.dividend_yield) * t)
    k = first.strikes[0]
    vol = smile_vol(np.array(atm), np.array(k), np.array(fwd), np.array(t), np.array(data.skew[i]), P)
    delta = bs_greeks(data.spx[i], k, t, data.rate[i], float(vol), "P", cfg.dividend_yield).delta
    assert abs(delta) == pytest.approx(0.05, abs=0.02)


def test_wing_delta_must_be_inside_the_short_delta() -> None:
    with pytest.raises(ValueError, match="wing_delta"):
        CondorSettings(short_delta=0.10, wing_delta=0.15)

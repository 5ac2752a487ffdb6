"""Hedge legs trade at t+1 prices only (no look-ahead), roll before expiry, and pay their costs."""

from __future__ import annotations

import numpy as np
import pytest

from bot.backtest.data import MarketData, VxCurve
from bot.backtest.hedges import futures_leg, hold_contract, vixy_leg, vixy_returns
from bot.settings.backtest import CostSettings

FREE = CostSettings(
    vx_commission=0.0, vx_half_spread=0.0, vx_roll_slippage=0.0, vixy_half_spread_bps=0.0, vixy_commission_bps=0.0
)


def tiny_market(front: np.ndarray, vixy: np.ndarray | None = None, n_days: int | None = None) -> MarketData:
    """Business days from 2018-01-02; one front VX contract expiring far away (plus a second, flat)."""
    n = len(front) if n_days is None else n_days
    dates = np.busday_offset(np.datetime64("2018-01-02"), np.arange(n), roll="forward")
    settle = np.column_stack([front, np.full(n, 20.0)])
    vx = VxCurve(
        ("VXK2018", "VXM2018"),
        np.array(["2018-05-16", "2018-06-20"], dtype="datetime64[D]"),
        settle,
        np.zeros(n, dtype=np.int64),
        np.ones(n, dtype=np.int64),
    )
    nan = np.full(n, np.nan)
    return MarketData(
        source="test",
        dates=dates,
        spx=np.full(n, 2700.0),
        vix=np.full(n, 15.0),
        vix9d=nan,
        vix3m=nan,
        vvix=nan,
        skew=nan,
        rate=np.full(n, 0.01),
        vx=vx,
        vixy=nan if vixy is None else vixy,
        breadth_net=nan,
        cndr=nan,
        macro_dates=np.array([], dtype="datetime64[D]"),
        macro_events=(),
    )


def _jump_market() -> tuple[MarketData, int]:
    k = 10
    front = np.where(np.arange(30) < k, 15.0, 30.0)  # the future doubles on day k's settle
    return tiny_market(front), k


def test_a_signal_on_day_t_trades_at_t_plus_1() -> None:
    data, k = _jump_market()
    for decided_on, expected in [(k - 2, 15_000.0), (k - 1, 0.0), (k, 0.0)]:
        target = np.zeros(data.n)
        target[decided_on:] = 1.0
        leg = futures_leg(data, target, FREE, roll_days=0, step=0.1)
        assert leg.pnl.sum() == pytest.approx(expected), f"decided on day {decided_on}"
        assert leg.exposure[decided_on] == 0.0 and leg.exposure[decided_on + 1] == 1.0


def test_look_ahead_would_have_changed_the_result() -> None:
    """The same target shifted one day earlier (what look-ahead would do) captures the jump: the test above is
    therefore sensitive to the timing, not trivially zero."""
    data, k = _jump_market()
    target = np.zeros(data.n)
    target[k - 1 :] = 1.0  # as if the day-k signal had been known at the close of k-1
    assert futures_leg(data, target, FREE, roll_days=0, step=0.1).pnl.sum() == pytest.approx(0.0)
    target[k - 2 :] = 1.0
    assert futures_leg(data, target, FREE, roll_days=0, step=0.1).pnl.sum() == pytest.approx(15_000.0)


def test_vixy_trades_at_the_next_close() -> None:
    k = 8
    close = np.where(np.arange(20) < k, 100.0, 150.0)
    data = tiny_market(np.full(20, 15.0), vixy=close)
    for decided_on, expected in [(k - 2, 5_000.0), (k - 1, 0.0)]:
        target = np.zeros(data.n)
        target[decided_on:] = 10_000.0
        leg = vixy_leg(data, target, FREE)
        assert leg.pnl.sum() == pytest.approx(expected)


def test_costs_are_charged_on_trades_and_rolls() -> None:
    n = 30
    data = tiny_market(np.full(n, 15.0))
    target = np.ones(n)
    costs = CostSettings(vx_commission=2.0, vx_half_spread=0.05, vx_roll_slippage=0.0)
    leg = futures_leg(data, target, costs, roll_days=0, step=0.1)
    assert leg.costs.sum() == pytest.approx(2.0 + 50.0)  # one buy: commission + half spread x 1000
    assert leg.pnl.sum() == pytest.approx(-52.0)


def test_roll_switches_contract_before_expiry() -> None:
    n = 100  # 2018-01-02 .. 2018-05-21: passes the first contract's 2018-05-16 expiry
    data = tiny_market(np.full(n, 15.0))
    held = hold_contract(data, roll_days=5)
    expiry_idx = int(np.searchsorted(data.dates, np.datetime64("2018-05-16")))
    assert held[expiry_idx - 6] == 0 and held[expiry_idx - 5] == 1
    leg = futures_leg(data, np.ones(n), CostSettings(vx_roll_slippage=0.1), roll_days=5, step=0.1)
    roll_day = expiry_idx - 5
    assert leg.costs[roll_day] > leg.costs[roll_day - 1]


def test_synthetic_vixy_before_launch_pays_the_expense_ratio() -> None:
    data = tiny_market(np.full(40, 15.0))  # flat curve, no VIXY: return = -expense only
    ret = vixy_returns(data, expense_ratio=0.0085)
    assert ret[1] == pytest.approx(-0.0085 / 365.0)
    with_vixy = tiny_market(np.full(40, 15.0), vixy=np.full(40, 50.0))
    assert vixy_returns(with_vixy, 0.0085)[1:] == pytest.approx(0.0)  # real fund: already net of fees


def test_vxth_rolls_every_vx_expiry_with_the_weight_schedule(tmp_path) -> None:
    from bot.backtest.data import load_directory
    from bot.backtest.hedges import vxth_calls_leg
    from bot.settings.backtest import CompetitorSettings

    from .synth import make_data_dir

    data = load_directory(make_data_dir(tmp_path / "d", n_days=320, spike_at=200))
    leg = vxth_calls_leg(data, CompetitorSettings(), CostSettings(), capital=100_000.0)
    f1 = data.vx.settle[np.arange(data.n), data.vx.f1]
    rolls = np.flatnonzero(np.diff(data.vx.f1) != 0) + 1
    assert len(rolls) >= 10
    for i in rolls:
        bought = leg.costs[i] > 0
        assert bought == (15 < f1[i] <= 50), f"roll on {data.dates[i]} with F1 {f1[i]:.1f}"
    assert (leg.exposure[rolls] > 0).sum() == sum(1 for i in rolls if 15 < f1[i] <= 50)


def test_a_missing_settle_carries_the_position() -> None:
    front = np.array([15.0, 15.0, 15.0, 16.0, np.nan, 18.0, 18.0, 18.0])
    data = tiny_market(front)
    target = np.ones(len(front))
    leg = futures_leg(data, target, FREE, roll_days=0, step=0.1)
    assert leg.exposure[3:].tolist() == [1.0] * 5  # held through the hole
    assert leg.pnl.sum() == pytest.approx((18.0 - 15.0) * 1000)  # bought at day 1's settle, marked to 18
    assert leg.pnl[4] == 0.0 and leg.pnl[5] == pytest.approx(2000.0)


def test_nan_target_keeps_the_position_and_targets_round_to_the_step() -> None:
    data = tiny_market(np.full(8, 15.0))
    target = np.array([0.26, np.nan, np.nan, 0.0, np.nan, np.nan, np.nan, np.nan])
    leg = futures_leg(data, target, FREE, roll_days=0, step=0.1)
    assert leg.exposure.tolist() == pytest.approx([0.0, 0.3, 0.3, 0.3, 0.0, 0.0, 0.0, 0.0])

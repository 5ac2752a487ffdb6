"""The backtest's fast paths against the straightforward computation they replace (same values, exactly)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from bot.backtest.alvh import (
    CHAIN_ABOVE,
    CHAIN_BELOW,
    HISTORY_BARS,
    HISTORY_BLOCK,
    VIX_OPTIONS_LAUNCH,
    _last,
    _Simulator,
)
from bot.backtest.condors import CondorEngine
from bot.backtest.data import load_directory
from bot.backtest.hedges import vix_call_prices, vix_call_vols
from bot.backtest.volmodel import DAYS
from bot.config import AppConfig
from bot.domain.intents import HedgeInstrument, HedgeKind
from bot.domain.market import Quote, VixOptionQuote
from bot.signals.inputs import DailySeries

from .synth import make_data_dir


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> _Simulator:
    data = load_directory(make_data_dir(tmp_path_factory.mktemp("synth"), n_days=320, spike_at=200))
    s = AppConfig().backtest
    return _Simulator(data, AppConfig(), CondorEngine(data, s.condor, s.vol_model, s.costs).run())


def _eager_chain(sim: _Simulator, i: int) -> tuple[VixOptionQuote, ...]:
    """The chain as it was built before `VixCallChain`: strike by strike, ending at the first price under 5 cents."""
    d, now, today = sim.d, sim.now(i), sim.dates[i]
    if d.dates[i] < VIX_OPTIONS_LAUNCH:
        return ()
    out = []
    listed = np.flatnonzero((d.vx.expiry > d.dates[i]) & np.isfinite(d.vx.settle[i]))
    for j in listed[:3]:
        f = float(d.vx.settle[i, j])
        expiry = d.vx.expiry[j].astype(object)
        t = (expiry - today).days / DAYS
        strikes = np.arange(max(int(f) - CHAIN_BELOW, 1), int(f) + CHAIN_ABOVE + 1, dtype=float)
        prices = vix_call_prices(f, strikes, t, float(d.rate[i]), vix_call_vols(d, i, t, strikes, f, sim.comp))
        halves = np.maximum(sim.costs.vix_option_half_spread * sim.scale[i], 0.05 * prices)
        for strike, price, half in zip(strikes, prices, halves, strict=True):
            if price < 0.05:
                break
            inst = HedgeInstrument(HedgeKind.VIX_OPTION, expiry, float(strike), "C")
            quote = Quote(bid=max(float(price) - float(half), 0.0), ask=float(price + half), last=float(price), at=now)
            out.append(VixOptionQuote(inst, quote))
    return tuple(out)


def test_the_lazy_call_chain_equals_the_eager_one_every_day(sim: _Simulator) -> None:
    offered = 0
    for i in range(sim.d.n):
        chain = sim.snapshot(i).vix_options
        eager = _eager_chain(sim, i)
        assert tuple(chain) == eager, f"day {i}"
        offered += len(eager)
    assert offered > 0  # the synthetic data lists VIX options: the comparison is not vacuous


def test_history_windows_share_their_first_bar_and_hold_at_least_history_bars() -> None:
    days = tuple(dt.date(2000, 1, 3) + dt.timedelta(days=i) for i in range(1500))
    series = DailySeries(days, np.arange(1500, dtype=float))
    firsts = set()
    for k in range(1, 1500):
        window = _last(series, days[k])
        assert window.dates[-1] == days[k - 1]  # strictly before the day
        assert len(window) >= min(k, HISTORY_BARS) and len(window) < HISTORY_BARS + HISTORY_BLOCK
        lo = k - len(window)
        assert window.dates == days[lo:k] and np.array_equal(window.values, series.values[lo:k])
        firsts.add(window.dates[0])
    assert len(firsts) <= 1500 // HISTORY_BLOCK + 1  # the first bar moves in blocks: the signal caches extend

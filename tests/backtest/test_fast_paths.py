"""The backtest's fast paths against the straightforward computation they replace (same values, exactly)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pytest

from bot.backtest.alvh import (
    CHAIN_ABOVE,
    CHAIN_BELOW,
    HISTORY_BARS,
    HISTORY_BLOCK,
    VIX_OPTIONS_LAUNCH,
    _ChainOnRead,
    _last,
    _Simulator,
)
from bot.backtest.condors import CondorEngine
from bot.backtest.data import load_directory
from bot.backtest.hedges import (
    hold_contract,
    trading_days_to_expiry,
    vix_call_price,
    vix_call_prices,
    vix_call_vol,
    vix_call_vols,
    vix_call_vols_rows,
)
from bot.backtest.volmodel import DAYS, atm_vol, atm_vol_one, smile_vol, smile_vol_one
from bot.config import AppConfig
from bot.domain.intents import HedgeInstrument, HedgeKind
from bot.domain.market import (
    ModelGreeks,
    OptionContract,
    OptionLeg,
    Quote,
    VixCallChain,
    VixOptionQuote,
    VxCurve,
    VxPoint,
)
from bot.pricing.black_scholes import bs_greeks
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


def _eager_legs(sim: _Simulator, i: int) -> tuple[OptionLeg, ...]:
    """The condor legs as they were built before the vol model was vectorised: one leg at a time."""
    d, now, q = sim.d, sim.now(i), sim.cfg.condor.dividend_yield
    spot, r = float(d.spx[i]), float(d.rate[i])
    half = sim.costs.option_half_spread * sim.scale[i]
    legs = []
    for trade in (
        t for t in sim.condor.trades if t.entry <= i <= (t.exit if t.reason == "open_at_end" else t.exit - 1)
    ):
        expiry = trade.expiry.astype(object)
        t = max((expiry - sim.dates[i]).days / DAYS, 1e-6)
        atm = float(atm_vol(tuple(np.array([x[i]]) for x in sim.engine.points), np.array([t]))[0])
        fwd = spot * math.exp((r - q) * t)
        entry = sim.engine.leg_values(np.array([trade.entry]), trade.expiry, np.array(trade.strikes))[0]
        for k, (strike, right) in enumerate(zip(trade.strikes, ("P", "P", "C", "C"), strict=True)):
            args = (np.array(atm), np.array(strike), np.array(fwd), np.array(t), d.skew[i : i + 1], sim.engine.p)
            vol = float(smile_vol(*args)[0])
            g = bs_greeks(spot, strike, t, r, vol, right, q)
            legs.append(
                OptionLeg(
                    contract=OptionContract("SPX", expiry, float(strike), right),
                    quantity=(1 if k in (0, 3) else -1) * trade.quantity,
                    avg_cost=float(entry[k]) * 100.0,
                    quote=Quote(bid=max(g.price - half, 0.0), ask=g.price + half, last=g.price, at=now),
                    greeks=ModelGreeks(g.delta, g.gamma, g.vega, g.theta, vol, now, spot),
                )
            )
    return tuple(legs)


def test_the_vectorised_leg_model_equals_the_leg_by_leg_one_every_day(sim: _Simulator) -> None:
    held = 0
    for i in range(sim.d.n):
        legs = sim.snapshot(i).legs
        assert legs == _eager_legs(sim, i), f"day {i}"
        held += len(legs)
    assert held > 0


def test_vix_call_vols_by_rows_equal_the_one_expiry_form(sim: _Simulator) -> None:
    d, comp = sim.d, sim.comp
    rng = np.random.default_rng(3)
    vvix = d.vvix.copy()
    vvix[rng.random(d.n) < 0.3] = np.nan  # days without VVIX take the fallback
    data = dataclasses.replace(d, vvix=vvix)
    rows = rng.integers(0, d.n, 200)
    t = rng.uniform(-0.01, 0.4, 200)  # including expired and same-day tenors (floored at one day)
    forward = rng.uniform(9.0, 60.0, 200)
    strikes = np.floor(forward)[:, None] - 3 + np.arange(44)
    batch = vix_call_vols_rows(data, rows[:, None], t[:, None], strikes, forward[:, None], comp)
    for r in range(200):
        one = vix_call_vols(data, int(rows[r]), float(t[r]), strikes[r], float(forward[r]), comp)
        assert np.array_equal(batch[r], one)


def test_the_precomputed_curve_equals_the_day_by_day_one(sim: _Simulator) -> None:
    d = sim.d
    for i in range(d.n):
        now, half = sim.now(i), sim.costs.vx_half_spread * sim.scale[i]
        listed = np.flatnonzero((d.vx.expiry > d.dates[i]) & np.isfinite(d.vx.settle[i]))
        eager = []
        for j in listed:
            f = float(d.vx.settle[i, j])
            quote = Quote(bid=max(f - half, 0.0), ask=f + half, last=f, at=now)
            eager.append(VxPoint(d.vx.expiry[j].astype(object), quote))
        assert sim.snapshot(i).curve == VxCurve(tuple(eager)), f"day {i}"


def test_one_vix_call_on_floats_equals_the_vector_forms_bit_for_bit(sim: _Simulator) -> None:
    d, comp = sim.d, sim.comp
    rng = np.random.default_rng(5)
    vvix = d.vvix.copy()
    vvix[rng.random(d.n) < 0.3] = np.nan  # days without VVIX take the fallback
    data = dataclasses.replace(d, vvix=vvix)
    for _ in range(2000):
        i, forward, strike = int(rng.integers(0, d.n)), float(rng.uniform(9.0, 80.0)), float(rng.integers(5, 120))
        t = float(rng.choice([rng.uniform(0.0, 0.6), 0.0, 1e-7, -0.01]))  # live, expired, under MIN_T
        rate = float(rng.choice([0.0, rng.uniform(0.0, 0.06)]))
        vol = vix_call_vol(data, i, t, strike, forward, comp)
        assert vol == float(vix_call_vols(data, i, t, np.array([strike]), forward, comp)[0])
        vol = float(rng.choice([vol, 0.0, math.nan])) if rng.random() < 0.1 else vol  # no vol, no number
        want = float(vix_call_prices(forward, np.array([strike]), t, rate, np.array([vol]))[0])
        got = vix_call_price(forward, strike, t, rate, vol)
        assert np.array([got]).tobytes() == np.array([want]).tobytes(), (forward, strike, t, rate, vol)


def test_a_chain_read_on_demand_answers_every_read_as_the_built_one(sim: _Simulator) -> None:
    days = [i for i in range(sim.d.n) if sim._chains[i]]
    assert days  # the synthetic data lists VIX options
    for i in days[:: max(len(days) // 15, 1)]:
        built = VixCallChain(sim.now(i), sim._chains[i])
        expiry = built[0].instrument.expiry
        held = built[len(built) // 2].instrument
        absent = HedgeInstrument(HedgeKind.VIX_OPTION, expiry, 1000.0, "C")
        reads = (
            len,
            tuple,
            repr,
            hash,
            lambda c: c[0],
            lambda c: c[-1],
            lambda c: c[1:4],
            lambda c, e=expiry: c.calls(e),
            lambda c, e=expiry, k=held.strike: tuple(c.calls_from(e, k)),
            lambda c, h=held: c.quote_for(h),
            lambda c, a=absent: c.quote_for(a),
            lambda c, x=built[3]: (x in c, c.index(x), c.count(x)),  # the Sequence mixins
        )
        for read in reads:  # each read first, on a fresh chain: none may depend on another having built it
            assert read(_ChainOnRead(sim.now(i), sim._chains, i)) == read(built)
        assert _ChainOnRead(sim.now(i), sim._chains, i) == built
    expiry, strikes, bid, ask, last = sim._chains[days[0]][0]
    bad = _ChainOnRead(sim.now(days[0]), [[(expiry, strikes[::-1], bid, ask, last)]], 0)  # not checked yet
    with pytest.raises(ValueError, match="strictly increasing"):
        len(bad)  # the first read runs the checks


def test_the_day_s_history_from_precomputed_bounds_equals_the_day_by_day_cut(sim: _Simulator) -> None:
    for i in range(sim.d.n):
        fast, slow = sim.history(i), sim._history.at(sim.dates[i])
        assert fast == slow, f"day {i}"
        if i and fast.vix:  # not vacuous: the windows hold bars, and they end the day before
            assert fast.vix.dates[-1] < sim.dates[i]


def test_one_smile_vol_on_floats_equals_the_vector_form_bit_for_bit(sim: _Simulator) -> None:
    rng = np.random.default_rng(11)
    for _ in range(3000):
        atm, forward = float(rng.uniform(0.05, 1.0)), float(rng.uniform(500.0, 6000.0))
        strike = forward * float(rng.uniform(0.5, 1.5))  # puts and calls: both sides of the smile
        t = float(rng.choice([rng.uniform(0.0, 0.5), 0.0, 1e-5]))  # including tenors under the one-day floor
        skew = float(rng.choice([rng.uniform(100.0, 160.0), math.nan]))  # a missing SKEW takes the default
        want = smile_vol(np.array(atm), np.array(strike), np.array(forward), np.array(t), np.array(skew), sim.engine.p)
        got = smile_vol_one(atm, strike, forward, t, skew, sim.engine.p)
        assert np.array([got]).tobytes() == np.array([float(want)]).tobytes(), (atm, strike, forward, t, skew)


@pytest.mark.parametrize(("roll_days", "offset"), [(0, 0), (5, 0), (5, 1), (30, 2), (200, 5)])
def test_held_contract_is_the_offset_th_listed_one_day_by_day(sim: _Simulator, roll_days: int, offset: int) -> None:
    """The vectorised choice against the rule read day by day: the offset-th contract (by expiry) among those
    trading (first to last settle) with more than `roll_days` trading days left, else -1."""
    d = sim.d
    left = trading_days_to_expiry(d)
    valid = np.isfinite(d.vx.settle)
    first, last = np.argmax(valid, axis=0), d.n - 1 - np.argmax(valid[::-1], axis=0)
    got = hold_contract(d, roll_days, offset)
    assert got.dtype == np.int64
    for i in range(d.n):
        trading = valid.any(axis=0) & (first <= i) & (i <= last)
        cols = np.flatnonzero(trading & (left[i] > roll_days))
        assert got[i] == (cols[offset] if len(cols) > offset else -1), i
    # not vacuous: a contract is held on some days, except where no contract has that many trading days left
    assert (got >= 0).any() if roll_days < 200 else (got == -1).all()


def test_one_atm_vol_on_floats_equals_the_vector_form_bit_for_bit() -> None:
    rng = np.random.default_rng(12)
    tenors = (0.0, 1 / DAYS, 9 / DAYS, 30 / DAYS, 93 / DAYS, -0.1, math.nan)  # the knots, the floor, outside
    for _ in range(3000):
        points = tuple(float(x) for x in rng.uniform(0.05, 1.2, 3))
        t = float(rng.choice([rng.uniform(0.0, 0.6), *tenors]))
        want = float(atm_vol(tuple(np.array([x]) for x in points), np.array([t]))[0])
        got = atm_vol_one(*points, t)
        assert np.array([got]).tobytes() == np.array([want]).tobytes(), (points, t)

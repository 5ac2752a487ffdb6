"""Synthetic scenarios: the shapes the brief promises, on several seeds, and determinism."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest

from bot.sim.market import calendar as cal
from bot.sim.market import catalog
from bot.sim.market.catalog import FutKey, front_two, settlement_instant
from bot.sim.market.factory import SCENARIOS, ScenarioError, build_market

from .helpers import closes

SEEDS = (0, 1, 2)


def _curve(m, t):
    f1, f2 = front_two("VX", t)
    return m.path.future(f1, t), m.path.future(f2, t)


def test_catalog_of_scenarios():
    assert set(SCENARIOS) == {"calm", "spike", "crash-recover", "grind"}
    assert all(SCENARIOS.values())
    with pytest.raises(ScenarioError, match=r"unknown scenario 'panic'.*calm"):
        build_market("panic")
    with pytest.raises(ScenarioError, match="not a trading day"):
        build_market("calm", start=dt.datetime(2025, 1, 11, 15, tzinfo=dt.UTC))  # a Saturday


@pytest.mark.parametrize("seed", SEEDS)
def test_spike_peaks_near_37_inverts_then_decays_into_contango(markets, seed):
    m = markets("spike", seed)
    ts = closes(m)
    vix = np.array([m.path.vix(t) for t in ts])
    peak = int(vix.argmax())
    assert 32.0 <= vix[peak] <= 43.0
    assert vix[0] < 17.5
    days_to_peak = (ts[peak] - m.info.start).days
    assert 13 <= days_to_peak <= 20  # the jump starts on day 14 and tops out within about three days
    f1, f2 = _curve(m, ts[peak])
    assert f1 / f2 > 1.05  # inverted during the spike
    before = [t for t in ts if (t - m.info.start).days in (10, 11, 12)]
    after = [t for t in ts if (t - m.info.start).days >= 45]
    assert all(_curve(m, t)[0] < _curve(m, t)[1] for t in before + after)  # contango before and after
    assert vix[-1] < 0.6 * vix[peak]  # decayed over the following weeks
    spx = np.array([m.path.spx(t) for t in ts])
    assert spx[peak] < 0.95 * spx[0]  # SPX moves against VIX


@pytest.mark.parametrize("seed", SEEDS)
def test_grind_drifts_up_without_spike_or_inversion(markets, seed):
    m = markets("grind", seed)
    ts = closes(m)
    vix = [m.path.vix(t) for t in ts]
    assert max(vix) < 25.0
    assert np.mean(vix[-5:]) > np.mean(vix[:5]) + 2.0
    assert all(f1 < f2 for f1, f2 in (_curve(m, t) for t in ts))
    assert m.path.spx(ts[-1]) < 0.99 * m.path.spx(ts[0])  # expected about -7% with a 2% noise sd


@pytest.mark.parametrize("seed", SEEDS)
def test_crash_recover_falls_hard_and_comes_back(markets, seed):
    m = markets("crash-recover", seed)
    ts = closes(m)
    spx = np.array([m.path.spx(t) for t in ts])
    vix = np.array([m.path.vix(t) for t in ts])
    low = int(spx.argmin())
    assert spx[low] < 0.88 * spx[0]  # expected about -20%
    assert vix.max() > 38.0
    assert spx[-1] > 1.12 * spx[low]
    assert vix[-1] < 0.6 * vix.max()


def test_calm_stays_calm_in_contango(markets):
    m = markets("calm")
    ts = closes(m)
    assert max(m.path.vix(t) for t in ts) < 20.0
    assert sum(f1 < f2 for f1, f2 in (_curve(m, t) for t in ts)) >= 0.9 * len(ts)


def test_same_seed_same_market_other_seed_other_market():
    a, b, c = (build_market("spike", seed=s) for s in (7, 7, 8))
    t = a.info.start + dt.timedelta(days=20, hours=1, minutes=7, seconds=13)
    ids = [10_001, 10_002, 10_005] + [e.instrument.con_id for e in a.starting_book()]
    assert [a.quote(i, t) for i in ids] == [b.quote(i, t) for i in ids]
    assert [a.greeks(i, t) for i in ids] == [b.greeks(i, t) for i in ids]
    assert a.path.vix(t) != c.path.vix(t)


def test_path_is_continuous_at_fine_resolution(markets):
    m = markets("spike")
    t = m.info.start + dt.timedelta(days=15)
    values = [m.path.vix(t + dt.timedelta(seconds=s)) for s in range(0, 3600, 1)]
    steps = np.abs(np.diff(values))
    assert steps.max() < 0.01  # a 20,000x clock ticking every second of real time sees small moves only


def test_futures_converge_to_spot_at_expiry(markets):
    m = markets("calm")
    key = FutKey("VX", 2025, 1)  # expires 2025-01-22, inside the calm scenario
    settle = settlement_instant(key)
    vix = m.path.vix(settle)
    near = m.path.future(key, settle - dt.timedelta(minutes=5))
    far = m.path.future(key, settle - dt.timedelta(days=8))
    assert abs(near - m.path.vix(settle - dt.timedelta(minutes=5))) < 0.01
    assert abs(far - m.path.vix(settle - dt.timedelta(days=8))) > 0.05
    assert m.path.future(key, settle) == vix
    assert m.settlement_price(catalog.con_id_of(key)) == round(vix, 2)
    assert m.settlement_price(catalog.con_id_of(key), settle - dt.timedelta(seconds=1)) is None


def test_beta_to_spot_near_one_at_expiry_and_smaller_further_out(markets):
    m = markets("spike")
    ts = closes(m, first=m.path.t0.date() + dt.timedelta(days=3))
    by_bucket: dict[str, list[tuple[float, float]]] = {"near": [], "month": [], "far": []}
    for a, b in itertools.pairwise(ts):
        dv = m.path.vix(b) - m.path.vix(a)
        for y, mo in cal.vx_months(a.date(), 8):
            k = FutKey("VX", y, mo)
            if settlement_instant(k) <= b:
                continue
            days = (k.expiry - a.date()).days
            bucket = "near" if days < 7 else "month" if 20 <= days < 40 else "far" if days >= 100 else None
            if bucket:
                by_bucket[bucket].append((dv, m.path.future(k, b) - m.path.future(k, a)))
    beta = {k: np.polyfit(*np.array(v).T, 1)[0] for k, v in by_bucket.items()}
    assert beta["near"] > 0.85
    assert 0.45 < beta["month"] < 0.8
    assert beta["far"] < 0.3


def test_a_bare_date_start_means_that_trading_day():
    m = build_market("calm", start=dt.datetime(2025, 3, 3, tzinfo=dt.UTC))  # a Monday, passed as midnight UTC
    assert m.info.start == dt.datetime(2025, 3, 3, 15, 0, tzinfo=dt.UTC)  # 10:00 ET
    assert m.info.end - m.info.start == dt.timedelta(days=42)
    with pytest.raises(ScenarioError, match="no time zone"):
        build_market("calm", start=dt.datetime(2025, 3, 3, 15))

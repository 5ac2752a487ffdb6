"""Quotes (ticks, spreads, determinism, hours) and trading-hours strings against is_trading."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from bot.sim.market import catalog, hours
from bot.sim.market.api import ContractQuery as Q
from bot.sim.market.catalog import FutKey, OptKey
from bot.sim.market.factory import build_market


def _on_grid(x: float, tick: float) -> bool:
    return abs(x / tick - round(x / tick)) < 1e-6


def test_quotes_are_tick_rounded_and_not_crossed(markets):
    m = markets("spike")
    t = m.info.start + dt.timedelta(days=1, hours=1)
    expiry = catalog.listed_expiries("SPX", t)[1]
    keys = [FutKey("VX", 2025, 2), FutKey("VXM", 2025, 3), "VIXY"]
    keys += [OptKey("SPX", expiry, r, k) for r in "CP" for k in (4000.0, 5000.0, 5400.0, 5500.0, 6000.0, 7000.0)]
    keys += [OptKey("VIX", catalog.listed_expiries("VIX", t)[0], r, k) for r in "CP" for k in (10.0, 14.0, 25.0)]
    for key in keys:
        inst = catalog.instrument(key)
        q = m.quote(inst.con_id, t)
        assert q is not None, key
        assert q.ask > (q.bid if not math.isnan(q.bid) else 0), key
        for price in (q.bid, q.ask, q.last):
            if not math.isnan(price):
                assert _on_grid(price, catalog.tick_size(inst, price)), (key, price)
        assert q.bid_size > 0 and q.ask_size > 0 and q.close > 0


def test_vx_spread_one_tick_when_calm_wider_in_the_spike(markets):
    m = markets("spike")
    key = FutKey("VX", 2025, 3)
    con = catalog.con_id_of(key)
    calm = m.quote(con, m.info.start + dt.timedelta(days=1))
    ts = [m.info.start + dt.timedelta(days=d, hours=2) for d in range(15, 20)]
    peak_t = max(ts, key=m.path.vix)
    spike = m.quote(con, peak_t)
    assert calm.ask - calm.bid == pytest.approx(0.05)
    assert 0.10 <= spike.ask - spike.bid <= 0.30


def test_index_quotes_carry_last_only(markets):
    m = markets("calm")
    t = m.info.start + dt.timedelta(hours=1)
    q = m.quote(catalog.FIXED_IDS["VIX"], t)
    assert math.isnan(q.bid) and math.isnan(q.ask)
    assert q.last == round(m.path.vix(t), 2)
    assert q.low <= q.last <= q.high


def test_quote_is_a_pure_function_of_t():
    a, b = build_market("calm", seed=3), build_market("calm", seed=3)
    con = catalog.con_id_of(FutKey("VX", 2025, 2))
    t1 = a.info.start + dt.timedelta(hours=2, seconds=11)
    t2 = t1 + dt.timedelta(minutes=40)
    assert a.quote(con, t1) == b.quote(con, t1)
    assert a.quote(con, t2) == b.quote(con, t2)
    b2 = build_market("calm", seed=3)
    assert b2.quote(con, t2) == a.quote(con, t2)  # no dependence on the order of calls


def test_no_quote_when_closed_or_expired(markets):
    m = markets("calm")
    saturday = dt.datetime(2025, 1, 18, 16, tzinfo=dt.UTC)
    assert m.quote(catalog.FIXED_IDS["SPX"], saturday) is None
    assert m.quote(catalog.con_id_of(FutKey("VX", 2025, 2)), saturday) is None
    jan = FutKey("VX", 2025, 1)
    assert m.quote(catalog.con_id_of(jan), catalog.trading_stop(jan) + dt.timedelta(minutes=1)) is None
    assert m.quote(catalog.con_id_of(jan), catalog.trading_stop(jan) - dt.timedelta(minutes=1)) is not None
    sunday_evening = dt.datetime(2025, 1, 26, 23, 30, tzinfo=dt.UTC)  # CFE reopens 17:00 CT Sunday
    assert m.quote(catalog.con_id_of(FutKey("VX", 2025, 2)), sunday_evening) is not None
    assert m.quote(catalog.FIXED_IDS["VIXY"], sunday_evening) is None
    mlk_eve = dt.datetime(2025, 1, 19, 23, 30, tzinfo=dt.UTC)  # Monday is a CFE holiday: no Sunday evening session
    assert m.quote(catalog.con_id_of(FutKey("VX", 2025, 2)), mlk_eve) is None


@pytest.mark.parametrize(
    "query",
    [
        Q(symbol="VIX", sec_type="FUT", exchange="CFE", last_trade_date="202503"),
        Q(symbol="SPX", sec_type="OPT", trading_class="SPX", last_trade_date="20250321", strike=5000, right="P"),
        Q(symbol="VIXY", sec_type="STK", exchange="SMART"),
        Q(symbol="VIX", sec_type="IND", exchange="CBOE"),
    ],
)
def test_hours_strings_parse_and_agree_with_is_trading(markets, query):
    m = markets("calm")
    t = dt.datetime(2025, 1, 16, 14, tzinfo=dt.UTC)  # the window covers a weekend and MLK day (2025-01-20)
    (inst,) = m.find(query, t)
    intervals = hours.parse_ib_hours(inst.trading_hours, inst.time_zone_id)
    liquid = hours.parse_ib_hours(inst.liquid_hours, inst.time_zone_id)
    assert intervals and liquid
    assert all(any(a <= x0 and x1 <= b for a, b in intervals) for x0, x1 in liquid)  # liquid inside trading
    assert "20250118:CLOSED" in inst.trading_hours and "20250119:CLOSED" in inst.trading_hours
    probe = t + dt.timedelta(minutes=7)
    checked = 0
    while probe < max(b for _, b in intervals):  # the strings describe a week from t's date
        inside = any(a <= probe < b for a, b in intervals)
        assert m.is_trading(inst.con_id, probe) == inside, probe
        probe += dt.timedelta(minutes=30)
        checked += 1
    assert checked > 250


def test_holiday_and_weekend_are_closed(markets):
    m = markets("calm")
    mlk_noon = dt.datetime(2025, 1, 20, 17, tzinfo=dt.UTC)
    saturday = dt.datetime(2025, 1, 18, 17, tzinfo=dt.UTC)
    for con in (catalog.FIXED_IDS["SPX"], catalog.FIXED_IDS["VIXY"], catalog.con_id_of(FutKey("VX", 2025, 3))):
        assert not m.is_trading(con, mlk_noon)
        assert not m.is_trading(con, saturday)
        assert m.is_trading(con, dt.datetime(2025, 1, 21, 17, tzinfo=dt.UTC))


def test_bad_hours_text_is_rejected():
    with pytest.raises(ValueError):
        hours.parse_ib_hours("20250116:0930-20250116:0900", "US/Eastern")
    with pytest.raises(ValueError):
        hours.parse_ib_hours("2025011:CLOSED", "US/Eastern")

"""Option pricing: parity, skew, VIX options off the future, greeks in IB's conventions, and the starting book."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from bot.settings.sim import SimSettings
from bot.sim.market import catalog
from bot.sim.market.catalog import OptKey
from bot.sim.market.factory import build_market
from bot.sim.market.model import vx_for_option


def _t(m, days: float = 2.0) -> dt.datetime:
    return m.info.start + dt.timedelta(days=days)


@pytest.mark.parametrize("name", ["calm", "spike"])
def test_spx_put_call_parity(markets, name):
    m = markets(name)
    t = m.info.start + dt.timedelta(days=17)  # inside the spike for "spike"
    s = m.settings
    expiry = catalog.listed_expiries("SPX", t)[1]
    spot = m.path.spx(t)
    for strike in (4500.0, 5000.0, 5500.0, 6000.0):
        call = m.greeks(catalog.con_id_of(OptKey("SPX", expiry, "C", strike)), t)
        put = m.greeks(catalog.con_id_of(OptKey("SPX", expiry, "P", strike)), t)
        tau = (catalog.settlement_instant(OptKey("SPX", expiry, "C", strike)) - t).total_seconds() / (365 * 86400)
        rhs = spot * math.exp(-s.spx_dividend_yield * tau) - strike * math.exp(-s.rate * tau)
        assert call.price - put.price == pytest.approx(rhs, abs=1e-6)
        assert call.implied_vol == put.implied_vol


def test_spx_skew_puts_richer_than_calls(markets):
    m = markets("calm")
    t = _t(m)
    expiry = catalog.listed_expiries("SPX", t)[1]
    spot = m.path.spx(t)
    lo, hi = 5.0 * round(spot * 0.93 / 5), 5.0 * round(spot * 1.07 / 5)
    put = m.greeks(catalog.con_id_of(OptKey("SPX", expiry, "P", lo)), t)
    call = m.greeks(catalog.con_id_of(OptKey("SPX", expiry, "C", hi)), t)
    atm = m.greeks(catalog.con_id_of(OptKey("SPX", expiry, "C", 5.0 * round(spot / 5))), t)
    assert put.implied_vol > atm.implied_vol > call.implied_vol
    assert put.price > call.price


def test_spx_atm_iv_rises_with_vix(markets):
    m = markets("spike")
    calm_t, spike_t = m.info.start + dt.timedelta(days=2), m.info.start + dt.timedelta(days=17)
    expiry = catalog.listed_expiries("SPX", spike_t)[1]

    def atm_iv(t):
        strike = 5.0 * round(m.path.spx(t) / 5.0)
        return m.greeks(catalog.con_id_of(OptKey("SPX", expiry, "C", strike)), t).implied_vol

    assert m.path.vix(spike_t) > 2.0 * m.path.vix(calm_t)
    assert atm_iv(spike_t) > 1.8 * atm_iv(calm_t)


def test_vix_options_priced_off_the_same_month_future_with_call_skew(markets):
    m = markets("spike")
    t = m.info.start + dt.timedelta(days=16)
    expiry = catalog.listed_expiries("VIX", t)[1]
    fut = m.path.future(vx_for_option(OptKey("VIX", expiry, "C", 20.0)), t)
    tau = (catalog.settlement_instant(OptKey("VIX", expiry, "C", 20.0)) - t).total_seconds() / (365 * 86400)
    for strike in (15.0, 20.0, 30.0):
        call = m.greeks(catalog.con_id_of(OptKey("VIX", expiry, "C", strike)), t)
        put = m.greeks(catalog.con_id_of(OptKey("VIX", expiry, "P", strike)), t)
        assert call.und_price == pytest.approx(fut)
        assert call.price - put.price == pytest.approx(math.exp(-m.settings.rate * tau) * (fut - strike), abs=1e-6)
    low = m.greeks(catalog.con_id_of(OptKey("VIX", expiry, "C", 15.0)), t)
    high = m.greeks(catalog.con_id_of(OptKey("VIX", expiry, "C", 40.0)), t)
    assert high.implied_vol > low.implied_vol
    assert 0.6 < low.implied_vol < 3.0


def test_greeks_conventions_and_none_for_non_options(markets):
    m = markets("calm")
    t = _t(m)
    expiry = catalog.listed_expiries("SPX", t)[1]
    g = m.greeks(catalog.con_id_of(OptKey("SPX", expiry, "P", 5300.0)), t)
    assert -1 < g.delta < 0 and g.gamma > 0 and g.vega > 0 and g.theta < 0 and g.pv_dividend > 0
    assert g.vega < 10.0  # per vol point, not per unit of vol
    assert m.greeks(catalog.FIXED_IDS["VIX"], t) is None
    assert m.greeks(catalog.con_id_of(catalog.FutKey("VX", 2025, 3)), t) is None


def test_option_settlement_is_the_cash_value_at_the_settlement_print(markets):
    m = markets("calm")
    expiry = catalog.listed_expiries("SPXW", m.info.start)[0]  # expires inside the scenario
    at = catalog.settlement_instant(OptKey("SPXW", expiry, "C", 5000.0))
    spx = round(m.path.spx(at), 2)
    for strike in (5000.0, 7000.0):
        for right, value in (("C", max(spx - strike, 0)), ("P", max(strike - spx, 0))):
            con = catalog.con_id_of(OptKey("SPXW", expiry, right, strike))
            assert m.settlement_price(con) == pytest.approx(value)
            assert m.settlement_price(con, at - dt.timedelta(minutes=1)) is None
    assert m.settlement_price(catalog.FIXED_IDS["SPX"]) is None


def test_starting_book_is_ten_condors_with_shorts_near_25_delta(markets):
    m = markets("calm")
    book = m.starting_book()
    assert len(book) == 4
    legs = sorted(book, key=lambda e: (e.instrument.right != "P", e.instrument.strike))
    k1, k2, k3, k4 = (e.instrument.strike for e in legs)
    assert k1 < k2 < k3 < k4 and k2 - k1 == 50 and k4 - k3 == 50
    assert [e.quantity for e in legs] == [10, -10, -10, 10]
    assert [e.instrument.right for e in legs] == ["P", "P", "C", "C"]
    assert len({(e.instrument.last_trade_date, e.instrument.trading_class) for e in legs}) == 1
    dte = (dt.datetime.strptime(legs[0].instrument.last_trade_date, "%Y%m%d").date() - m.info.start.date()).days
    assert 25 <= dte <= 65
    for e in legs:
        g = m.greeks(e.instrument.con_id, m.info.start)
        assert e.avg_cost > 0
        assert e.avg_cost == pytest.approx(g.price * 100, abs=0.1 * 100 / 2 + 1e-9)  # tick-rounded price x 100
        if e.quantity < 0:
            assert 0.20 <= abs(g.delta) <= 0.30
    credit = -sum(e.quantity * e.avg_cost for e in legs)
    assert credit > 0


def test_starting_book_follows_settings():
    settings = SimSettings(condor_count=3, condor_wing_width=25, condor_short_delta=0.2, condor_trading_class="SPXW")
    m = build_market("calm", settings=settings)
    book = m.starting_book()
    assert {abs(e.quantity) for e in book} == {3}
    assert {e.instrument.trading_class for e in book} == {"SPXW"}
    strikes = sorted(e.instrument.strike for e in book)
    assert strikes[1] - strikes[0] == 25 and strikes[3] - strikes[2] == 25
    assert build_market("calm", settings=SimSettings(condor_count=0)).starting_book() == []

"""Contract catalog: conIds, local symbols, ticks, multipliers, listing and queries."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.sim.market import catalog
from bot.sim.market.api import ContractQuery as Q
from bot.sim.market.catalog import FutKey, OptKey


def test_con_ids_unique_and_invertible_across_a_large_sample(markets):
    m = markets("calm")
    t = m.info.start
    keys = ["SPX", "VIX", "VIX3M", "VIX9D", "VIXY"]
    keys += [FutKey(r, y, mo) for r in ("VX", "VXM") for y in range(2004, 2040) for mo in range(1, 13)]
    for cls in ("SPX", "SPXW", "VIX"):
        for e in catalog.listed_expiries(cls, t):
            keys += [OptKey(cls, e, r, k) for k in m.strikes(cls) for r in ("C", "P")]
    ids = [catalog.con_id_of(k) for k in keys]
    assert len(ids) > 100_000
    assert len(set(ids)) == len(ids)
    assert all(0 < i < 2**31 for i in ids)
    assert all(catalog.key_of(i) == k for i, k in zip(ids[::97], keys[::97], strict=True))


def test_con_id_is_a_pure_function_of_the_fields():
    a = OptKey("SPXW", dt.date(2025, 3, 31), "P", 5000.0)
    assert catalog.con_id_of(a) == catalog.con_id_of(OptKey("SPXW", dt.date(2025, 3, 31), "P", 5000.0))
    assert catalog.con_id_of(a) != catalog.con_id_of(OptKey("SPX", dt.date(2025, 3, 31), "P", 5000.0))
    with pytest.raises(catalog.CatalogError):
        catalog.con_id_of(OptKey("SPX", dt.date(2025, 3, 21), "P", 5001.0))


def test_ib_local_symbols_ticks_and_multipliers(markets):
    m = markets("calm")
    t = m.info.start
    vx = m.find(Q(symbol="VIX", sec_type="FUT", exchange="CFE", last_trade_date="202502"), t)
    assert [i.local_symbol for i in vx] == ["VXG5"]
    (f,) = vx
    assert (f.multiplier, f.min_tick, f.trading_class, f.last_trade_date) == ("1000", 0.05, "VX", "20250219")
    (mini,) = m.find(Q(symbol="VXM", sec_type="FUT", last_trade_date="202502"), t)
    assert (mini.local_symbol, mini.multiplier, mini.min_tick, mini.trading_class) == ("VXMG5", "100", 0.01, "VXM")
    (vixy,) = m.find(Q(symbol="VIXY", sec_type="STK", exchange="SMART"), t)
    assert (vixy.primary_exchange, vixy.min_tick, vixy.multiplier) == ("ARCA", 0.01, "")
    both = m.find(Q(symbol="SPX", sec_type="OPT", last_trade_date="20250221", strike=5000, right="P"), t)
    assert {i.trading_class for i in both} == {"SPX", "SPXW"}  # ambiguous without a class, as at IB
    (put,) = [i for i in both if i.trading_class == "SPX"]
    assert put.local_symbol == "SPX   250221P05000000" and put.multiplier == "100"
    assert catalog.tick_size(put, 2.95) == 0.05 and catalog.tick_size(put, 3.0) == 0.10
    (vc,) = m.find(
        Q(symbol="VIX", sec_type="OPT", trading_class="VIX", last_trade_date="20250219", strike=20, right="C"), t
    )
    assert catalog.tick_size(vc, 2.99) == 0.01 and catalog.tick_size(vc, 3.5) == 0.05
    assert vc.under_con_id == catalog.FIXED_IDS["VIX"]


def test_find_by_con_id_local_symbol_and_month(markets):
    m = markets("calm")
    t = m.info.start
    feb = m.find(Q(symbol="SPX", sec_type="OPT", last_trade_date="202502", strike=5500, right="C"), t)
    tcs = {i.trading_class for i in feb}
    assert tcs == {"SPX", "SPXW"} and len(feb) > 8
    one = feb[0]
    assert m.find(Q(con_id=one.con_id), t)[0].local_symbol == one.local_symbol
    assert m.find(Q(local_symbol=one.local_symbol, sec_type="OPT"), t)[0].con_id == one.con_id
    assert m.find(Q(local_symbol="VXH5"), t)[0].last_trade_date == "20250318"
    assert m.find(Q(symbol="NOPE", sec_type="STK"), t) == []
    assert m.find(Q(symbol="SPX", sec_type="OPT", last_trade_date="20250221", strike=5501, right="P"), t) == []
    assert m.find(Q(symbol="VIX", sec_type="FUT", exchange="SMART"), t) == []


def test_expired_contracts_need_include_expired(markets):
    m = markets("calm")
    later = m.info.start + dt.timedelta(days=30)  # the Jan VX (expiry 2025-01-22) has settled
    q = Q(symbol="VIX", sec_type="FUT", exchange="CFE", last_trade_date="202501")
    assert m.find(q, later) == []
    (jan,) = m.find(
        Q(symbol="VIX", sec_type="FUT", exchange="CFE", last_trade_date="202501", include_expired=True), later
    )
    assert jan.local_symbol == "VXF5"


def test_option_chains_answer_sec_def_opt_params(markets):
    m = markets("calm")
    t = m.info.start
    chains = m.option_chains(catalog.FIXED_IDS["SPX"], t)
    classes = {(c.exchange, c.trading_class) for c in chains}
    assert classes == {("SMART", "SPX"), ("SMART", "SPXW"), ("CBOE", "SPX"), ("CBOE", "SPXW")}
    spx = next(c for c in chains if c.trading_class == "SPX")
    assert "20250221" in spx.expirations and "20250124" not in spx.expirations
    assert all(b - a == 5.0 for a, b in zip(spx.strikes, spx.strikes[1:], strict=False))
    assert spx.strikes[0] < 3000 < 8000 < spx.strikes[-1]
    spxw = next(c for c in chains if c.trading_class == "SPXW")
    assert "20250124" in spxw.expirations and "20250113" in spxw.expirations
    (vix,) = {c.trading_class for c in m.option_chains(catalog.FIXED_IDS["VIX"], t)}
    assert vix == "VIX"
    assert m.option_chains(catalog.FIXED_IDS["VIXY"], t) == []


def test_unknown_ids_and_multiplier_filter(markets):
    m = markets("calm")
    t = m.info.start
    assert m.by_con_id(123) is None and m.quote(123, t) is None and not m.is_trading(123, t)
    assert m.by_con_id(catalog.FIXED_IDS["VIX"]).symbol == "VIX"
    later = t + dt.timedelta(days=14)
    assert m.by_con_id(catalog.FIXED_IDS["VIX"], later).trading_hours.startswith(f"{later:%Y%m%d}:0930")
    q = dict(symbol="VIX", sec_type="FUT", last_trade_date="202503")
    assert len(m.find(Q(**q, multiplier="1000"), t)) == 1
    assert m.find(Q(**q, multiplier="100"), t) == []
    assert m.find(Q(symbol="SPX", sec_type="OPT", right="X", strike=5000), t) == []

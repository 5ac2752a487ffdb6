"""Reading the condor book: grouping, economics, greeks sources and staleness, stress capped at max loss."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import numpy as np
import pytest
from alvh_core_fixtures import NOW, condor_legs, snapshot

from bot.book import book_greeks, group_legs, read_book
from bot.decision import json_safe
from bot.domain.condors import GreeksSource, StructureKind
from bot.domain.market import OptionContract, OptionLeg, Quote
from bot.settings.book import BookSettings, StressPoint

EXP = NOW.date() + dt.timedelta(days=45)
EXP2 = NOW.date() + dt.timedelta(days=73)


def leg(k: float, right: str, qty: int, cost: float = 100.0, exp: dt.date = EXP, tc: str = "SPXW") -> OptionLeg:
    return OptionLeg(OptionContract(tc, exp, k, right), qty, cost)


def kinds(groups):
    return [(k, tuple(sl.contract.strike for sl in legs), n) for k, legs, n in groups]


def test_one_condor_is_found_with_its_legs_in_order():
    legs = [leg(5705, "C", 2), leg(5310, "P", 2), leg(5655, "C", -2), leg(5360, "P", -2)]
    assert kinds(group_legs(legs)) == [(StructureKind.IRON_CONDOR, (5310, 5360, 5655, 5705), 2)]


def test_several_condors_per_expiry_match_nearest_wings_first():
    legs = [
        leg(5300, "P", 1), leg(5350, "P", -1), leg(5650, "C", -1), leg(5700, "C", 1),  # 50-wide
        leg(5200, "P", 1), leg(5325, "P", -1), leg(5675, "C", -1), leg(5800, "C", 1),  # 125-wide
    ]  # fmt: skip
    got = kinds(group_legs(legs))
    # the spec's greedy rule takes the narrowest wings available (25 + 25), not the trader's original pairing:
    # the two decompositions hold the same legs, so the book's greeks and max loss per expiry agree
    assert got[0] == (StructureKind.IRON_CONDOR, (5300, 5325, 5675, 5700), 1)
    assert got[1] == (StructureKind.IRON_CONDOR, (5200, 5350, 5650, 5800), 1)
    assert len(got) == 2


def test_unequal_quantities_split_into_condor_and_leftover_vertical_and_single():
    legs = [leg(5310, "P", 5), leg(5360, "P", -5), leg(5655, "C", -3), leg(5705, "C", 3), leg(5800, "C", 1)]
    got = kinds(group_legs(legs))
    assert got[0] == (StructureKind.IRON_CONDOR, (5310, 5360, 5655, 5705), 3)
    assert (StructureKind.PUT_VERTICAL, (5310, 5360), 2) in got
    assert (StructureKind.SINGLE, (5800,), 1) in got
    assert len(got) == 3


def test_expiries_and_trading_classes_never_mix():
    legs = [leg(5310, "P", 1), leg(5360, "P", -1), leg(5655, "C", -1, exp=EXP2), leg(5705, "C", 1, tc="SPX")]
    got = group_legs(legs)
    assert all(k is not StructureKind.IRON_CONDOR for k, _, _ in got)
    assert sum(len(legs) for _, legs, _ in got) == 4


def test_duplicate_reports_of_one_contract_are_merged_with_weighted_cost():
    legs = [leg(5360, "P", -1, cost=300.0), leg(5360, "P", -1, cost=500.0)]
    ((kind, (single,), n),) = group_legs(legs)
    assert kind is StructureKind.SINGLE and n == 2 and single.quantity == -2 and single.avg_cost == 400.0


def test_economics_of_a_condor_from_average_cost():
    legs = [leg(5310, "P", 2, 1000.0), leg(5360, "P", -2, 1800.0), leg(5655, "C", -2, 1500.0), leg(5705, "C", 2, 700.0)]
    (s,) = read_book(snapshot(legs), BookSettings()).structures
    credit = 2 * (1800 + 1500 - 1000 - 700)
    assert s.credit == credit
    assert s.wing_widths == (50, 50)
    assert s.max_loss == 50 * 100 * 2 - credit
    assert s.break_evens == (5360 - credit / 200, 5655 + credit / 200)
    assert s.dte == 45


def test_vertical_and_single_economics():
    legs = [leg(5310, "P", 1, 1000.0), leg(5360, "P", -1, 1800.0), leg(5800, "C", -1, 250.0)]
    report = read_book(snapshot(legs), BookSettings())
    vert = next(s for s in report.structures if s.kind is StructureKind.PUT_VERTICAL)
    single = next(s for s in report.structures if s.kind is StructureKind.SINGLE)
    assert vert.credit == 800 and vert.max_loss == 5000 - 800 and vert.break_evens == (5360 - 8.0,)
    assert single.max_loss is None and single.break_evens == (5802.5,)


def test_broker_greeks_are_used_when_fresh():
    legs = condor_legs(EXP, (5310, 5360, 5655, 5705), 1, with_greeks=True)
    doubled = [dataclasses.replace(lg, greeks=dataclasses.replace(lg.greeks, vega=lg.greeks.vega * 2)) for lg in legs]
    base = read_book(snapshot(legs), BookSettings()).v_ic
    report = read_book(snapshot(doubled), BookSettings())
    assert report.v_ic == pytest.approx(2 * base)


def test_stale_broker_greeks_fall_back_to_black_scholes_from_vix():
    legs = condor_legs(EXP, (5310, 5360, 5655, 5705), 1, with_greeks=True)
    old = NOW - dt.timedelta(seconds=121)
    stale = [dataclasses.replace(lg, greeks=dataclasses.replace(lg.greeks, at=old, vega=99.0)) for lg in legs]

    g = book_greeks(snapshot(stale), BookSettings()).leg(stale[0].contract)
    assert g.source is GreeksSource.BS_VIX and g.vega != 99.0
    assert g.iv == pytest.approx(0.9 * 0.16 - 0.7 * math.log(5310 / 5500))  # VIX 16 x 0.9 plus the skew term
    assert read_book(snapshot(stale), BookSettings()).known


def test_nan_greeks_with_fresh_iv_use_the_legs_iv():
    legs = condor_legs(EXP, (5310, 5360, 5655, 5705), 1, with_greeks=True)
    nan = [dataclasses.replace(lg, greeks=dataclasses.replace(lg.greeks, vega=math.nan)) for lg in legs]

    g = book_greeks(snapshot(nan), BookSettings()).leg(nan[1].contract)
    assert g.source is GreeksSource.BS_LEG_IV and g.iv == pytest.approx(nan[1].greeks.iv)


def test_no_usable_greeks_make_the_book_unknown():
    legs = condor_legs(EXP, (5310, 5360, 5655, 5705), 1, with_greeks=True)
    old = NOW - dt.timedelta(hours=1)
    stale = [dataclasses.replace(lg, greeks=dataclasses.replace(lg.greeks, at=old)) for lg in legs]
    no_fallback = BookSettings(bs_fallback=False)
    report = read_book(snapshot(stale), no_fallback)
    assert not report.known and report.v_ic is None and report.e_vix is None
    assert "no usable greeks" in report.unknown[0]
    # also unknown when the fallback lacks a fresh VIX
    snap = dataclasses.replace(snapshot(stale), vix=Quote(last=16.0, at=old))
    assert not read_book(snap, BookSettings()).known


def test_stale_spx_makes_stress_unknown():
    legs = condor_legs(EXP, (5310, 5360, 5655, 5705), 1, with_greeks=True)
    snap = dataclasses.replace(snapshot(legs), spx=Quote(last=5500.0, at=NOW - dt.timedelta(hours=2)))
    report = read_book(snap, BookSettings())
    assert not report.known and all(sc.pnl is None for sc in report.scenarios)


def test_stress_loss_is_capped_at_max_loss():
    legs = condor_legs(EXP, (5310, 5360, 5655, 5705), 3)
    crash = BookSettings(stress_grid=[StressPoint(spx_pct=-40.0, iv_points=60.0, days=30.0, vix_points=40.0)])
    report = read_book(snapshot(legs), crash)
    (condor,) = report.condors
    assert report.scenarios[0].pnl == pytest.approx(-condor.max_loss)


def test_pnl_uses_marks_and_is_zero_at_cost():
    legs = condor_legs(EXP, (5310, 5360, 5655, 5705), 2)
    (s,) = read_book(snapshot(legs), BookSettings()).structures
    assert s.pnl == pytest.approx(0.0, abs=1e-6)  # opened at the quotes' mids
    no_quote = [dataclasses.replace(lg, quote=None) for lg in legs]
    (s2,) = read_book(snapshot(no_quote), BookSettings()).structures
    assert s2.pnl is not None  # model price marks when no quote


def test_leftovers_count_in_the_books_greeks():
    legs = condor_legs(EXP, (5310, 5360, 5655, 5705), 1)
    extra = condor_legs(EXP2, (5200, 5300, 5700, 5800), 1)[1:2]  # a lone short put
    report = read_book(snapshot(legs + extra), BookSettings())
    assert len(report.leftovers) == 1
    assert report.v_ic == pytest.approx(sum(s.greeks.vega for s in report.structures))
    assert report.v_ic < read_book(snapshot(legs), BookSettings()).v_ic


@pytest.mark.parametrize("right", ["C", "P"])
@pytest.mark.parametrize("t", [0.0, 1e-7, 5 / 365, 45 / 365, 1.5])
def test_vectorised_black_scholes_matches_the_shared_scalar_pricer(right, t):
    from bot.book import bs_greeks_vec
    from bot.pricing.black_scholes import bs_greeks

    strikes = np.array([4000.0, 5310.0, 5500.0, 5705.0, 7000.0])
    vols = np.array([0.3, 0.18, 0.15, 0.12, 0.0])
    got = bs_greeks_vec(np.full(5, 5500.0), strikes, np.full(5, t), 0.03, vols, np.full(5, right == "C"), 0.01)
    for j, (k, v) in enumerate(zip(strikes, vols, strict=True)):
        want = bs_greeks(5500.0, k, t, 0.03, v, right, 0.01)
        for arr, w in zip(got, (want.price, want.delta, want.gamma, want.vega, want.theta), strict=True):
            assert arr[j] == pytest.approx(w, rel=1e-9, abs=1e-12)


def test_contracts_hash_by_value():
    a = OptionContract("SPXW", EXP, 5310.0, "P")
    b = OptionContract("SPXW", EXP, 5310.0, "P")
    assert a == b and hash(a) == hash(b) and len({a, b, dataclasses.replace(a, strike=5315.0)}) == 2


@pytest.mark.parametrize("bad_cost", [math.nan, -50.0])
def test_unusable_average_cost_leaves_credit_unknown_and_stress_uncapped(bad_cost):
    good = condor_legs(EXP, (5310, 5360, 5655, 5705), 3)
    legs = [*good[:1], dataclasses.replace(good[1], avg_cost=bad_cost), *good[2:]]
    report = read_book(snapshot(legs), BookSettings())
    (condor,) = report.condors
    assert math.isnan(condor.credit) and condor.max_loss is None and condor.break_evens == () and condor.pnl is None
    assert condor.wing_widths == (50, 50)
    # greeks and stress repricing do not depend on the cost: still known, just not capped
    reference = read_book(snapshot(good), BookSettings())
    assert report.known and report.v_ic == pytest.approx(reference.v_ic)
    assert [sc.pnl for sc in report.scenarios] == pytest.approx([sc.pnl for sc in reference.scenarios])
    assert "NaN" not in json.dumps(json_safe(report.to_dict()), allow_nan=False)

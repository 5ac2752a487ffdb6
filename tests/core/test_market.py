"""Domain values: NaN-safe quotes, freshness, contract validation, the VX curve, snapshot and state invariants."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pytest
from alvh_core_fixtures import NOW, quote, snapshot, vx_curve

from bot.domain.intents import HedgeInstrument, HedgeKind
from bot.domain.market import (
    HedgePosition,
    MarketSnapshot,
    OptionContract,
    OptionLeg,
    Quote,
    VixOptionQuote,
    VxCurve,
    VxPoint,
)
from bot.domain.state import StrategyState

EXP = dt.date(2024, 6, 21)


@pytest.mark.parametrize(
    ("bid", "ask", "mid"),
    [
        (1.0, 1.2, 1.1),
        (1.0, 1.0, 1.0),
        (1.2, 1.0, None),  # crossed
        (math.nan, 1.0, None),
        (1.0, math.inf, None),
        (0.0, 1.0, None),
        (-1.0, 1.0, None),
    ],
)
def test_mid_only_when_both_sides_are_finite_positive_and_not_crossed(bid, ask, mid):
    assert Quote(bid, ask, at=NOW).mid == mid


def test_value_falls_back_to_a_usable_last_and_freshness_is_a_window():
    assert Quote(last=16.0, at=NOW).value() == 16.0
    assert Quote(last=math.nan, at=NOW).value() is None and Quote(last=-2.0, at=NOW).value() is None
    q = Quote(last=16.0, at=NOW - dt.timedelta(seconds=30))
    assert q.fresh_value(NOW, 60) == 16.0 and q.fresh_value(NOW, 10) is None
    assert not Quote(last=16.0, at=NOW + dt.timedelta(minutes=5)).is_fresh(NOW, 60)  # stamped in the future
    assert not Quote(last=16.0).is_fresh(NOW, 60)  # no timestamp: never fresh


def test_naive_timestamps_are_rejected_with_the_fix():
    with pytest.raises(ValueError, match="timezone-aware"):
        Quote(last=1.0, at=dt.datetime(2024, 5, 1, 15))
    with pytest.raises(ValueError, match="timezone-aware"):
        MarketSnapshot(now=dt.datetime(2024, 5, 1, 15))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"right": "X"}, "right"),
        ({"strike": math.nan}, "strike"),
        ({"strike": -5.0}, "strike"),
        ({"multiplier": 0.0}, "multiplier"),
        ({"trading_class": ""}, "trading_class"),
    ],
)
def test_bad_contracts_are_refused(kwargs, message):
    base = {"trading_class": "SPXW", "expiry": EXP, "strike": 5300.0, "right": "P"}
    with pytest.raises(ValueError, match=message):
        OptionContract(**(base | kwargs))


def test_flat_legs_are_refused():
    with pytest.raises(ValueError, match="quantity is 0"):
        OptionLeg(OptionContract("SPXW", EXP, 5300.0, "P"), 0, 100.0)


def test_curve_orders_points_and_skips_expired_contracts():
    curve = vx_curve()
    shuffled = VxCurve(tuple(reversed(curve.points)))
    assert shuffled.points == curve.points
    f1 = curve.points[0]
    on_expiry = f1.expiry
    assert curve.nth(on_expiry, 1) == curve.points[1]  # F1 settles that morning: F2 becomes the front
    assert curve.nth(NOW.date(), 9) is None and curve.point(f1.expiry) == f1
    with pytest.raises(ValueError, match="share one expiry"):
        VxCurve((f1, VxPoint(f1.expiry, quote(18.0))))


def test_snapshot_finds_quotes_for_each_hedge_kind_and_refuses_duplicate_positions():
    snap = snapshot()
    f1 = snap.curve.points[0]
    assert snap.quote_for(HedgeInstrument(HedgeKind.VXM, f1.expiry)) == f1.quote
    assert snap.quote_for(HedgeInstrument(HedgeKind.VIXY)) == snap.vixy
    opt = snap.vix_options[3]
    assert snap.quote_for(opt.instrument) == opt.quote
    assert snap.quote_for(HedgeInstrument(HedgeKind.VIX_OPTION, f1.expiry, 999.0, "C")) is None
    vxm = HedgeInstrument(HedgeKind.VXM, f1.expiry)
    with pytest.raises(ValueError, match="appears twice"):
        dataclasses.replace(snap, hedges=(HedgePosition(vxm, 1), HedgePosition(vxm, 2)))
    with pytest.raises(ValueError, match="not a complete VIX option"):
        VixOptionQuote(HedgeInstrument(HedgeKind.VIX_OPTION, f1.expiry), quote(1.0))


def test_strategy_state_refuses_non_finite_money_and_out_of_range_fraction():
    with pytest.raises(ValueError, match="harvested_cash_usd"):
        StrategyState(harvested_cash_usd=math.nan)
    with pytest.raises(ValueError, match="mid_curve_fraction"):
        StrategyState(mid_curve_fraction=1.5)
    assert StrategyState().to_dict()["layers"][0]["phase"] == "idle"

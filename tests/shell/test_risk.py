"""Risk: every reason code fires on a minimal case and stays quiet just inside its limit; states; hours; halts."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.intents import HedgeKind, Side
from bot.risk import (
    AnomalyMonitor,
    Quote,
    RiskCode,
    RiskContext,
    TradingState,
    check_intent,
    market_open,
    position_mismatches,
)
from bot.settings.risk import RiskSettings

from .helpers import T0, make_intent

SETTINGS = RiskSettings()
QUOTE = Quote(bid=17.0, ask=17.2, at=T0)  # mid 17.1, spread 1.17% of mid


def ctx(**changes) -> RiskContext:
    base = RiskContext(
        now=T0, mode="paper", account="DU1234567", live_flag=False, live_account=None,
        trading_state=TradingState.ACTIVE, quote=QUOTE, positions={}, net_liquidation=1_000_000.0,
        long_option_premium=0.0, orders_today=0,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def codes(intent=None, context=None, settings=SETTINGS) -> set[RiskCode]:
    return set(check_intent(intent or make_intent(), context or ctx(), settings).codes)


def test_baseline_is_accepted():
    decision = check_intent(make_intent(), ctx(), SETTINGS)
    assert decision.accepted, decision.explain()


def test_halted_blocks_everything_including_closes():
    close = make_intent(side=Side.SELL, opens=False)
    assert RiskCode.TRADING_HALTED in codes(
        close, ctx(trading_state=TradingState.HALTED, positions={"VX:2026-04-15": 2})
    )
    assert RiskCode.TRADING_HALTED in codes(make_intent(), ctx(trading_state=TradingState.HALTED))


def test_reducing_lets_closes_through_and_blocks_opens():
    state = ctx(trading_state=TradingState.REDUCING, positions={"VX:2026-04-15": 2})
    assert codes(make_intent(side=Side.SELL, opens=False), state) == set()
    assert codes(make_intent(), state) == {RiskCode.REDUCING_ONLY}


def test_account_mode_dry_run_never_sends_and_paper_refuses_live_account():
    assert codes(context=ctx(mode="dry-run")) == {RiskCode.ACCOUNT_MODE}
    assert codes(context=ctx(account="U7654321")) == {RiskCode.ACCOUNT_MODE}
    assert codes(context=ctx(account=None)) == {RiskCode.ACCOUNT_MODE}


def test_invalid_quantity():
    assert RiskCode.INVALID_INTENT in codes(make_intent(quantity=0))


def test_position_cap_just_inside_and_over():
    at_cap = ctx(positions={"VX:2026-04-15": SETTINGS.max_vx_contracts - 2})
    assert codes(make_intent(quantity=2), at_cap) == set()
    assert codes(make_intent(quantity=3), at_cap) == {RiskCode.POSITION_CAP}


def test_position_cap_never_blocks_a_reduction():
    over = ctx(positions={"VX:2026-04-15": SETTINGS.max_vx_contracts + 3})
    assert codes(make_intent(side=Side.SELL, quantity=2, opens=False), over) == set()


def test_live_mode_caps_are_tighter():
    live = ctx(mode="live", account="U7654321", live_flag=True, live_account="U7654321")
    cap = int(SETTINGS.max_vx_contracts * SETTINGS.live_cap_factor)
    assert codes(make_intent(quantity=cap), live) == set()
    assert RiskCode.POSITION_CAP in codes(make_intent(quantity=cap + 1), live)


def test_order_notional():
    limit = 17.2
    settings = RiskSettings(max_order_notional_usd=2 * limit * 1000, max_vx_contracts=10)
    assert codes(make_intent(quantity=2, limit=limit), settings=settings) == set()
    assert codes(make_intent(quantity=3, limit=limit), settings=settings) == {RiskCode.ORDER_NOTIONAL}


def _option(quantity: int):
    return make_intent(kind=HedgeKind.VIX_OPTION, strike=25, quantity=quantity, reference=1.0, limit=1.0)


def test_premium_budget_counts_what_is_held():
    opt_quote = Quote(bid=0.98, ask=1.02, at=T0)
    # budget 2% of 100k = 2000; 5000 already held would leave nothing
    base = ctx(quote=opt_quote, net_liquidation=100_000.0, long_option_premium=1_000.0)
    assert codes(_option(10), base) == set()  # 1000 + 10 x 1.0 x 100 = 2000: exactly the budget
    assert codes(_option(11), base) == {RiskCode.PREMIUM_BUDGET}
    assert codes(_option(1), dataclasses.replace(base, net_liquidation=None)) == {RiskCode.PREMIUM_BUDGET}
    # selling a covered call is not a premium purchase
    covered = dataclasses.replace(base, positions={"VX:2026-04-15": 2})
    assert codes(make_intent(kind=HedgeKind.VIX_OPTION, strike=25, side=Side.SELL, quantity=11, reference=1.0,
                             limit=1.0), covered) == set()  # fmt: skip


def _sell_calls(quantity: int, strike: float = 25):
    return make_intent(kind=HedgeKind.VIX_OPTION, strike=strike, side=Side.SELL, quantity=quantity, reference=1.0,
                       limit=1.0)  # fmt: skip


@pytest.mark.parametrize(
    ("positions", "quantity", "covered"),
    [
        ({}, 1, False),  # nothing held: naked
        ({"VX:2026-04-15": 1}, 10, True),  # one VX covers ten calls
        ({"VX:2026-04-15": 1}, 11, False),
        ({"VXM:2026-04-15": 3}, 3, True),  # one VXM covers one call
        ({"VXM:2026-04-15": 3}, 4, False),
        ({"VIX_OPTION:2026-04-15:C:30": 2}, 2, True),  # the long leg of a call spread covers the short leg
        ({"VIX_OPTION:2026-04-15:C:30": 2, "VIX_OPTION:2026-04-15:C:35": -2}, 1, False),  # already used
        ({"VX:2026-05-20": 5}, 1, False),  # another expiry covers nothing
        ({"VIX_OPTION:2026-04-15:P:20": 5}, 1, False),  # puts are no cover
        ({"VIX_OPTION:2026-04-15:C:25": 3}, 3, True),  # selling calls already held long only closes them
    ],
)
def test_short_calls_must_be_covered_by_held_longs(positions, quantity, covered):
    found = codes(_sell_calls(quantity), ctx(quote=Quote(bid=0.98, ask=1.02, at=T0), positions=positions))
    assert (RiskCode.UNCOVERED_SHORT_CALL not in found) is covered, found


def test_orders_per_day():
    assert codes(context=ctx(orders_today=SETTINGS.max_orders_per_day - 1)) == set()
    assert codes(context=ctx(orders_today=SETTINGS.max_orders_per_day)) == {RiskCode.ORDERS_PER_DAY}


def test_no_quote_and_invalid_quotes():
    assert RiskCode.NO_QUOTE in codes(context=ctx(quote=None))
    for bid, ask in [(-1.0, 17.2), (0.0, 17.2), (17.3, 17.2), (float("nan"), 17.2), (None, 17.2)]:
        assert RiskCode.QUOTE_INVALID in codes(context=ctx(quote=Quote(bid, ask, T0))), (bid, ask)


def test_quote_age():
    fresh = Quote(17.0, 17.2, T0 - dt.timedelta(seconds=SETTINGS.max_quote_age_s))
    stale = Quote(17.0, 17.2, T0 - dt.timedelta(seconds=SETTINGS.max_quote_age_s + 1))
    assert codes(context=ctx(quote=fresh)) == set()
    assert codes(context=ctx(quote=stale)) == {RiskCode.QUOTE_STALE}


def test_spread_too_wide():
    # mid 20, spread 5 = 25% of mid: exactly at the limit; a hair more is refused
    inside = Quote(17.5, 22.5, T0)
    wider = Quote(17.49, 22.51, T0)
    intent = make_intent(reference=20, limit=20)
    assert codes(intent, ctx(quote=inside)) == set()
    assert codes(intent, ctx(quote=wider)) == {RiskCode.SPREAD_TOO_WIDE}


def test_price_collar_against_the_far_side():
    slack = SETTINGS.collar_beyond_far_pct / 100 * QUOTE.mid
    assert codes(make_intent(limit=17.2 + slack - 1e-9)) == set()
    assert codes(make_intent(limit=17.2 + slack + 0.01)) == {RiskCode.PRICE_COLLAR}
    sell = dict(side=Side.SELL, opens=False)
    held = ctx(positions={"VX:2026-04-15": 2})
    assert codes(make_intent(limit=17.0 - slack + 1e-9, **sell), held) == set()
    assert codes(make_intent(limit=17.0 - slack - 0.01, **sell), held) == {RiskCode.PRICE_COLLAR}


def test_trading_hours_inside_cfe_hours_weekend_and_holiday():
    assert market_open(HedgeKind.VX, T0)[0]  # Wednesday 09:00 Chicago
    saturday = dt.datetime(2026, 3, 7, 15, 0, tzinfo=dt.UTC)
    christmas = dt.datetime(2026, 12, 25, 15, 0, tzinfo=dt.UTC)
    after_close = dt.datetime(2026, 3, 4, 21, 16, tzinfo=dt.UTC)  # 15:16 Chicago, CFE regular close 15:15
    for when in (saturday, christmas, after_close):
        assert codes(context=ctx(now=when, quote=Quote(17.0, 17.2, when))) == {RiskCode.MARKET_CLOSED}, when
    before_close = dt.datetime(2026, 3, 4, 21, 14, tzinfo=dt.UTC)
    assert codes(context=ctx(now=before_close, quote=Quote(17.0, 17.2, before_close))) == set()


def test_vixy_follows_nyse_hours():
    vixy = make_intent(kind=HedgeKind.VIXY, quantity=100, reference=12.0, limit=12.05)
    q = Quote(11.99, 12.01, T0)
    assert codes(vixy, ctx(quote=q)) == set()
    late = dt.datetime(2026, 3, 4, 21, 5, tzinfo=dt.UTC)  # 16:05 New York: NYSE closed, CFE (15:05 Chicago) open
    assert codes(vixy, ctx(now=late, quote=Quote(11.99, 12.01, late))) == {RiskCode.MARKET_CLOSED}
    assert market_open(HedgeKind.VX, late)[0]


def test_trading_hours_fail_closed_on_naive_or_out_of_range_times():
    assert not market_open(HedgeKind.VX, dt.datetime(2026, 3, 4, 15, 0))[0]
    assert not market_open(HedgeKind.VX, dt.datetime(1990, 3, 5, 15, 0, tzinfo=dt.UTC))[0]


def test_all_denials_are_reported_together():
    bad = ctx(trading_state=TradingState.HALTED, quote=None, orders_today=999)
    assert {RiskCode.TRADING_HALTED, RiskCode.NO_QUOTE, RiskCode.ORDERS_PER_DAY} <= codes(context=bad)


def test_repeated_rejections_halt_within_the_window_only():
    monitor = AnomalyMonitor(RiskSettings(halt_after_rejections=3, rejection_window_s=60))
    assert monitor.on_rejection(T0) is None
    assert monitor.on_rejection(T0 + dt.timedelta(seconds=30)) is None
    assert monitor.on_rejection(T0 + dt.timedelta(seconds=61)) is None  # the first one left the window
    halt = monitor.on_rejection(T0 + dt.timedelta(seconds=62))
    assert halt is not None and halt.code == "repeated_rejections"


def test_stale_data_halts_only_while_open_and_beyond_the_limit():
    monitor = AnomalyMonitor(SETTINGS)
    limit = SETTINGS.halt_on_stale_data_s
    assert monitor.check_staleness(T0, T0 - dt.timedelta(seconds=limit), market_is_open=True) is None
    assert monitor.check_staleness(T0, T0 - dt.timedelta(seconds=limit + 1), market_is_open=True).code == "stale_data"
    assert monitor.check_staleness(T0, T0 - dt.timedelta(days=2), market_is_open=False) is None
    assert monitor.check_staleness(T0, None, market_is_open=True).code == "stale_data"


def test_unexpected_hedge_position_change_halts():
    monitor = AnomalyMonitor(SETTINGS)
    monitor.rebase({"VX:2026-04-15": 2})
    monitor.on_fill("VX:2026-04-15", Side.BUY, 1)
    assert monitor.check_positions({"VX:2026-04-15": 3}) is None  # explained by the fill
    halt = monitor.check_positions({"VX:2026-04-15": 3, "VIXY": 100})  # VIXY appeared without a fill
    assert halt is not None and "VIXY: expected 0, broker 100" in halt.message
    assert monitor.check_positions({"VX:2026-04-15": 2}) is not None  # a contract vanished


def test_position_tolerance():
    assert position_mismatches({"A": 5}, {"A": 6}, tolerance=1) == []
    assert position_mismatches({"A": 5}, {"A": 7}, tolerance=1) == [("A", 5, 7)]


@pytest.mark.parametrize("kind", list(HedgeKind))
def test_every_instrument_has_a_multiplier_and_an_exchange(kind: HedgeKind):
    from bot.risk import EXCHANGE_CALENDAR, MULTIPLIERS

    assert MULTIPLIERS[kind] > 0 and EXCHANGE_CALENDAR[kind] in ("XCBF", "XNYS")


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from([HedgeKind.VX, HedgeKind.VIXY]),
    minutes=st.integers(0, 60 * 24 * 365 * 20),
)
def test_trading_hours_agree_with_the_calendars_minute_answer(kind, minutes):
    import pandas as pd

    from bot.risk import EXCHANGE_CALENDAR, _calendar

    at = dt.datetime(2005, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)
    reference = bool(_calendar(EXCHANGE_CALENDAR[kind]).is_open_on_minute(pd.Timestamp(at)))
    assert market_open(kind, at)[0] is reference


SPREAD = {"VIX_OPTION:2026-04-15:C:30": 2, "VIX_OPTION:2026-04-15:C:35": -2}


def _sell(key_kind: HedgeKind, quantity: int, **kw):
    return make_intent(kind=key_kind, side=Side.SELL, quantity=quantity, reference=1.0, limit=1.0, **kw)


@pytest.mark.parametrize(
    ("intent", "positions", "covered"),
    [
        # the e2e spike run sold all its March VXM while four March calls were still short
        (_sell(HedgeKind.VXM, 5), {"VXM:2026-04-15": 5, "VIX_OPTION:2026-04-15:C:23": -4}, False),
        (_sell(HedgeKind.VXM, 1), {"VXM:2026-04-15": 5, "VIX_OPTION:2026-04-15:C:23": -4}, True),  # 4 left: enough
        (_sell(HedgeKind.VX, 1), {"VX:2026-04-15": 1, "VIX_OPTION:2026-04-15:C:23": -1}, False),
        (_sell(HedgeKind.VX, 1), {"VX:2026-04-15": 2, "VIX_OPTION:2026-04-15:C:23": -10}, True),
        (_sell(HedgeKind.VXM, 3), {"VXM:2026-04-15": 3, "VIX_OPTION:2026-05-20:C:23": -3}, True),  # other expiry
        # the long leg of a call spread cannot go before the short leg is bought back
        (_sell(HedgeKind.VIX_OPTION, 2, strike=30), SPREAD, False),
        (_sell(HedgeKind.VIX_OPTION, 2, strike=30), {"VIX_OPTION:2026-04-15:C:30": 2}, True),
    ],
)
def test_selling_cover_never_leaves_short_calls_naked(intent, positions, covered):
    found = codes(intent, ctx(quote=Quote(bid=0.98, ask=1.02, at=T0), positions=positions))
    assert (RiskCode.UNCOVERED_SHORT_CALL not in found) is covered, found


def test_pending_sells_count_as_filled_and_pending_buys_as_not():
    positions = {"VXM:2026-04-15": 5, "VIX_OPTION:2026-04-15:C:23": -3}
    base = ctx(quote=Quote(bid=0.98, ask=1.02, at=T0), positions=positions)
    assert RiskCode.UNCOVERED_SHORT_CALL not in codes(_sell_calls(2, strike=23), base)  # 5 short, 5 cover
    # a VXM sale already working may fill first: the same call sale would then be naked
    working = dataclasses.replace(base, pending={"VXM:2026-04-15": -2})
    assert RiskCode.UNCOVERED_SHORT_CALL in codes(_sell_calls(2, strike=23), working)
    # a buy of cover that has not filled yet covers nothing
    buying = dataclasses.replace(base, pending={"VXM:2026-04-15": 4})
    assert RiskCode.UNCOVERED_SHORT_CALL in codes(_sell_calls(3, strike=23), buying)
    # and a call sale in flight makes a VXM sale wait
    selling = dataclasses.replace(base, pending={"VIX_OPTION:2026-04-15:C:23": -2})
    decision = check_intent(_sell(HedgeKind.VXM, 1), selling, SETTINGS)
    assert RiskCode.UNCOVERED_SHORT_CALL in decision.codes and "buy back the short calls first" in decision.explain()


def _special_days(cal, first: dt.date, last: dt.date) -> dict[str, list[dt.date]]:
    """Weekend days, weekday holidays and early closes of `cal` between `first` and `last`, read from the calendar."""
    import pandas as pd

    sessions = cal.sessions_in_range(pd.Timestamp(first), pd.Timestamp(last))
    days = pd.date_range(first, last, freq="D")
    holidays = [d.date() for d in days if d.weekday() < 5 and d not in sessions]
    local_close = cal.closes.loc[sessions].dt.tz_convert(cal.tz).dt.time
    usual = local_close.mode()[0]
    early = [d.date() for d, t in local_close.items() if t < usual]
    weekends = [d.date() for d in days if d.weekday() >= 5]
    return {"holidays": holidays, "early_closes": early, "weekends": weekends}


@pytest.mark.parametrize("kind", [HedgeKind.VX, HedgeKind.VIXY])
def test_cached_session_times_agree_with_the_calendar_on_special_days(kind):
    """The per-day cached open/close times give the calendar's own minute answer, at random instants (seconds
    included) on holidays, early-close days, weekends and ordinary days, each asked twice (cold, then cached)."""
    import random

    import pandas as pd

    from bot.risk import EXCHANGE_CALENDAR, _calendar

    cal = _calendar(EXCHANGE_CALENDAR[kind])
    rng = random.Random(20260304)
    special = _special_days(cal, dt.date(2005, 1, 1), dt.date(2026, 12, 31))
    assert all(len(days) >= 10 for days in special.values()), {k: len(v) for k, v in special.items()}
    ordinary = [d.date() for d in cal.sessions_in_range("2005-01-01", "2026-12-31")]
    picked = [day for days in [*special.values(), ordinary] for day in rng.sample(days, min(len(days), 40))]
    for day in picked:
        local_midnight = dt.datetime.combine(day, dt.time(), tzinfo=cal.tz)
        for _ in range(12):
            at = (local_midnight + dt.timedelta(seconds=rng.randrange(-6 * 3600, 30 * 3600))).astimezone(dt.UTC)
            reference = bool(cal.is_open_on_minute(pd.Timestamp(at).floor("min")))
            assert market_open(kind, at)[0] is reference, at
            assert market_open(kind, at)[0] is reference, at


def test_early_close_and_last_calendar_day_follow_the_calendar():
    from bot.risk import EXCHANGE_CALENDAR, _calendar

    # 2025-11-28, the day after Thanksgiving: NYSE closes at 13:00 New York (18:00 UTC)
    assert market_open(HedgeKind.VIXY, dt.datetime(2025, 11, 28, 17, 59, 30, tzinfo=dt.UTC))[0]
    assert not market_open(HedgeKind.VIXY, dt.datetime(2025, 11, 28, 18, 0, tzinfo=dt.UTC))[0]
    # the evening of the calendar's last session: the next day is out of range and must not raise
    last = _calendar(EXCHANGE_CALENDAR[HedgeKind.VX]).last_session.date()
    evening = dt.datetime.combine(last, dt.time(23, 30), tzinfo=dt.UTC)
    closed = f"XCBF is closed at {evening:%Y-%m-%d %H:%M} UTC ({HedgeKind.VX.value})"
    assert market_open(HedgeKind.VX, evening) == (False, closed)

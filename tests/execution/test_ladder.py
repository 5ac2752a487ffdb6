"""Ladder arithmetic: on the tick grid, never past the limit, mid first and far side last."""

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.intents import Side
from bot.execution.ladder import ladder_price, round_down, round_up, tick_at

TICKS = st.sampled_from([0.01, 0.05, 0.1, 0.25])


def on_grid(price: float, tick: float) -> bool:
    return Decimal(str(price)) % Decimal(str(tick)) == 0


@st.composite
def markets(draw):
    tick = draw(TICKS)
    bid_ticks = draw(st.integers(1, 20_000))
    spread_ticks = draw(st.integers(0, 400))
    bid = float(Decimal(bid_ticks) * Decimal(str(tick)))
    ask = float(Decimal(bid_ticks + spread_ticks) * Decimal(str(tick)))
    limit = draw(st.floats(0.001, 600.0, allow_nan=False))
    steps = draw(st.integers(1, 10))
    step = draw(st.integers(0, steps - 1))
    far_steps = draw(st.integers(1, steps))
    side = draw(st.sampled_from(list(Side)))
    return side, bid, ask, step, steps, limit, tick, far_steps


@given(markets())
def test_never_crosses_the_limit_and_always_on_tick(market) -> None:
    side, bid, ask, step, steps, limit, tick, far_steps = market
    price = ladder_price(side, bid, ask, step, steps, limit, tick, far_steps)
    if price is None:
        assert side is Side.BUY and limit < tick  # only a buy limit below one tick leaves no positive price
        return
    assert price > 0
    assert on_grid(price, tick)
    if side is Side.BUY:
        assert price <= limit + 1e-12
        assert price <= ask + 1e-12  # never more aggressive than the far side
    else:
        assert price >= limit - 1e-12
        assert price >= bid - 1e-12


@given(markets())
def test_steps_walk_monotonically_toward_the_far_side(market) -> None:
    side, bid, ask, _, steps, limit, tick, far_steps = market
    prices = [ladder_price(side, bid, ask, k, steps, limit, tick, far_steps) for k in range(steps)]
    if None in prices:
        return
    ordered = sorted(prices) if side is Side.BUY else sorted(prices, reverse=True)
    assert prices == ordered


def test_mid_first_far_side_last_with_a_loose_limit() -> None:
    # VX-style 0.05 tick, bid 17.00 ask 17.30: mid 17.15 is on the grid
    assert ladder_price(Side.BUY, 17.0, 17.3, 0, 4, 99.0, 0.05) == 17.15
    assert ladder_price(Side.BUY, 17.0, 17.3, 3, 4, 99.0, 0.05) == 17.3
    assert ladder_price(Side.SELL, 17.0, 17.3, 0, 4, 0.05, 0.05) == 17.15
    assert ladder_price(Side.SELL, 17.0, 17.3, 3, 4, 0.05, 0.05) == 17.0


def test_off_grid_mid_rounds_to_the_passive_side() -> None:
    # bid 17.00 ask 17.05: mid 17.025 -> buy 17.00, sell 17.05
    assert ladder_price(Side.BUY, 17.0, 17.05, 0, 3, 99.0, 0.05) == 17.0
    assert ladder_price(Side.SELL, 17.0, 17.05, 0, 3, 0.05, 0.05) == 17.05


def test_limit_caps_the_last_steps() -> None:
    assert ladder_price(Side.BUY, 17.0, 17.3, 3, 4, 17.22, 0.05) == 17.2
    assert ladder_price(Side.SELL, 17.0, 17.3, 3, 4, 17.12, 0.05) == 17.15


def test_single_step_ladder_sits_at_mid() -> None:
    assert ladder_price(Side.BUY, 1.0, 1.2, 0, 1, 5.0, 0.01) == 1.1


@pytest.mark.parametrize(("bid", "ask"), [(0.0, 1.0), (1.2, 1.1), (math.nan, 1.0)])
def test_invalid_quote_is_an_error(bid: float, ask: float) -> None:
    with pytest.raises(ValueError, match="two-sided quote"):
        ladder_price(Side.BUY, bid, ask, 0, 3, 5.0, 0.05)


def test_bad_tick_and_step_are_errors() -> None:
    with pytest.raises(ValueError, match="min tick"):
        ladder_price(Side.BUY, 1.0, 1.1, 0, 3, 5.0, 0.0)
    with pytest.raises(ValueError, match="outside a ladder"):
        ladder_price(Side.BUY, 1.0, 1.1, 3, 3, 5.0, 0.05)


def test_rounding_is_exact_on_decimal_ticks() -> None:
    assert round_down(17.15, 0.05) == 17.15
    assert round_up(17.1500001, 0.05) == 17.2
    assert round_down(0.3, 0.1) == 0.3


def test_far_side_steps_hold_the_far_price() -> None:
    prices = [ladder_price(Side.BUY, 17.0, 17.3, k, 4, 99.0, 0.05, far_steps=2) for k in range(4)]
    assert prices == [17.15, 17.2, 17.3, 17.3]
    assert [ladder_price(Side.SELL, 17.0, 17.3, k, 2, 1.0, 0.05, far_steps=2) for k in range(2)] == [17.15, 17.0]
    with pytest.raises(ValueError, match="far_steps"):
        ladder_price(Side.BUY, 17.0, 17.3, 0, 2, 99.0, 0.05, far_steps=3)


VIX_OPTION_RULE = ((0.0, 0.01), (3.0, 0.05))


@st.composite
def option_markets(draw):
    cents = draw(st.integers(1, 2_000))  # bid in cents: both sides of the 3.00 tier edge
    spread = draw(st.integers(0, 120))
    bid, ask = cents / 100, (cents + spread) / 100
    limit = draw(st.floats(0.001, 40.0, allow_nan=False))
    steps = draw(st.integers(1, 6))
    return draw(st.sampled_from(list(Side))), bid, ask, draw(st.integers(0, steps - 1)), steps, limit


@given(option_markets())
def test_tiered_increments_put_every_price_on_its_tier_grid(market) -> None:
    side, bid, ask, step, steps, limit = market
    price = ladder_price(side, bid, ask, step, steps, limit, 0.01, increments=VIX_OPTION_RULE)
    if price is None:
        return
    assert on_grid(price, 0.05 if price >= 3.0 else 0.01)
    assert price <= limit + 1e-12 if side is Side.BUY else price >= limit - 1e-12


def test_tier_edges() -> None:
    assert tick_at(2.99, 0.01, VIX_OPTION_RULE) == 0.01
    assert tick_at(3.0, 0.01, VIX_OPTION_RULE) == 0.05
    assert tick_at(7.0, 0.05) == 0.05  # no rule: the min tick
    # bid 3.20 ask 3.40: mid 3.30 is on the 0.05 grid; bid 3.21 ask 3.36: mid 3.285 -> 3.25 to buy, 3.30 to sell
    assert ladder_price(Side.BUY, 3.21, 3.36, 0, 3, 9.0, 0.01, increments=VIX_OPTION_RULE) == 3.25
    assert ladder_price(Side.SELL, 3.21, 3.36, 0, 3, 0.01, 0.01, increments=VIX_OPTION_RULE) == 3.3
    # below the edge the fine grid applies: bid 2.50 ask 2.57 -> mid 2.535 -> 2.53 / 2.54
    assert ladder_price(Side.BUY, 2.5, 2.57, 0, 3, 9.0, 0.01, increments=VIX_OPTION_RULE) == 2.53
    assert ladder_price(Side.SELL, 2.5, 2.57, 0, 3, 0.01, 0.01, increments=VIX_OPTION_RULE) == 2.54

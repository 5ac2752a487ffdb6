"""The simulator's matching of resting limits inside the spread against the market model's own last print.

Why here: layer 2's covered-call ladders end 1-3 ticks above a falling bid at 120,000x (issue 4); before this rule an
offer below the model's mid print rested for market hours and never traded, which no real market does.
"""

from __future__ import annotations

import datetime as dt
import math

from bot.sim.market.api import Quote
from bot.sim.matching import Liquidity, decide_fill

T0 = dt.datetime(2025, 2, 4, 16, 0, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(minutes=5)  # well past replenish_s: only a new print renews its size
# a VIX call: 2.43 / 2.60, the model's print at its mid for 4 contracts
CALL = Quote(bid=2.43, ask=2.60, last=2.52, close=2.90, bid_size=40, ask_size=30, last_size=4)


def test_an_offer_below_the_print_fills_at_its_limit_up_to_the_print_size_once() -> None:
    liq = Liquidity(replenish_s=1.0)
    fill = decide_fill("SELL", "LMT", 2.45, 5, CALL, 7, T0, liq)
    assert fill is not None and (fill.price, fill.quantity) == (2.45, 4)  # at the limit, not at the bid or print
    assert decide_fill("SELL", "LMT", 2.45, 1, CALL, 7, LATER, liq) is None  # that print is used up
    next_print = Quote(2.43, 2.60, 2.51, 2.90, 40, 30, last_size=2)
    fill = decide_fill("SELL", "LMT", 2.45, 1, next_print, 7, LATER, liq)
    assert fill is not None and fill.quantity == 1


def test_a_bid_above_the_print_fills_at_its_limit() -> None:
    fill = decide_fill("BUY", "LMT", 2.55, 2, CALL, 7, T0, Liquidity())
    assert fill is not None and (fill.price, fill.quantity) == (2.55, 2)


def test_orders_at_the_print_or_on_its_passive_side_rest() -> None:
    assert decide_fill("SELL", "LMT", 2.52, 1, CALL, 7, T0, Liquidity()) is None  # at the print: queue unknown
    assert decide_fill("SELL", "LMT", 2.56, 1, CALL, 7, T0, Liquidity()) is None
    assert decide_fill("BUY", "LMT", 2.52, 1, CALL, 7, T0, Liquidity()) is None
    assert decide_fill("BUY", "LMT", 2.47, 1, CALL, 7, T0, Liquidity()) is None


def test_no_print_fill_without_a_two_sided_market_or_a_print_size() -> None:
    no_bid = Quote(math.nan, 0.05, 0.03, 0.04, 0, 100, last_size=3)
    assert decide_fill("SELL", "LMT", 0.02, 1, no_bid, 7, T0, Liquidity()) is None
    no_size = Quote(2.43, 2.60, 2.52, 2.90, 40, 30, last_size=0)
    assert decide_fill("SELL", "LMT", 2.45, 1, no_size, 7, T0, Liquidity()) is None


def test_a_marketable_order_still_takes_the_quote_and_its_displayed_size() -> None:
    liq = Liquidity(replenish_s=1.0)
    fill = decide_fill("SELL", "LMT", 2.40, 50, CALL, 7, T0, liq)
    assert fill is not None and (fill.price, fill.quantity) == (2.43, 40)  # the bid, capped by the bid size
    assert decide_fill("SELL", "LMT", 2.40, 10, CALL, 7, T0, liq) is None  # marketable: waits for the bid size

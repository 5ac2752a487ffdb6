"""Order matching against the simulated top of book.

Rules: a BUY limit fills when ask <= limit, a SELL limit when bid >= limit, at the quote (so a marketable limit gets
price improvement). A market order takes the far side. Each fill is capped by the displayed size, and that size is
consumed: it replenishes only when the quote changes or `replenish_s` simulated seconds pass, so an order bigger than
the displayed size fills in several partial fills over time. Nothing fills while the market is closed.

A resting limit inside the spread fills too when the market model's own last trade prints through it: a SELL limit
below the print, a BUY limit above it. That buyer (seller) would have met the resting order first (price priority),
and the model prints at its fair value (the mid), so an order that offers value against it is taken, as it would be
by market makers. It fills at its limit, at most the print's size, and a print's size is used once (it renews only
when the print changes, about once a simulated minute). A print exactly at the limit fills nothing: the queue ahead
is unknown. Orders at mid or on the passive side of it keep resting until the quote reaches them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from bot.sim.market.api import Quote

SUPPORTED_ORDER_TYPES = frozenset({"LMT", "MKT"})


@dataclass(frozen=True, slots=True)
class FillDecision:
    price: float
    quantity: float


def _sane(price: float) -> bool:
    return math.isfinite(price) and price > 0


class Liquidity:
    """Displayed size already taken at the current quote, per (conId, side we take from)."""

    def __init__(self, replenish_s: float = 1.0) -> None:
        self.replenish_s = replenish_s
        self._taken: dict[tuple[int, str], tuple[tuple[float, float], dt.datetime, float]] = {}

    def available(
        self, con_id: int, side: str, price: float, size: float, t: dt.datetime, renews: bool = True
    ) -> float:
        """Size still there at (price, size); `renews` False: only a change of (price, size) brings it back."""
        key = (con_id, side)
        entry = self._taken.get(key)
        if entry is None:
            return size
        (seen_price, seen_size), since, taken = entry
        timed_out = renews and (t - since).total_seconds() >= self.replenish_s
        if (seen_price, seen_size) != (price, size) or timed_out:
            del self._taken[key]
            return size
        return max(0.0, size - taken)

    def take(self, con_id: int, side: str, price: float, size: float, t: dt.datetime, quantity: float) -> None:
        key = (con_id, side)
        entry = self._taken.get(key)
        if entry is not None and entry[0] == (price, size):
            self._taken[key] = (entry[0], entry[1], entry[2] + quantity)
        else:
            self._taken[key] = ((price, size), t, quantity)


def decide_fill(
    action: str,
    order_type: str,
    limit: float | None,
    remaining: float,
    quote: Quote | None,
    con_id: int,
    t: dt.datetime,
    liquidity: Liquidity,
    min_fill: float = 1.0,
) -> FillDecision | None:
    """The fill this order gets now (and consume the liquidity), or None if it must keep resting.

    `min_fill` is the smallest tradable unit (1 contract; fractional shares are not simulated).
    """
    if quote is None or remaining <= 0:
        return None
    buying = action == "BUY"
    price = quote.ask if buying else quote.bid
    size = quote.ask_size if buying else quote.bid_size
    if not _sane(price) or not (math.isfinite(size) and size > 0):
        return None
    if _sane(quote.bid) and _sane(quote.ask) and quote.bid > quote.ask:
        return None  # a crossed book is broken data, not an opportunity
    if order_type == "LMT":
        if limit is None:
            return None
        if (buying and price > limit + 1e-9) or (not buying and price < limit - 1e-9):
            return _through_print(buying, limit, remaining, quote, con_id, t, liquidity, min_fill)
    elif order_type != "MKT":
        return None
    side = "ask" if buying else "bid"
    available = liquidity.available(con_id, side, price, size, t)
    return _take(liquidity, con_id, side, (price, size), t, min(remaining, available), price, min_fill)


def _through_print(
    buying: bool,
    limit: float,
    remaining: float,
    quote: Quote,
    con_id: int,
    t: dt.datetime,
    liquidity: Liquidity,
    min_fill: float,
) -> FillDecision | None:
    """The fill a resting (not marketable) limit gets from a last print that traded through it, at its limit."""
    last, size = quote.last, quote.last_size
    if not (_sane(last) and _sane(quote.bid) and _sane(quote.ask) and math.isfinite(size) and size > 0):
        return None  # no two-sided market or no print: nothing says a trade went through the order
    if not (last < limit - 1e-9 if buying else last > limit + 1e-9):
        return None
    available = liquidity.available(con_id, "print", last, size, t, renews=False)
    return _take(liquidity, con_id, "print", (last, size), t, min(remaining, available), limit, min_fill)


def _take(
    liquidity: Liquidity,
    con_id: int,
    side: str,
    seen: tuple[float, float],
    t: dt.datetime,
    wanted: float,
    price: float,
    min_fill: float,
) -> FillDecision | None:
    """Fill `wanted` (rounded down to whole units) at `price`, consuming it from the (price, size) `seen`."""
    quantity = math.floor(wanted / min_fill) * min_fill
    if quantity <= 0:
        return None
    liquidity.take(con_id, side, seen[0], seen[1], t, quantity)
    return FillDecision(price=price, quantity=quantity)

"""Order matching against the simulated top of book.

Rules: a BUY limit fills when ask <= limit, a SELL limit when bid >= limit, at the quote (so a marketable limit gets
price improvement). A market order takes the far side. Each fill is capped by the displayed size, and that size is
consumed: it replenishes only when the quote changes or `replenish_s` simulated seconds pass, so an order bigger than
the displayed size fills in several partial fills over time. Nothing fills while the market is closed.
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

    def available(self, con_id: int, side: str, price: float, size: float, t: dt.datetime) -> float:
        key = (con_id, side)
        entry = self._taken.get(key)
        if entry is None:
            return size
        (seen_price, seen_size), since, taken = entry
        if (seen_price, seen_size) != (price, size) or (t - since).total_seconds() >= self.replenish_s:
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
        if limit is None or (buying and price > limit + 1e-9) or (not buying and price < limit - 1e-9):
            return None
    elif order_type != "MKT":
        return None
    side = "ask" if buying else "bid"
    available = liquidity.available(con_id, side, price, size, t)
    quantity = math.floor(min(remaining, available) / min_fill) * min_fill
    if quantity <= 0:
        return None
    liquidity.take(con_id, side, price, size, t, quantity)
    return FillDecision(price=price, quantity=quantity)

"""Hedge P&L from the bot's own fills (average-cost method) and the premium harvested by covered calls.

The core's cash press reads `harvested_cash_usd` and `realized_hedge_pnl_usd` from StrategyState, "kept by the shell
from fills": this ledger is that bookkeeping. It is rebuilt from the journal's fills at start (crash-only) and
extended by each new execution; an execution id is counted once however often the broker repeats it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.domain.intents import HedgeKind
from bot.domain.market import multiplier_of


def multiplier_for_key(key: str) -> float:
    """Dollars per point of one unit of a hedge instrument key ('VX:2025-02-19', 'VIXY', 'VIX_OPTION:...')."""
    return multiplier_of(HedgeKind(key.split(":", 1)[0]))


@dataclass
class Holding:
    quantity: int = 0
    avg_price: float = 0.0  # per unit, in points (not x multiplier)


@dataclass
class HedgeLedger:
    holdings: dict[str, Holding] = field(default_factory=dict)
    realized_usd: float = 0.0
    harvested_usd: float = 0.0  # premium taken in by selling VIX calls to open (covered calls, short legs)
    commissions_usd: float = 0.0
    fills: int = 0
    _seen: set[str] = field(default_factory=set)

    def add_fill(
        self, exec_id: str, key: str, side: str, quantity: float, price: float, commission: float | None
    ) -> bool:
        """Book one execution; False when it was already booked or is unusable (no key, no price)."""
        if exec_id in self._seen or not key or not (price > 0 and math.isfinite(price)) or quantity <= 0:
            return False
        try:
            mult = multiplier_for_key(key)
        except ValueError:
            return False
        self._seen.add(exec_id)
        self.fills += 1
        if commission is not None and math.isfinite(commission):
            self.commissions_usd += commission
        signed = round(quantity) * (1 if side.upper() in ("BUY", "BOT") else -1)
        h = self.holdings.setdefault(key, Holding())
        if h.quantity == 0 or (h.quantity > 0) == (signed > 0):
            total = h.quantity + signed
            h.avg_price = (h.avg_price * abs(h.quantity) + price * abs(signed)) / abs(total)
            h.quantity = total
            if signed < 0 and key.startswith(HedgeKind.VIX_OPTION.value):
                self.harvested_usd += price * abs(signed) * mult
            return True
        closing = min(abs(signed), abs(h.quantity))
        direction = 1 if h.quantity > 0 else -1
        self.realized_usd += (price - h.avg_price) * closing * direction * mult
        h.quantity += signed
        rest = abs(signed) - closing
        if h.quantity == 0:
            h.avg_price = 0.0
        elif rest > 0:  # the fill flipped the position: the remainder opens at this price
            h.avg_price = price
            if signed < 0 and key.startswith(HedgeKind.VIX_OPTION.value):
                self.harvested_usd += price * rest * mult
        return True

    def unrealized_usd(self, marks: Mapping[str, float | None]) -> float | None:
        """Open P&L at `marks` (mid per key); None when a held instrument has no mark."""
        total = 0.0
        for key, h in self.holdings.items():
            if h.quantity == 0:
                continue
            mark = marks.get(key)
            if mark is None:
                return None
            total += (mark - h.avg_price) * h.quantity * multiplier_for_key(key)
        return total

    def open_keys(self) -> list[str]:
        return sorted(k for k, h in self.holdings.items() if h.quantity)

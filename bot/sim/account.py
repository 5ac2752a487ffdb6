"""The simulated account: positions, cash, realized P&L, executions, and cash settlement of expired contracts.

Accounting (documented in docs/simulator.md):
- avg_cost is per contract including the multiplier (IB convention), e.g. a VX future bought at 17.25 -> 17250.
- Options, stocks: buying pays premium from cash (qty * price * multiplier); selling receives it.
- Futures: no cash changes hands on a trade; realized P&L of the closed part goes to cash (daily variation margin
  is not modelled, so open futures P&L is unrealized until closed or settled).
- Commissions are deducted from cash at each fill and included in that fill's realized P&L (IB reports realized
  P&L net of commission).
- Net liquidation = cash + market value of options/stocks + unrealized P&L of futures, marked at the mid (or last,
  or previous close when there is no two-sided quote).
- An expired future or option is closed at MarketModel.settlement_price (the per-unit settlement value), exactly
  like a fill at that price but without commission.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from bot.sim.market.api import BookEntry, Instrument, Quote

# Illustrative per-contract commissions (USD), close to IB's fixed schedule for these products; not a fee model.
COMMISSION_PER_UNIT = {"OPT": 0.65, "FUT": 2.25, "STK": 0.005}
MIN_COMMISSION = {"OPT": 1.0, "FUT": 0.0, "STK": 1.0}


def commission_for(inst: Instrument, quantity: float) -> float:
    per = COMMISSION_PER_UNIT.get(inst.sec_type, 0.0)
    return round(max(MIN_COMMISSION.get(inst.sec_type, 0.0), per * abs(quantity)), 2)


def mark_price(quote: Quote | None) -> float | None:
    """Mid when two-sided and sane, else last, else previous close; None when nothing usable is quoted."""
    if quote is None:
        return None
    bid, ask = quote.bid, quote.ask
    if math.isfinite(bid) and math.isfinite(ask) and 0 < bid <= ask:
        return (bid + ask) / 2
    for value in (quote.last, quote.close):
        if math.isfinite(value) and value > 0:
            return value
    return None


@dataclass
class Position:
    instrument: Instrument
    quantity: float = 0.0
    avg_cost: float = 0.0  # per contract, price * multiplier
    realized_pnl: float = 0.0


@dataclass(frozen=True, slots=True)
class Execution:
    exec_id: str
    time: dt.datetime
    client_id: int
    order_id: int
    perm_id: int
    instrument: Instrument
    side: str  # "BOT" or "SLD"
    shares: float
    price: float
    cum_qty: float
    avg_price: float
    order_ref: str
    commission: float
    realized_pnl: float | None  # None when the fill only opened or added (IB sends no realized P&L then)


@dataclass(frozen=True, slots=True)
class Settlement:
    instrument: Instrument
    quantity: float
    price: float
    realized_pnl: float


@dataclass
class Account:
    account_id: str
    cash: float
    positions: dict[int, Position] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    settlements: list[Settlement] = field(default_factory=list)
    realized_pnl: float = 0.0
    commissions: float = 0.0

    @classmethod
    def with_book(cls, account_id: str, cash: float, book: list[BookEntry]) -> Account:
        acct = cls(account_id=account_id, cash=cash)
        for entry in book:
            if entry.quantity == 0:
                continue
            if entry.instrument.con_id in acct.positions:
                raise ValueError(f"starting book lists conId {entry.instrument.con_id} twice")
            acct.positions[entry.instrument.con_id] = Position(entry.instrument, entry.quantity, entry.avg_cost)
        return acct

    def apply_fill(self, inst: Instrument, signed_qty: float, price: float, commission: float) -> float | None:
        """Book a fill (signed: + bought, - sold); returns realized P&L net of commission, None if nothing closed."""
        mult = inst.multiplier_value
        pos = self.positions.get(inst.con_id) or Position(inst)
        closed = 0.0
        realized = 0.0
        if pos.quantity and (pos.quantity > 0) != (signed_qty > 0):
            closed = min(abs(signed_qty), abs(pos.quantity))
            direction = 1.0 if pos.quantity > 0 else -1.0
            realized = (price * mult - pos.avg_cost) * closed * direction
        new_qty = pos.quantity + signed_qty
        if abs(new_qty) < 1e-12:
            new_qty = 0.0
        if closed == 0.0:  # opened or added: weighted average cost
            pos.avg_cost = (pos.avg_cost * abs(pos.quantity) + price * mult * abs(signed_qty)) / abs(new_qty)
        elif abs(signed_qty) > closed:  # flipped through zero: the remainder opens at this price
            pos.avg_cost = price * mult
        elif new_qty == 0.0:
            pos.avg_cost = 0.0
        pos.quantity = new_qty
        if inst.sec_type == "FUT":
            self.cash += realized
        else:
            self.cash -= signed_qty * price * mult
        self.cash -= commission
        self.commissions += commission
        net = realized - commission if closed else None
        if closed:
            pos.realized_pnl += net or 0.0
            self.realized_pnl += net or 0.0
        self.positions[inst.con_id] = pos
        return net

    def settle(self, inst: Instrument, price: float) -> Settlement | None:
        """Close an expired position at its settlement value (cash-settled, no commission)."""
        pos = self.positions.get(inst.con_id)
        if pos is None or pos.quantity == 0:
            return None
        qty = pos.quantity
        realized = self.apply_fill(inst, -qty, price, 0.0) or 0.0
        settlement = Settlement(inst, qty, price, realized)
        self.settlements.append(settlement)
        return settlement

    def values(self, marks: dict[int, float | None]) -> dict[str, float]:
        """Account values (USD) for accountValue / accountSummary, marking each position at marks[conId]."""
        market_value = 0.0
        futures_unrealized = 0.0
        unrealized = 0.0
        for con_id, pos in self.positions.items():
            if not pos.quantity:
                continue
            mark = marks.get(con_id)
            if mark is None:  # unquoted: carry at cost so NLV does not jump to a made-up number
                mark = pos.avg_cost / pos.instrument.multiplier_value
            value = pos.quantity * mark * pos.instrument.multiplier_value
            pnl = value - pos.quantity * pos.avg_cost
            unrealized += pnl
            if pos.instrument.sec_type == "FUT":
                futures_unrealized += pnl
            else:
                market_value += value
        net_liq = self.cash + market_value + futures_unrealized
        return {
            "NetLiquidation": net_liq,
            "TotalCashValue": self.cash,
            "CashBalance": self.cash,
            "GrossPositionValue": market_value,
            "UnrealizedPnL": unrealized,
            "RealizedPnL": self.realized_pnl,
            "EquityWithLoanValue": net_liq,
        }

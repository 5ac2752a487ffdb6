"""Quotes and model greeks as the core sees them: project values stamped with the MARKET clock on arrival.

The broker facade stamps ticks with the wall clock it received them at; at 20,000x that says nothing about their
age in market time, so the engine re-stamps each tick with the market clock here (and, as IB sends changes only,
marks every line current when a batch of ticks arrives on a healthy connection: see `touch`). Bad values never get
through: NaN, -1 and 0 are already None in a QuoteTick (the facade's `clean_price`), a crossed book loses both
sides, frozen or delayed data counts as missing, and greeks with any non-finite value are dropped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

from bot.broker.types import ContractSpec, OptionGreeksTick, QuoteTick
from bot.domain.market import ModelGreeks, Quote

NAN = math.nan


@dataclass
class Line:
    """One subscribed contract: its spec and the latest sanitised quote and greeks."""

    spec: ContractSpec
    quote: Quote | None = None
    greeks: ModelGreeks | None = None


def sanitise(tick: QuoteTick, at: dt.datetime) -> Quote:
    """A QuoteTick as a domain Quote stamped `at`; crossed sides and frozen/delayed data become missing."""
    if tick.frozen:
        return Quote(at=at)
    bid = tick.bid if tick.bid is not None else NAN
    ask = tick.ask if tick.ask is not None else NAN
    if tick.bid is not None and tick.ask is not None and tick.bid > tick.ask:
        bid = ask = NAN
    last = tick.last if tick.last is not None else NAN
    return Quote(bid=bid, ask=ask, last=last, at=at)


def greeks_of(tick: OptionGreeksTick, at: dt.datetime) -> ModelGreeks | None:
    """Model greeks stamped `at`, or None when any greek or the implied vol is missing or non-finite."""
    values = (tick.delta, tick.gamma, tick.vega, tick.theta, tick.implied_vol)
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    und = tick.underlying_price if tick.underlying_price is not None else NAN
    return ModelGreeks(tick.delta, tick.gamma, tick.vega, tick.theta, tick.implied_vol, at, und)  # type: ignore[arg-type]


class MarketData:
    """The latest quote and greeks per conId, for the contracts the engine tracks."""

    def __init__(self) -> None:
        self._lines: dict[int, Line] = {}

    def track(self, spec: ContractSpec) -> None:
        self._lines.setdefault(spec.con_id, Line(spec))

    def tracked(self, con_id: int) -> bool:
        return con_id in self._lines

    def spec(self, con_id: int) -> ContractSpec | None:
        line = self._lines.get(con_id)
        return line.spec if line else None

    def on_quote(self, tick: QuoteTick, at: dt.datetime) -> Quote | None:
        line = self._lines.get(tick.con_id)
        if line is None:
            return None
        line.quote = sanitise(tick, at)
        return line.quote

    def on_greeks(self, tick: OptionGreeksTick, at: dt.datetime) -> None:
        line = self._lines.get(tick.con_id)
        if line is not None:
            line.greeks = greeks_of(tick, at)

    def quote(self, con_id: int) -> Quote | None:
        line = self._lines.get(con_id)
        return line.quote if line else None

    def greeks(self, con_id: int) -> ModelGreeks | None:
        line = self._lines.get(con_id)
        return line.greeks if line else None

    def touch(self, at: dt.datetime, is_open: Callable[[ContractSpec], bool] = lambda _spec: True) -> None:
        """Every line whose market is open is current as of `at`: the gateway sends changes only, so while ticks
        flow on a healthy connection an unchanged quote is still the quote. The engine calls this only when a batch
        of ticks arrived on a ready connection; during an outage nothing is touched and every quote ages.

        A line whose market is closed (`is_open` false) is left to age: the gateway sends nothing for it, so its
        quote is the last session's (VIX options overnight, while VX ticks on), and at the next open it stays stale
        until that session's first tick for it arrives."""
        for line in self._lines.values():
            if not is_open(line.spec):
                continue
            if line.quote is not None:
                line.quote = dataclasses.replace(line.quote, at=at)
            if line.greeks is not None:
                line.greeks = dataclasses.replace(line.greeks, at=at)

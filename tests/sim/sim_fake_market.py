"""A tiny, explicit MarketModel for protocol and matching tests: quotes are whatever the test sets.

The end-to-end tests run on the real model (bot.sim.market); this one exists so that a fill price or a partial fill
can be asserted exactly without depending on a scenario's path.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

from bot.sim.market.api import Bar, BookEntry, ContractQuery, Instrument, MarketInfo, ModelGreeks, OptionChain, Quote

START = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)

VIX = Instrument(1001, "VIX", "IND", "CBOE", long_name="CBOE Volatility Index", local_symbol="VIX")
VX = Instrument(2001, "VIX", "FUT", "CFE", last_trade_date="20261216", multiplier="1000", local_symbol="VXZ6",
                trading_class="VX", min_tick=0.05, contract_month="202612", under_con_id=1001)  # fmt: skip
PUT_SHORT = Instrument(3001, "SPX", "OPT", "SMART", last_trade_date="20261218", strike=5000.0, right="P",
                       multiplier="100", local_symbol="SPXW  261218P05000000", trading_class="SPXW", min_tick=0.05,
                       under_con_id=4001)  # fmt: skip
PUT_LONG = replace(PUT_SHORT, con_id=3002, strike=4900.0, local_symbol="SPXW  261218P04900000")
SPX = Instrument(4001, "SPX", "IND", "CBOE", local_symbol="SPX")
ALL = (VIX, VX, PUT_SHORT, PUT_LONG, SPX)


class FakeMarket:
    def __init__(self) -> None:
        self.info = MarketInfo("fake", START, START + dt.timedelta(days=30), "explicit test quotes")
        self.quotes: dict[int, Quote] = {
            VIX.con_id: Quote(bid=math.nan, ask=math.nan, last=15.5, close=15.0),
            VX.con_id: Quote(bid=17.0, ask=17.05, last=17.0, close=16.9, bid_size=20, ask_size=25, last_size=1),
            PUT_SHORT.con_id: Quote(bid=10.0, ask=10.4, last=10.2, close=10.0, bid_size=50, ask_size=50),
            PUT_LONG.con_id: Quote(bid=6.0, ask=6.3, last=6.1, close=6.0, bid_size=50, ask_size=50),
            SPX.con_id: Quote(bid=math.nan, ask=math.nan, last=5800.0, close=5790.0),
        }
        self.trading = True
        self.settlements: dict[int, float] = {}

    def find(self, query: ContractQuery, t: dt.datetime) -> list[Instrument]:
        def ok(i: Instrument) -> bool:
            return (
                (not query.con_id or query.con_id == i.con_id)
                and (not query.symbol or query.symbol == i.symbol)
                and (not query.sec_type or query.sec_type == i.sec_type)
                and (not query.local_symbol or query.local_symbol == i.local_symbol)
                and (not query.trading_class or query.trading_class == i.trading_class)
                and (not query.last_trade_date or i.last_trade_date.startswith(query.last_trade_date))
                and (not query.strike or query.strike == i.strike)
                and (not query.right or query.right == i.right)
                and (query.exchange in ("", "SMART") or query.exchange == i.exchange)
            )

        return [i for i in ALL if ok(i)]

    def by_con_id(self, con_id: int) -> Instrument | None:
        return next((i for i in ALL if i.con_id == con_id), None)

    def quote(self, con_id: int, t: dt.datetime) -> Quote | None:
        return self.quotes.get(con_id)

    def greeks(self, con_id: int, t: dt.datetime) -> ModelGreeks | None:
        if con_id not in (PUT_SHORT.con_id, PUT_LONG.con_id):
            return None
        q = self.quotes[con_id]
        return ModelGreeks(0.18, -0.2, (q.bid + q.ask) / 2, 0.0, 0.001, 2.5, -1.1, 5800.0)

    def daily_bars(self, con_id: int, end: dt.datetime, count: int) -> list[Bar]:
        days = [end.date() - dt.timedelta(days=k) for k in range(count * 2)]
        weekdays = sorted(d for d in days if d.weekday() < 5)[-count:]
        return [
            Bar(d, 15.0 + i * 0.1, 15.5 + i * 0.1, 14.5 + i * 0.1, 15.2 + i * 0.1, 1000) for i, d in enumerate(weekdays)
        ]

    def option_chains(self, underlying_con_id: int, t: dt.datetime) -> list[OptionChain]:
        if underlying_con_id != SPX.con_id:
            return []
        return [OptionChain("SMART", SPX.con_id, "SPXW", "100", ("20261218",), (4900.0, 5000.0))]

    def settlement_price(self, con_id: int) -> float | None:
        return self.settlements.get(con_id)

    def starting_book(self) -> list[BookEntry]:
        return [BookEntry(PUT_SHORT, -10, 1020.0), BookEntry(PUT_LONG, 10, 610.0)]

    def is_trading(self, con_id: int, t: dt.datetime) -> bool:
        return self.trading

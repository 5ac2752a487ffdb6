"""The contract between the simulator's protocol server and its market model.

The server (bot/sim/server.py and friends) knows the wire protocol, clients, accounts and order matching; the
market (bot/sim/market/) knows instruments and prices at any simulated instant. Neither imports the other's
internals: only these types.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable or quotable contract, with everything contractDetails (10) and position (61) need."""

    con_id: int
    symbol: str  # "SPX", "VIX", "VIXY", "VIX3M", "VIX9D"
    sec_type: str  # "IND", "OPT", "FUT", "STK"
    exchange: str  # "CBOE", "CFE", "SMART"
    currency: str = "USD"
    last_trade_date: str = ""  # YYYYMMDD for OPT/FUT, "" otherwise
    strike: float = 0.0
    right: str = ""  # "C", "P" or ""
    multiplier: str = ""  # "100", "1000", "" for IND/STK
    local_symbol: str = ""
    trading_class: str = ""  # "SPX", "SPXW", "VX", "VXM", "VIX", "VIXW"
    primary_exchange: str = ""
    min_tick: float = 0.01
    long_name: str = ""
    market_name: str = ""
    contract_month: str = ""  # YYYYMM for FUT and OPT
    under_con_id: int = 0
    under_symbol: str = ""
    under_sec_type: str = ""
    time_zone_id: str = "US/Eastern"
    trading_hours: str = ""  # IB format: "20261124:0930-20261124:1615;20261125:CLOSED"
    liquid_hours: str = ""
    valid_exchanges: str = ""
    order_types: str = "LMT,MKT,STP"
    price_magnifier: int = 1
    market_rule_ids: str = "26"
    real_expiration_date: str = ""

    @property
    def multiplier_value(self) -> float:
        return float(self.multiplier) if self.multiplier else 1.0


def tick_size(inst: Instrument, price: float) -> float:
    """The price increment valid at `price` (added by the market room): options have two tiers around 3.00
    (SPX: 0.05 below, 0.10 from 3.00; VIX: 0.01 below, 0.05 from 3.00, per Cboe); others use min_tick."""
    if inst.sec_type == "OPT":
        if inst.symbol == "VIX":
            return 0.01 if price < 3.0 else 0.05
        return 0.05 if price < 3.0 else 0.10
    return inst.min_tick


@dataclass(frozen=True, slots=True)
class ContractQuery:
    """What a client asked for in reqContractDetails / reqMktData (C12); empty fields match anything."""

    con_id: int = 0
    symbol: str = ""
    sec_type: str = ""
    last_trade_date: str = ""  # YYYYMMDD, or YYYYMM meaning every expiry in that month
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    include_expired: bool = False


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book at one instant. NaN fields mean no value (the server then sends nothing or -1 as IB does)."""

    bid: float
    ask: float
    last: float
    close: float  # previous session close
    bid_size: float = 0.0
    ask_size: float = 0.0
    last_size: float = 0.0
    high: float = float("nan")
    low: float = float("nan")
    volume: float = 0.0


@dataclass(frozen=True, slots=True)
class ModelGreeks:
    """What tickOptionComputation (tick 13, model) carries: per IB, vega per vol point, theta per day."""

    implied_vol: float
    delta: float
    price: float
    pv_dividend: float
    gamma: float
    vega: float
    theta: float
    und_price: float


@dataclass(frozen=True, slots=True)
class Bar:
    date: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


@dataclass(frozen=True, slots=True)
class BookEntry:
    """A position already in the simulated account at start (the condors a bot must read)."""

    instrument: Instrument
    quantity: float  # signed
    avg_cost: float  # IB convention: per contract including multiplier (price * multiplier) for OPT/FUT


@dataclass(frozen=True, slots=True)
class OptionChain:
    """reqSecDefOptParams answer for one exchange/trading class."""

    exchange: str
    underlying_con_id: int
    trading_class: str
    multiplier: str
    expirations: tuple[str, ...]  # YYYYMMDD
    strikes: tuple[float, ...]


@dataclass(frozen=True)
class MarketInfo:
    name: str
    start: dt.datetime  # UTC, first simulated instant
    end: dt.datetime  # UTC, the scenario ends here
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class MarketModel(Protocol):
    """Pure functions of simulated time `t` (timezone-aware UTC). Deterministic for a given scenario and seed."""

    info: MarketInfo

    def find(self, query: ContractQuery, t: dt.datetime) -> list[Instrument]:
        """Instruments matching the query (listed at t unless include_expired); [] means error 200."""

    def by_con_id(self, con_id: int, t: dt.datetime | None = None) -> Instrument | None:
        """The instrument with this conId (expired ones too); hours strings from t's week, or the start's if t is None
        (the optional t was added by the market room)."""

    def quote(self, con_id: int, t: dt.datetime) -> Quote | None:
        """Top of book; None if the instrument is not quoted at t (expired, or outside its hours)."""

    def greeks(self, con_id: int, t: dt.datetime) -> ModelGreeks | None:
        """Model greeks for options, None for anything else."""

    def daily_bars(self, con_id: int, end: dt.datetime, count: int) -> list[Bar]:
        """Up to `count` daily bars ending at or before `end` (includes warm-up history before info.start)."""

    def option_chains(self, underlying_con_id: int, t: dt.datetime) -> list[OptionChain]: ...

    def settlement_price(self, con_id: int, t: dt.datetime | None = None) -> float | None:
        """Final settlement of an expired future or option (cash-settled in the account); None if not expired.

        Futures: the settlement price; options: the per-unit cash value (intrinsic value at the settlement print).
        With `t`, None while t is before the settlement instant (added by the market room; optional)."""

    def starting_book(self) -> list[BookEntry]: ...

    def is_trading(self, con_id: int, t: dt.datetime) -> bool:
        """Whether the instrument's exchange is open at t (orders rest, do not fill, when closed)."""

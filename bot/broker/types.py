"""The project's own broker types: everything outside `bot/broker/` sees these, never an ib_async/ib_insync object.

They are frozen dataclasses so that the engine, the journal and the pure core can keep, compare and log them
without worrying that the IB library mutates them later (its Trade and Ticker objects are mutated in place).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class ContractSpec:
    """A contract as the gateway defines it (from contract details when available, else from a position row)."""

    con_id: int
    symbol: str
    sec_type: str  # IND, FUT, OPT, STK
    exchange: str = ""
    currency: str = "USD"
    expiry: str = ""  # lastTradeDateOrContractMonth, YYYYMMDD (or YYYYMM when the gateway gives only a month)
    strike: float = 0.0
    right: str = ""  # "C", "P" or ""
    multiplier: float = 1.0
    trading_class: str = ""
    local_symbol: str = ""
    min_tick: float | None = None  # None until contract details were read: execution refuses to price without it
    trading_hours: str = ""
    liquid_hours: str = ""
    time_zone_id: str = ""
    real_expiration: str = ""  # YYYYMMDD when the gateway reports it (VX: final settlement date)
    market_rule_ids: str = ""  # comma-separated, one per valid exchange (IB market rules: price increments)
    valid_exchanges: str = ""

    @property
    def market_rule_id(self) -> int | None:
        """The market rule of this contract's exchange (IB lists one rule per valid exchange, in order)."""
        rules = [r for r in self.market_rule_ids.split(",") if r.strip()]
        exchanges = [e for e in self.valid_exchanges.split(",") if e.strip()]
        if not rules:
            return None
        if len(rules) == len(exchanges) and self.exchange in exchanges:
            return int(rules[exchanges.index(self.exchange)])
        return int(rules[0])

    @property
    def expiry_date(self) -> dt.date | None:
        """The expiry as a date, or None for undated contracts or month-only expiries."""
        if len(self.expiry) != 8:
            return None
        return dt.datetime.strptime(self.expiry, "%Y%m%d").date()

    @property
    def key(self) -> str:
        """Readable identity for logs: 'FUT VIX VX 20180321', 'OPT SPX SPXW 20180316 P2600'."""
        text = f"{self.sec_type} {self.symbol}"
        if self.trading_class and self.trading_class != self.symbol:
            text += f" {self.trading_class}"
        if self.expiry:
            text += f" {self.expiry}"
        if self.right:
            text += f" {self.right}{self.strike:g}"
        return text


@dataclass(frozen=True, slots=True)
class PositionRow:
    account: str
    contract: ContractSpec
    quantity: float  # signed
    avg_cost: float  # IB convention: per unit including the multiplier


def clean_price(value: float | None) -> float | None:
    """IB sends -1 (no quote), 0 (no bid) and leaves NaN for absent fields; all mean 'no value' here.

    Zero is treated as absent too: a zero bid/ask/last on VIX products or index options is never a real quote the
    bot may trade against (a far OTM option showing bid 0 has no bid).
    """
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number) or number <= 0.0:
        return None
    return number


@dataclass(frozen=True, slots=True)
class QuoteTick:
    """Top of book for one contract at `received_at` (the bot's receive time, UTC)."""

    con_id: int
    bid: float | None
    ask: float | None
    last: float | None
    close: float | None
    received_at: dt.datetime
    sanitised: bool = False  # True when at least one raw field was NaN/-1/0 and replaced by None
    frozen: bool = False  # the gateway reported frozen or delayed data (market data type != 1)

    @property
    def mid(self) -> float | None:
        """Mid of a valid, uncrossed two-sided quote; None otherwise (execution must not price off it)."""
        if self.bid is None or self.ask is None or self.ask < self.bid:
            return None
        return (self.bid + self.ask) / 2.0


@dataclass(frozen=True, slots=True)
class OptionGreeksTick:
    """Model greeks (tick 13) for one option; IB units: vega per vol point, theta per day."""

    con_id: int
    implied_vol: float | None
    delta: float | None
    gamma: float | None
    vega: float | None
    theta: float | None
    option_price: float | None
    underlying_price: float | None
    received_at: dt.datetime


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    account: str
    net_liquidation: float | None
    cash: float | None
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class DailyBar:
    date: dt.date
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0


class OrderEventKind(StrEnum):
    SUBMITTED = "submitted"  # the gateway acknowledged the order (PendingSubmit / PreSubmitted)
    WORKING = "working"  # Submitted at the exchange, nothing filled yet
    PARTIAL = "partial"  # some filled, some remaining
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"  # error 201 or an Inactive order the gateway refused
    INACTIVE = "inactive"  # Inactive without a rejection code (e.g. outside trading hours); not working

    @property
    def terminal(self) -> bool:
        return self in (OrderEventKind.FILLED, OrderEventKind.CANCELLED, OrderEventKind.REJECTED)


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One piece of broker evidence about an order: a status, an execution (exec_id set), or an order error."""

    kind: OrderEventKind
    order_id: int
    perm_id: int
    order_ref: str
    con_id: int
    filled: float  # cumulative for the order (as the broker reports it)
    remaining: float
    avg_fill_price: float | None
    time: dt.datetime
    last_fill_price: float | None = None
    exec_id: str | None = None  # set on execution evidence
    exec_shares: float = 0.0  # shares of this one execution
    commission: float | None = None
    error_code: int | None = None
    error_message: str = ""
    limit_price: float | None = None
    action: str = ""  # BUY / SELL
    total_quantity: float = 0.0


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order as listed by the gateway in openOrder / completedOrder (the reconciliation view)."""

    order_id: int  # 0 for completed orders (the gateway does not send it there)
    perm_id: int
    order_ref: str
    con_id: int
    action: str
    total_quantity: float
    limit_price: float | None
    status: str  # the IB status text: Submitted, PreSubmitted, Filled, Cancelled, Inactive, ApiCancelled, ...
    filled: float
    remaining: float
    avg_fill_price: float | None

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    exec_id: str
    order_id: int
    perm_id: int
    order_ref: str
    con_id: int
    side: str  # BOT / SLD
    shares: float
    price: float
    time: dt.datetime
    commission: float | None = None


LIVE_STATUSES = frozenset({"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted", "PendingCancel"})


@dataclass(frozen=True, slots=True)
class ReconciliationSnapshot:
    """Everything the gateway says about the account right after a (re)connect, read before anything is sent."""

    taken_at: dt.datetime
    generation: int  # increments on every successful (re)connect
    accounts: tuple[str, ...]
    positions: tuple[PositionRow, ...]
    open_orders: tuple[OrderRecord, ...]
    completed_orders: tuple[OrderRecord, ...]
    executions: tuple[ExecutionRecord, ...]

    def for_order_ref(self, order_ref: str) -> ReconciliationSnapshot:
        """The part of the snapshot that belongs to one intent (orderRef = intent id)."""
        return ReconciliationSnapshot(
            taken_at=self.taken_at,
            generation=self.generation,
            accounts=self.accounts,
            positions=(),
            open_orders=tuple(o for o in self.open_orders if o.order_ref == order_ref),
            completed_orders=tuple(o for o in self.completed_orders if o.order_ref == order_ref),
            executions=tuple(e for e in self.executions if e.order_ref == order_ref),
        )


class ConnectionEventKind(StrEnum):
    CONNECTED = "connected"  # connected and reconciled: orders may be sent
    DISCONNECTED = "disconnected"  # socket gone (or silent past the watchdog): nothing is sent
    RECONNECTING = "reconnecting"  # one reconnect attempt failed; retrying with backoff
    DEGRADED = "degraded"  # 1100: gateway lost IB; socket up, do not trade
    RESTORED_DATA_LOST = "restored_data_lost"  # 1101: back, market data resubscribed by the facade
    RESTORED = "restored"  # 1102: back with data maintained
    COMPETING_SESSION = "competing_session"  # 10197: another session blocks market data
    CLIENT_ID_IN_USE = "client_id_in_use"  # 326: another API client holds this client id
    PACING = "pacing"  # a pacing violation; the request is retried later
    NOTICE = "notice"  # 2104/2106/2158 and other 21xx information


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    kind: ConnectionEventKind
    time: dt.datetime
    code: int | None = None
    message: str = ""
    generation: int = 0


@dataclass(frozen=True, slots=True)
class BrokerErrorEvent:
    """An error the facade could not attribute to an order or the connection (e.g. 200 on a request, 354)."""

    code: int
    message: str
    req_id: int
    time: dt.datetime
    kind: str = ""


@dataclass(frozen=True, slots=True)
class VxCurve:
    """The VX futures curve as listed by the gateway, front month first."""

    contracts: tuple[ContractSpec, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class MarketUniverse:
    """Every contract the strategy watches, discovered from the gateway and subscribed in one call."""

    indices: dict[str, ContractSpec]  # VIX, VIX3M, VIX9D, SPX
    vx_curve: VxCurve
    vixy: ContractSpec
    condor_legs: tuple[ContractSpec, ...]

    @property
    def all(self) -> tuple[ContractSpec, ...]:
        return (*self.indices.values(), *self.vx_curve.contracts, self.vixy, *self.condor_legs)


BrokerEvent = (
    ConnectionEvent
    | QuoteTick
    | OptionGreeksTick
    | OrderEvent
    | PositionRow
    | ReconciliationSnapshot
    | BrokerErrorEvent
)

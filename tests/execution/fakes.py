"""An in-memory broker for the executor's unit tests: it answers orders the way the gateway does, by events only.

It counts how many orders of one intent were working at the same time: the executor must never exceed one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bot.broker.errors import NotConnectedError
from bot.broker.facade import OrderWatch
from bot.broker.types import (
    ConnectionEvent,
    ConnectionEventKind,
    ContractSpec,
    ExecutionRecord,
    OrderEvent,
    OrderEventKind,
    OrderRecord,
    QuoteTick,
    ReconciliationSnapshot,
)
from bot.domain.intents import HedgeInstrument, Side

SPEC = ContractSpec(501, "VIX", "FUT", "CFE", expiry="20180321", trading_class="VX", min_tick=0.05, multiplier=1000)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class FakeOrder:
    order_id: int
    perm_id: int
    ref: str
    side: Side
    quantity: float
    price: float
    status: str = "Submitted"
    filled: float = 0.0

    @property
    def live(self) -> bool:
        return self.status == "Submitted"


@dataclass
class FakeBroker:
    bid: float = 17.0
    ask: float = 17.3
    # shares to fill right after an order is accepted, given the order (default: nothing fills)
    fill_rule: Callable[[FakeOrder], float] = lambda order: 0.0
    reject_next: str | None = None
    ignore_cancels: bool = False
    orders: list[FakeOrder] = field(default_factory=list)
    executions: list[ExecutionRecord] = field(default_factory=list)
    max_live_per_ref: int = 0
    refreshes: int = 0
    resolves: int = 0  # contract-details round trips the executor asked for
    increments: tuple[tuple[float, float], ...] = ()
    ready: bool = True
    next_id: int = 100
    _watches: dict[str, list[OrderWatch]] = field(default_factory=dict)
    _ready_event: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._ready_event.set()

    # -- OrderBroker
    @property
    def is_ready(self) -> bool:
        return self.ready

    async def wait_ready(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._ready_event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def resolve(self, instrument: HedgeInstrument) -> ContractSpec:
        self.resolves += 1
        return SPEC

    async def subscribe(self, spec: ContractSpec) -> None:
        return None

    async def price_increments(self, spec: ContractSpec) -> tuple[tuple[float, float], ...]:
        return self.increments

    def latest_quote(self, con_id: int) -> QuoteTick | None:
        return QuoteTick(con_id, self.bid, self.ask, None, None, now())

    async def refresh_snapshot(self) -> ReconciliationSnapshot:
        self.refreshes += 1
        return self.order_evidence("")

    def order_evidence(self, order_ref: str) -> ReconciliationSnapshot:
        if not self.ready:
            raise NotConnectedError("down")
        records = [
            OrderRecord(
                o.order_id,
                o.perm_id,
                o.ref,
                SPEC.con_id,
                o.side.value,
                o.quantity,
                o.price,
                o.status,
                o.filled,
                o.quantity - o.filled,
                None,
            )
            for o in self.orders
        ]
        return ReconciliationSnapshot(
            now(), 1, ("DU1",), (),
            tuple(r for r in records if r.is_live),
            tuple(dataclass_replace(r, order_id=0) for r in records if not r.is_live),
            tuple(self.executions),
        )  # fmt: skip

    def next_order_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def place_limit(self, spec, side, quantity, limit_price, order_ref, order_id, *, outside_rth=False) -> None:
        if not self.ready:
            raise NotConnectedError("down")
        order = FakeOrder(order_id, 9000 + order_id, order_ref, side, quantity, limit_price)
        self.orders.append(order)
        live = sum(1 for o in self.orders if o.ref == order_ref and o.live)
        self.max_live_per_ref = max(self.max_live_per_ref, live)
        asyncio.get_running_loop().call_soon(self._accept, order)

    def cancel(self, order_id: int) -> bool:
        if not self.ready:
            raise NotConnectedError("down")
        order = next(o for o in self.orders if o.order_id == order_id)
        if order.live and not self.ignore_cancels:
            asyncio.get_running_loop().call_soon(self._cancelled, order)
        return True

    @contextlib.contextmanager
    def watch(self, order_ref: str) -> Iterator[OrderWatch]:
        watch = OrderWatch(order_ref)
        self._watches.setdefault(order_ref, []).append(watch)
        try:
            yield watch
        finally:
            self._watches[order_ref].remove(watch)

    # -- the exchange side
    def _emit(self, order: FakeOrder, kind: OrderEventKind, **extra) -> None:
        if not self.ready:
            return  # nobody hears it while the socket is down
        event = OrderEvent(kind, order.order_id, order.perm_id, order.ref, SPEC.con_id, order.filled,
                           order.quantity - order.filled, None, now(), limit_price=order.price, **extra)  # fmt: skip
        for watch in self._watches.get(order.ref, ()):
            watch.queue.put_nowait(event)

    def _accept(self, order: FakeOrder) -> None:
        if self.reject_next is not None:
            order.status = "Inactive"
            self._emit(order, OrderEventKind.INACTIVE)
            self._emit(order, OrderEventKind.REJECTED, error_code=201, error_message=self.reject_next)
            self.reject_next = None
            return
        self._emit(order, OrderEventKind.WORKING)
        self.fill(order, self.fill_rule(order))

    def fill(self, order: FakeOrder, shares: float) -> None:
        shares = min(shares, order.quantity - order.filled)
        if shares <= 0 or not order.live:
            return
        order.filled += shares
        exec_id = f"x{len(self.executions) + 1}"
        self.executions.append(
            ExecutionRecord(
                exec_id, order.order_id, order.perm_id, order.ref, SPEC.con_id, "BOT", shares, order.price, now()
            )
        )
        if order.filled >= order.quantity:
            order.status = "Filled"
        kind = OrderEventKind.FILLED if order.status == "Filled" else OrderEventKind.PARTIAL
        self._emit(
            order, kind, exec_id=exec_id, exec_shares=shares, last_fill_price=order.price, commission=2.25 * shares
        )

    def _cancelled(self, order: FakeOrder) -> None:
        if order.live:
            order.status = "Cancelled"
            self._emit(order, OrderEventKind.CANCELLED)

    # -- faults
    def drop(self) -> None:
        self._connection(ConnectionEventKind.DISCONNECTED)
        self.ready = False
        self._ready_event.clear()

    def restore(self) -> None:
        self.ready = True
        self._ready_event.set()
        self._connection(ConnectionEventKind.CONNECTED)

    def _connection(self, kind: ConnectionEventKind) -> None:
        for watches in self._watches.values():
            for watch in watches:
                watch.queue.put_nowait(ConnectionEvent(kind, now()))

    def sent_for(self, ref: str) -> list[FakeOrder]:
        return [o for o in self.orders if o.ref == ref]


def dataclass_replace(record: OrderRecord, **changes) -> OrderRecord:
    import dataclasses

    return dataclasses.replace(record, **changes)

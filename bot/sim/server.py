"""The gateway simulator's protocol server: TWS API server version 176 over loopback.

One `SimServer` is the simulated IB back end (one account, its orders, the market clock); each TCP connection is a
`Session` (one API client). Requests are answered from the MarketModel; a periodic cycle pushes changed market data,
matches resting orders, settles expired contracts and fires scheduled faults. Everything runs on one asyncio loop
and no handler blocks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from bot.account_guard import mask_account
from bot.logs import get_logger
from bot.sim import messages as m
from bot.sim.account import Account, Execution, commission_for, mark_price
from bot.sim.clock import SimClock
from bot.sim.faults import Faults
from bot.sim.market.api import ContractQuery, Instrument, MarketModel, ModelGreeks, Quote, tick_size
from bot.sim.market_rules import MarketRules
from bot.sim.matching import SUPPORTED_ORDER_TYPES, Liquidity, decide_fill
from bot.sim.order_parser import OrderParseError, ParsedContract, ParsedOrder, parse_place_order, to_int
from bot.sim.orders_log import OrdersLog
from bot.sim.wire import SERVER_VERSION, FrameReader, ProtocolError, negotiate, parse_version_range

log = get_logger("bot.sim.server")

DEFAULT_ACCOUNT = "DU1234567"
FARM_NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)
# tick types: (live, delayed) per quote field
PRICE_TICKS = {"bid": (1, 66), "ask": (2, 67), "last": (4, 68), "high": (6, 72), "low": (7, 73), "close": (9, 75)}
SIZE_OF = {"bid": "bid_size", "ask": "ask_size", "last": "last_size"}
SIZE_TICKS = {"bid_size": (0, 69), "ask_size": (3, 70), "last_size": (5, 71), "volume": (8, 74)}
MODEL_GREEKS_TICK = (13, 83)
DAY_TIFS = frozenset({"DAY", ""})  # IB treats an order without a time in force as DAY
GREEKS_REFRESH_S = 1.0  # real seconds between model-greek refreshes of an option whose quote did not move
WRITE_BUFFER_LIMIT = 1 << 20  # above this a slow client gets conflated market data instead of a growing backlog


@dataclass
class SimOrder:
    """One order at the simulated exchange (keyed by the placing clientId and its orderId)."""

    client_id: int
    order_id: int
    perm_id: int
    parsed: ParsedOrder
    instrument: Instrument
    status: str = "PendingSubmit"
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    fill_cap: float | None = None  # partial-fill fault: never fill beyond this
    live_in_session: bool = False  # has worked while the exchange was open (a DAY order then expires at the close)
    completed_time: dt.datetime | None = None
    completed_status: str = ""

    @property
    def remaining(self) -> float:
        return self.parsed.total_quantity - self.filled

    @property
    def working(self) -> bool:
        return self.status in ("PreSubmitted", "Submitted")


@dataclass
class Subscription:
    req_id: int
    instrument: Instrument
    data_type: int
    sent: dict[str, float] = field(default_factory=dict)
    greeks: tuple[float, ...] | None = None
    greeks_at: float = 0.0


class SimServer:
    """The simulated back end shared by all sessions; also the FaultTarget for connection faults."""

    def __init__(
        self,
        market: MarketModel,
        clock: SimClock,
        *,
        account_id: str = DEFAULT_ACCOUNT,
        starting_cash: float = 1_000_000.0,
        host: str = "127.0.0.1",
        port: int = 0,
        orders_log: OrdersLog | None = None,
        faults: Faults | None = None,
        tick_interval: float = 0.25,
        account_push_interval: float = 3.0,
        replenish_s: float = 1.0,
    ) -> None:
        if not account_id or not account_id[0].isalpha():
            raise ValueError(f"account id {account_id!r} must look like an IB account (DU1234567 or U1234567)")
        self.market = market
        self.clock = clock
        self.host = host
        self._requested_port = port
        self.port = port
        self.account = Account.with_book(account_id, starting_cash, market.starting_book())
        self.orders_log = orders_log or OrdersLog(None)
        self.faults = faults or Faults()
        self.faults.target = self
        self.tick_interval = tick_interval
        self.account_push_interval = account_push_interval
        self.liquidity = Liquidity(replenish_s)
        self.market_rules = MarketRules()
        self.orders: dict[tuple[int, int], SimOrder] = {}
        self.completed: list[SimOrder] = []
        self.sessions: set[Session] = set()
        self.messages_received = 0
        self.handshakes: list[str] = []  # every client's offered version string, e.g. "v157..176"
        self.ended = False
        self._perm_ids = itertools.count(1_000_001)
        self._exec_seq = itertools.count(1)
        self._exec_prefix = f"{int(time.time()) & 0xFFFFFFFF:08x}"
        self._server: asyncio.AbstractServer | None = None
        self._cycle_task: asyncio.Task[None] | None = None
        self._reopen_handle: asyncio.TimerHandle | None = None
        self._real_start = time.monotonic()
        self._last_account_push = 0.0
        self.on_end: Callable[[], None] | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self._listen()
        self._real_start = time.monotonic()
        log.info("simulator listening", host=self.host, port=self.port, account=mask_account(self.account.account_id),
                 scenario=self.market.info.name, start=self.clock.now().isoformat())  # fmt: skip
        self.faults.check(0.0, 0.0, 0)
        self._cycle_task = asyncio.create_task(self._cycle_loop(), name="sim-cycle")

    async def stop(self) -> None:
        if self._reopen_handle is not None:
            self._reopen_handle.cancel()
        if self._cycle_task is not None:
            self._cycle_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._cycle_task
            self._cycle_task = None
        for session in list(self.sessions):
            session.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await asyncio.sleep(0)
        self.orders_log.close()
        log.info("simulator stopped")

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Session(self), self.host, self.port or self._requested_port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    # ---- FaultTarget -------------------------------------------------------------------------------------------
    def drop_connections(self) -> int:
        sessions = list(self.sessions)
        for session in sessions:
            session.close()
        return len(sessions)

    def refuse_connections(self, seconds: float) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        loop = asyncio.get_running_loop()
        if self._reopen_handle is not None:
            self._reopen_handle.cancel()
        self._reopen_handle = loop.call_later(seconds, lambda: asyncio.ensure_future(self._reopen()))

    async def _reopen(self) -> None:
        self._reopen_handle = None
        await self._listen()
        log.warning("fault ended", fault="refuse", port=self.port)

    def broadcast_error(self, code: int, message: str) -> None:
        for session in self.sessions:
            if session.client_id is not None:
                session.send(m.error(-1, code, message))

    # ---- time --------------------------------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        return self.clock.now()

    def sim_elapsed(self) -> float:
        return (self.now() - self.clock.start).total_seconds()

    # ---- the periodic cycle ------------------------------------------------------------------------------------
    async def _cycle_loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                self.cycle()
            except Exception:  # a bug in one cycle must not stop the market; it is logged loudly
                log.exception("simulator cycle failed")
            await asyncio.sleep(max(0.0, self.tick_interval - (time.monotonic() - started)))

    def cycle(self) -> None:
        """One step: faults due, order matching, settlement, market data, account pushes. Tests may call it."""
        t = self.now()
        self.faults.check(self.sim_elapsed(), time.monotonic() - self._real_start, self.messages_received)
        quotes: dict[int, Quote | None] = {}
        for order in [o for o in self.orders.values() if o.working]:
            self._work_order(order, t, quotes)
        self._settle_expired(t)
        mode = self.faults.quote_mode()
        for session in list(self.sessions):
            session.push_market_data(t, quotes, mode)
        if time.monotonic() - self._last_account_push >= self.account_push_interval:
            self._last_account_push = time.monotonic()
            for session in list(self.sessions):
                session.push_account(t, quotes, full=False)
        if not self.ended and self.clock.ended:
            self.ended = True
            log.info("scenario ended", scenario=self.market.info.name, at=t.isoformat())
            if self.on_end is not None:
                self.on_end()

    def quote(self, con_id: int, t: dt.datetime, cache: dict[int, Quote | None]) -> Quote | None:
        if con_id not in cache:
            cache[con_id] = self.market.quote(con_id, t)
        return cache[con_id]

    def marks(self, t: dt.datetime, cache: dict[int, Quote | None]) -> dict[int, float | None]:
        return {cid: mark_price(self.quote(cid, t, cache)) for cid, p in self.account.positions.items() if p.quantity}

    # ---- orders ------------------------------------------------------------------------------------------------
    def next_order_id(self, client_id: int) -> int:
        used = [oid for (cid, oid) in self.orders if cid == client_id]
        return max(used, default=0) + 1

    def session_for(self, client_id: int) -> Session | None:
        for session in self.sessions:
            if session.client_id == client_id:
                return session
        return None

    def _order_fields(self, o: SimOrder) -> dict[str, object]:
        p = o.parsed
        return {
            "clientId": o.client_id,
            "orderId": o.order_id,
            "permId": o.perm_id,
            "orderRef": p.order_ref,
            "conId": o.instrument.con_id,
            "localSymbol": o.instrument.local_symbol,
            "action": p.action,
            "qty": p.total_quantity,
            "orderType": p.order_type,
            "lmtPrice": p.lmt_price,
        }

    def _emit_status(self, o: SimOrder, why: str = "") -> None:
        """openOrder + orderStatus to the owning client, as TWS does on every state change."""
        self.orders_log.write("status", self.now(), **self._order_fields(o), status=o.status, filled=o.filled,
                              remaining=o.remaining, avgFillPrice=o.avg_fill_price, why=why)  # fmt: skip
        session = self.session_for(o.client_id)
        if session is None:
            return
        if o.status != "Cancelled":
            session.send(m.open_order(o.order_id, o.instrument, o.parsed.raw, o.client_id, o.perm_id, o.status))
        session.send(self._status_frame(o))

    def _status_frame(self, o: SimOrder) -> bytes:
        return m.order_status(o.order_id, o.status, o.filled, o.remaining, o.avg_fill_price, o.perm_id,
                              o.parsed.parent_id, o.last_fill_price, o.client_id)  # fmt: skip

    def place_order(self, session: Session, parsed: ParsedOrder) -> None:
        t = self.now()
        client_id = session.client_id or 0
        key = (client_id, parsed.order_id)
        base = {"clientId": client_id, "orderId": parsed.order_id, "orderRef": parsed.order_ref,
                "conId": parsed.contract.con_id, "localSymbol": parsed.contract.local_symbol,
                "action": parsed.action, "qty": parsed.total_quantity, "orderType": parsed.order_type,
                "lmtPrice": parsed.lmt_price, "tif": parsed.tif}  # fmt: skip
        self.orders_log.write("place", t, **base)
        log.info("placeOrder", **base)
        existing = self.orders.get(key)
        if existing is not None and not existing.working:
            self._reject(session, parsed, 103, f"Duplicate order id {parsed.order_id}", base)
            return
        inst = session.resolve(parsed.contract, t)
        reason = None if inst is None else self._refusal(parsed, inst)
        if inst is None or reason is not None:
            if inst is None:
                self._reject(session, parsed, 200, "No security definition has been found for the request", base)
            else:
                self._reject(session, parsed, 201, f"Order rejected - reason:{reason}", base)
            if existing is not None:  # the client now treats the order as dead: make the exchange agree (fail closed)
                self._finish(existing, "Cancelled", t)
            return
        assert inst is not None
        if existing is not None:
            self._modify(existing, parsed, inst, t)
            return
        order = SimOrder(client_id, parsed.order_id, next(self._perm_ids), parsed, inst)
        capped, cap = self.faults.take_partial()
        if capped:
            order.fill_cap = cap if cap is not None else max(1.0, math.floor(parsed.total_quantity / 2))
        self.orders[key] = order
        # straight to the exchange when it is open (as TWS reports a plain limit order); held as PreSubmitted otherwise
        order.status = "Submitted" if self.market.is_trading(inst.con_id, t) else "PreSubmitted"
        self._emit_status(order)
        quotes: dict[int, Quote | None] = {}
        self._work_order(order, t, quotes)

    def _refusal(self, p: ParsedOrder, inst: Instrument) -> str | None:
        if self.faults.take_reject():
            return "simulated rejection (fault reject-next)"
        unsupported = p.unsupported_features()
        if unsupported:
            return f"the simulator does not support {', '.join(unsupported)}"
        if not p.transmit:
            return "the simulator does not hold untransmitted orders (transmit=False)"
        if p.order_type not in SUPPORTED_ORDER_TYPES:
            return f"order type {p.order_type!r} is not simulated; use LMT or MKT"
        if p.action not in ("BUY", "SELL"):
            return f"action must be BUY or SELL, got {p.action!r}"
        if not (p.total_quantity > 0 and float(p.total_quantity).is_integer()):
            return f"quantity must be a positive whole number, got {p.total_quantity}"
        if p.order_type == "LMT" and (p.lmt_price is None or not math.isfinite(p.lmt_price)):
            return "a limit order needs a limit price"
        if p.account and p.account != self.account.account_id:
            return f"account {p.account} is not {self.account.account_id}"
        if p.order_type == "LMT" and p.lmt_price is not None:
            tick = tick_size(inst, abs(p.lmt_price))
            ticks = p.lmt_price / tick if tick > 0 else 0.0
            if abs(ticks - round(ticks)) > 1e-6:
                return f"limit price {p.lmt_price} does not conform to the price increment {tick} at that price"
        return None

    def _reject(self, session: Session, p: ParsedOrder, code: int, text: str, base: dict[str, object]) -> None:
        self.orders_log.write("reject", self.now(), **base, code=code, reason=text)
        log.warning("order rejected", code=code, reason=text, clientId=base["clientId"], orderId=p.order_id)
        session.send(m.error(p.order_id, code, text))

    def _modify(self, order: SimOrder, parsed: ParsedOrder, inst: Instrument, t: dt.datetime) -> None:
        if inst.con_id != order.instrument.con_id or parsed.action != order.parsed.action:
            session = self.session_for(order.client_id)
            if session is not None:
                session.send(m.error(order.order_id, 105, "Order being modified does not match original order"))
            return
        if parsed.total_quantity < order.filled:
            parsed = _with_quantity(parsed, order.filled)
        order.parsed = parsed
        self.orders_log.write("modify", t, **self._order_fields(order))
        if order.remaining <= 0:
            self._finish(order, "Filled", t)
        else:
            self._emit_status(order, why="modified")
            self._work_order(order, t, {})

    def cancel_order(self, session: Session, order_id: int) -> None:
        t = self.now()
        client_id = session.client_id or 0
        order = self.orders.get((client_id, order_id))
        self.orders_log.write("cancel_request", t, clientId=client_id, orderId=order_id,
                              permId=order.perm_id if order else None,
                              orderRef=order.parsed.order_ref if order else None)  # fmt: skip
        log.info("cancelOrder", clientId=client_id, orderId=order_id)
        if order is None or not order.working:
            session.send(m.error(order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found."))
            return
        self._finish(order, "Cancelled", t)
        session.send(m.error(order_id, 202, "Order Canceled - reason:"))

    def _expire(self, order: SimOrder, t: dt.datetime) -> None:
        log.info("DAY order expired at the close", clientId=order.client_id, orderId=order.order_id,
                 orderRef=order.parsed.order_ref, filled=order.filled)  # fmt: skip
        self._finish(order, "Cancelled", t, why="expired at the close (tif DAY)")
        owner = self.session_for(order.client_id)
        if owner is not None:
            owner.send(m.error(order.order_id, 202, "Order Canceled - reason:DAY order expired at the close"))

    def global_cancel(self, session: Session) -> None:
        """reqGlobalCancel: every working order of every client is cancelled, as TWS does."""
        t = self.now()
        working = [o for o in self.orders.values() if o.working]
        self.orders_log.write("global_cancel", t, clientId=session.client_id, orders=len(working))
        log.info("reqGlobalCancel", clientId=session.client_id, orders=len(working))
        for order in working:
            self._finish(order, "Cancelled", t)
            owner = self.session_for(order.client_id)
            if owner is not None:
                owner.send(m.error(order.order_id, 202, "Order Canceled - reason:"))

    def _finish(self, order: SimOrder, status: str, t: dt.datetime, why: str = "") -> None:
        order.status = status
        order.completed_time = t
        order.completed_status = why or status
        self.completed.append(order)
        self._emit_status(order, why=why)

    def _work_order(self, order: SimOrder, t: dt.datetime, quotes: dict[int, Quote | None]) -> None:
        con_id = order.instrument.con_id
        if not self.market.is_trading(con_id, t):
            if order.live_in_session and order.parsed.tif in DAY_TIFS:
                self._expire(order, t)  # a DAY order ends with the session it worked in
            return  # otherwise it rests (PreSubmitted if it never reached an open exchange)
        order.live_in_session = True
        if order.status == "PreSubmitted":
            order.status = "Submitted"
            self._emit_status(order)
        while order.working and order.remaining > 0:
            limit = order.remaining
            if order.fill_cap is not None:
                limit = min(limit, order.fill_cap - order.filled)
            decision = decide_fill(order.parsed.action, order.parsed.order_type, order.parsed.lmt_price, limit,
                                   self.quote(con_id, t, quotes), con_id, t, self.liquidity)  # fmt: skip
            if decision is None:
                return
            self._fill(order, decision.price, decision.quantity, t, quotes)

    def _fill(self, order: SimOrder, price: float, quantity: float, t: dt.datetime, quotes: dict) -> None:
        inst = order.instrument
        buying = order.parsed.action == "BUY"
        commission = commission_for(inst, quantity)
        realized = self.account.apply_fill(inst, quantity if buying else -quantity, price, commission)
        cost = order.avg_fill_price * order.filled + price * quantity
        order.filled += quantity
        order.avg_fill_price = cost / order.filled
        order.last_fill_price = price
        execution = Execution(
            exec_id=f"{self._exec_prefix}.{next(self._exec_seq):08x}.01.01",
            time=t,
            client_id=order.client_id,
            order_id=order.order_id,
            perm_id=order.perm_id,
            instrument=inst,
            side="BOT" if buying else "SLD",
            shares=quantity,
            price=price,
            cum_qty=order.filled,
            avg_price=order.avg_fill_price,
            order_ref=order.parsed.order_ref,
            commission=commission,
            realized_pnl=realized,
        )
        self.account.executions.append(execution)
        self.orders_log.write("fill", t, **self._order_fields(order), execId=execution.exec_id, side=execution.side,
                              shares=quantity, price=price, cumQty=order.filled, commission=commission)  # fmt: skip
        log.info("fill", orderId=order.order_id, clientId=order.client_id, orderRef=order.parsed.order_ref,
                 symbol=inst.local_symbol, side=execution.side, shares=quantity, price=price)  # fmt: skip
        done = order.remaining <= 0
        if done:
            order.status = "Filled"
            order.completed_time = t
            order.completed_status = "Filled"
            self.completed.append(order)
        self._emit_status(order)
        session = self.session_for(order.client_id)
        if session is not None:
            session.send(_exec_frame(-1, execution, self.account.account_id))
            session.send(m.commission_report(execution.exec_id, commission, realized))
        for s in self.sessions:
            s.push_position_change(inst, t, quotes)

    def _settle_expired(self, t: dt.datetime) -> None:
        today = t.strftime("%Y%m%d")
        for pos in list(self.account.positions.values()):
            inst = pos.instrument
            if not pos.quantity or not inst.last_trade_date or inst.last_trade_date[:8] >= today:
                continue
            price = self.market.settlement_price(inst.con_id)
            if price is None:
                continue
            settlement = self.account.settle(inst, price)
            if settlement is not None:
                log.info("cash settlement", symbol=inst.local_symbol, quantity=settlement.quantity, price=price,
                         realized=round(settlement.realized_pnl, 2))  # fmt: skip
                for s in self.sessions:
                    s.push_position_change(inst, t, {})


def _with_quantity(p: ParsedOrder, quantity: float) -> ParsedOrder:
    raw = dict(p.raw)
    raw["totalQuantity"] = m.qty(quantity)
    return dataclasses.replace(p, total_quantity=quantity, raw=raw)


def _exec_frame(req_id: int, e: Execution, account: str) -> bytes:
    return m.exec_details(req_id, e.order_id, e.instrument, e.exec_id, e.time, account, e.side, e.shares, e.price,
                          e.perm_id, e.client_id, e.cum_qty, e.avg_price, e.order_ref)  # fmt: skip


class Session(asyncio.Protocol):
    """One API client connection: handshake, startApi, request dispatch, and its subscriptions."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None
        self.client_id: int | None = None
        self.peer = ""
        self.data_type = 1
        self.subs: dict[int, Subscription] = {}
        self.account_updates = False
        self.positions_sub = False
        self.multi_subs: set[int] = set()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._closed = False
        self._version: int | None = None

    # ---- transport ---------------------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.server.sessions.add(self)
        log.info("client connected", peer=self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.server.sessions.discard(self)
        log.info("client disconnected", peer=self.peer, clientId=self.client_id, reason=str(exc) if exc else "")

    def send(self, frame: bytes) -> None:
        if self._closed:
            return
        self._out.append(frame)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self.transport is not None and not self._closed:
            data = b"".join(self._out)
            self._out.clear()
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self._closed:
            self.flush()
            self._closed = True
            self.server.sessions.discard(self)
            self.transport.close()

    def send_end(self, name: str, frame: bytes) -> None:
        """An End message, unless a fault delays or withholds it."""
        delay = self.server.faults.end_delay(name)
        if delay is None:
            self.send(frame)
        elif math.isinf(delay):
            log.warning("fault: End message withheld", message=name, clientId=self.client_id)
        else:
            log.warning("fault: End message delayed", message=name, seconds=delay, clientId=self.client_id)
            asyncio.get_running_loop().call_later(delay, self.send, frame)

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.reader.feed(data)
        except ProtocolError as exc:
            log.warning("protocol error; closing", peer=self.peer, error=str(exc))
            self.close()
            return
        text = self.reader.version_text
        if text is not None and self._version is None and not self._handshake(text):
            return
        for fields in messages:
            if self._closed:
                return
            self.server.messages_received += 1
            try:
                self._dispatch(fields)
            except Exception:
                log.exception("request failed", clientId=self.client_id, fields=fields[:6])

    def _handshake(self, text: str) -> bool:
        self.server.handshakes.append(text)
        try:
            low, high, opts = parse_version_range(text)
        except ProtocolError as exc:
            log.warning("refused client", peer=self.peer, reason=str(exc))
            self.close()
            return False
        version = negotiate(low, high)
        if version is None:
            log.warning("refused client: it cannot speak server version 176", peer=self.peer, offered=text)
            self.close()
            return False
        self._version = version
        log.info("handshake", peer=self.peer, offered=text, version=version, options=opts)
        self.send(m.handshake_reply(self.server.now(), SERVER_VERSION))
        return True

    # ---- dispatch ----------------------------------------------------------------------------------------------
    def _dispatch(self, f: list[str]) -> None:
        msg_id = int(f[0])
        if self.client_id is None and msg_id != 71:
            log.warning("request before startApi ignored", msgId=msg_id, peer=self.peer)
            return
        handler = _HANDLERS.get(msg_id)
        if handler is None:
            log.warning("unsupported request ignored", msgId=msg_id, clientId=self.client_id, fields=f[:6])
            return
        handler(self, f)

    def _start_api(self, f: list[str]) -> None:
        client_id = int(f[2])
        in_use = any(s.client_id == client_id for s in self.server.sessions if s is not self)
        if in_use or self.server.faults.take_clientid_in_use():
            log.warning("clientId in use; closing", clientId=client_id, peer=self.peer, simulated=not in_use)
            self.send(m.error(-1, 326, "Unable to connect as the client id is already in use. "
                                       "Retry with a unique client id."))  # fmt: skip
            self.close()
            return
        self.client_id = client_id
        log.info("startApi", clientId=client_id, peer=self.peer)
        self.send(m.managed_accounts([self.server.account.account_id]))
        self.send(m.next_valid_id(self.server.next_order_id(client_id)))
        for code, text in FARM_NOTICES:
            self.send(m.error(-1, code, text))

    def resolve(self, c: ParsedContract, t: dt.datetime, include_expired: bool = False) -> Instrument | None:
        """The one instrument a request means, or None (unknown or ambiguous)."""
        if c.con_id:
            inst = self.server.market.by_con_id(c.con_id)
            return inst
        found = self.server.market.find(c.to_query(include_expired), t)
        return found[0] if len(found) == 1 else None

    def _log_request(self, name: str, **details: object) -> None:
        log.info(name, clientId=self.client_id, **details)

    # ---- account and portfolio ---------------------------------------------------------------------------------
    def _req_positions(self, f: list[str]) -> None:
        self._log_request("reqPositions")
        self.positions_sub = True
        acct = self.server.account
        for pos in acct.positions.values():
            self.send(m.position(acct.account_id, pos.instrument, pos.quantity, pos.avg_cost))
        self.send_end("positionEnd", m.end_message("positionEnd"))

    def _cancel_positions(self, f: list[str]) -> None:
        self.positions_sub = False

    def _req_account_updates(self, f: list[str]) -> None:
        subscribe = f[2] not in ("", "0")
        self._log_request("reqAccountUpdates", subscribe=subscribe, account=mask_account(f[3]) if len(f) > 3 else "")
        self.account_updates = subscribe
        if subscribe:
            self.push_account(self.server.now(), {}, full=True)
            self.send_end(
                "accountDownloadEnd", m.end_message("accountDownloadEnd", account=self.server.account.account_id)
            )

    def _req_account_updates_multi(self, f: list[str]) -> None:
        req_id = int(f[2])
        self._log_request("reqAccountUpdatesMulti", reqId=req_id)
        self.multi_subs.add(req_id)
        self._send_multi(req_id, self.server.now(), {})
        self.send_end("accountUpdateMultiEnd", m.end_message("accountUpdateMultiEnd", req_id))

    def _cancel_account_updates_multi(self, f: list[str]) -> None:
        self.multi_subs.discard(int(f[2]))

    def _send_multi(self, req_id: int, t: dt.datetime, quotes: dict[int, Quote | None]) -> None:
        acct = self.server.account
        for key, value in acct.values(self.server.marks(t, quotes)).items():
            self.send(m.account_update_multi(req_id, acct.account_id, key, f"{value:.2f}", "USD"))

    def _req_account_summary(self, f: list[str]) -> None:
        req_id, tags = int(f[2]), f[4] if len(f) > 4 else ""
        self._log_request("reqAccountSummary", reqId=req_id, tags=tags)
        acct = self.server.account
        values = acct.values(self.server.marks(self.server.now(), {}))
        wanted = {tag.strip() for tag in tags.split(",") if tag.strip()}
        for tag, value in values.items():
            if tag in wanted:
                self.send(m.account_summary(req_id, acct.account_id, tag, f"{value:.2f}", "USD"))
        if "AccountType" in wanted:
            self.send(m.account_summary(req_id, acct.account_id, "AccountType", "INDIVIDUAL", ""))
        self.send_end("accountSummaryEnd", m.end_message("accountSummaryEnd", req_id))

    def push_account(self, t: dt.datetime, quotes: dict[int, Quote | None], full: bool) -> None:
        """Account values and portfolio (single-account subscription) and multi-account subscriptions."""
        if self.account_updates:
            acct = self.server.account
            marks = self.server.marks(t, quotes)
            for key, value in acct.values(marks).items():
                self.send(m.account_value(key, f"{value:.2f}", "USD", acct.account_id))
            if full:
                self.send(m.account_value("AccountCode", acct.account_id, "", acct.account_id))
            for pos in acct.positions.values():
                self._send_portfolio(pos.instrument, marks.get(pos.instrument.con_id))
            self.send(m.account_update_time(t))
        for req_id in self.multi_subs:
            self._send_multi(req_id, t, quotes)

    def _send_portfolio(self, inst: Instrument, mark: float | None) -> None:
        acct = self.server.account
        pos = acct.positions[inst.con_id]
        mult = inst.multiplier_value
        price = mark if mark is not None else (pos.avg_cost / mult if pos.quantity else 0.0)
        value = pos.quantity * price * mult
        self.send(m.portfolio_value(inst, pos.quantity, price, value, pos.avg_cost, value - pos.quantity * pos.avg_cost,
                                    pos.realized_pnl, acct.account_id))  # fmt: skip

    def push_position_change(self, inst: Instrument, t: dt.datetime, quotes: dict[int, Quote | None]) -> None:
        acct = self.server.account
        pos = acct.positions.get(inst.con_id)
        if pos is None:
            return
        if self.positions_sub:
            self.send(m.position(acct.account_id, inst, pos.quantity, pos.avg_cost))
        if self.account_updates:
            self._send_portfolio(inst, mark_price(self.server.quote(inst.con_id, t, quotes)))
            for key, value in acct.values(self.server.marks(t, quotes)).items():
                self.send(m.account_value(key, f"{value:.2f}", "USD", acct.account_id))
        for req_id in self.multi_subs:
            self._send_multi(req_id, t, quotes)

    # ---- orders and executions ---------------------------------------------------------------------------------
    def _place_order(self, f: list[str]) -> None:
        try:
            parsed = parse_place_order(f)
        except (OrderParseError, ValueError) as exc:
            order_id = to_int(f[1]) if len(f) > 1 and f[1].lstrip("-").isdigit() else -1
            self.server.orders_log.write("parse_error", self.server.now(), clientId=self.client_id, orderId=order_id,
                                         error=str(exc))  # fmt: skip
            log.error("placeOrder not understood", clientId=self.client_id, error=str(exc))
            self.send(m.error(order_id or -1, 321, f"Error validating request:-'placeOrder': {exc}"))
            return
        self.server.place_order(self, parsed)

    def _cancel_order(self, f: list[str]) -> None:
        self.server.cancel_order(self, int(f[2]))

    def _req_open_orders(self, f: list[str], all_clients: bool = False) -> None:
        self._log_request("reqAllOpenOrders" if all_clients else "reqOpenOrders")
        for o in self.server.orders.values():
            if o.working and (all_clients or self.client_id in (0, o.client_id)):
                self.send(m.open_order(o.order_id, o.instrument, o.parsed.raw, o.client_id, o.perm_id, o.status))
                self.send(self.server._status_frame(o))
        self.send_end("openOrderEnd", m.end_message("openOrderEnd"))

    def _req_all_open_orders(self, f: list[str]) -> None:
        self._req_open_orders(f, all_clients=True)

    def _req_completed_orders(self, f: list[str]) -> None:
        self._log_request("reqCompletedOrders")
        for o in self.server.completed:
            self.send(m.completed_order(o.instrument, o.parsed.raw, o.perm_id, o.status, o.filled,
                                        o.completed_time or self.server.now(), o.completed_status))  # fmt: skip
        self.send_end("completedOrdersEnd", m.end_message("completedOrdersEnd"))

    def _req_executions(self, f: list[str]) -> None:
        req_id = int(f[2])
        client_filter, acct_filter, time_filter = to_int(f[3]) or 0, f[4], _parse_filter_time(f[5])
        symbol, sec_type, side = f[6], f[7], {"BUY": "BOT", "SELL": "SLD"}.get(f[9].upper(), f[9].upper())
        self._log_request("reqExecutions", reqId=req_id)
        acct = self.server.account
        for e in acct.executions:
            if (client_filter and e.client_id != client_filter) or (acct_filter and acct_filter != acct.account_id):
                continue
            if (symbol and e.instrument.symbol != symbol) or (sec_type and e.instrument.sec_type != sec_type):
                continue
            if (side and e.side != side) or (time_filter and e.time < time_filter):
                continue
            self.send(_exec_frame(req_id, e, acct.account_id))
            self.send(m.commission_report(e.exec_id, e.commission, e.realized_pnl))
        self.send_end("execDetailsEnd", m.end_message("execDetailsEnd", req_id))

    def _req_ids(self, f: list[str]) -> None:
        self.send(m.next_valid_id(self.server.next_order_id(self.client_id or 0)))

    def _req_current_time(self, f: list[str]) -> None:
        self.send(m.current_time(int(self.server.now().timestamp())))

    def _req_managed_accounts(self, f: list[str]) -> None:
        self.send(m.managed_accounts([self.server.account.account_id]))

    # ---- contracts ---------------------------------------------------------------------------------------------
    def _req_contract_details(self, f: list[str]) -> None:
        req_id = int(f[2])
        contract = ParsedContract.from_fields(f[3:15])
        include_expired = f[15] not in ("", "0") if len(f) > 15 else False
        t = self.server.now()
        if contract.con_id:
            inst = self.server.market.by_con_id(contract.con_id)
            found = [inst] if inst is not None else []
        else:
            found = self.server.market.find(contract.to_query(include_expired), t)
        self._log_request("reqContractDetails", reqId=req_id, symbol=contract.symbol, secType=contract.sec_type,
                          localSymbol=contract.local_symbol, found=len(found))  # fmt: skip
        if not found:
            self.send(m.error(req_id, 200, "No security definition has been found for the request"))
            return
        for inst in found:
            self.send(m.contract_details(req_id, inst, str(self.server.market_rules.id_for(inst))))
        self.send_end("contractDetailsEnd", m.end_message("contractDetailsEnd", req_id))

    def _req_market_rule(self, f: list[str]) -> None:
        rule = int(f[1])
        tiers = self.server.market_rules.tiers(rule)
        self._log_request("reqMarketRule", rule=rule, tiers=tiers)
        if tiers is None:  # TWS answers unknown rules with nothing; log it so a stuck client can be explained
            log.warning("reqMarketRule for a rule id no contract details carried", rule=rule)
            return
        self.send(m.market_rule(rule, tiers))

    def _req_sec_def_opt_params(self, f: list[str]) -> None:
        req_id, symbol, under_type, under_con_id = int(f[1]), f[2], f[4], to_int(f[5]) or 0
        t = self.server.now()
        if not under_con_id:
            found = self.server.market.find(ContractQuery(symbol=symbol, sec_type=under_type), t)
            under_con_id = found[0].con_id if len(found) == 1 else 0
        chains = self.server.market.option_chains(under_con_id, t) if under_con_id else []
        self._log_request("reqSecDefOptParams", reqId=req_id, symbol=symbol, chains=len(chains))
        for chain in chains:
            self.send(m.sec_def_opt_params(req_id, chain))
        self.send_end("secDefOptParamsEnd", m.end_message("secDefOptParamsEnd", req_id))

    # ---- market data -------------------------------------------------------------------------------------------
    def _req_market_data_type(self, f: list[str]) -> None:
        data_type = int(f[2])
        if data_type not in (1, 2, 3, 4):
            self.send(m.error(-1, 10090, f"market data type {data_type} is not 1-4"))
            return
        self.data_type = data_type
        self._log_request("reqMarketDataType", type=data_type)

    def _req_mkt_data(self, f: list[str]) -> None:
        req_id = int(f[2])
        contract = ParsedContract.from_fields(f[3:15])
        i = 15
        if contract.sec_type == "BAG":
            i += 1 + 4 * int(f[i] or 0)
        i += 4 if f[i] not in ("", "0") else 1
        snapshot = f[i + 1] not in ("", "0")
        t = self.server.now()
        self._log_request("reqMktData", reqId=req_id, symbol=contract.symbol, localSymbol=contract.local_symbol,
                          conId=contract.con_id, snapshot=snapshot)  # fmt: skip
        if contract.sec_type == "BAG":
            self.send(m.error(req_id, 354, "Requested market data is not subscribed. Combo market data is not "
                                           "simulated; subscribe to each leg."))  # fmt: skip
            return
        inst = self.resolve(contract, t)
        if inst is None:
            self.send(m.error(req_id, 200, "No security definition has been found for the request"))
            return
        sub = Subscription(req_id, inst, self.data_type)
        self.send(m.market_data_type(req_id, self.data_type))
        self._push_sub(sub, t, {}, self.server.faults.quote_mode())
        if snapshot:
            self.send_end("tickSnapshotEnd", m.end_message("tickSnapshotEnd", req_id))
        else:
            self.subs[req_id] = sub

    def _cancel_mkt_data(self, f: list[str]) -> None:
        self.subs.pop(int(f[2]), None)

    def push_market_data(self, t: dt.datetime, quotes: dict[int, Quote | None], mode: str | None) -> None:
        if not self.subs or self._closed:
            return
        if self.transport is not None and self.transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
            return  # slow reader: skip this cycle; the next one sends the latest values (conflation)
        for sub in self.subs.values():
            self._push_sub(sub, t, quotes, mode)
            self.flush()  # stream each line's ticks once priced, as a gateway does: none waits for later lines

    def _push_sub(self, sub: Subscription, t: dt.datetime, quotes: dict[int, Quote | None], mode: str | None) -> None:
        """Send what changed since the last push of this subscription (the hot path: no per-field allocations)."""
        if mode == "stop":
            return
        quote = self.server.quote(sub.instrument.con_id, t, quotes)
        if quote is None:
            return
        values = _faulty(quote, mode) if mode else _quote_values(quote)
        delayed = 1 if sub.data_type in (3, 4) else 0
        sent = sub.sent
        req_id = sub.req_id
        send = self.send
        changed = False
        for k, ticks in PRICE_TICKS.items():
            v = values.get(k)
            if v is None or sent.get(k) == v:
                continue
            changed = True
            size_key = SIZE_OF.get(k)
            size = values.get(size_key) if size_key else None
            send(m.tick_price(req_id, ticks[delayed], v, size))
            sent[k] = v
            if size_key and size is not None:
                sent[size_key] = size
        for k, ticks in SIZE_TICKS.items():
            v = values.get(k)
            if v is not None and sent.get(k) != v:
                send(m.tick_size(req_id, ticks[delayed], v))
                sent[k] = v
        if sub.instrument.sec_type == "OPT" and mode is None:
            # greeks follow the quote; recompute when it moved, and at least every GREEKS_REFRESH_S otherwise
            now = time.monotonic()
            if changed or sub.greeks is None or now - sub.greeks_at >= GREEKS_REFRESH_S:
                sub.greeks_at = now
                greeks = self.server.market.greeks(sub.instrument.con_id, t)
                if greeks is not None:
                    key = _greeks_key(greeks)
                    if key != sub.greeks:
                        sub.greeks = key
                        send(m.tick_option_computation(req_id, MODEL_GREEKS_TICK[delayed], greeks))

    # ---- historical data ---------------------------------------------------------------------------------------
    def _req_historical_data(self, f: list[str]) -> None:
        req_id = int(f[1])
        contract = ParsedContract.from_fields(f[2:14])
        end_text, bar_size, duration, what = f[15], f[16], f[17], f[19]
        i = 21
        if contract.sec_type == "BAG":
            i += 1 + 4 * int(f[i] or 0)
        keep_up_to_date = f[i] not in ("", "0")
        self._log_request("reqHistoricalData", reqId=req_id, symbol=contract.symbol, localSymbol=contract.local_symbol,
                          end=end_text, duration=duration, barSize=bar_size)  # fmt: skip
        if self.server.faults.take_pacing():
            log.warning("fault: historical data pacing violation", reqId=req_id)
            self.send(m.error(req_id, 162, "Historical Market Data Service error message:"
                                           "Historical data request pacing violation"))  # fmt: skip
            return
        problem = None
        if bar_size.strip() != "1 day":
            problem = f"the simulator serves only '1 day' bars, not {bar_size!r}"
        elif keep_up_to_date:
            problem = "keepUpToDate is not simulated for daily bars; request again to refresh"
        elif what not in ("TRADES", "MIDPOINT", "BID", "ASK", "ADJUSTED_LAST"):
            problem = f"whatToShow {what!r} is not simulated"
        t = self.server.now()
        inst = self.resolve(contract, t, include_expired=True)
        if problem is None and inst is None:
            self.send(m.error(req_id, 200, "No security definition has been found for the request"))
            return
        end = _parse_end_time(end_text) or t
        days = _duration_days(duration)
        if problem is None and days is None:
            problem = f"bad duration {duration!r}; use e.g. '30 D', '6 M' or '1 Y'"
        if problem is not None or inst is None or days is None:
            self.send(m.error(req_id, 162, f"Historical Market Data Service error message:{problem}"))
            return
        start_date = (end - dt.timedelta(days=days)).date()
        bars = [b for b in self.server.market.daily_bars(inst.con_id, min(end, t), days + 10) if b.date > start_date]
        fmt = "%Y%m%d %H:%M:%S"
        self.send(m.historical_data(req_id, (end - dt.timedelta(days=days)).strftime(fmt), end.strftime(fmt), bars))


def _quote_values(q: Quote) -> dict[str, float]:
    """The quote's finite fields by name (NaN means 'no value': nothing is sent for it)."""
    raw = {"bid": q.bid, "ask": q.ask, "last": q.last, "close": q.close, "high": q.high, "low": q.low,
           "bid_size": q.bid_size, "ask_size": q.ask_size, "last_size": q.last_size, "volume": q.volume}  # fmt: skip
    return {k: v for k, v in raw.items() if v == v and v not in (math.inf, -math.inf)}


def _faulty(q: Quote, mode: str) -> dict[str, float]:
    """Bad prices for the quotes fault: NaN, -1, zero, or a crossed book (bid above ask)."""
    values = _quote_values(q)
    bad = {"nan": math.nan, "neg": -1.0, "zero": 0.0}.get(mode)
    if bad is not None:
        for k in ("bid", "ask", "last"):
            values[k] = bad
    elif mode == "crossed" and "bid" in values and "ask" in values:
        values["bid"], values["ask"] = values["ask"] * 1.05 + 0.05, values["bid"]
    return values


def _greeks_key(g: ModelGreeks) -> tuple[float, ...]:
    return tuple(round(v, 6) for v in (g.implied_vol, g.delta, g.price, g.gamma, g.vega, g.theta, g.und_price))


def _parse_end_time(text: str) -> dt.datetime | None:
    """endDateTime of reqHistoricalData: '' (now), 'YYYYMMDD HH:MM:SS[ TZ]' or 'YYYYMMDD-HH:MM:SS' (UTC)."""
    text = text.strip()
    if not text:
        return None
    date_part, _, rest = text.replace("-", " ", 1).partition(" ")
    time_part, _, zone = rest.strip().partition(" ")
    naive = dt.datetime.strptime(date_part + (time_part or "23:59:59"), "%Y%m%d%H:%M:%S")
    return naive.replace(tzinfo=ZoneInfo(zone) if zone else dt.UTC).astimezone(dt.UTC)


def _parse_filter_time(text: str) -> dt.datetime | None:
    try:
        return _parse_end_time(text)
    except ValueError:
        return None


def _duration_days(text: str) -> int | None:
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit():
        return None
    n, unit = int(parts[0]), parts[1].upper()
    per = {"S": 1 / 86400, "D": 1, "W": 7, "M": 31, "Y": 366}.get(unit)
    return None if per is None else max(1, math.ceil(n * per))


_HANDLERS: dict[int, Callable[[Session, list[str]], None]] = {
    1: Session._req_mkt_data,
    2: Session._cancel_mkt_data,
    3: Session._place_order,
    4: Session._cancel_order,
    5: Session._req_open_orders,
    6: Session._req_account_updates,
    7: Session._req_executions,
    8: Session._req_ids,
    9: Session._req_contract_details,
    15: lambda s, f: None,  # reqAutoOpenOrders: orders of other clients are not forwarded (see docs)
    16: Session._req_all_open_orders,
    17: Session._req_managed_accounts,
    20: Session._req_historical_data,
    25: lambda s, f: None,  # cancelHistoricalData: requests complete at once
    49: Session._req_current_time,
    58: lambda s, f: s.server.global_cancel(s),
    59: Session._req_market_data_type,
    61: Session._req_positions,
    62: Session._req_account_summary,
    63: lambda s, f: None,  # cancelAccountSummary: summaries are one-shot here
    64: Session._cancel_positions,
    71: Session._start_api,
    76: Session._req_account_updates_multi,
    77: Session._cancel_account_updates_multi,
    78: Session._req_sec_def_opt_params,
    91: Session._req_market_rule,
    99: Session._req_completed_orders,
}

"""The async Broker facade: the bot's only door to IB (ib_async or ib_insync underneath).

What the engine gets (see `Broker` for the calls):
- `await broker.connect()` connects with exponential backoff, reads the account and returns the first
  ReconciliationSnapshot (positions, open and completed orders, executions). Orders may be sent only while
  `broker.is_ready` (connected, reconciled, not degraded); otherwise `place_limit` raises NotConnectedError.
- Everything the gateway says arrives as project types on ONE queue, `broker.events` (an asyncio.Queue of
  BrokerEvent: ConnectionEvent, ReconciliationSnapshot, QuoteTick, OptionGreeksTick, OrderEvent, PositionRow,
  BrokerErrorEvent), in the order received. The queue is unbounded: the engine must keep consuming it.
  Execution additionally watches the events of one orderRef with `broker.watch(order_ref)`.
- A dropped socket (or a gateway silent past the watchdog) starts the reconnect supervisor: stop sending, reconnect
  with backoff, read a new ReconciliationSnapshot, resubscribe every market-data line, then CONNECTED again.

Library callbacks run synchronously inside the library's reader; they only convert and enqueue. Nothing in a
callback awaits, and reconnecting happens in a task, never inside the disconnect callback. Timeouts use
`asyncio.timeout`, not `asyncio.wait_for`: on Python 3.11 wait_for can swallow a cancellation that races with the
result, and a task that cannot be cancelled is a task that cannot be shut down.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, stop_never, wait_exponential

from bot.account_guard import mask_account
from bot.broker import convert, discovery
from bot.broker.discovery import ContractQuery, OptionChainInfo
from bot.broker.errors import (
    BrokerUnavailableError,
    ClassifiedError,
    ContractNotFoundError,
    ErrorKind,
    GatewayRefusedError,
    NotConnectedError,
    RequestFailedError,
    RequestTimeoutError,
    classify_error,
)
from bot.broker.library import IbLibrary, load_library
from bot.broker.library_logs import install_routine_error_filter
from bot.broker.pacing import Pacer
from bot.broker.types import (
    AccountSnapshot,
    BrokerErrorEvent,
    BrokerEvent,
    ConnectionEvent,
    ConnectionEventKind,
    ContractSpec,
    DailyBar,
    MarketUniverse,
    OptionGreeksTick,
    OrderEvent,
    OrderEventKind,
    PositionRow,
    QuoteTick,
    ReconciliationSnapshot,
    VxCurve,
)
from bot.domain.intents import HedgeInstrument, HedgeKind, Side
from bot.logs import get_logger
from bot.settings.broker import BrokerSettings, is_loopback_host

T = TypeVar("T")
log = get_logger("bot.broker")

_BAR_KINDS = frozenset({"TRADES", "MIDPOINT", "BID", "ASK", "BID_ASK", "ADJUSTED_LAST", "HISTORICAL_VOLATILITY",
                        "OPTION_IMPLIED_VOLATILITY"})  # fmt: skip
_RETRYABLE_CONNECT = (OSError, TimeoutError, ConnectionError, RequestTimeoutError, RequestFailedError)


class BrokerState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    RECONCILING = "reconciling"
    READY = "ready"
    DEGRADED = "degraded"  # socket up but 1100 or 10197: no trading
    CLOSED = "closed"


@dataclass(frozen=True)
class BrokerTuning:
    """An in-code override of some `[broker]` timing keys, for callers that set timings per process (the simulator
    host's quick reconnects) rather than in the config. A field left None keeps the configured value; the defaults
    and the validation live in BrokerSettings only. New code sets the keys in the config (or a model_copy of it).
    """

    reconnect_initial_s: float | None = None
    reconnect_max_s: float | None = None
    initial_connect_attempts: int | None = None
    client_id_in_use_backoff_s: float | None = None
    watchdog_interval_s: float | None = None
    watchdog_timeout_s: float | None = None
    historical_concurrency: int | None = None
    historical_min_interval_s: float | None = None
    pacing_retry_s: float | None = None
    pacing_retries: int | None = None
    market_data_type: int | None = None

    def overrides(self) -> dict[str, Any]:
        """The keys this tuning sets."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def apply(self, settings: BrokerSettings) -> BrokerSettings:
        """`settings` with these keys replaced, validated like a config file (ValueError naming the key if bad)."""
        try:
            return BrokerSettings.model_validate({**settings.model_dump(), **self.overrides()})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'broker'}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"BrokerTuning sets invalid [broker] values: {problems}") from None


@dataclass
class _Subscription:
    spec: ContractSpec
    contract: Any
    ticker: Any = None
    last_quote: QuoteTick | None = None
    last_greeks: OptionGreeksTick | None = None


class OrderWatch:
    """The OrderEvents of one orderRef plus every ConnectionEvent, queued for one execution task."""

    def __init__(self, order_ref: str) -> None:
        self.order_ref = order_ref
        self.queue: asyncio.Queue[OrderEvent | ConnectionEvent | ReconciliationSnapshot] = asyncio.Queue()


class Broker:
    """Async facade over one IB API connection. Create, `await connect()`, consume `events`, `await close()`."""

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        tuning: BrokerTuning | None = None,
        library: IbLibrary | None = None,
        account: str | None = None,
    ) -> None:
        # Every timing is read from self.settings; a legacy BrokerTuning only replaces the keys it sets.
        self.settings = tuning.apply(settings) if tuning is not None else settings
        self.lib = library or load_library(self.settings.library)
        install_routine_error_filter(self.lib.name)
        self.events: asyncio.Queue[BrokerEvent] = asyncio.Queue()
        self._wanted_account = account
        self._ib = self.lib.IB()
        # Every sync call of the library is bounded too, although the facade uses only the async ones.
        self._ib.RequestTimeout = self.settings.request_timeout_s
        # Failed requests raise RequestError (code + message) instead of quietly returning empty results.
        self._ib.RaiseRequestErrors = True
        self._state = BrokerState.DISCONNECTED
        self._ready = asyncio.Event()
        self._generation = 0
        self._closing = False
        self._connecting = False
        self._competing_session = False
        self._connectivity_lost = False  # 1100 seen, no 1101/1102 yet
        self._client_id_conflict = False
        self._turned_away: asyncio.Future[str] | None = None  # set while an attempt connects; resolved to end it
        self._supervisor: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._subs: dict[int, _Subscription] = {}
        self._contracts: dict[int, Any] = {}
        self._watches: dict[str, list[OrderWatch]] = {}
        self._snapshot: ReconciliationSnapshot | None = None
        self._resolved: dict[str, ContractSpec] = {}
        self._market_rules: dict[int, tuple[tuple[float, float], ...]] = {}
        self._acknowledged: set[int] = set()  # order ids the gateway reported a status for
        # The libraries key open/completed-order requests by name: two at once would overwrite each other's future.
        self._refresh_lock = asyncio.Lock()
        self._history_pacer = Pacer(self.settings.historical_concurrency, self.settings.historical_min_interval_s)
        self._attach_handlers()

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> BrokerState:
        return self._state

    @property
    def is_ready(self) -> bool:
        """Connected, reconciled and not degraded: the only state in which orders are sent."""
        return self._state is BrokerState.READY

    @property
    def generation(self) -> int:
        """Increments on every successful (re)connect; execution uses it to notice a reconnect happened."""
        return self._generation

    @property
    def library_name(self) -> str:
        return self.lib.name

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(self._ib.managedAccounts()) if self._ib.isConnected() else ()

    @property
    def account(self) -> str:
        """The account orders go to: the configured one, or the only managed account."""
        accounts = self.accounts
        if self._wanted_account:
            if accounts and self._wanted_account not in accounts:
                raise NotConnectedError(
                    f"account {self._wanted_account} is not managed by this gateway (it manages {', '.join(accounts)})"
                )
            return self._wanted_account
        if len(accounts) != 1:
            raise NotConnectedError(
                f"the gateway manages {len(accounts)} accounts ({', '.join(accounts)}); name one explicitly"
            )
        return accounts[0]

    @property
    def snapshot(self) -> ReconciliationSnapshot | None:
        """The latest reconciliation snapshot (read on the last connect or refresh)."""
        return self._snapshot

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until orders may be sent again; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            return False
        return self.is_ready

    def _set_state(self, state: BrokerState) -> None:
        if state is not self._state:
            log.info("broker state", old=self._state.value, new=state.value, generation=self._generation)
        self._state = state
        if state is BrokerState.READY:
            self._ready.set()
        else:
            self._ready.clear()

    def _emit(self, event: BrokerEvent) -> None:
        self.events.put_nowait(event)
        if isinstance(event, OrderEvent):
            for watch in self._watches.get(event.order_ref, ()):
                watch.queue.put_nowait(event)
        elif isinstance(event, ConnectionEvent | ReconciliationSnapshot):
            for watches in self._watches.values():
                for watch in watches:
                    watch.queue.put_nowait(event)

    def _connection_event(self, kind: ConnectionEventKind, code: int | None = None, message: str = "") -> None:
        self._emit(ConnectionEvent(kind, convert.utc_now(), code, message, self._generation))

    # ------------------------------------------------------------------ connect / close
    async def connect(self) -> ReconciliationSnapshot:
        """Connect (bounded attempts with exponential backoff), reconcile, subscribe; start the supervisors."""
        self._check_host()
        self._closing = False
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.settings.initial_connect_attempts),
                wait=self._backoff(),
                retry=retry_if_exception_type(_RETRYABLE_CONNECT),
                reraise=True,
            ):
                with attempt:
                    await self._connect_and_reconcile()
        except _RETRYABLE_CONNECT as exc:
            self._set_state(BrokerState.DISCONNECTED)
            raise BrokerUnavailableError(
                f"no IB API connection at {self.settings.host}:{self.settings.port} (client id "
                f"{self.settings.client_id}) after {self.settings.initial_connect_attempts} attempts: {exc!r}. "
                "Fix: start IB Gateway/TWS, enable the API socket on this port, or use another client id"
            ) from exc
        self._start_watchdog()
        assert self._snapshot is not None
        return self._snapshot

    async def close(self) -> None:
        """Disconnect and stop the supervisor and watchdog (working orders stay at the broker)."""
        self._closing = True
        for task in (self._supervisor, self._watchdog, *self._background):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._supervisor, self._watchdog, *self._background):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._ib.disconnect()
        self._set_state(BrokerState.CLOSED)

    def _check_host(self) -> None:
        # BrokerSettings already validates this; checked again here because money moves over this socket.
        if not self.settings.allow_remote_host and not is_loopback_host(self.settings.host):
            raise BrokerUnavailableError(
                f"refusing to connect to non-loopback host {self.settings.host!r}: the API socket is unencrypted. "
                "Fix: tunnel to 127.0.0.1 or set broker.allow_remote_host = true"
            )

    def _backoff(self) -> Any:
        initial, ceiling = self.settings.reconnect_initial_s, self.settings.reconnect_max_s
        exponential = wait_exponential(multiplier=initial, min=initial, max=ceiling)

        def wait(retry_state: Any) -> float:
            delay = exponential(retry_state)
            if self._client_id_conflict:
                self._client_id_conflict = False
                delay = max(delay, self.settings.client_id_in_use_backoff_s)
            return delay

        return wait

    async def _connect_and_reconcile(self) -> None:
        self._set_state(BrokerState.CONNECTING)
        self._connecting = True
        try:
            # Start from an empty library memory: ib_insync keeps the old session's trades and fills after a
            # client-side disconnect (the watchdog's), and order_evidence() must show only this connection's truth.
            self._ib.wrapper.reset()
            await self._open_api()
            if not self._ib.isConnected() or not self._ib.managedAccounts():
                raise ConnectionError("the gateway accepted the socket but sent no managed accounts")
            self._generation += 1
            self._competing_session = self._connectivity_lost = False
            self._set_state(BrokerState.RECONCILING)
            if self.settings.market_data_type != 1:
                self._ib.reqMarketDataType(self.settings.market_data_type)
            snapshot = await self.refresh_snapshot()
            await self._resubscribe_all()
        except BaseException:
            self._ib.disconnect()
            self._set_state(BrokerState.DISCONNECTED)
            raise
        finally:
            self._connecting = False
        log.info(
            "broker connected",
            library=self.lib.name,
            accounts=[mask_account(a) for a in snapshot.accounts],
            positions=len(snapshot.positions),
            open_orders=len(snapshot.open_orders),
            generation=self._generation,
        )
        self._set_state(BrokerState.READY)
        self._connection_event(ConnectionEventKind.CONNECTED)

    async def _open_api(self) -> None:
        """The library's connectAsync, cut short the moment the gateway turns this attempt away.

        After error 326 the gateway closes the socket; a gateway that is up but not accepting API clients closes it
        before the handshake is answered. Either way both libraries keep waiting for an apiStart that never comes
        until connect_timeout_s runs out (ib_async/ib_insync only log the close). Watching the 326 error and this
        socket's close fails the attempt at once instead, so the backoff, not the connect timeout, paces retries.
        """
        conn = self._ib.client.conn
        if conn.transport is not None:
            # The previous socket is still closing: the watchdog hung up on a gateway that stopped reading, and a
            # close waits for unsent bytes to drain, which they never will. Abort it and wait for its close here,
            # so that a close watched below can only be this attempt's.
            conn.transport.abort()
            async with asyncio.timeout(self.settings.connect_timeout_s):
                await conn.disconnected
        turned_away: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_socket_closed(message: str = "") -> None:
            if not turned_away.done():
                detail = f" ({message})" if message else ""
                turned_away.set_result(f"the gateway closed the socket while connecting{detail}")

        attempt = asyncio.ensure_future(
            self._ib.connectAsync(
                self.settings.host,
                self.settings.port,
                clientId=self.settings.client_id,
                timeout=self.settings.connect_timeout_s,
                account=self._wanted_account or "",
            )
        )
        turned_away.add_done_callback(lambda _: attempt.cancel())
        self._turned_away = turned_away
        conn.disconnected += on_socket_closed
        try:
            await attempt
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if turned_away.done() and not (task is not None and task.cancelling()):
                raise GatewayRefusedError(turned_away.result()) from None
            raise
        finally:
            conn.disconnected -= on_socket_closed
            self._turned_away = None

    def _on_disconnected(self) -> None:
        if self._closing or self._connecting:
            return
        if self._state is BrokerState.DISCONNECTED and self._supervisor and not self._supervisor.done():
            return
        log.warning("broker disconnected; reconnecting", generation=self._generation)
        self._set_state(BrokerState.DISCONNECTED)
        self._connection_event(ConnectionEventKind.DISCONNECTED)
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.get_running_loop().create_task(self._reconnect(), name="broker-reconnect")

    async def _reconnect(self) -> None:
        """Reconnect forever (until close), with backoff; each failure is reported as RECONNECTING."""
        async for attempt in AsyncRetrying(
            stop=stop_never,
            wait=self._backoff(),
            retry=retry_if_exception_type(_RETRYABLE_CONNECT),
            reraise=True,
        ):
            with attempt:
                if self._closing:
                    return
                try:
                    await self._connect_and_reconcile()
                except _RETRYABLE_CONNECT as exc:
                    log.warning("reconnect attempt failed", error=repr(exc))
                    self._connection_event(ConnectionEventKind.RECONNECTING, message=repr(exc))
                    raise

    def _start_watchdog(self) -> None:
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.get_running_loop().create_task(self._watch_silence(), name="broker-watchdog")

    async def _watch_silence(self) -> None:
        """Probe with reqCurrentTime; a gateway that does not answer is treated exactly like a dropped socket."""
        while not self._closing:
            await asyncio.sleep(self.settings.watchdog_interval_s)
            if self._state not in (BrokerState.READY, BrokerState.DEGRADED):
                continue
            try:
                async with asyncio.timeout(self.settings.watchdog_timeout_s):
                    await self._ib.reqCurrentTimeAsync()
            except (TimeoutError, ConnectionError) as exc:
                if self._closing or self._state not in (BrokerState.READY, BrokerState.DEGRADED):
                    continue
                log.error("gateway silent; dropping the connection", error=repr(exc))
                self._ib.disconnect()  # emits disconnectedEvent -> the supervisor reconnects
                self._on_disconnected()

    # ------------------------------------------------------------------ requests
    async def _request(self, what: str, awaitable: Awaitable[T]) -> T:
        """Await one library request under request_timeout_s; map the library's errors to the facade's."""
        try:
            async with asyncio.timeout(self.settings.request_timeout_s):
                return await awaitable
        except TimeoutError:
            raise RequestTimeoutError(f"{what}: no answer within {self.settings.request_timeout_s}s") from None
        except self.lib.RequestError as exc:
            raise RequestFailedError(what, classify_error(exc.code, exc.message)) from None

    async def refresh_snapshot(self) -> ReconciliationSnapshot:
        """Read positions, open and completed orders and executions from the gateway (never from a cache).

        Complete or nothing: every request must see its End message within request_timeout_s, else this raises,
        so a snapshot never mistakes a missing answer for an absent order. Concurrent callers are serialised.
        """
        async with self._refresh_lock:
            positions = await self._request("reqPositions", self._ib.reqPositionsAsync())
            open_trades = await self._request("reqAllOpenOrders", self._ib.reqAllOpenOrdersAsync())
            completed = await self._request("reqCompletedOrders", self._ib.reqCompletedOrdersAsync(True))
            fills = await self._request("reqExecutions", self._ib.reqExecutionsAsync())
        snapshot = ReconciliationSnapshot(
            taken_at=convert.utc_now(),
            generation=self._generation,
            accounts=tuple(self._ib.managedAccounts()),
            positions=tuple(convert.position_row(p) for p in positions),
            open_orders=tuple(convert.order_record(t) for t in open_trades),
            completed_orders=tuple(convert.order_record(t) for t in completed),
            executions=tuple(convert.execution_record(f) for f in fills),
        )
        self._snapshot = snapshot
        self._emit(snapshot)
        return snapshot

    def order_evidence(self, order_ref: str) -> ReconciliationSnapshot:
        """This session's orders and executions for one orderRef, from the library's memory (no request).

        Sound only while the broker is ready: the memory was filled by the reconciliation of the current connection
        (open and completed orders, executions) and has been updated by every broker message since; a reconnect
        replaces it. Lets execution reconcile an intent before its first send without four round trips.
        """
        if not self.is_ready:
            raise NotConnectedError(f"no reconciled order state while the broker is {self._state.value}")
        records = [convert.order_record(t) for t in self._ib.trades() if t.order.orderRef == order_ref]
        fills = [convert.execution_record(f) for f in self._ib.fills() if f.execution.orderRef == order_ref]
        return ReconciliationSnapshot(
            taken_at=convert.utc_now(),
            generation=self._generation,
            accounts=tuple(self._ib.managedAccounts()),
            positions=(),
            open_orders=tuple(r for r in records if r.is_live),
            completed_orders=tuple(r for r in records if not r.is_live),
            executions=tuple(fills),
        )

    def positions(self) -> list[PositionRow]:
        """Positions as last streamed by the gateway (kept current by position updates)."""
        return [convert.position_row(p) for p in self._ib.positions()]

    def account_snapshot(self) -> AccountSnapshot:
        """Net liquidation and cash of the trading account, from the account updates the gateway streams."""
        account = self.account
        values = {(v.tag, v.currency): v.value for v in self._ib.accountValues(account)}

        def pick(tag: str) -> float | None:
            for currency in ("USD", "BASE", ""):
                raw = values.get((tag, currency))
                if raw not in (None, ""):
                    try:
                        return float(raw)
                    except ValueError:
                        return None
            return None

        return AccountSnapshot(account, pick("NetLiquidation"), pick("TotalCashValue"))

    # ------------------------------------------------------------------ contracts
    def _contract(self, query: ContractQuery) -> Any:
        lib = self.lib
        return lib.Contract(
            conId=query.con_id,
            symbol=query.symbol,
            secType=query.sec_type,
            lastTradeDateOrContractMonth=query.expiry,
            strike=query.strike,
            right=query.right,
            exchange=query.exchange,
            currency=query.currency,
            tradingClass=query.trading_class,
        )

    async def contract_details(self, query: ContractQuery) -> list[ContractSpec]:
        """Every contract the gateway lists for the query, with min tick and trading hours."""
        try:
            details = await self._request(
                f"reqContractDetails {query}", self._ib.reqContractDetailsAsync(self._contract(query))
            )
        except RequestFailedError as exc:
            if exc.error.kind is ErrorKind.NO_SECURITY:
                return []
            raise
        specs = []
        for detail in details or ():
            spec = convert.spec_from_contract(detail.contract, detail)
            self._contracts[spec.con_id] = detail.contract
            specs.append(spec)
        return specs

    async def _one(self, query: ContractQuery) -> ContractSpec:
        specs = await self.contract_details(query)
        if len(specs) != 1:
            raise ContractNotFoundError(f"{query}: the gateway lists {len(specs)} contracts, expected exactly one")
        return specs[0]

    async def index(self, symbol: str) -> ContractSpec:
        """VIX, VIX3M, VIX9D or SPX as an index contract."""
        exchange = discovery.INDEX_EXCHANGES.get(symbol)
        if exchange is None:
            raise ContractNotFoundError(f"no index rule for {symbol!r}; known: {sorted(discovery.INDEX_EXCHANGES)}")
        return await self._one(ContractQuery(symbol=symbol, sec_type="IND", exchange=exchange))

    async def vx_curve(
        self, kind: HedgeKind = HedgeKind.VX, today: dt.date | None = None, *, monthly_only: bool = True
    ) -> VxCurve:
        """The listed VX (or VXM) futures, front month first, found through contract details."""
        specs = await self.contract_details(discovery.futures_query(kind))
        today = today or dt.datetime.now(dt.UTC).date()
        return VxCurve(discovery.sort_curve(specs, kind.value, today, monthly_only=monthly_only))

    async def vixy(self) -> ContractSpec:
        return await self._one(ContractQuery(symbol="VIXY", sec_type="STK", exchange="SMART"))

    async def vix_option_chain(self, trading_class: str = "VIX", exchange: str = "CBOE") -> OptionChainInfo:
        """Expirations and strikes of VIX options (reqSecDefOptParams on the VIX index)."""
        vix = await self.index("VIX")
        chains = await self._request(
            "reqSecDefOptParams VIX", self._ib.reqSecDefOptParamsAsync("VIX", "", "IND", vix.con_id)
        )
        infos = [
            OptionChainInfo(
                exchange=c.exchange,
                trading_class=c.tradingClass,
                multiplier=str(c.multiplier),
                expirations=tuple(c.expirations),
                strikes=tuple(float(s) for s in c.strikes),
            )
            for c in chains
        ]
        return discovery.pick_option_chain(infos, trading_class, exchange)

    async def resolve(self, instrument: HedgeInstrument) -> ContractSpec:
        """The gateway's contract for a planned hedge instrument (exact expiry, strike and right).

        Cached per instrument: contract details do not change while a contract is listed, and a round trip saved
        here is latency saved between a signal and its order.
        """
        cached = self._resolved.get(instrument.key)
        if cached is not None and cached.con_id in self._contracts:
            return cached
        candidates = await self.contract_details(discovery.query_for(instrument))
        spec = discovery.match_instrument(instrument, candidates)
        self._resolved[instrument.key] = spec
        return spec

    async def price_increments(self, spec: ContractSpec) -> tuple[tuple[float, float], ...]:
        """The IB market rule of an option's exchange: (low edge, increment) tiers, e.g. VIX options 0.01 below
        3.00 and 0.05 from 3.00. Other contracts, and options whose rule the gateway does not answer, get () and
        are priced on their contract-details min tick. Cached per rule id."""
        rule_id = spec.market_rule_id
        if spec.sec_type not in ("OPT", "FOP") or rule_id is None:
            return ()
        if rule_id not in self._market_rules:
            try:
                increments = await self._request(f"reqMarketRule {rule_id}", self._ib.reqMarketRuleAsync(rule_id))
            except (RequestTimeoutError, RequestFailedError) as exc:
                log.warning("no market rule; pricing on the min tick", rule=rule_id, contract=spec.key, error=str(exc))
                increments = None
            tiers = sorted((float(i.lowEdge), float(i.increment)) for i in increments or ())
            if not tiers:
                log.warning("market rule unanswered; pricing on the min tick", rule=rule_id, contract=spec.key)
            self._market_rules[rule_id] = tuple(tiers)
        return self._market_rules[rule_id]

    async def condor_legs(self) -> list[ContractSpec]:
        """Contract details of every SPX/SPXW option held (the condor legs), looked up by conId."""
        rows = discovery.condor_leg_positions(self.positions())
        legs = []
        for row in rows:
            legs.append(await self._one(ContractQuery(symbol="", sec_type="", exchange="", con_id=row.contract.con_id)))
        return legs

    # ------------------------------------------------------------------ market data
    async def subscribe_universe(self, curve_months: int = 4, today: dt.date | None = None) -> MarketUniverse:
        """Discover and stream what the strategy reads: the four indices, the first `curve_months` VX futures,
        VIXY and every condor leg held (with model greeks). Safe to call again: subscriptions are not duplicated."""
        if curve_months < 1:
            raise ValueError(f"curve_months must be >= 1, got {curve_months}")
        indices = {symbol: await self.index(symbol) for symbol in discovery.INDEX_EXCHANGES}
        curve = await self.vx_curve(today=today)
        if len(curve.contracts) < curve_months:
            raise ContractNotFoundError(
                f"the gateway lists {len(curve.contracts)} monthly VX futures, fewer than the {curve_months} needed"
            )
        universe = MarketUniverse(
            indices=indices,
            vx_curve=VxCurve(curve.contracts[:curve_months]),
            vixy=await self.vixy(),
            condor_legs=tuple(await self.condor_legs()),
        )
        for spec in universe.all:
            await self.subscribe(spec)
        return universe

    async def subscribe(self, spec: ContractSpec) -> None:
        """Stream quotes (and model greeks for options) for a contract; kept across reconnects and 1101."""
        if spec.con_id in self._subs:
            return
        contract = self._contracts.get(spec.con_id)
        if contract is None:
            await self._one(ContractQuery(symbol="", sec_type="", exchange="", con_id=spec.con_id))
            contract = self._contracts[spec.con_id]
        sub = _Subscription(spec=spec, contract=contract)
        self._subs[spec.con_id] = sub
        if self._ib.isConnected():
            sub.ticker = self._ib.reqMktData(contract, "", False, False)

    def unsubscribe(self, con_id: int) -> None:
        sub = self._subs.pop(con_id, None)
        if sub is not None and sub.ticker is not None and self._ib.isConnected():
            self._ib.cancelMktData(sub.contract)

    def latest_quote(self, con_id: int) -> QuoteTick | None:
        sub = self._subs.get(con_id)
        return sub.last_quote if sub else None

    def latest_greeks(self, con_id: int) -> OptionGreeksTick | None:
        sub = self._subs.get(con_id)
        return sub.last_greeks if sub else None

    async def _resubscribe_all(self) -> None:
        """Re-issue every market-data line (after a reconnect the old tickers are dead; after 1101, stale)."""
        for sub in self._subs.values():
            if sub.ticker is not None:
                with contextlib.suppress(Exception):
                    self._ib.cancelMktData(sub.contract)
            sub.last_quote = None
            sub.ticker = self._ib.reqMktData(sub.contract, "", False, False)

    def _on_pending_tickers(self, tickers: Any) -> None:
        now = convert.utc_now()
        for ticker in tickers:
            sub = self._subs.get(int(ticker.contract.conId or 0))
            if sub is None or sub.ticker is not ticker:
                continue
            quote = convert.quote_tick(ticker, now)
            previous = sub.last_quote
            if previous is None or (quote.bid, quote.ask, quote.last, quote.close) != (
                previous.bid,
                previous.ask,
                previous.last,
                previous.close,
            ):
                sub.last_quote = quote
                self._emit(quote)
                if self._competing_session and quote.bid is not None:
                    self._competing_session = False  # data flows again
                    if self._state is BrokerState.DEGRADED and not self._connectivity_lost:
                        self._set_state(BrokerState.READY)
                        self._connection_event(ConnectionEventKind.RESTORED, message="market data flows again")
            else:
                # Same prices (a size changed): the gateway still speaks for this line, so the quote is current.
                # IB sends nothing while nothing changes; `received_at` is when it last said anything.
                sub.last_quote = replace(previous, received_at=now)
            greeks = getattr(ticker, "modelGreeks", None)
            if greeks is not None and sub.spec.sec_type in ("OPT", "FOP"):
                tick = convert.greeks_tick(sub.spec.con_id, greeks, now)
                if sub.last_greeks is None or _greeks_differ(tick, sub.last_greeks):
                    sub.last_greeks = tick
                    self._emit(tick)

    # ------------------------------------------------------------------ history
    async def daily_bars(self, spec: ContractSpec, duration: str = "1 Y", what: str = "TRADES") -> list[DailyBar]:
        """Daily bars for indicator warm-up, paced; a pacing refusal is retried after broker pacing_retry_s."""
        contract = self._contracts.get(spec.con_id)
        if contract is None:
            await self._one(ContractQuery(symbol="", sec_type="", exchange="", con_id=spec.con_id))
            contract = self._contracts[spec.con_id]
        if what not in _BAR_KINDS:
            raise ValueError(f"daily_bars what={what!r} is not an IB whatToShow; use one of {sorted(_BAR_KINDS)}")

        def request() -> Awaitable[Any]:
            return self._request(
                f"reqHistoricalData {spec.key}",
                self._ib.reqHistoricalDataAsync(
                    contract,
                    endDateTime="",
                    durationStr=duration,
                    barSizeSetting="1 day",
                    whatToShow=what,
                    useRTH=True,
                    formatDate=1,
                ),
            )

        retries = 0
        while True:
            try:
                bars = await self._history_pacer.run(request)
            except RequestFailedError as exc:
                if exc.error.kind is not ErrorKind.PACING or retries >= self.settings.pacing_retries:
                    raise
                retries += 1
                self._connection_event(ConnectionEventKind.PACING, exc.error.code, exc.error.message)
                await asyncio.sleep(self.settings.pacing_retry_s)
                continue
            return [convert.daily_bar(b) for b in bars or ()]

    # ------------------------------------------------------------------ orders
    def next_order_id(self) -> int:
        """Reserve the id of the next order, so that the journal can record it before the order is sent."""
        if not self._ib.isConnected():
            raise NotConnectedError("cannot reserve an order id while disconnected")
        return int(self._ib.client.getReqId())

    def place_limit(
        self,
        spec: ContractSpec,
        side: Side,
        quantity: float,
        limit_price: float,
        order_ref: str,
        order_id: int,
        *,
        outside_rth: bool = False,
    ) -> None:
        """Send one DAY limit order. Returns nothing on purpose: only OrderEvents say the order is working.

        There is no market-order call in this facade, by design.
        """
        if not self.is_ready:
            raise NotConnectedError(f"not sending {order_ref}: broker is {self._state.value}")
        if not (limit_price > 0) or quantity <= 0 or not order_ref:
            raise ValueError(f"refusing order {order_ref!r}: price {limit_price}, quantity {quantity}")
        contract = self._contracts.get(spec.con_id)
        if contract is None:
            raise ContractNotFoundError(f"{spec.key}: resolve the contract (contract details) before ordering")
        order = self.lib.LimitOrder(
            side.value,
            quantity,
            limit_price,
            orderId=order_id,
            orderRef=order_ref,
            tif="DAY",
            outsideRth=outside_rth,
            account=self.account,
            transmit=True,
        )
        self._ib.placeOrder(contract, order)

    def cancel(self, order_id: int) -> bool:
        """Ask the gateway to cancel one of this client's orders; the CANCELLED OrderEvent is the answer."""
        if not self._ib.isConnected():
            raise NotConnectedError(f"cannot cancel order {order_id} while disconnected")
        trade = self._trade_for_order_id(order_id)
        if trade is None or trade.orderStatus.status in ("Filled", "Cancelled", "ApiCancelled"):
            return False
        self._ib.cancelOrder(trade.order)
        return True

    @contextlib.contextmanager
    def watch(self, order_ref: str) -> Iterator[OrderWatch]:
        """Receive the OrderEvents of `order_ref` (and every connection event) while the block runs."""
        watch = OrderWatch(order_ref)
        self._watches.setdefault(order_ref, []).append(watch)
        try:
            yield watch
        finally:
            self._watches[order_ref].remove(watch)
            if not self._watches[order_ref]:
                del self._watches[order_ref]

    # ------------------------------------------------------------------ library callbacks
    def _attach_handlers(self) -> None:
        ib = self._ib
        ib.disconnectedEvent += self._on_disconnected
        ib.errorEvent += self._on_error
        ib.openOrderEvent += self._on_order_status
        ib.orderStatusEvent += self._on_order_status
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission
        ib.pendingTickersEvent += self._on_pending_tickers
        ib.positionEvent += self._on_position

    def _on_order_status(self, trade: Any) -> None:
        log_entries = getattr(trade, "log", None) or []
        last = log_entries[-1] if log_entries else None
        if last is not None and getattr(last, "errorCode", 0) and last.status == trade.orderStatus.status:
            # The library synthesised this status from an error message (ib_async: 202 and 201; ib_insync: 201).
            # _on_error reports that error with its meaning; a second, library-flavoured event would conflict.
            return
        self._acknowledged.add(int(trade.order.orderId or 0))
        event = convert.status_event(trade, convert.utc_now())
        if event is not None and event.order_ref:
            self._emit(event)

    def _on_position(self, position: Any) -> None:
        self._emit(convert.position_row(position))

    def _on_exec(self, trade: Any, fill: Any) -> None:
        self._emit(convert.fill_event(trade, fill, convert.utc_now()))

    def _on_commission(self, trade: Any, fill: Any, _report: Any) -> None:
        self._emit(convert.fill_event(trade, fill, convert.utc_now()))

    def _on_error(self, req_id: int, code: int, message: str, _contract: Any = None) -> None:
        error = classify_error(int(code), str(message))
        now = convert.utc_now()
        if self._handle_connection_error(error):
            return
        trade = self._trade_for_order_id(req_id) if req_id > 0 else None
        refused_new = error.code == 110 and trade is not None and req_id not in self._acknowledged
        if trade is not None and (error.is_order_terminal or refused_new):
            # 110 (price off the increment grid) on an order the gateway never acknowledged means it was refused;
            # on an acknowledged one it refused a modification and the order still works.
            terminal = error.kind is ErrorKind.ORDER_REJECTED or refused_new
            kind = OrderEventKind.REJECTED if terminal else OrderEventKind.CANCELLED
            self._emit(convert.error_event(trade, kind, error.code, error.message, now))
            return
        level = logging.INFO if error.kind in (ErrorKind.NOTICE, ErrorKind.ORDER_WARNING) else logging.WARNING
        log.log(level, "gateway message", code=error.code, kind=error.kind.value, req_id=req_id, message=message)
        self._emit(BrokerErrorEvent(error.code, error.message, req_id, now, error.kind.value))

    def _handle_connection_error(self, error: ClassifiedError) -> bool:
        kind = error.kind
        if kind is ErrorKind.CONNECTIVITY_LOST:
            self._connectivity_lost = True
            if self._state is BrokerState.READY:
                self._set_state(BrokerState.DEGRADED)
            self._connection_event(ConnectionEventKind.DEGRADED, error.code, error.message)
        elif kind is ErrorKind.RESTORED_DATA_LOST:
            self._connectivity_lost = False
            self._run_background(self._restore(data_lost=True, error=error))
        elif kind is ErrorKind.RESTORED:
            self._connectivity_lost = False
            self._run_background(self._restore(data_lost=False, error=error))
        elif kind is ErrorKind.COMPETING_SESSION:
            self._competing_session = True
            if self._state is BrokerState.READY:
                self._set_state(BrokerState.DEGRADED)
            self._connection_event(ConnectionEventKind.COMPETING_SESSION, error.code, error.message)
        elif kind is ErrorKind.CLIENT_ID_IN_USE:
            self._client_id_conflict = True
            if self._turned_away is not None and not self._turned_away.done():
                self._turned_away.set_result(f"IB error 326: {error.message}")
            log.error("client id in use", client_id=self.settings.client_id, message=error.message)
            self._connection_event(ConnectionEventKind.CLIENT_ID_IN_USE, error.code, error.message)
        elif kind is ErrorKind.NOTICE:
            self._connection_event(ConnectionEventKind.NOTICE, error.code, error.message)
        elif kind is ErrorKind.PACING:
            self._connection_event(ConnectionEventKind.PACING, error.code, error.message)
        else:
            return False
        return True

    async def _restore(self, *, data_lost: bool, error: ClassifiedError) -> None:
        """1101: resubscribe first; 1101/1102: re-read orders and fills (the outage may have filled some)."""
        if self._state not in (BrokerState.DEGRADED, BrokerState.READY):
            return
        if data_lost:
            await self._resubscribe_all()
        try:
            await self.refresh_snapshot()
        except (RequestTimeoutError, RequestFailedError, ConnectionError) as exc:
            if self._ib.isConnected() and self._state is not BrokerState.DISCONNECTED:
                log.error("reconciliation after restore failed; staying degraded", error=repr(exc))
                self._set_state(BrokerState.DEGRADED)
            return
        kind = ConnectionEventKind.RESTORED_DATA_LOST if data_lost else ConnectionEventKind.RESTORED
        if not self._competing_session and self._ib.isConnected():
            self._set_state(BrokerState.READY)
        self._connection_event(kind, error.code, error.message)

    def _run_background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _trade_for_order_id(self, order_id: int) -> Any | None:
        """This client's order with that id. Order ids are per client: another client's order 7 is not ours, and
        cancelling 'order 7' from here would hit our own order 7 instead."""
        for trade in self._ib.trades():
            if trade.order.orderId == order_id and trade.order.clientId == self.settings.client_id:
                return trade
        return None


def _greeks_differ(a: OptionGreeksTick, b: OptionGreeksTick) -> bool:
    return (a.implied_vol, a.delta, a.gamma, a.vega, a.theta, a.underlying_price) != (
        b.implied_vol,
        b.delta,
        b.gamma,
        b.vega,
        b.theta,
        b.underlying_price,
    )

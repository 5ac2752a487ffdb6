"""The engine loop: broker events in, decisions, risk checks, approvals and executions out, all journaled.

One asyncio loop. It consumes the broker's event queue; VIX and VX-curve ticks trigger a decision cycle (at most
one per `debounce_s` of market time) and a periodic cycle runs every `bot.cycle_seconds` of market time. A cycle:
read the trading state from the journal (so `alvh halt` in another terminal counts at once), expire approvals,
build the MarketSnapshot, `decide`, journal the cycle and the decision record, check each intent against risk
(denials are journaled with their reason codes), then by mode: dry-run journals, approval records pending intents
and sends approved ones after `send_approved` re-checks them, paper/live submit (`begin_submit` commits
`submitting` first) and execute in tasks, so the loop keeps reading ticks while a ladder works. An intent is never
executed twice at once and never sent again once submitted (the journal refuses it).

Start-up is crash-only: the strategy state comes from the last journaled decision, the journal is reconciled
against the broker's orders and executions before anything new is planned, and nothing is ever resent.

Engine is split into mixins that read its state through `self`: discovery, subscriptions and history warm-up
(wiring.py), what the operator sees (reporting.py) and what each mode does with intents (modes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import gc
import os
from pathlib import Path
from typing import Any

from bot import vx_calendar
from bot.account_guard import AccountDecision, mask_account, require_account
from bot.broker.errors import BrokerError, NotConnectedError
from bot.broker.facade import Broker, BrokerTuning
from bot.broker.types import (
    BrokerErrorEvent,
    ConnectionEvent,
    ConnectionEventKind,
    ContractSpec,
    ExecutionRecord,
    OptionGreeksTick,
    OrderEvent,
    OrderEventKind,
    PositionRow,
    QuoteTick,
    ReconciliationSnapshot,
)
from bot.config import AppConfig
from bot.decision import Decision
from bot.domain.intents import HedgeKind, Intent
from bot.domain.market import MarketSnapshot
from bot.engine.background_io import BackgroundIO
from bot.engine.clock import MarketClock, WallClock
from bot.engine.history import DailyHistory, session_open
from bot.engine.hours import TradingHours
from bot.engine.marketdata import MarketData
from bot.engine.modes import ModeDispatch
from bot.engine.pnl import HedgeLedger
from bot.engine.reporting import Reporting
from bot.engine.simhost import SimHost
from bot.engine.snapshot import Instruments, build_snapshot, hedge_instrument, hedge_positions
from bot.engine.state_codec import restore_state
from bot.engine.summary import RunSummary
from bot.engine.timeline import Timeline
from bot.engine.wiring import EngineError, MarketWiring
from bot.execution import Executor
from bot.journal import IntentStatus, Journal, JournalError
from bot.journal.db import checkpoint_wal
from bot.journal.execution_adapter import JournalExecutionAdapter
from bot.logs import get_logger
from bot.risk import AnomalyMonitor, HaltReason, TradingState
from bot.signals.sessions import session_date
from bot.strategy import CoreSettings, decide

log = get_logger("bot.engine")

TICK_DEBOUNCE_S = 15.0  # market seconds between two tick-driven cycles (Cboe disseminates the VIX every 15 s)
CHECKPOINT_EVERY_S = 1.0  # wall seconds between two journal checkpoints (off the loop; see _after_cycle)
MISMATCH_CONFIRM_S = 3.0  # wall seconds a hedge-position mismatch must persist before it halts (fills vs positions lag)
SHUTDOWN_WAIT_S = 5.0  # wall seconds a clean shutdown waits for ladders to see their cancels confirmed


class Engine(MarketWiring, Reporting, ModeDispatch):
    """Create with a config (already adapted for the simulator when one runs in-process), then `await run()`."""

    def __init__(
        self,
        config: AppConfig,
        *,
        mode: str,
        live_flag: bool = False,
        clock: MarketClock | None = None,
        timeline: Timeline | None = None,
        sim: SimHost | None = None,
        tuning: BrokerTuning | None = None,
        debounce_s: float = TICK_DEBOUNCE_S,
        speed: float = 1.0,
    ) -> None:
        self.config = config
        self.mode = mode
        self.live_flag = live_flag
        self.clock = clock or WallClock()
        self.timeline = timeline or Timeline()
        self.sim = sim
        self.tuning = tuning
        self.debounce_s = debounce_s
        self.speed = speed
        self.core = CoreSettings.from_config(config)
        self.md = MarketData()
        self.inst = Instruments()
        self.history = DailyHistory()
        self.ledger = HedgeLedger()
        self.summary = RunSummary()
        self.stop_event = asyncio.Event()
        self.ended = asyncio.Event()
        self.state = restore_state(None)
        self.journal: Journal | None = None
        self.broker: Broker | None = None
        self.adapter: JournalExecutionAdapter | None = None
        self.executor: Executor | None = None
        self.account: AccountDecision | None = None
        self.monitor = AnomalyMonitor(config.risk)
        self.hours = TradingHours()
        self._tasks: dict[asyncio.Task[Any], tuple[str, ...]] = {}
        self._inflight: set[str] = set()
        self._trigger: str | None = None
        self._last_cycle_at: dt.datetime | None = None
        self._last_tick_cycle_at: dt.datetime | None = None
        self._last_decision: Decision | None = None
        self._started_at: dt.datetime | None = None
        self._submitted: dict[dt.date, int] = {}
        self._baseline: dict[str, int] = {}
        self._mismatch_since: float | None = None
        self._said: dict[str, str] = {}
        self._fills_seen: set[str] = set()
        self._in_baseline: set[str] = set()  # executions already counted in the start-up positions
        self._run_fills: dict[str, int] = {}
        self._orders_seen: set[tuple[str, int]] = set()
        self._status_written = 0.0
        self._checkpointed = 0.0
        self._io: BackgroundIO | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._options_center: dict[dt.date, float] = {}
        self._options_task: asyncio.Task[None] | None = None
        self._generation = 0
        self._condor_pnl: float | None = None
        self._vix_ticked_at: dt.datetime | None = None  # the last VIX change: the stale-data halt watches it

    # ------------------------------------------------------------------------------------------------ lifecycle
    async def run(self) -> int:
        """Start, loop until a signal or the scenario's end, shut down cleanly. Returns the exit code."""
        loop = asyncio.get_running_loop()
        try:
            await self._start()
        except BaseException:  # e.g. the account guard refused: close what was opened, send nothing
            if self.broker is not None:
                await self.broker.close()
            if self._io is not None:
                self._io.close()
            if self.journal is not None:
                self.journal.close()
            raise
        if self.sim is not None and self.sim.thread.simulator is not None:
            server = self.sim.thread.simulator.server
            server.on_end = lambda: loop.call_soon_threadsafe(self.ended.set)
            if server.ended:
                self.ended.set()
        try:
            await self._loop()
        finally:
            await self._shutdown()
        return 0

    async def _start(self) -> None:
        cfg = self.config
        try:
            self.journal = Journal.open(cfg.bot.journal_path)
        except JournalError as exc:
            raise EngineError(str(exc)) from None
        journal = self.journal
        self._event_loop = asyncio.get_running_loop()
        self._io = BackgroundIO(self._background_failed)
        self.state = restore_state(journal.last_decision())
        broker = Broker(cfg.broker, tuning=self.tuning, account=cfg.risk.trade_account)
        self.broker = broker
        try:
            snapshot = await broker.connect()
        except BrokerError as exc:
            raise EngineError(str(exc)) from None
        self._generation = snapshot.generation
        try:
            self.account = require_account(
                self.mode,
                snapshot.accounts,
                live_flag=self.live_flag,
                live_account=cfg.bot.live_account,
                allow_multiple_accounts=cfg.risk.allow_multiple_accounts,
                trade_account=cfg.risk.trade_account,
            )
        except Exception as exc:  # AccountGuardError: nothing was planned or sent
            journal.record_event("account_guard", f"refused to start: {exc}", "refused", {"mode": self.mode})
            raise EngineError(f"account guard: {exc}") from None
        now = self.clock.now()
        self._started_at = now
        shown = mask_account(self.account.account)
        journal.record_event("start", f"mode {self.mode}, account {shown}", self.mode, {"pid": os.getpid()})
        self.timeline.emit("start", now, f"mode {self.mode}, account {shown}: {self.account.message}")
        self.adapter = JournalExecutionAdapter(journal, cfg.broker.client_id)
        self._reconcile(snapshot, at_start=True)
        self.executor = Executor(broker, cfg.execution, self.adapter, may_send=self._ladder_may_send)
        self._rebuild_ledger()
        if isinstance(self.clock, WallClock):
            midnight = dt.datetime.combine(now.date(), dt.time(), dt.UTC)
            self._submitted[now.date()] = journal.submissions_since(midnight)
        await self._discover_and_warm_up()
        self._take_baseline()
        self._trigger = "start"
        if self.mode in ("paper", "live", "approval"):
            self._adopt_recovered(now)
        vx_calendar.preload()
        gc.collect()  # then freeze: the long-lived start-up objects (calendars, histories, library state) leave the
        gc.freeze()  # collector's generations, so full collections on the tick-to-order path no longer rescan them

    def _take_baseline(self) -> None:
        """The hedge positions at start, and the executions they already include.

        Fills that arrive while discovery and warm-up run wait in the event queue, yet the streamed positions already
        show them: the baseline records those executions, so booking them later does not count them twice. (The
        gateway sends an execution before the position change it causes, so every fill the positions include is in
        the library's memory by now.) Only intents still at the broker can fill, so only theirs are read.
        """
        assert self.journal is not None and self.broker is not None
        held = {i.key: q for i, (q, _, _) in hedge_positions(self._positions()).items()}
        self._baseline = held
        self.monitor.rebase(held)
        for rec in self.journal.list_intents([IntentStatus.SUBMITTING, IntentStatus.WORKING]):
            try:
                evidence = self.broker.order_evidence(rec.id)
            except NotConnectedError:
                return  # the positions are not current either; a lasting difference still halts (fails closed)
            self._in_baseline.update(e.exec_id for e in evidence.executions)

    def _adopt_recovered(self, now: dt.datetime) -> None:
        """Intents an earlier run left at the broker (still `submitting`/`working` after reconciliation) go back to
        the executor, which reconciles them by orderRef, cancels what still works and finishes only the remainder:
        the filled part is never sent again and two orders of one intent never work at once."""
        assert self.journal is not None
        for rec in self.journal.list_intents([IntentStatus.SUBMITTING, IntentStatus.WORKING]):
            self.timeline.emit("recover", now, f"{rec.id}: resuming the ladder of an earlier run (remainder only)")
            self._spawn([rec.intent], now, count=False)

    def _reconcile(self, snapshot: ReconciliationSnapshot, *, at_start: bool) -> None:
        """Settle every intent that may be at the broker from the broker's evidence; never sends anything."""
        assert self.journal is not None and self.adapter is not None
        in_flight = () if at_start else tuple(self._inflight)
        decisions = self.journal.reconcile(self.adapter.evidence(snapshot), in_flight=in_flight)
        for d in decisions:
            self.timeline.emit("recover", self.clock.now(), f"{d.intent_id}: {d.action.value} ({d.reason})")

    def _positions(self) -> list[PositionRow]:
        assert self.broker is not None
        account = self.account.account if self.account else None
        return [p for p in self.broker.positions() if account is None or p.account == account]

    def _ladder_may_send(self, intent: Intent) -> str | None:
        """Checked by the executor before each ladder step: the exchange must be open and trading not halted."""
        is_open, why = self.hours.market_open(intent.instrument.kind, self.clock.now())
        if not is_open:
            return why
        if self.journal is not None:
            state = self.journal.trading_state().state
            if state is TradingState.HALTED or (state is TradingState.REDUCING and intent.opens_position):
                return f"trading is {state.value}"
        return None

    # ------------------------------------------------------------------------------------------------ the loop
    async def _loop(self) -> None:
        broker = self.broker
        assert broker is not None
        while not self.stop_event.is_set():
            if self.ended.is_set():
                await self._run_cycle("scenario end")
                await self._drain_executions()
                self.timeline.emit("end", self.clock.now(), "the simulated scenario ended")
                return
            timeout = self._wait_for_next_cycle()
            getter = asyncio.ensure_future(broker.events.get())
            stopper = asyncio.ensure_future(self.stop_event.wait())
            ender = asyncio.ensure_future(self.ended.wait())
            done, _ = await asyncio.wait({getter, stopper, ender}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for fut in (stopper, ender):
                fut.cancel()
            if getter in done:
                ticks = self._handle(getter.result())
                while not broker.events.empty():  # a whole batch of ticks, then one cycle
                    ticks |= self._handle(broker.events.get_nowait())
                if ticks and broker.is_ready:
                    at = self.clock.now()
                    self.md.touch(at, functools.partial(self._quoted_at, at=at))
            else:
                getter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await getter
            now = self.clock.now()
            if self._trigger is None and self._periodic_due(now):
                self._trigger = "periodic"
            if self._trigger is not None and not self.stop_event.is_set():
                await self._run_cycle(self._trigger)

    def _quoted_at(self, spec: ContractSpec, at: dt.datetime) -> bool:
        """Whether an unchanged quote of this line is still current at `at`. VIX options are quoted only in their
        regular session, so overnight their last quote is yesterday's; VX futures and the indices tick through the
        night, and VIXY is not traded outside its session anyway (risk refuses it), so those stay current."""
        inst = hedge_instrument(spec)
        return inst is None or inst.kind is not HedgeKind.VIX_OPTION or self.hours.market_open(inst.kind, at)[0]

    def _periodic_due(self, now: dt.datetime) -> bool:
        last = self._last_cycle_at
        return last is None or (now - last).total_seconds() >= self.config.bot.cycle_seconds

    def _wait_for_next_cycle(self) -> float:
        """Wall seconds until the periodic cycle is due (market seconds divided by the clock's speed)."""
        if self._last_cycle_at is None:
            return 0.0
        left = self.config.bot.cycle_seconds - (self.clock.now() - self._last_cycle_at).total_seconds()
        return max(0.0, left / self.speed)

    # ------------------------------------------------------------------------------------------------ events
    def _handle(self, event: object) -> bool:
        """Apply one broker event; True when it was a quote tick (the market-data feed is flowing)."""
        now = self.clock.now()
        if isinstance(event, QuoteTick):
            if self.executor is not None:
                self.executor.quote_arrived(event.con_id)  # a ladder waiting for this quote goes on at once
            if self.md.on_quote(event, now) is None:
                return True
            role = self.inst.role_of(event.con_id)
            if role is None:
                return True
            if role == "vix":
                self._vix_ticked_at = now
            self._observe_history(role, now)
            if role in ("vix", "curve"):
                last = self._last_tick_cycle_at
                if last is None or (now - last).total_seconds() >= self.debounce_s:
                    self._trigger = self._trigger or f"tick:{role}"
            return True
        elif isinstance(event, OptionGreeksTick):
            self.md.on_greeks(event, now)
        elif isinstance(event, OrderEvent):
            self._on_order_event(event, now)
        elif isinstance(event, ReconciliationSnapshot):
            for e in event.executions:  # fills made while the socket was down arrive only in the snapshot
                if e.exec_id in self._fills_seen:
                    continue
                if e.order_ref and self.journal is not None and self.journal.get_intent(e.order_ref) is not None:
                    self._journal_execution(e)
                    self._book_fill(e.exec_id, e.order_ref, e.side, e.shares, e.price, e.commission)
            if event.generation != self._generation:
                self._generation = event.generation
                self._reconcile(event, at_start=False)
        elif isinstance(event, ConnectionEvent):
            self._on_connection(event, now)
        elif isinstance(event, BrokerErrorEvent):
            assert self.journal is not None
            self.journal.record_event("broker_error", event.message, str(event.code), {"req_id": event.req_id})
        return False

    def _on_connection(self, event: ConnectionEvent, now: dt.datetime) -> None:
        assert self.journal is not None
        if event.kind in (ConnectionEventKind.NOTICE, ConnectionEventKind.PACING):
            return
        self.journal.record_event("connection", f"{event.kind.value} {event.message}".strip(), event.kind.value)
        self.timeline.emit("broker", now, f"{event.kind.value}{': ' + event.message if event.message else ''}")

    def _on_order_event(self, event: OrderEvent, now: dt.datetime) -> None:
        assert self.adapter is not None and self.journal is not None
        try:
            if event.order_ref not in self._inflight:  # a working ladder journals its own order evidence
                self.adapter.record_order_event(event)
            elif event.exec_id:  # but an execution may predate the ladder's watch: journal it here too (once)
                self.adapter.record_execution_event(event)
        except JournalError as exc:
            log.error("journal could not record order evidence", order_ref=event.order_ref, error=repr(exc))
        if event.exec_id:
            price = event.last_fill_price or event.avg_fill_price or 0.0
            self._book_fill(event.exec_id, event.order_ref, event.action, event.exec_shares, price, event.commission)
            return
        if event.kind in (OrderEventKind.SUBMITTED, OrderEventKind.WORKING):
            if (event.order_ref, event.order_id) not in self._orders_seen:
                self._orders_seen.add((event.order_ref, event.order_id))
                self.summary.orders += 1
                self.timeline.emit(
                    "order",
                    now,
                    f"#{event.order_id} {event.action} {event.total_quantity:g} @ {event.limit_price} working "
                    f"({event.order_ref})",
                )
        elif event.kind is OrderEventKind.REJECTED:
            self.timeline.emit("order", now, f"#{event.order_id} rejected {event.error_code}: {event.error_message}")
            halt = self.monitor.on_rejection(now)
            if halt is not None:
                self._halt(halt, now)
        elif event.kind is OrderEventKind.CANCELLED and (event.order_ref, -event.order_id) not in self._orders_seen:
            self._orders_seen.add((event.order_ref, -event.order_id))  # openOrder and orderStatus both report it
            self.timeline.emit(
                "order", now, f"#{event.order_id} cancelled, filled {event.filled:g} ({event.order_ref})"
            )

    # ------------------------------------------------------------------------------------------------ a cycle
    async def _run_cycle(self, trigger: str) -> None:
        journal, broker = self.journal, self.broker
        assert journal is not None and broker is not None
        self._trigger = None
        now = self.clock.now()
        self._last_cycle_at = now
        if trigger.startswith("tick"):
            self._last_tick_cycle_at = now
        for day in self.history.roll(now):
            self._session_line(day)
        trading = journal.trading_state()
        for intent_id in journal.expire_due():
            self.timeline.emit("expired", now, f"{intent_id}: approval window passed; it will not be sent")
        positions = self._positions()
        snapshot = build_snapshot(now, self.md, self.inst, positions, self._net_liquidation())
        self._maybe_refresh_options(snapshot)
        state = dataclasses.replace(
            self.state,
            harvested_cash_usd=self.ledger.harvested_usd,
            realized_hedge_pnl_usd=self.ledger.realized_usd,
        )
        try:
            decision = decide(snapshot, state, self.history.history(), self.core)
        except Exception as exc:  # a bug in the core must not kill the loop; it plans nothing this cycle
            log.exception("decide failed")
            journal.record_event("engine_error", f"decide failed: {exc!r}", "decide_failed")
            return
        if decision.intents and self.mode in ("paper", "live"):  # orders first, the full record right after them
            record = None
            cycle_id = journal.record_cycle(self.mode, trigger, now, decision.record.provisional_dict())
        else:
            record = decision.record.to_dict()  # the journal writes it as strict JSON (NaN -> null)
            cycle_id = journal.record_cycle(self.mode, trigger, now, record)
        self.summary.cycles += 1
        self.state = decision.state
        self._last_decision = decision
        self._show_transitions(decision, now)
        self._show_alerts(decision, now)
        self._check_anomalies(snapshot, now, trading.state)
        trading = journal.trading_state()
        intents = self._attempts(decision.intents)
        if self.mode == "approval":
            self._approval_mode(intents, snapshot, cycle_id, now, trading.state)
        elif self.mode in ("paper", "live"):
            await self._trading_mode(intents, snapshot, cycle_id, now, trading.state)
        else:
            self._dry_run(intents, snapshot, cycle_id, now, trading.state)
        # after this cycle's executions have started: the full record and the status must not delay their first request
        pending = cycle_id if record is None else None
        asyncio.get_running_loop().call_soon(self._after_cycle, snapshot, decision, record, pending, trading.state)

    def _after_cycle(
        self,
        snapshot: MarketSnapshot,
        decision: Decision,
        record: dict[str, Any] | None,
        pending_cycle: int | None,
        trading: TradingState,
    ) -> None:
        """After a cycle's first orders are out: the full decision record of a cycle that sent (`pending_cycle`,
        journaled before as provisional), then housekeeping on the worker thread: the status file, and a WAL
        checkpoint at most every CHECKPOINT_EVERY_S. The checkpoint syncs what the cycles wrote (without fsync) and
        lets the WAL be reused, so the one fsync before a placeOrder flushes that order's own pages, not minutes of
        cycles."""
        if record is None:
            record = decision.record.to_dict()
        if pending_cycle is not None and self.journal is not None:
            try:
                self.journal.complete_decision(pending_cycle, record)
            except JournalError as exc:  # the provisional record stays: its state is what a restart needs
                log.error("journal could not complete the decision record", cycle=pending_cycle, error=repr(exc))
        self._write_status(snapshot, record, trading)
        loop_time = asyncio.get_running_loop().time()
        if self._io is not None and self.journal is not None and loop_time - self._checkpointed >= CHECKPOINT_EVERY_S:
            self._checkpointed = loop_time
            self._io.submit("checkpoint", functools.partial(checkpoint_wal, Path(self.journal.path)))

    def _net_liquidation(self) -> float | None:
        assert self.broker is not None
        try:
            return self.broker.account_snapshot().net_liquidation
        except BrokerError:
            return None

    # ------------------------------------------------------------------------------------------------ checks
    def _check_anomalies(self, snapshot: MarketSnapshot, now: dt.datetime, trading: TradingState) -> None:
        if trading is TradingState.HALTED:
            return
        # The age that matters is the silence while the market is open: overnight the VIX does not tick, so the
        # clock starts at the later of the last quote, today's open and the bot's own start.
        opened = session_open(session_date(now))
        since = [t for t in (self._vix_ticked_at, opened, self._started_at) if t is not None]
        last = max(since) if since else now
        is_open, _ = self.hours.market_open(HedgeKind.VIXY, now)
        halt = self.monitor.check_staleness(now, last, is_open)
        if halt is None and not self._inflight:
            halt = self._position_mismatch(snapshot)
        if halt is not None:
            self._halt(halt, now)

    def _journal_execution(self, execution: ExecutionRecord) -> None:
        """Every execution of the bot's orders goes into the journal, whoever else saw it (recorded once)."""
        assert self.adapter is not None
        try:
            self.adapter.record_executions([execution])
        except JournalError as exc:
            log.error("journal could not record an execution", exec_id=execution.exec_id, error=repr(exc))

    def _book_fill(
        self, exec_id: str, order_ref: str, side: str, quantity: float, price: float, commission: float | None
    ) -> None:
        """One execution of the bot's own orders, counted once: P&L ledger, expected positions, timeline."""
        if exec_id in self._fills_seen:
            return
        self._fills_seen.add(exec_id)
        assert self.journal is not None
        rec = self.journal.get_intent(order_ref) if order_ref else None
        key = rec.content["instrument"]["key"] if rec else ""
        side = side or (rec.content["side"] if rec else "")
        self.ledger.add_fill(exec_id, key, side, quantity, price, commission)
        if key and exec_id not in self._in_baseline:  # the start-up positions include those
            signed = round(quantity) * (1 if side.upper() in ("BUY", "BOT") else -1)
            self._run_fills[key] = self._run_fills.get(key, 0) + signed
        self.summary.fills += 1
        self.timeline.emit("fill", self.clock.now(), f"{side} {quantity:g} {key or '?'} @ {price:g}  ({order_ref})")

    def _expected_positions(self) -> dict[str, int]:
        """Hedge positions the broker should show: those at start plus every fill of this run."""
        expected = dict(self._baseline)
        for key, qty in self._run_fills.items():
            expected[key] = expected.get(key, 0) + qty
        return {k: v for k, v in expected.items() if v}

    def _busy(self, snapshot: MarketSnapshot) -> set[str]:
        """Instruments not to plan on now: one of their intents is executing, or the broker's position has not
        caught up with the fills yet (planning on a lagging position would buy the same hedge twice)."""
        assert self.journal is not None
        busy = set()
        for intent_id in self._inflight:
            rec = self.journal.get_intent(intent_id)
            if rec is not None:
                busy.add(rec.content["instrument"]["key"])
        actual = {h.instrument.key: h.quantity for h in snapshot.hedges}
        expected = self._expected_positions()
        busy.update(k for k in set(actual) | set(expected) if actual.get(k, 0) != expected.get(k, 0))
        return busy

    def _position_mismatch(self, snapshot: MarketSnapshot) -> HaltReason | None:
        """Positions that differ from start + fills; a difference must persist (fills and positions arrive apart)."""
        self.monitor.rebase(self._expected_positions())
        halt = self.monitor.check_positions({h.instrument.key: h.quantity for h in snapshot.hedges})
        loop_time = asyncio.get_running_loop().time()
        if halt is None:
            self._mismatch_since = None
            return None
        if self._mismatch_since is None:
            self._mismatch_since = loop_time
        return halt if loop_time - self._mismatch_since >= MISMATCH_CONFIRM_S else None

    def _halt(self, halt: HaltReason, now: dt.datetime) -> None:
        assert self.journal is not None
        if self.journal.trading_state().state is TradingState.HALTED:
            return
        self.journal.set_trading_state(TradingState.HALTED, f"{halt.code}: {halt.message}", by="auto")
        self.journal.record_event("anomaly", halt.message, halt.code)
        self.timeline.emit("HALT", now, f"{halt.code}: {halt.message} (resume with `alvh resume` after checking)")

    # ------------------------------------------------------------------------------------------------ execution
    async def _drain_executions(self, timeout: float = 30.0) -> None:
        """Let running ladders finish (the scenario ended: nothing new is planned)."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def _shutdown(self) -> None:
        journal, broker = self.journal, self.broker
        policy = self.config.execution.shutdown_policy
        now = self.clock.now()
        if self._options_task is not None:
            self._options_task.cancel()
        if self.executor is not None and self._tasks:
            if policy == "cancel":
                cancelled = self.executor.cancel_working()
                if cancelled:
                    await asyncio.wait(list(self._tasks), timeout=SHUTDOWN_WAIT_S)
                message = f"shutdown: cancelled {len(cancelled)} working order(s) (execution.shutdown_policy=cancel)"
            else:
                message = "shutdown: left working orders at the broker (execution.shutdown_policy=leave)"
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if journal is not None:
                journal.record_event("shutdown", message, policy)
            self.timeline.emit("shutdown", now, message)
        elif journal is not None:
            journal.record_event("shutdown", "shutdown: no ladder was working", policy)
        if self._last_decision is not None and journal is not None:
            snapshot = self._last_decision.record.snapshot
            self._write_status(snapshot, self._last_decision.record.to_dict(), None, running=False)
        if broker is not None:
            await broker.close()
        if self._io is not None and not self._io.close():
            log.warning("the status file or a journal checkpoint was still being written at exit")
        self._print_summary()
        if journal is not None:
            journal.close()

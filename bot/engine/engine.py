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
from bot.domain.intents import HedgeInstrument, HedgeKind, Intent
from bot.domain.market import MarketSnapshot
from bot.engine.background_io import BackgroundIO
from bot.engine.clock import MarketClock, WallClock
from bot.engine.history import DailyHistory, closes_before, futures_ratio, ratio_of, session_open
from bot.engine.hours import TradingHours
from bot.engine.marketdata import MarketData
from bot.engine.modes import ModeDispatch
from bot.engine.pnl import HedgeLedger
from bot.engine.simhost import SimHost
from bot.engine.snapshot import Instruments, build_snapshot, hedge_instrument, hedge_positions, spec_expiry
from bot.engine.state_codec import restore_state
from bot.engine.status import encode_status, status_path, write_status_text
from bot.engine.summary import RunSummary, print_summary
from bot.engine.timeline import Timeline, money, num, votes_summary
from bot.execution import Executor
from bot.journal import IntentStatus, Journal, JournalError
from bot.journal.db import checkpoint_wal
from bot.journal.execution_adapter import JournalExecutionAdapter
from bot.logs import get_logger
from bot.risk import AnomalyMonitor, HaltReason, TradingState
from bot.signals.loaders import load_signal_files
from bot.signals.sessions import session_date
from bot.strategy import CoreSettings, decide

log = get_logger("bot.engine")

TICK_DEBOUNCE_S = 15.0  # market seconds between two tick-driven cycles (Cboe disseminates the VIX every 15 s)
STATUS_EVERY_S = 0.25  # wall seconds between two status-file writes (each cycle would be too many at 20,000x)
CHECKPOINT_EVERY_S = 1.0  # wall seconds between two journal checkpoints (off the loop; see _after_cycle)
MISMATCH_CONFIRM_S = 3.0  # wall seconds a hedge-position mismatch must persist before it halts (fills vs positions lag)
SHUTDOWN_WAIT_S = 5.0  # wall seconds a clean shutdown waits for ladders to see their cancels confirmed
OPTION_STRIKE_MARGIN = 3.0  # VIX call strikes watched reach this far beyond the sizing offsets (futures move)
OPTION_RECENTER = 3.0  # re-pick the watched strikes when the future moved this many points
MINI_CONTRACTS_WATCHED = 3  # VXM contracts quoted from the start (the ones layer 1 and 2 trade)
VIX_HISTORY = "2 Y"  # >= 250 daily VIX bars for a converged Wilder RSI
OTHER_HISTORY = "1 Y"
STARTUP_ATTEMPTS = 5  # discovery + warm-up restarts after a dropped connection before giving up
STARTUP_RECONNECT_WAIT_S = 60.0  # wall seconds to wait for the reconnect supervisor each time


class EngineError(Exception):
    """A start-up problem a person must fix (account guard, gateway unreachable, unusable journal)."""


class Engine(ModeDispatch):
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

    # ------------------------------------------------------------------------------------------------ discovery
    async def _discover_and_warm_up(self) -> None:
        """Discovery and warm-up survive a dropped connection: wait for the reconnect supervisor, then start over.

        Both are idempotent (subscriptions are keyed by contract, history is re-read whole), so starting over is safe.
        """
        assert self.broker is not None
        for attempt in range(1, STARTUP_ATTEMPTS + 1):
            try:
                await self._discover()
                await self._warm_up()
                return
            except (ConnectionError, NotConnectedError) as exc:
                self.timeline.emit(
                    "warning",
                    self.clock.now(),
                    f"connection lost during start-up ({exc}); waiting for the gateway, attempt {attempt}",
                )
                if not await self.broker.wait_ready(STARTUP_RECONNECT_WAIT_S):
                    break
        raise EngineError(
            "the connection to the gateway dropped during start-up (contract discovery and history warm-up) and did "
            "not come back. Fix: check that IB Gateway/TWS is running and logged in, then start alvh again"
        )

    async def _discover(self) -> None:
        broker = self.broker
        assert broker is not None
        for role in ("vix", "vix3m", "vix9d", "spx"):
            try:
                spec = await broker.index(role.upper())
            except BrokerError as exc:
                self.timeline.emit("warning", self.clock.now(), f"{role.upper()} not available: {exc}")
                continue
            setattr(self.inst, role, spec)
            await self._watch(spec)
        try:
            self.inst.vixy = await broker.vixy()
            await self._watch(self.inst.vixy)
        except BrokerError as exc:
            self.timeline.emit("warning", self.clock.now(), f"VIXY not available: {exc}")
        today = self.clock.now().date()
        curve = await broker.vx_curve(HedgeKind.VX, today)
        self.inst.curve = curve.contracts
        for spec in curve.contracts:
            await self._watch(spec)
        try:  # the front minis are what small books trade: quoted before the first order needs them
            minis = await broker.vx_curve(HedgeKind.VXM, today)
            for spec in minis.contracts[:MINI_CONTRACTS_WATCHED]:
                await self._watch(spec)
        except BrokerError as exc:
            self.timeline.emit("warning", self.clock.now(), f"VXM futures not available: {exc}")
        for spec in await broker.condor_legs():
            await self._watch(spec)
        for row in self._positions():
            if hedge_instrument(row.contract) is not None and not self.md.tracked(row.contract.con_id):
                await self._watch_position(row.contract)
        legs = sum(1 for p in self._positions() if p.contract.sec_type == "OPT" and p.contract.symbol == "SPX")
        self.timeline.emit(
            "discover",
            self.clock.now(),
            f"{len(self.inst.curve)} VX contracts, {legs} condor legs, VIX/VIX3M/VIX9D/SPX/VIXY subscribed",
        )

    async def _watch(self, spec: ContractSpec) -> None:
        assert self.broker is not None
        self.md.track(spec)
        await self.broker.subscribe(spec)
        inst = hedge_instrument(spec)
        if inst is not None and self.executor is not None:
            self.executor.remember(inst, spec)  # its first order needs no contract-details round trip

    async def _watch_position(self, spec: ContractSpec) -> None:
        """A hedge position's contract (e.g. a VIX option bought earlier) needs a quote for its mark."""
        assert self.broker is not None
        inst = hedge_instrument(spec)
        if inst is None:
            return
        try:
            full = await self.broker.resolve(inst)
        except BrokerError:
            return
        if inst.kind is HedgeKind.VIX_OPTION:
            self.inst.vix_options[full.con_id] = full
        await self._watch(full)

    def _maybe_refresh_options(self, snapshot: MarketSnapshot) -> None:
        """Watch VIX calls around F1 and F2 (the covered-call and tail-spread strikes); re-centre as futures move."""
        if self._options_task is not None and not self._options_task.done():
            return
        wanted: dict[dt.date, float] = {}
        for n in (1, 2):
            point = snapshot.curve.nth(snapshot.today, n)
            value = point.quote.value() if point else None
            if point is None or value is None:
                continue
            center = self._options_center.get(point.expiry)
            if center is None or abs(center - value) >= OPTION_RECENTER:
                wanted[point.expiry] = value
        if wanted:
            self._options_task = asyncio.get_running_loop().create_task(self._subscribe_options(wanted))

    def _strike_window(self, fwd: float) -> tuple[float, float]:
        """The call strikes sizing can pick around a future at `fwd`: covered calls from fwd + overwrite offset, tail
        spreads up to fwd + long offset + width; a margin each side. Only these are watched: a gateway allows a
        limited number of market-data lines (100 by default)."""
        s = self.config.sizing
        low = fwd + min(s.overwrite_strike_offset, s.tail_long_offset) - OPTION_STRIKE_MARGIN
        high = fwd + max(s.overwrite_strike_offset, s.tail_long_offset + s.tail_spread_width) + OPTION_STRIKE_MARGIN
        return low, high

    async def _subscribe_options(self, wanted: dict[dt.date, float]) -> None:
        assert self.broker is not None
        try:
            chain = await self.broker.vix_option_chain()
        except BrokerError as exc:
            self._say("options", "warning", f"no VIX option chain: {exc}")
            return
        for expiry, fwd in wanted.items():
            if expiry.strftime("%Y%m%d") not in chain.expirations:
                continue
            low, high = self._strike_window(fwd)
            held = {i.key for i in hedge_positions(self._positions())}
            for con_id, spec in list(self.inst.vix_options.items()):
                option = hedge_instrument(spec)
                outside = option is not None and option.expiry == expiry and not low <= (option.strike or 0) <= high
                if outside and option.key not in held:  # type: ignore[union-attr]
                    self.broker.unsubscribe(con_id)
                    del self.inst.vix_options[con_id]
            for strike in (k for k in chain.strikes if low <= k <= high):
                inst = HedgeInstrument(HedgeKind.VIX_OPTION, expiry, float(strike), "C")
                try:
                    spec = await self.broker.resolve(inst)
                except BrokerError:
                    continue
                if spec.con_id not in self.inst.vix_options:
                    self.inst.vix_options[spec.con_id] = spec
                    await self._watch(spec)
            self._options_center[expiry] = fwd

    # ------------------------------------------------------------------------------------------------ history
    async def _warm_up(self) -> None:
        broker = self.broker
        assert broker is not None
        today = self.clock.now().date()
        cfg = self.config
        try:
            macro, breadth, externals = load_signal_files(cfg.signals)
        except (OSError, ValueError) as exc:
            raise EngineError(f"signal data files: {exc}") from None
        self.history.macro, self.history.breadth, self.history.externals = macro, breadth, externals

        async def bars(spec: ContractSpec | None, duration: str) -> dict[dt.date, float]:
            if spec is None:
                return {}
            try:
                return closes_before(await broker.daily_bars(spec, duration), today)
            except BrokerError as exc:
                self.timeline.emit("warning", self.clock.now(), f"no daily bars for {spec.key}: {exc}")
                return {}

        vix, vix3m, spx, vixy = await asyncio.gather(
            bars(self.inst.vix, VIX_HISTORY),
            bars(self.inst.vix3m, OTHER_HISTORY),
            bars(self.inst.spx, OTHER_HISTORY),
            bars(self.inst.vixy, OTHER_HISTORY),
        )
        for name, values in (("vix", vix), ("vix3m", vix3m), ("spx", spx), ("vixy", vixy)):
            self.history.load(name, values)
        if cfg.signals.ts_ratio_source == "vix_vix3m":
            ratio = ratio_of(vix, vix3m)
        else:
            curve_bars = {}
            for spec in self.inst.curve[:4]:
                try:
                    curve_bars[spec] = await broker.daily_bars(spec, OTHER_HISTORY)
                except BrokerError:
                    continue
            ratio = futures_ratio(curve_bars, today)
        self.history.load("ratio", ratio)
        need = cfg.signals.ratio_min_history
        if len(ratio) < need:
            self.timeline.emit(
                "warning",
                self.clock.now(),
                f"only {len(ratio)} daily {cfg.signals.ts_ratio_source} ratio bars (ts_macd needs {need}): the ts_macd "
                "signals abstain until enough sessions have closed. Fix: signals.ts_ratio_source = 'vix_vix3m' "
                "when the gateway lists no expired VX contracts",
            )
        counts = self.history.counts()
        self.timeline.emit("history", self.clock.now(), ", ".join(f"{k} {v} bars" for k, v in counts.items()))

    def _observe_history(self, role: str, now: dt.datetime) -> None:
        md, inst = self.md, self.inst
        if role in ("vix", "vix3m", "spx", "vixy"):
            spec = getattr(inst, role)
            q = md.quote(spec.con_id) if spec else None
            self.history.observe(role, q.value() if q else None, now)
        if self.config.signals.ts_ratio_source == "vix_vix3m" and role in ("vix", "vix3m"):
            a = md.quote(inst.vix.con_id) if inst.vix else None
            b = md.quote(inst.vix3m.con_id) if inst.vix3m else None
            va, vb = (a.value() if a else None), (b.value() if b else None)
            if va and vb:
                self.history.observe("ratio", va / vb, now)
        elif self.config.signals.ts_ratio_source == "f1_f2" and role == "curve":
            listed = [s for s in inst.curve if (spec_expiry(s) or now.date()) > now.date()]
            if len(listed) >= 2:
                q1, q2 = md.quote(listed[0].con_id), md.quote(listed[1].con_id)
                v1, v2 = (q1.value() if q1 else None), (q2.value() if q2 else None)
                if v1 and v2:
                    self.history.observe("ratio", v1 / v2, now)

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
        # after this cycle's executions have started: building the status must not delay their first request
        asyncio.get_running_loop().call_soon(self._after_cycle, snapshot, record, trading.state)

    def _after_cycle(self, snapshot: MarketSnapshot, record: dict[str, Any], trading: TradingState) -> None:
        """Housekeeping, on the worker thread: the status file, and a WAL checkpoint at most every
        CHECKPOINT_EVERY_S. The checkpoint syncs what the cycles wrote (without fsync) and lets the WAL be reused,
        so the one fsync before a placeOrder flushes that order's own pages, not minutes of cycles."""
        self._write_status(snapshot, record, trading)
        loop_time = asyncio.get_running_loop().time()
        if self._io is not None and self.journal is not None and loop_time - self._checkpointed >= CHECKPOINT_EVERY_S:
            self._checkpointed = loop_time
            self._io.submit("checkpoint", functools.partial(checkpoint_wal, Path(self.journal.path)))

    def _background_failed(self, key: str, exc: BaseException) -> None:
        """Called on the worker thread: say it on the loop (the timeline is not thread-safe)."""
        what = "cannot write the status file" if key == "status" else f"background {key} failed"
        try:
            assert self._event_loop is not None
            self._event_loop.call_soon_threadsafe(self._say, f"io-{key}", "warning", f"{what}: {exc}")
        except (AssertionError, RuntimeError):  # the loop has closed: the log is all that is left
            log.warning(what, error=repr(exc))

    def _net_liquidation(self) -> float | None:
        assert self.broker is not None
        try:
            return self.broker.account_snapshot().net_liquidation
        except BrokerError:
            return None

    def _session_line(self, day: dt.date) -> None:
        """One line per closed session: the closes, the votes, the layers and P&L."""
        vix = self.history.closes["vix"].get(day)
        decision = self._last_decision
        votes = votes_summary([v.to_dict() for v in decision.record.votes]) if decision else "no decision yet"
        f1 = f2 = None
        if decision is not None:
            p1, p2 = (decision.record.snapshot.curve.nth(day, n) for n in (1, 2))
            f1, f2 = (p.quote.value() if p else None for p in (p1, p2))
        layers = " ".join(f"L{int(s.layer)}:{s.phase.value}" for s in self.state.layers.layers)
        pnl = self._pnl()
        self.timeline.emit(
            "close",
            dt.datetime.combine(day, dt.time(21, 15), dt.UTC),
            f"VIX {num(vix)} F1 {num(f1)} F2 {num(f2)} | {votes} | {layers} | hedge {money(pnl['hedge_total'])} "
            f"condors {money(pnl['condors'])} net {money(pnl['net'])}",
            vix=vix,
            f1=f1,
            f2=f2,
            pnl=pnl,
        )

    def _show_transitions(self, decision: Decision, now: dt.datetime) -> None:
        for t in decision.record.transitions:
            text = f"layer {int(t.layer)} {t.from_phase.value} -> {t.to_phase.value} ({t.name}; {t.rule})"
            self.summary.transitions.append((t.at, text))
            self.timeline.emit("layer", t.at, text, layer=int(t.layer), to=t.to_phase.value, rule=t.rule)

    def _show_alerts(self, decision: Decision, now: dt.datetime) -> None:
        codes = sorted({a.code for a in decision.alerts})
        text = ", ".join(codes)
        if text != self._said.get("alerts", ""):
            self._said["alerts"] = text
            if codes:
                first = {a.code: a.message for a in decision.alerts}
                self.timeline.emit("alert", now, "; ".join(f"{c}: {first[c]}" for c in codes))

    def _say(self, key: str, kind: str, text: str) -> None:
        """Emit a line only when it differs from the last one under `key` (no repeated lines every cycle)."""
        if self._said.get(key) != text:
            self._said[key] = text
            self.timeline.emit(kind, self.clock.now(), text)

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

    # ------------------------------------------------------------------------------------------------ reporting
    def _rebuild_ledger(self) -> None:
        assert self.journal is not None
        rows = []
        for rec in self.journal.list_intents():
            rows += self.journal.fills_for(rec.id)
        for row in sorted(rows, key=lambda r: r["time"]):
            self.ledger.add_fill(
                row["exec_id"], row["contract"] or "", row["side"] or "", row["quantity"], row["price"],
                row["commission"],
            )  # fmt: skip
            self._fills_seen.add(row["exec_id"])

    def _marks(self) -> dict[str, float | None]:
        decision = self._last_decision
        if decision is None:
            return {}
        snap = decision.record.snapshot
        marks: dict[str, float | None] = {}
        for key in self.ledger.open_keys():
            inst = next((h.instrument for h in snap.hedges if h.instrument.key == key), None)
            q = snap.quote_for(inst) if inst else None
            marks[key] = q.value() if q else None
        return marks

    def _pnl(self) -> dict[str, float | None]:
        unrealized = self.ledger.unrealized_usd(self._marks())
        realized = self.ledger.realized_usd - self.ledger.commissions_usd
        hedge = realized + unrealized if unrealized is not None else None
        if self._last_decision is not None:
            values = [s.pnl for s in self._last_decision.record.book.structures]
            if values and all(v is not None for v in values):
                self._condor_pnl = sum(values)  # type: ignore[arg-type]
        condors = self._condor_pnl  # the last known value: after hours some leg quotes are stale
        net = hedge + condors if hedge is not None and condors is not None else None
        return {
            "hedge_realized": realized,
            "hedge_unrealized": unrealized,
            "hedge_total": hedge,
            "harvested": self.ledger.harvested_usd,
            "condors": condors,
            "net": net,
        }

    def _write_status(
        self, snapshot: MarketSnapshot, record: dict[str, Any], trading: TradingState | None, *, running: bool = True
    ) -> None:
        loop_time = asyncio.get_running_loop().time()
        if running and loop_time - self._status_written < STATUS_EVERY_S:
            return
        self._status_written = loop_time
        assert self.journal is not None
        trading_rec = self.journal.trading_state()
        marks = self._marks()
        hedges = [
            {
                "instrument": h.instrument.key,
                "quantity": h.quantity,
                "avg_cost": h.avg_cost,
                "mark": marks.get(h.instrument.key),
            }
            for h in snapshot.hedges
        ]
        layers = []
        for row in record.get("state", {}).get("layers", []):
            rules = [t for t in record.get("transitions", []) if t.get("layer") == row["layer"]]
            layers.append({**row, "last_rule": rules[-1]["rule"] if rules else None})
        status = {
            "updated_at": dt.datetime.now(dt.UTC),
            "market_time": snapshot.now,
            "running": running,
            "pid": os.getpid(),
            "mode": self.mode,
            "account": mask_account(self.account.account if self.account else None),
            "broker": self.broker.state.value if self.broker and running else "closed",
            "simulator": self.sim.market.info.name if self.sim else None,
            "trading_state": {"state": trading_rec.state.value, "reason": trading_rec.reason, "by": trading_rec.set_by},
            "regime": record.get("regime"),
            "layers": layers,
            "votes": record.get("votes", []),
            "book": record.get("book", {}),
            "hedges": hedges,
            "hedge_break_evens": record.get("hedge_break_evens"),
            "pnl": self._pnl(),
            "in_flight": sorted(self._inflight),
            "counts": dataclasses.asdict(self.summary) | {"transitions": len(self.summary.transitions)},
            "alerts": record.get("alerts", []),
        }
        if self._io is not None:
            path = status_path(Path(self.journal.path))
            self._io.submit("status", functools.partial(write_status_text, path, encode_status(status)))

    def _print_summary(self) -> None:
        print_summary(self.timeline, self.summary, self.state.layers, self._pnl(), self.clock.now())

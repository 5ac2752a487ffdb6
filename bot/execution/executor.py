"""Intent -> limit-order ladder, driven only by broker evidence.

For one intent: reconcile first (the open and completed orders and executions with orderRef = intent id, as the
broker reconciled them at the last connect and kept them since), cancel any leftover working order, then work the
remaining quantity step by step (mid toward the far side, never past the intent's limit), journaling each order
BEFORE it is sent, and sending the next step only after the broker has confirmed the previous order is finished. A
dropped connection stops the ladder; after the reconnect the intent is reconciled again from a fresh read of the
gateway before anything else is sent. So two orders of one intent are never working at once, and the filled part is
never sent again.

Use: `outcome = await Executor(broker, config.execution, journal).execute(intent)` (or `execute_group(intents)` for
a roll). With the SQLite journal (bot.journal, through JournalExecutionAdapter) the caller first journals the intent
and calls `Journal.begin_submit`; the journal refuses sends for any other intent, and the executor then sends
nothing. INTERRUPTED, UNRESOLVED and REFUSED outcomes are not final: calling execute again reconciles first.

Latency: a first send needs no round trip when the contract is known (`remember`, or resolved once before) and a
quote is in; the owner of the broker's event queue calls `quote_arrived` for each quote so that a ladder waiting for
one wakes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from bot.broker.errors import BrokerError, NotConnectedError
from bot.broker.facade import OrderWatch
from bot.broker.types import (
    ConnectionEvent,
    ConnectionEventKind,
    ContractSpec,
    OrderEvent,
    OrderEventKind,
    QuoteTick,
    ReconciliationSnapshot,
)
from bot.domain.intents import HedgeInstrument, Intent, Side
from bot.execution.journal import ExecutionJournal, ExecutionOutcome, OrderSendRecord, OutcomeKind
from bot.execution.ladder import PriceIncrements, ladder_price
from bot.execution.ledger import IntentLedger, OrderState
from bot.logs import get_logger
from bot.settings.execution import ExecutionSettings

log = get_logger("bot.execution")
_MAX_RECOVERIES = 3
# A quote's age also refreshes without a QuoteTick (the facade re-stamps an unchanged quote), and an executor may run
# without an owner calling quote_arrived: a waiting ladder looks again at least this often (wall seconds).
QUOTE_RECHECK_S = 0.1


class OrderBroker(Protocol):
    """What execution needs from the broker facade (bot.broker.Broker implements it)."""

    @property
    def is_ready(self) -> bool: ...

    async def wait_ready(self, timeout: float) -> bool: ...

    async def resolve(self, instrument: HedgeInstrument) -> ContractSpec: ...

    async def subscribe(self, spec: ContractSpec) -> None: ...

    async def price_increments(self, spec: ContractSpec) -> tuple[tuple[float, float], ...]: ...

    def latest_quote(self, con_id: int) -> QuoteTick | None: ...

    async def refresh_snapshot(self) -> ReconciliationSnapshot: ...

    def order_evidence(self, order_ref: str) -> ReconciliationSnapshot: ...

    def next_order_id(self) -> int: ...

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
    ) -> None: ...

    def cancel(self, order_id: int) -> bool: ...

    def watch(self, order_ref: str) -> AbstractContextManager[OrderWatch]: ...


class _Stop(Exception):
    """End the ladder now with the given outcome kind and reason."""

    def __init__(self, kind: OutcomeKind | None, reason: str, error_code: int | None = None) -> None:
        super().__init__(reason)
        self.kind, self.reason, self.error_code = kind, reason, error_code


class _Interrupted(Exception):
    """The connection dropped (or degraded) while the ladder was working."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Executor:
    """Executes accepted intents. One `execute` per intent at a time; intents of different ids may run concurrently."""

    def __init__(
        self,
        broker: OrderBroker,
        settings: ExecutionSettings,
        journal: ExecutionJournal,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
        may_send: Callable[[Intent], str | None] | None = None,
    ) -> None:
        self.broker = broker
        self.settings = settings
        self.journal = journal
        self.clock = clock
        # Asked before every ladder step: None to go on, else why not (exchange closed, trading halted). Risk checks
        # an intent once, when it is accepted; a ladder outlives that moment by several steps.
        self.may_send = may_send
        self.closing = False  # set by shutdown: no ladder sends another order (each ends at its next step)
        self._active: dict[str, IntentLedger] = {}
        self._contracts: dict[str, ContractSpec] = {}  # instrument key -> the gateway's contract
        self._quote_waiters: dict[int, set[asyncio.Event]] = {}  # conId -> the ladders waiting for its quote

    def remember(self, instrument: HedgeInstrument, spec: ContractSpec) -> None:
        """The gateway's contract for an instrument, found elsewhere (the engine's discovery reads the same contract
        details): its first send then needs no contract-details round trip. Contracts do not change while listed."""
        self._contracts[instrument.key] = spec

    def quote_arrived(self, con_id: int) -> None:
        """A quote for `con_id` came in: wake the ladders waiting for one (no polling delay)."""
        for waiter in self._quote_waiters.get(con_id, ()):
            waiter.set()

    async def _contract(self, instrument: HedgeInstrument) -> ContractSpec:
        spec = self._contracts.get(instrument.key)
        if spec is None:
            spec = await self.broker.resolve(instrument)
            self._contracts[instrument.key] = spec
        return spec

    async def execute(self, intent: Intent) -> ExecutionOutcome:
        """Work one intent to its end and journal the outcome. An intent with a final outcome is never re-sent."""
        previous = self.journal.outcome(intent.id)
        if previous is not None and previous.kind.final:
            return previous
        if intent.id in self._active:
            raise RuntimeError(f"intent {intent.id} is already being executed")
        outcome = await self._execute(intent)
        self.journal.record_outcome(outcome)
        log.info(
            "intent executed",
            intent=intent.id,
            outcome=outcome.kind.value,
            filled=outcome.filled,
            quantity=outcome.quantity,
            orders=outcome.orders_sent,
            reason=outcome.reason,
        )
        return outcome

    async def execute_group(self, intents: Sequence[Intent]) -> list[ExecutionOutcome]:
        """A roll or overwrite group: closes first; with roll_open_after_close, opens only after every close filled."""
        ordered = sorted(intents, key=lambda i: i.opens_position)  # stable: closes (False) first
        if not self.settings.roll_open_after_close:
            return list(await asyncio.gather(*(self.execute(i) for i in ordered)))
        outcomes: list[ExecutionOutcome] = []
        blocker: ExecutionOutcome | None = None
        for intent in ordered:
            if blocker is not None:
                skipped = ExecutionOutcome(
                    intent.id,
                    OutcomeKind.SKIPPED,
                    0.0,
                    float(intent.quantity),
                    None,
                    0,
                    f"not sent: {blocker.intent_id} of group {intent.group} ended {blocker.kind.value}",
                )
                self.journal.record_outcome(skipped)
                outcomes.append(skipped)
                continue
            outcome = await self.execute(intent)
            outcomes.append(outcome)
            if outcome.kind is not OutcomeKind.FILLED:
                blocker = outcome
        return outcomes

    def shutdown(self) -> list[int]:
        """Clean shutdown, per execution.shutdown_policy: 'cancel' asks the broker to cancel every working ladder
        order and returns their ids; 'leave' leaves them working (the next start reconciles them by orderRef).
        The caller then cancels its execute() tasks and journals which policy applied."""
        self.closing = True
        if self.settings.shutdown_policy == "leave":
            return []
        return self.cancel_working()

    def cancel_working(self) -> list[int]:
        """Ask the broker to cancel every working order of the intents in flight (clean shutdown). The ladders then
        end when their cancels are confirmed instead of pricing their next step."""
        self.closing = True
        cancelled = []
        for ledger in self._active.values():
            for state in ledger.live_orders():
                with contextlib.suppress(BrokerError):
                    if state.order_id and self.broker.cancel(state.order_id):
                        cancelled.append(state.order_id)
        return cancelled

    async def _execute(self, intent: Intent) -> ExecutionOutcome:
        quantity = float(intent.quantity)
        refusal = _check_intent(intent)
        if refusal:
            return ExecutionOutcome(intent.id, OutcomeKind.REFUSED, 0.0, quantity, None, 0, refusal)
        try:
            spec = await self._contract(intent.instrument)
            await self.broker.subscribe(spec)
            increments = await self.broker.price_increments(spec)
        except BrokerError as exc:
            return ExecutionOutcome(intent.id, OutcomeKind.REFUSED, 0.0, quantity, None, 0, f"contract: {exc}")
        if spec.min_tick is None:
            reason = f"{spec.key}: no min tick from contract details; refusing to price"
            return ExecutionOutcome(intent.id, OutcomeKind.REFUSED, 0.0, quantity, None, 0, reason)
        ledger = IntentLedger(intent.id, quantity)
        self._active[intent.id] = ledger
        try:
            with self.broker.watch(intent.id) as watch:
                run = _LadderRun(self, intent, spec, increments, ledger, watch)
                return await run.run()
        finally:
            del self._active[intent.id]


def _check_intent(intent: Intent) -> str:
    if intent.quantity <= 0:
        return f"quantity {intent.quantity} is not positive"
    if intent.price is None:
        return "intent has no price guidance (no limit): execution never sends an order without a limit"
    if not intent.price.limit > 0:
        return f"limit {intent.price.limit} is not a positive price"
    return ""


class _LadderRun:
    """The state of one intent's ladder: its ledger, its watch queue, how many orders went out."""

    def __init__(
        self,
        owner: Executor,
        intent: Intent,
        spec: ContractSpec,
        increments: PriceIncrements,
        ledger: IntentLedger,
        watch: OrderWatch,
    ) -> None:
        self.owner, self.broker, self.settings = owner, owner.broker, owner.settings
        self.intent, self.spec, self.increments, self.ledger, self.watch = intent, spec, increments, ledger, watch
        self.sent = 0
        self.loop = asyncio.get_running_loop()

    def _outcome(self, kind: OutcomeKind | None, reason: str, error_code: int | None = None) -> ExecutionOutcome:
        filled = self.ledger.filled
        if kind is None:
            if filled >= self.ledger.quantity:
                kind = OutcomeKind.FILLED
            else:
                kind = OutcomeKind.PARTIAL if filled > 0 else OutcomeKind.UNFILLED
        return ExecutionOutcome(
            self.intent.id,
            kind,
            filled,
            self.ledger.quantity,
            self.ledger.average_price,
            self.sent,
            reason,
            error_code,
            self.ledger.commission,
        )

    async def run(self) -> ExecutionOutcome:
        if not await self.broker.wait_ready(self.settings.reconnect_wait_s):
            return self._outcome(OutcomeKind.INTERRUPTED, "broker not connected; nothing sent")
        try:
            await self._reconcile_at_start()
            steps = self.settings.ladder_steps
            step, recoveries = 0, 0
            while step < steps and self.ledger.remaining > 0:
                try:
                    await self._work_step(step)
                    step += 1
                except _Interrupted:
                    recoveries += 1
                    if recoveries > _MAX_RECOVERIES or not await self._recover():
                        return self._outcome(OutcomeKind.INTERRUPTED, f"connection lost during step {step}")
        except _Stop as stop:
            await self._await_execution_reports()
            return self._outcome(stop.kind, stop.reason, stop.error_code)
        except _Interrupted:
            return self._outcome(OutcomeKind.INTERRUPTED, "connection lost while reconciling")
        await self._await_execution_reports()
        return self._outcome(None, f"ladder of {self.settings.ladder_steps} steps done")

    async def _await_execution_reports(self) -> None:
        """Statuses can say 'filled' before the execution reports (price, commission) arrive; wait a moment."""
        with contextlib.suppress(_Interrupted):
            await self._wait_until(
                lambda: self.ledger.executed >= self.ledger.filled and self._commissions_known(),
                self.settings.execution_report_wait_s,
            )

    def _commissions_known(self) -> bool:
        return self.ledger.executed == 0 or self.ledger.commission is not None

    # ---------------------------------------------------------------- reconciliation
    async def _reconcile_at_start(self) -> None:
        # The broker's reconciled memory of this connection (open and completed orders and executions read at the
        # last (re)connect, updated by every message since) is the same evidence as a fresh read, without the
        # round trips; after a reconnect mid-ladder, _recover re-reads everything from the gateway instead.
        try:
            snapshot = self.broker.order_evidence(self.intent.id)
        except BrokerError as exc:
            raise _Stop(OutcomeKind.INTERRUPTED, f"could not reconcile before sending: {exc}") from None
        self.ledger.apply_snapshot(snapshot)
        journaled = self.owner.journal.sent_orders(self.intent.id)
        if journaled and not self.ledger.has_evidence:
            raise _Stop(
                OutcomeKind.UNRESOLVED,
                f"the journal shows {len(journaled)} order(s) sent for this intent but the broker reports none; "
                "not sending again (check the account, then resolve the intent by hand)",
            )
        await self._cancel_live("left over from an earlier run")

    async def _recover(self) -> bool:
        """After a drop: wait for the reconnect, re-read everything, cancel what still works, then continue."""
        log.warning("ladder interrupted; waiting for the reconnect", intent=self.intent.id)
        if not await self.broker.wait_ready(self.settings.reconnect_wait_s):
            return False
        self._drain()
        try:
            snapshot = await self.broker.refresh_snapshot()
        except (BrokerError, ConnectionError):
            return False
        self.ledger.apply_snapshot(snapshot)
        # Sent (or about to be) when the socket died, and the gateway's fresh, complete lists do not know it: it never
        # arrived. Its journal record stays; the broker's evidence is what counts.
        for state in self.ledger.forget_unconfirmed():
            log.warning("order never reached the gateway", intent=self.intent.id, order_id=state.order_id)
        try:
            await self._cancel_live("still working after the reconnect")
        except _Interrupted:
            return False
        log.info("ladder reconciled after reconnect", intent=self.intent.id, filled=self.ledger.filled)
        return True

    async def _cancel_live(self, why: str) -> None:
        for state in self.ledger.live_orders():
            log.info("cancelling order", intent=self.intent.id, order_id=state.order_id, why=why)
            await self._cancel(state)

    def _drain(self) -> None:
        while not self.watch.queue.empty():
            self._absorb(self.watch.queue.get_nowait())

    def _absorb(self, item: OrderEvent | ConnectionEvent | ReconciliationSnapshot) -> bool:
        """Apply one queued item; True when it says the connection is unusable."""
        if isinstance(item, OrderEvent):
            self.ledger.apply(item)
            try:
                self.owner.journal.record_order_event(item)
            except Exception as exc:  # the ledger has the evidence; a journal failure must not orphan a live order
                log.error("journal could not record order evidence", intent=self.intent.id, error=repr(exc))
        elif isinstance(item, ReconciliationSnapshot):
            self.ledger.apply_snapshot(item)
        elif item.kind in (ConnectionEventKind.DISCONNECTED, ConnectionEventKind.DEGRADED):
            return True
        return False

    # ---------------------------------------------------------------- one step
    async def _work_step(self, step: int) -> None:
        quote = await self._quote(step)
        guidance = self.intent.price
        assert guidance is not None and quote.bid is not None and quote.ask is not None and self.spec.min_tick
        price = ladder_price(
            self.intent.side,
            quote.bid,
            quote.ask,
            step,
            self.settings.ladder_steps,
            guidance.limit,
            self.spec.min_tick,
            self.settings.far_side_steps,
            self.increments,
        )
        if price is None:
            raise _Stop(None, f"step {step}: no positive price within the limit {guidance.limit}")
        remaining = self.ledger.remaining
        if not self.broker.is_ready:
            raise _Interrupted
        if self.owner.closing:
            raise _Stop(None, f"step {step}: not sent, the bot is shutting down")
        blocked = self.owner.may_send(self.intent) if self.owner.may_send else None
        if blocked:
            raise _Stop(None, f"step {step}: not sent, {blocked}")
        order_id = self.broker.next_order_id()
        record = OrderSendRecord(
            intent_id=self.intent.id,
            order_id=order_id,
            step=step,
            con_id=self.spec.con_id,
            action=self.intent.side.value,
            quantity=remaining,
            limit_price=price,
            time=self.owner.clock(),
        )
        try:
            self.owner.journal.record_order_sending(record)
        except Exception as exc:  # any failure to journal first means: do not send (e.g. NotSendable)
            kind = OutcomeKind.REFUSED if self.sent == 0 else None
            raise _Stop(kind, f"step {step}: the journal did not record the send, so nothing was sent: {exc}") from exc
        sent = self.ledger.expect(order_id, price)
        try:
            self.broker.place_limit(
                self.spec,
                self.intent.side,
                remaining,
                price,
                self.intent.id,
                order_id,
                outside_rth=self.settings.outside_rth,
            )
        except NotConnectedError:
            raise _Interrupted from None
        except BrokerError as exc:  # refused by the facade before anything reached the socket
            kind = OutcomeKind.REFUSED if self.sent == 0 else None
            raise _Stop(kind, f"step {step}: the broker facade refused the order: {exc}") from exc
        self.sent += 1
        log.info("order sent", intent=self.intent.id, order_id=order_id, step=step, price=price, quantity=remaining)
        await self._wait_until(lambda: sent.terminal, self.settings.step_interval_s)
        if sent.kind is OrderEventKind.INACTIVE:
            self._drain()  # the rejection code, if any, travels right behind the Inactive status
            await self._wait_until(lambda: sent.kind is OrderEventKind.REJECTED, 0.2)
        if sent.kind in (OrderEventKind.REJECTED, OrderEventKind.INACTIVE):
            reason = sent.error_message or "the broker made the order inactive"
            raise _Stop(OutcomeKind.REJECTED, f"rejected: {reason}", sent.error_code)
        if not sent.terminal:
            await self._cancel(sent)

    async def _cancel(self, state: OrderState) -> None:
        """Cancel one order and wait for the broker to confirm it finished (cancelled, or filled meanwhile)."""
        try:
            self.broker.cancel(state.order_id)
        except NotConnectedError:
            raise _Interrupted from None
        if not await self._wait_until(lambda: state.terminal, self.settings.cancel_timeout_s):
            raise _Stop(
                OutcomeKind.UNRESOLVED,
                f"order {state.order_id} (permId {state.perm_id}): no cancel confirmation within "
                f"{self.settings.cancel_timeout_s}s (another client's order cannot be cancelled from here); "
                "nothing more is sent for this intent",
            )

    async def _wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Consume broker evidence until `done()` or the timeout; raises _Interrupted on a drop."""
        deadline = self.loop.time() + timeout
        while not done():
            left = deadline - self.loop.time()
            if left <= 0:
                return False
            try:
                async with asyncio.timeout(left):  # not wait_for: on 3.11 it can swallow our own cancellation
                    item = await self.watch.queue.get()
            except TimeoutError:
                return done()
            if self._absorb(item):
                raise _Interrupted
        return True

    async def _quote(self, step: int) -> QuoteTick:
        """A valid, fresh two-sided quote; without one the ladder ends (nothing is priced off a stale quote)."""
        deadline = self.loop.time() + self.settings.quote_wait_s
        max_age = dt.timedelta(seconds=self.settings.max_quote_age_s)
        waiters = self.owner._quote_waiters.setdefault(self.spec.con_id, set())
        waiter = asyncio.Event()
        waiters.add(waiter)
        try:
            while True:
                waiter.clear()  # before reading: a quote arriving after the read wakes the wait below
                quote = self.broker.latest_quote(self.spec.con_id)
                if quote is not None and quote.mid is not None and self.owner.clock() - quote.received_at <= max_age:
                    return quote
                left = deadline - self.loop.time()
                if left <= 0:
                    kind = OutcomeKind.REFUSED if self.sent == 0 else None
                    raise _Stop(kind, f"step {step}: no valid two-sided quote for {self.spec.key}")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(left, QUOTE_RECHECK_S)):
                        await waiter.wait()
        finally:
            waiters.discard(waiter)

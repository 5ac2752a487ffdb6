"""What the engine does with a decision's intents, by mode: the risk gate, then dry-run (journal), approval (ask,
re-check, send what was approved) or paper/live (submit and execute in tasks).

A mixin of `Engine` (it uses the engine's journal, broker, executor and bookkeeping): the loop and the I/O stay in
engine.py, the rules of who may send what, when, live here.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bot.approvals import send_approved
from bot.domain.intents import HedgeKind, Intent, Side
from bot.domain.market import MarketSnapshot
from bot.engine.trades import describe_intent, describe_outcome, groups_of, trade_key
from bot.execution import ExecutionOutcome, Executor
from bot.journal import IntentConflict, IntentRecord, IntentStatus, NotSendable
from bot.logs import get_logger
from bot.risk import Quote as RiskQuote
from bot.risk import RiskContext, TradingState, check_intent

if TYPE_CHECKING:
    from bot.engine.engine import Engine

log = get_logger("bot.engine")
MAX_ATTEMPTS = 5  # attempts of one planned trade whose earlier ladders ended unfilled (see _attempts)


class ModeDispatch:
    """Mixed into Engine; every method reads the engine's state through `self`."""

    # ------------------------------------------------------------------------------------------------ risk
    def _risk_context(
        self: Engine,
        intent: Intent,
        snapshot: MarketSnapshot,
        now: dt.datetime,
        trading: TradingState,
        pending: Mapping[str, int] | None = None,
    ) -> RiskContext:
        quote = snapshot.quote_for(intent.instrument)
        risk_quote = None
        if quote is not None and quote.at is not None:
            bid = quote.bid if quote.bid == quote.bid else None
            ask = quote.ask if quote.ask == quote.ask else None
            risk_quote = RiskQuote(bid, ask, quote.at)
        premium = 0.0
        for h in snapshot.hedges:
            if h.instrument.kind is HedgeKind.VIX_OPTION and h.quantity > 0:
                q = snapshot.quote_for(h.instrument)
                mid = q.mid if q else None
                premium += h.quantity * (mid or 0.0) * h.multiplier
        assert self.account is not None
        return RiskContext(
            now=now,
            mode=self.mode,
            account=self.account.account,
            live_flag=self.live_flag,
            live_account=self.config.bot.live_account,
            trading_state=trading,
            quote=risk_quote,
            positions={h.instrument.key: h.quantity for h in snapshot.hedges},
            net_liquidation=snapshot.net_liquidation,
            long_option_premium=premium,
            orders_today=self._submitted.get(now.date(), 0),
            pending=self._in_flight_trades() if pending is None else pending,
        )

    def _in_flight_trades(self: Engine) -> dict[str, int]:
        """Signed quantities the executions now working may still trade (the unfilled part of each intent)."""
        assert self.journal is not None
        out: dict[str, int] = {}
        for intent_id in self._inflight:
            rec = self.journal.get_intent(intent_id)
            if rec is None:
                continue
            left = max(0, int(rec.content["quantity"]) - round(rec.filled_qty))
            key = rec.content["instrument"]["key"]
            out[key] = out.get(key, 0) + Side(rec.content["side"]).signed(left)
        return out

    def _accepted(
        self: Engine,
        intents: Sequence[Intent],
        snapshot: MarketSnapshot,
        now: dt.datetime,
        trading: TradingState,
        pending: dict[str, int] | None = None,
    ) -> list[Intent]:
        """The intents every risk check accepts; each denial is journaled (once per intent and set of codes).

        `pending` (the trades that may still happen: working executions, then each intent accepted before this one)
        is updated with every accepted intent, so intents accepted together are checked together (call cover).
        """
        assert self.journal is not None
        pending = self._in_flight_trades() if pending is None else pending
        out = []
        for intent in intents:
            ctx = self._risk_context(intent, snapshot, now, trading, pending)
            decision = check_intent(intent, ctx, self.config.risk)
            if decision.accepted:
                out.append(intent)
                key = intent.instrument.key
                pending[key] = pending.get(key, 0) + intent.side.signed(intent.quantity)
                self._said.pop(f"deny:{intent.id}", None)
                continue
            codes = ",".join(c.value for c in decision.codes)
            if self._said.get(f"deny:{intent.id}") != codes:
                self._said[f"deny:{intent.id}"] = codes
                self.summary.denials += 1
                self.journal.record_event(
                    "risk_denied",
                    f"{intent.id}: {decision.explain()}",
                    codes,
                    {"intent_id": intent.id, "codes": [c.value for c in decision.codes]},
                )
                self.timeline.emit("denied", now, f"{describe_intent(intent)}: {decision.explain()}", codes=codes)
        return out

    # ------------------------------------------------------------------------------------------------ modes
    def _dry_run(
        self: Engine,
        intents: list[Intent],
        snapshot: MarketSnapshot,
        cycle_id: int,
        now: dt.datetime,
        trading: TradingState,
    ) -> None:
        assert self.journal is not None
        for intent in self._accepted(intents, snapshot, now, trading):
            if self.journal.get_intent(intent.id) is not None:
                continue
            with contextlib.suppress(IntentConflict):
                self.journal.record_intent(intent, mode=self.mode, needs_approval=False, cycle_id=cycle_id)
                self.summary.intents += 1
                self.timeline.emit("intent", now, f"{describe_intent(intent)} (dry-run: journaled, not sent)")

    async def _trading_mode(
        self: Engine,
        intents: list[Intent],
        snapshot: MarketSnapshot,
        cycle_id: int,
        now: dt.datetime,
        trading: TradingState,
    ) -> None:
        """Submit and execute each group the risk gate accepts. After each spawn the loop yields once, so that the
        execution's first order (no round trip when its contract and quote are known) leaves before the next group
        is checked and journaled."""
        journal, broker = self.journal, self.broker
        assert journal is not None and broker is not None
        if not broker.is_ready:
            if intents:
                self._say("not-ready", "waiting", f"broker is {broker.state.value}: nothing is sent until it is ready")
            return
        self._said.pop("not-ready", None)
        busy = self._busy(snapshot)
        pending = self._in_flight_trades()
        for group in groups_of(intents):
            if any(i.id in self._inflight or i.instrument.key in busy for i in group):
                continue
            accepted = self._accepted(group, snapshot, now, trading, pending)
            if len(accepted) != len(group):
                continue  # a roll goes out whole or not at all
            retry = [r for r in (journal.get_intent(i.id) for i in group) if r is not None and self._retryable(r)]
            if retry:
                self._spawn([r.intent for r in retry], now, count=False)
                if not await self._let_executions_start():
                    return
                continue
            submitted = []
            for intent in group:
                try:
                    rec = journal.record_intent(intent, mode=self.mode, needs_approval=False, cycle_id=cycle_id)
                except IntentConflict:
                    break  # finished with other content: the positions have not caught up with its fills yet
                if rec.status is not IntentStatus.PLANNED:
                    break
                try:
                    journal.begin_submit(intent.id, rec.fingerprint, client_id=self.config.broker.client_id)
                except NotSendable as exc:
                    self._say(f"ns:{intent.id}", "not-sent", f"{intent.id}: {exc}")
                    break
                submitted.append(intent)
            if submitted:
                self._spawn(submitted, now)
                if not await self._let_executions_start():
                    return

    async def _let_executions_start(self: Engine) -> bool:
        """Yield once to the executions just spawned; False when the engine is stopping (nothing more is sent)."""
        await asyncio.sleep(0)
        return not self.stop_event.is_set()

    def _attempts(self: Engine, intents: Sequence[Intent]) -> list[Intent]:
        """Each planned intent as the attempt to act on now.

        The planner's ids are deterministic (same layer episode, instrument, held and target -> same id), and the
        journal never lets an id that ended be used again. So when the plan still wants a trade whose earlier attempt
        ended without filling (its ladder ran out, it expired, or it was withdrawn), the next attempt is the same
        trade under `<id>.r<n>`, n counted in the journal (a restart derives the same name). A person's or the
        broker's rejection is not retried under a new name, and attempts stop after MAX_ATTEMPTS.
        """
        assert self.journal is not None
        out = []
        retry_after = (IntentStatus.CANCELLED, IntentStatus.EXPIRED, IntentStatus.WITHDRAWN)
        done = (IntentStatus.FILLED, IntentStatus.REJECTED, IntentStatus.DENIED)
        for intent in intents:
            current: Intent | None = intent
            for n in range(1, MAX_ATTEMPTS + 2):
                rec = self.journal.get_intent(current.id)  # type: ignore[union-attr]
                if rec is not None and rec.status in done:
                    current = None  # filled (positions lag), rejected or denied: nothing to act on
                    break
                if rec is None or rec.status not in retry_after:
                    break
                if n > MAX_ATTEMPTS:
                    self._say(f"attempts:{intent.id}", "alert", f"{intent.id}: {MAX_ATTEMPTS} attempts ended unfilled")
                    current = None
                    break
                current = dataclasses.replace(intent, id=f"{intent.id}.r{n}")
            if current is not None:
                out.append(current)
        return out

    def _retryable(self: Engine, rec: IntentRecord) -> bool:
        """A submitted intent whose last execution was refused (e.g. no quote yet) or interrupted (the connection
        did not come back in time) is worked again while the plan still wants it: the executor reconciles it by
        orderRef first, so only the unfilled remainder can go out. `unresolved` waits for a person."""
        assert self.journal is not None
        if rec.status not in (IntentStatus.SUBMITTING, IntentStatus.WORKING) or rec.id in self._inflight:
            return False
        last = self.journal.latest_outcome(rec.id)
        return last is not None and last["kind"] in ("refused", "interrupted")

    def _approval_mode(
        self: Engine,
        intents: list[Intent],
        snapshot: MarketSnapshot,
        cycle_id: int,
        now: dt.datetime,
        trading: TradingState,
    ) -> None:
        journal = self.journal
        assert journal is not None
        approval = self.config.approval
        # One open question per trade (see trade_key): it stays as shown until it is answered or expires, however
        # often the planned quantity moves meanwhile, and is withdrawn only when the plan stops wanting that trade.
        open_recs = journal.list_intents([IntentStatus.PENDING_APPROVAL, IntentStatus.APPROVED])
        asked = {trade_key(r.intent) for r in open_recs}
        wanted = {trade_key(i) for i in intents}
        for rec in open_recs:
            if trade_key(rec.intent) not in wanted and rec.id not in self._inflight:
                journal.withdraw(rec.id, "the current plan no longer wants this trade")
                self.timeline.emit("withdrawn", now, f"{rec.id}: no longer planned; it will not be sent")
        for rec in journal.list_intents([IntentStatus.SUBMITTING, IntentStatus.WORKING]):
            if trade_key(rec.intent) in wanted and self._retryable(rec) and self.broker and self.broker.is_ready:
                self._spawn([rec.intent], now, count=False)  # approved and submitted, refused or interrupted: resume
        for intent in self._accepted(intents, snapshot, now, trading):
            if intent.id in self._inflight or trade_key(intent) in asked:
                continue
            existing = journal.get_intent(intent.id)
            if existing is not None and existing.status is not IntentStatus.PLANNED:
                continue  # sent or finished: never asked again under this id
            try:
                rec = journal.record_intent(
                    intent,
                    mode=self.mode,
                    needs_approval=True,
                    cycle_id=cycle_id,
                    pending_expiry_s=approval.pending_expiry_s,
                    approved_ttl_s=approval.approved_expiry_s,
                )
            except IntentConflict:
                continue
            asked.add(trade_key(intent))
            self.summary.intents += 1
            self.timeline.emit(
                "pending",
                now,
                f"{describe_intent(intent)} awaits approval: alvh approve {rec.id} --fingerprint "
                f"{rec.short_fingerprint}",
            )
        broker = self.broker
        assert broker is not None
        busy = self._busy(snapshot)
        for rec in journal.list_intents([IntentStatus.APPROVED]):
            intent = rec.intent
            if rec.id in self._inflight or not broker.is_ready or intent.instrument.key in busy:
                continue
            ctx = self._risk_context(intent, snapshot, now, trading)
            sent = send_approved(
                journal, rec.id, ctx, self.config.risk, approval, client_id=self.config.broker.client_id
            )
            if sent.send:
                self.timeline.emit("approved", now, f"{describe_intent(intent)}: re-checked, sending")
                self._spawn([intent], now)
            else:
                self._say(f"recheck:{rec.id}", "held", f"{rec.id} approved but not sent: {'; '.join(sent.reasons)}")

    # ------------------------------------------------------------------------------------------------ execution
    def _spawn(self: Engine, intents: list[Intent], now: dt.datetime, *, count: bool = True) -> None:
        assert self.executor is not None
        ids = tuple(i.id for i in intents)
        self._inflight.update(ids)
        if count:
            self._submitted[now.date()] = self._submitted.get(now.date(), 0) + len(intents)
            self.summary.intents += len(intents)
            for intent in intents:
                self.timeline.emit("intent", now, f"{describe_intent(intent)}: submitted ({intent.reason})")
        executor = self.executor
        coro = executor.execute_group(intents) if len(intents) > 1 else _one(executor, intents[0])
        task = asyncio.get_running_loop().create_task(coro, name=f"execute {ids[0]}")
        self._tasks[task] = ids
        task.add_done_callback(self._execution_done)

    def _execution_done(self: Engine, task: asyncio.Task[Any]) -> None:
        ids = self._tasks.pop(task, ())
        self._inflight.difference_update(ids)
        now = self.clock.now()
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("execution failed", intents=list(ids), error=repr(exc))
            if self.journal is not None:
                self.journal.record_event("engine_error", f"execution of {ids} failed: {exc!r}", "execution_failed")
            return
        for outcome in task.result():
            self.timeline.emit("outcome", now, describe_outcome(outcome))
        self._trigger = self._trigger or "execution done"


async def _one(executor: Executor, intent: Intent) -> list[ExecutionOutcome]:
    return [await executor.execute(intent)]

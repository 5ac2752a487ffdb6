"""The real executor (bot/execution) on the SQLite journal, against the execution tests' in-memory broker:
approval -> re-check -> submit -> ladder -> fills journaled; a refused journal stops the ladder before placeOrder;
a restart reconciles and never sends an intent's quantity twice (counted at the broker)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from bot.approvals import send_approved
from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, PriceGuidance, Side
from bot.domain.layers import LayerId
from bot.execution import Executor, OutcomeKind
from bot.journal import IntentStatus, Journal, RecoveryAction
from bot.journal.execution_adapter import JournalExecutionAdapter
from bot.risk import Quote, RiskContext, TradingState
from bot.settings.approval import ApprovalSettings
from bot.settings.execution import ExecutionSettings
from bot.settings.risk import RiskSettings

from .helpers import FakeClock

fakes = pytest.importorskip("execution.fakes", reason="the execution tests' in-memory broker (tests/execution)")
FakeBroker = fakes.FakeBroker

pytestmark = pytest.mark.timeout(20)
S = IntentStatus
FAST = ExecutionSettings(
    ladder_steps=4, step_interval_s=0.05, cancel_timeout_s=0.3, quote_wait_s=0.2, reconnect_wait_s=0.2,
    execution_report_wait_s=0.2,
)  # fmt: skip
NOW = dt.datetime(2018, 2, 6, 15, 0, tzinfo=dt.UTC)  # a Tuesday, CFE open
VX = HedgeInstrument(HedgeKind.VX, dt.date(2018, 3, 21))
INTENT = Intent("L1-e1-VX", LayerId.NEAR_TERM, VX, Side.BUY, 5, PriceGuidance(17.15, 17.3), "layer 1 activate")


def ctx(**kw) -> RiskContext:
    base = RiskContext(NOW, "approval", "DU1234567", False, None, TradingState.ACTIVE, Quote(17.0, 17.3, NOW),
                       net_liquidation=1e6)  # fmt: skip
    return dataclasses.replace(base, **kw)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 15))


def test_approved_intent_is_executed_once_and_its_fills_journaled(private_dir):
    journal = Journal.open(private_dir / "alvh.sqlite", clock=FakeClock(NOW))
    approval = ApprovalSettings()
    rec = journal.record_intent(INTENT, mode="approval", needs_approval=True,
                                pending_expiry_s=approval.pending_expiry_s,
                                approved_ttl_s=approval.approved_expiry_s)  # fmt: skip
    journal.approve(rec.id, rec.short_fingerprint, by="alice")
    decision = send_approved(journal, rec.id, ctx(), RiskSettings(), approval)
    assert decision.send, decision.reasons

    async def go():
        broker = FakeBroker(fill_rule=lambda o: o.quantity)
        executor = Executor(broker, FAST, JournalExecutionAdapter(journal))
        first = await executor.execute(INTENT)
        again = await executor.execute(INTENT)  # a second call finds the final outcome in the journal
        return broker, first, again

    broker, first, again = run(go())
    assert first.kind is OutcomeKind.FILLED and again.kind is OutcomeKind.FILLED
    assert len(broker.sent_for(INTENT.id)) == 1
    stored = journal.get_intent(INTENT.id)
    assert (stored.status, stored.filled_qty) == (S.FILLED, 5)
    (fill,) = journal.fills_for(INTENT.id)
    assert (fill["quantity"], fill["commission"], fill["contract"]) == (5, 2.25 * 5, "VX:2018-03-21")


def test_an_intent_the_journal_did_not_submit_is_never_sent(private_dir):
    journal = Journal.open(private_dir / "alvh.sqlite", clock=FakeClock(NOW))
    journal.record_intent(INTENT, mode="approval", needs_approval=True, pending_expiry_s=60, approved_ttl_s=60)

    async def go():
        broker = FakeBroker(fill_rule=lambda o: o.quantity)
        return broker, await Executor(broker, FAST, JournalExecutionAdapter(journal)).execute(INTENT)

    broker, outcome = run(go())
    assert broker.orders == []
    assert outcome.kind is OutcomeKind.REFUSED and "only a submitted intent may send orders" in outcome.reason
    assert journal.get_intent(INTENT.id).status is S.PENDING_APPROVAL


@pytest.mark.parametrize("still_working", [True, False])
def test_restart_after_an_interrupted_ladder_never_over_sends(private_dir, still_working):
    path = private_dir / "alvh.sqlite"

    async def go():
        broker = FakeBroker()  # nothing fills at first
        journal = Journal.open(path, clock=FakeClock(NOW))
        rec = journal.record_intent(INTENT, mode="paper", needs_approval=False)
        journal.begin_submit(rec.id, rec.fingerprint)
        slow_steps = FAST.model_copy(update={"step_interval_s": 2.0})  # the drop lands in step 0, even under load
        task = asyncio.create_task(Executor(broker, slow_steps, JournalExecutionAdapter(journal)).execute(INTENT))
        while not broker.orders:  # step 0 placed (no fixed sleep: the machine may be busy)
            await asyncio.sleep(0.005)
        first = broker.orders[0]
        broker.drop()  # the bot goes deaf, then "dies"
        broker.fill(first, 2)
        outcome = await task
        assert outcome.kind is OutcomeKind.INTERRUPTED
        journal.close()

        broker.restore()
        if not still_working:
            broker._cancelled(first)  # the gateway cancelled the rest while the bot was down
        broker.fill_rule = lambda o: o.quantity
        restarted = Journal.open(path, clock=FakeClock(NOW))
        adapter = JournalExecutionAdapter(restarted)
        decisions = restarted.reconcile(adapter.evidence(await broker.refresh_snapshot()))
        final = await Executor(broker, FAST, adapter).execute(INTENT)
        return broker, decisions, final, restarted

    broker, decisions, final, journal = run(go())
    orders = broker.sent_for(INTENT.id)
    assert sum(o.filled for o in orders) <= INTENT.quantity
    assert broker.max_live_per_ref == 1
    if still_working:  # adopted: the executor cancels the leftover and works only the remainder
        assert decisions[0].action is RecoveryAction.KEEP_WORKING
        assert final.kind is OutcomeKind.FILLED and sum(o.filled for o in orders) == 5
        assert [o.quantity for o in orders] == [5, 3]
    else:  # finished while down: settled by recovery, never worked again
        assert decisions[0].action is RecoveryAction.MARK_CANCELLED
        assert final.kind is OutcomeKind.PARTIAL and final.kind.final and len(orders) == 1
    assert journal.get_intent(INTENT.id).status is (S.FILLED if still_working else S.CANCELLED)

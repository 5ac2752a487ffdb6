"""Executor + the SQLite journal (through its ExecutionJournal adapter) + the real simulator: the crash protocol
end to end. The process 'dies' mid-ladder; the next one reconciles the journal from the broker and finishes the
intent without ever sending it twice (judged from the simulator's orders log)."""

from __future__ import annotations

import asyncio

import pytest

from bot.execution import Executor, OutcomeKind
from bot.journal import IntentStatus, Journal, RecoveryAction
from bot.journal.execution_adapter import JournalExecutionAdapter

from .simkit import SETTINGS, connected, filled_shares, front_intent, max_working_at_once, orders_for, simulator, until

pytestmark = pytest.mark.timeout(30)


def run(coro, timeout: float = 20.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_intent_journaled_before_send_and_settled_by_the_outcome(library, calm_market, tmp_path) -> None:
    log = tmp_path / "orders.jsonl"

    async def go():
        async with simulator(calm_market, log) as sim, connected(sim, library) as broker:
            intent = await front_intent(broker, calm_market, "L1-journal", quantity=2)
            with Journal.open(tmp_path / "journal.sqlite") as journal:
                rec = journal.record_intent(intent, mode="paper", needs_approval=False)
                journal.begin_submit(rec.id, rec.fingerprint, client_id=17)
                adapter = JournalExecutionAdapter(journal, client_id=17)
                outcome = await Executor(broker, SETTINGS, adapter).execute(intent)
                again = await Executor(broker, SETTINGS, adapter).execute(intent)  # a second call sends nothing
                return outcome, again, journal.get_intent(intent.id), journal.sending_records(intent.id)

    outcome, again, record, sends = run(go())
    places = [r for r in orders_for(log, "L1-journal") if r["event"] == "place"]
    assert outcome.kind is OutcomeKind.FILLED and again.kind is OutcomeKind.FILLED
    assert record.status is IntentStatus.FILLED and record.filled_qty == 2
    assert [s["order_id"] for s in sends] == [p["orderId"] for p in places]


def test_crash_mid_ladder_then_restart_reconciles_and_finishes_without_a_duplicate(
    library, calm_market, tmp_path
) -> None:
    log = tmp_path / "orders.jsonl"
    db = tmp_path / "journal.sqlite"
    patient = SETTINGS.model_copy(update={"step_interval_s": 30.0})

    async def go():
        async with simulator(calm_market, log) as sim:
            async with connected(sim, library) as first:
                intent = await front_intent(first, calm_market, "L1-crash", quantity=3)
                with Journal.open(db) as journal:
                    rec = journal.record_intent(intent, mode="paper", needs_approval=False)
                    journal.begin_submit(rec.id, rec.fingerprint, client_id=17)
                    task = asyncio.create_task(
                        Executor(first, patient, JournalExecutionAdapter(journal, client_id=17)).execute(intent)
                    )
                    await until(lambda: any(r["event"] == "status" for r in orders_for(log, "L1-crash")))
                    task.cancel()  # the process dies here: one order works at the gateway
                    await asyncio.gather(task, return_exceptions=True)
            async with connected(sim, library) as second:
                with Journal.open(db) as journal:
                    adapter = JournalExecutionAdapter(journal, client_id=17)
                    decisions = journal.reconcile(adapter.evidence(second.snapshot))
                    outcome = await Executor(second, SETTINGS, adapter).execute(intent)
                    return decisions, outcome, journal.get_intent(intent.id), sim.account_state()

    decisions, outcome, record, state = run(go())
    records = orders_for(log, "L1-crash")
    assert [d.action for d in decisions] == [RecoveryAction.KEEP_WORKING]
    assert outcome.kind is OutcomeKind.FILLED and record.status is IntentStatus.FILLED
    assert max_working_at_once(records) == 1 and filled_shares(records) == 3
    assert sum(p.quantity for p in state.positions.values() if p.local_symbol.startswith("VX")) == 3

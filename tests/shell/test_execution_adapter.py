"""The SQLite journal behind the executor's ExecutionJournal protocol: a ladder of several orders per intent,
sends only for submitted intents, outcomes that settle intents, and restarts that never work an intent again."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.broker.types import ExecutionRecord, OrderEvent, OrderEventKind, OrderRecord, ReconciliationSnapshot
from bot.execution.journal import ExecutionJournal, ExecutionOutcome, OrderSendRecord, OutcomeKind
from bot.journal import IntentStatus, Journal, NotSendable, RecoveryAction
from bot.journal.execution_adapter import JournalExecutionAdapter

from .helpers import T0, make_intent

S = IntentStatus


def send(intent_id: str, order_id: int, step: int, qty: float = 4, limit: float = 17.1) -> OrderSendRecord:
    return OrderSendRecord(intent_id, order_id, step, 555, "BUY", qty, limit, T0)


def event(kind, order_id, perm, filled=0.0, remaining=4.0, total=None, **kw) -> OrderEvent:
    total = total if total is not None else (4.0 if order_id == 101 else 3.0)
    return OrderEvent(
        kind=kind, order_id=order_id, perm_id=perm, order_ref="L1-e1-VX-open", con_id=555, filled=filled,
        remaining=remaining, avg_fill_price=None, time=T0, action="BUY", total_quantity=total, **kw,
    )  # fmt: skip


@pytest.fixture
def adapter(journal: Journal) -> JournalExecutionAdapter:
    return JournalExecutionAdapter(journal, client_id=17)


def submitted(journal: Journal, quantity: int = 4):
    rec = journal.record_intent(make_intent(quantity=quantity), mode="paper", needs_approval=False)
    return journal.begin_submit(rec.id, rec.fingerprint)


def test_it_satisfies_the_protocol(adapter):
    assert isinstance(adapter, JournalExecutionAdapter)
    protocol_methods = [m for m in vars(ExecutionJournal) if not m.startswith("_")]
    assert all(callable(getattr(adapter, m)) for m in protocol_methods), protocol_methods


def test_orders_only_for_submitted_intents(journal, adapter):
    with pytest.raises(NotSendable, match="no intent"):
        adapter.record_order_sending(send("L1-e1-VX-open", 1, 1))
    journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    with pytest.raises(NotSendable, match="planned"):
        adapter.record_order_sending(send("L1-e1-VX-open", 1, 1))


def test_a_ladder_of_two_orders_fills_the_intent_once(journal, adapter):
    rec = submitted(journal)
    adapter.record_order_sending(send(rec.id, 101, 1))
    adapter.record_order_sending(send(rec.id, 101, 1))  # idempotent
    adapter.record_order_event(event(OrderEventKind.SUBMITTED, 101, 9001))
    assert journal.get_intent(rec.id).status is S.WORKING
    partial = dict(exec_id="e1", exec_shares=1, last_fill_price=17.05, commission=1.1)
    adapter.record_order_event(event(OrderEventKind.PARTIAL, 101, 9001, 1, 3, **partial))
    adapter.record_order_event(event(OrderEventKind.CANCELLED, 101, 9001, 1, 0))
    assert journal.get_intent(rec.id).status is S.WORKING  # one step ended, the intent did not
    adapter.record_order_sending(send(rec.id, 102, 2, qty=3, limit=17.15))
    adapter.record_order_event(
        event(OrderEventKind.FILLED, 102, 9002, 3, 0, exec_id="e2", exec_shares=3, last_fill_price=17.1)
    )
    rec = journal.get_intent(rec.id)
    assert (rec.status, rec.filled_qty) == (S.FILLED, 4)
    assert [(r.order_id, r.step, r.quantity) for r in adapter.sent_orders(rec.id)] == [(101, 1, 4), (102, 2, 3)]
    fills = journal.fills_for(rec.id)
    assert [(f["exec_id"], f["contract"], f["side"], f["commission"]) for f in fills] == [
        ("e1", "VX:2026-04-15", "BUY", 1.1),
        ("e2", "VX:2026-04-15", "BUY", None),
    ]
    adapter.record_outcome(ExecutionOutcome(rec.id, OutcomeKind.FILLED, 4, 4, 17.09, 2, "ladder done"))
    assert adapter.outcome(rec.id).kind is OutcomeKind.FILLED
    assert journal._conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 2


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (OutcomeKind.PARTIAL, S.CANCELLED),
        (OutcomeKind.UNFILLED, S.CANCELLED),
        (OutcomeKind.REJECTED, S.REJECTED),
        (OutcomeKind.SKIPPED, S.EXPIRED),
        (OutcomeKind.INTERRUPTED, S.SUBMITTING),
        (OutcomeKind.UNRESOLVED, S.SUBMITTING),
        (OutcomeKind.REFUSED, S.SUBMITTING),
    ],
)
def test_outcomes_settle_final_kinds_only(journal, adapter, kind, status):
    rec = submitted(journal)
    adapter.record_outcome(ExecutionOutcome(rec.id, kind, 0, 4, None, 0, "x"))
    assert journal.get_intent(rec.id).status is status
    assert adapter.outcome(rec.id).kind is kind
    if kind is OutcomeKind.UNRESOLVED:
        assert journal.events(kind="anomaly")


def test_after_a_restart_a_recovered_intent_reports_a_final_outcome(journal, adapter):
    """The executor asks `outcome()` first: an intent recovery settled must look finished, never be worked again."""
    rec = submitted(journal)
    adapter.record_order_sending(send(rec.id, 101, 1))
    adapter.record_outcome(ExecutionOutcome(rec.id, OutcomeKind.INTERRUPTED, 0, 4, None, 1, "connection lost"))
    snapshot = ReconciliationSnapshot(
        taken_at=T0, generation=2, accounts=("DU1234567",), positions=(), open_orders=(),
        completed_orders=(OrderRecord(0, 9001, rec.id, 555, "BUY", 4, 17.1, "Cancelled", 1, 0, 17.05),),
        executions=(ExecutionRecord("e1", 101, 9001, rec.id, 555, "BOT", 1, 17.05, T0),),
    )  # fmt: skip
    decisions = journal.reconcile(adapter.evidence(snapshot))
    assert [d.action for d in decisions] == [RecoveryAction.MARK_CANCELLED]
    outcome = adapter.outcome(rec.id)
    assert outcome.kind is OutcomeKind.PARTIAL and outcome.kind.final and outcome.filled == 1
    with pytest.raises(NotSendable):
        adapter.record_order_sending(send(rec.id, 103, 2))
    # the completed order (orderId 0) was matched to the journaled send, not added as a second order
    assert journal._conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 1


def test_never_sent_intents_report_skipped(journal, adapter):
    rec = journal.record_intent(
        make_intent(), mode="approval", needs_approval=True, pending_expiry_s=60, approved_ttl_s=60
    )
    assert adapter.outcome(rec.id) is None
    journal.reject(rec.id, by="bob")
    outcome = adapter.outcome(rec.id)
    assert outcome.kind is OutcomeKind.SKIPPED and outcome.kind.final


def test_order_errors_are_journaled(journal, adapter):
    rec = submitted(journal)
    adapter.record_order_sending(send(rec.id, 101, 1))
    adapter.record_order_event(
        event(OrderEventKind.REJECTED, 101, 0, 0, 4, error_code=201, error_message="Order rejected - margin")
    )
    (err,) = journal.events(kind="error")
    assert (err["code"], err["message"]) == ("201", "Order rejected - margin")


def test_fill_without_price_is_refused_loudly(journal, adapter):
    from bot.journal import JournalError

    rec = submitted(journal)
    with pytest.raises(JournalError, match="no price"):
        adapter.record_order_event(event(OrderEventKind.FILLED, 101, 9001, 4, 0, exec_id="e9", exec_shares=4))
    assert journal.get_intent(rec.id).filled_qty == 0


def test_snapshot_evidence_maps_sides_and_contracts(journal, adapter):
    rec = submitted(journal)
    snapshot = ReconciliationSnapshot(
        taken_at=T0, generation=1, accounts=(), positions=(),
        open_orders=(OrderRecord(7, 9, rec.id, 555, "BUY", 4, 17.1, "Submitted", 0, 4, None),),
        completed_orders=(),
        executions=(ExecutionRecord("m1", 0, 10, "", 777, "SLD", 2, 12.0, T0 + dt.timedelta(seconds=1)),),
    )  # fmt: skip
    evidence = adapter.evidence(snapshot)
    assert evidence.complete and evidence.orders[0].is_open and evidence.orders[0].contract == "VX:2026-04-15"
    assert (evidence.fills[0].side, evidence.fills[0].contract) == ("SELL", "conId:777")

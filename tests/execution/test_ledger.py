"""Reconciliation decisions from given open/completed orders and executions (the broker's evidence only)."""

import datetime as dt

from bot.broker.types import (
    ExecutionRecord,
    OrderEvent,
    OrderEventKind,
    OrderRecord,
    ReconciliationSnapshot,
)
from bot.execution.ledger import IntentLedger

T = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
REF = "L1-20261124-vx-buy"


def record(status: str, filled: float, *, perm: int, order_id: int = 0, qty: float = 5, ref: str = REF):
    return OrderRecord(order_id, perm, ref, 1, "BUY", qty, 17.1, status, filled, qty - filled, None)


def execution(exec_id: str, shares: float, *, perm: int, ref: str = REF, price: float = 17.1):
    return ExecutionRecord(exec_id, 0, perm, ref, 1, "BOT", shares, price, T)


def snapshot(open_orders=(), completed=(), executions=()):
    return ReconciliationSnapshot(T, 1, ("DU1",), (), tuple(open_orders), tuple(completed), tuple(executions))


def event(kind, order_id, filled, *, perm=0, exec_id=None, shares=0.0, price=None, code=None, msg=""):
    return OrderEvent(
        kind, order_id, perm, REF, 1, filled, 5 - filled, None, T,
        last_fill_price=price, exec_id=exec_id, exec_shares=shares, error_code=code, error_message=msg,
    )  # fmt: skip


def test_nothing_known_means_nothing_filled_and_nothing_live() -> None:
    ledger = IntentLedger(REF, 5)
    ledger.apply_snapshot(snapshot())
    assert (ledger.filled, ledger.remaining, ledger.live_orders(), ledger.has_evidence) == (0, 5, [], False)


def test_other_intents_are_ignored() -> None:
    ledger = IntentLedger(REF, 5)
    ledger.apply_snapshot(snapshot(open_orders=[record("Submitted", 0, perm=1, ref="other")]))
    ledger.apply(OrderEvent(OrderEventKind.FILLED, 3, 1, "other", 1, 5, 0, 17.1, T))
    assert not ledger.has_evidence and ledger.filled == 0


def test_partial_cancelled_plus_live_order_from_a_previous_run() -> None:
    ledger = IntentLedger(REF, 5)
    ledger.apply_snapshot(
        snapshot(
            open_orders=[record("Submitted", 1, perm=12, order_id=40, qty=3)],
            completed=[record("Cancelled", 2, perm=11)],
            executions=[execution("e1", 2, perm=11), execution("e2", 1, perm=12)],
        )
    )
    assert ledger.filled == 3
    assert ledger.remaining == 2
    assert [s.perm_id for s in ledger.live_orders()] == [12]


def test_executions_count_even_when_the_completed_order_is_missing() -> None:
    ledger = IntentLedger(REF, 5)
    ledger.apply_snapshot(snapshot(executions=[execution("e1", 4, perm=11)]))
    assert ledger.filled == 4 and ledger.live_orders() == [] and ledger.has_evidence


def test_the_same_execution_seen_twice_counts_once() -> None:
    ledger = IntentLedger(REF, 5)
    ledger.apply(event(OrderEventKind.PARTIAL, 40, 2, perm=12, exec_id="e1", shares=2, price=17.1))
    ledger.apply(event(OrderEventKind.PARTIAL, 40, 2, perm=12, exec_id="e1", shares=2, price=17.1))  # commission
    ledger.apply_snapshot(
        snapshot(executions=[execution("e1", 2, perm=12)], open_orders=[record("Submitted", 2, perm=12, order_id=40)])
    )
    assert ledger.filled == 2
    assert len(ledger.orders) == 1  # orderId 40 and permId 12 are the same order


def test_order_known_by_id_then_by_perm_id_is_one_order() -> None:
    ledger = IntentLedger(REF, 5)
    ledger.expect(40, 17.1)
    ledger.apply(event(OrderEventKind.SUBMITTED, 40, 0))
    ledger.apply(event(OrderEventKind.WORKING, 40, 0, perm=77))
    ledger.apply_snapshot(snapshot(completed=[record("Filled", 5, perm=77)]))
    assert len(ledger.orders) == 1
    assert ledger.filled == 5 and ledger.remaining == 0 and ledger.live_orders() == []


def test_filled_takes_the_larger_of_executions_and_order_counts() -> None:
    ledger = IntentLedger(REF, 5)
    ledger.apply(event(OrderEventKind.PARTIAL, 40, 3, perm=1))  # status says 3, executions not seen yet
    assert ledger.filled == 3
    ledger.apply(event(OrderEventKind.PARTIAL, 40, 3, perm=1, exec_id="a", shares=1, price=17.0))
    assert ledger.filled == 3


def test_terminal_is_sticky_and_rejection_explains_inactive() -> None:
    ledger = IntentLedger(REF, 5)
    ledger.expect(40, 17.1)
    ledger.apply(event(OrderEventKind.INACTIVE, 40, 0))
    ledger.apply(event(OrderEventKind.REJECTED, 40, 0, code=201, msg="margin"))
    ledger.apply(event(OrderEventKind.WORKING, 40, 0))
    state = ledger.order(40)
    assert state.kind is OrderEventKind.REJECTED and state.error_code == 201 and not state.live


def test_late_working_status_does_not_unfill_a_partial() -> None:
    ledger = IntentLedger(REF, 5)
    ledger.apply(event(OrderEventKind.PARTIAL, 40, 2))
    ledger.apply(event(OrderEventKind.WORKING, 40, 0))
    assert ledger.order(40).kind is OrderEventKind.PARTIAL and ledger.filled == 2


def test_expected_order_is_live_until_evidence_and_can_be_forgotten() -> None:
    ledger = IntentLedger(REF, 5)
    ledger.expect(40, 17.1)
    assert [s.order_id for s in ledger.live_orders()] == [40]
    assert [s.order_id for s in ledger.forget_unconfirmed()] == [40]
    assert ledger.live_orders() == []
    ledger.expect(41, 17.1)
    ledger.apply(event(OrderEventKind.WORKING, 41, 0, perm=5))
    assert ledger.forget_unconfirmed() == []  # confirmed orders are never forgotten
    assert [s.order_id for s in ledger.live_orders()] == [41]


def test_average_price_is_volume_weighted() -> None:
    ledger = IntentLedger(REF, 5)
    ledger.apply(event(OrderEventKind.PARTIAL, 40, 2, perm=1, exec_id="a", shares=2, price=17.0))
    ledger.apply(event(OrderEventKind.FILLED, 41, 3, perm=2, exec_id="b", shares=3, price=17.5))
    assert abs(ledger.average_price - 17.3) < 1e-9


def test_a_new_send_never_merges_into_an_older_order_with_the_same_id() -> None:
    # order 8 of another client id, already finished; this client's nextValidId is 8 too
    ledger = IntentLedger(REF, 5)
    ledger.apply_snapshot(snapshot(completed=[record("Cancelled", 1, perm=500, order_id=8)]))
    mine = ledger.expect(8, 17.1)
    assert mine.live and not mine.terminal
    ledger.apply(event(OrderEventKind.SUBMITTED, 8, 0))  # PendingSubmit: no permId yet
    ledger.apply(event(OrderEventKind.WORKING, 8, 0, perm=900))
    assert mine.kind is OrderEventKind.WORKING and mine.perm_id == 900
    assert ledger.order(8) is mine and len(ledger.orders) == 2
    assert ledger.filled == 1  # the old order's fill still counts

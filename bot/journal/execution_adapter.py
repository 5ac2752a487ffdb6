"""The SQLite journal as the executor's `ExecutionJournal` (bot/execution/journal.py), and broker snapshots as
recovery evidence. The only module of the journal that knows the broker facade's types, so the rest of the journal
stays independent of them."""

from __future__ import annotations

from collections.abc import Sequence

from bot.broker.types import ExecutionRecord, OrderEvent, OrderEventKind, OrderRecord, ReconciliationSnapshot
from bot.execution.journal import ExecutionOutcome, OrderSendRecord, OutcomeKind
from bot.journal.db import JournalError
from bot.journal.evidence import BrokerEvidence, FillEvidence, OrderEvidence
from bot.journal.store import Journal, _dt

# OrderEventKind -> the IB status text the journal records (and maps to intent states)
_IB_STATUS = {
    OrderEventKind.SUBMITTED: "PreSubmitted",
    OrderEventKind.WORKING: "Submitted",
    OrderEventKind.PARTIAL: "Submitted",
    OrderEventKind.FILLED: "Filled",
    OrderEventKind.CANCELLED: "Cancelled",
    OrderEventKind.REJECTED: "Inactive",
    OrderEventKind.INACTIVE: "Inactive",
}
_SIDES = {"BOT": "BUY", "SLD": "SELL", "BUY": "BUY", "SELL": "SELL"}


class JournalExecutionAdapter:
    """Implements ExecutionJournal on a Journal. Every write is one short SQLite transaction."""

    def __init__(self, journal: Journal, client_id: int | None = None) -> None:
        self.journal = journal
        self.client_id = client_id

    def record_order_sending(self, record: OrderSendRecord) -> None:
        """Raises bot.journal.NotSendable unless the intent was submitted (begin_submit): the executor must stop."""
        self.journal.record_order_sending(
            record.intent_id,
            order_id=record.order_id,
            step=record.step,
            con_id=record.con_id,
            action=record.action,
            quantity=record.quantity,
            limit_price=record.limit_price,
            at=record.time,
            client_id=self.client_id,
        )

    def record_order_event(self, event: OrderEvent) -> None:
        if event.exec_id:
            self.record_execution_event(event)
        self.journal.record_order(
            OrderEvidence(
                order_ref=event.order_ref or None,
                status=_IB_STATUS[event.kind],
                perm_id=event.perm_id or None,
                order_id=event.order_id or None,
                client_id=self.client_id,
                side=event.action or None,
                quantity=event.total_quantity or None,
                limit_price=event.limit_price,
                filled=event.filled,
                remaining=event.remaining,
                avg_fill_price=event.avg_fill_price,
                is_open=not event.kind.terminal and event.kind is not OrderEventKind.INACTIVE,
            )
        )
        if event.error_code is not None:
            self.journal.record_event(
                "error",
                event.error_message or f"order error {event.error_code}",
                str(event.error_code),
                {"intent_id": event.order_ref, "order_id": event.order_id},
            )

    def record_execution_event(self, event: OrderEvent) -> None:
        """The execution an order event carries (and its commission); a replay of a known execId changes nothing."""
        self.journal.record_fill(self._fill(event))
        if event.commission is not None:
            self.journal.record_commission(event.exec_id or "", event.commission, "USD")

    def record_executions(self, executions: Sequence[ExecutionRecord]) -> None:
        """Executions read from the gateway (a reconciliation snapshot); each execId is recorded once."""
        for e in executions:
            self.journal.record_fill(self._execution(e))
            if e.commission is not None:
                self.journal.record_commission(e.exec_id, e.commission, "USD")

    def record_outcome(self, outcome: ExecutionOutcome) -> None:
        self.journal.record_outcome(
            outcome.intent_id,
            outcome.kind.value,
            filled=outcome.filled,
            quantity=outcome.quantity,
            average_price=outcome.average_price,
            orders_sent=outcome.orders_sent,
            reason=outcome.reason,
            error_code=outcome.error_code,
        )

    def sent_orders(self, intent_id: str) -> Sequence[OrderSendRecord]:
        return [
            OrderSendRecord(
                intent_id=intent_id,
                order_id=int(row["order_id"]),
                step=int(row["step"]),
                con_id=int(row["con_id"] or 0),
                action=row["side"] or "",
                quantity=float(row["quantity"] or 0),
                limit_price=float(row["limit_price"] or 0),
                time=_dt(row["sent_at"]),  # type: ignore[arg-type]
            )
            for row in self.journal.sending_records(intent_id)
        ]

    def outcome(self, intent_id: str) -> ExecutionOutcome | None:
        row = self.journal.latest_outcome(intent_id)
        if row is None:
            return None
        return ExecutionOutcome(
            intent_id=intent_id,
            kind=OutcomeKind(row["kind"]),
            filled=float(row["filled"]),
            quantity=float(row["quantity"]),
            average_price=row["average_price"],
            orders_sent=int(row["orders_sent"]),
            reason=row["reason"],
            error_code=row["error_code"],
        )

    def _fill(self, event: OrderEvent) -> FillEvidence:
        return FillEvidence(
            exec_id=event.exec_id or "",
            contract=self._contract(event.order_ref, event.con_id),
            side=_SIDES.get(event.action.upper(), "") or self._intent_side(event.order_ref),
            quantity=event.exec_shares,
            price=self._fill_price(event),
            time=event.time,
            order_ref=event.order_ref or None,
            perm_id=event.perm_id or None,
            order_id=event.order_id or None,
            client_id=self.client_id,
        )

    @staticmethod
    def _fill_price(event: OrderEvent) -> float:
        for price in (event.last_fill_price, event.avg_fill_price):
            if price is not None and price == price and price > 0:
                return price
        raise JournalError(f"execution {event.exec_id} of {event.order_ref!r} has no price; cannot journal it")

    def _contract(self, order_ref: str | None, con_id: int) -> str:
        rec = self.journal.get_intent(order_ref) if order_ref else None
        return rec.content["instrument"]["key"] if rec else f"conId:{con_id}"

    def _intent_side(self, order_ref: str | None) -> str:
        rec = self.journal.get_intent(order_ref) if order_ref else None
        return rec.content["side"] if rec else ""

    def evidence(self, snapshot: ReconciliationSnapshot) -> BrokerEvidence:
        """A reconnect snapshot as recovery evidence for `Journal.reconcile` (the facade waited for every End)."""
        orders = [self._order(o, True) for o in snapshot.open_orders]
        orders += [self._order(o, False) for o in snapshot.completed_orders]
        fills = [self._execution(e) for e in snapshot.executions]
        return BrokerEvidence(orders=tuple(orders), fills=tuple(fills), complete=True)

    def _order(self, o: OrderRecord, is_open: bool) -> OrderEvidence:
        return OrderEvidence(
            order_ref=o.order_ref or None,
            status=o.status,
            perm_id=o.perm_id or None,
            order_id=o.order_id or None,
            client_id=self.client_id if o.order_id else None,
            contract=self._contract(o.order_ref, o.con_id),
            side=_SIDES.get(o.action.upper()),
            quantity=o.total_quantity,
            limit_price=o.limit_price,
            filled=o.filled,
            remaining=o.remaining,
            avg_fill_price=o.avg_fill_price,
            is_open=is_open,
        )

    def _execution(self, e: ExecutionRecord) -> FillEvidence:
        return FillEvidence(
            exec_id=e.exec_id,
            contract=self._contract(e.order_ref, e.con_id),
            side=_SIDES.get(e.side.upper(), e.side),
            quantity=e.shares,
            price=e.price,
            time=e.time,
            order_ref=e.order_ref or None,
            perm_id=e.perm_id or None,
            order_id=e.order_id or None,
        )

"""What the broker has said about one intent's orders: the only source of 'working' and 'filled'.

An intent may have several orders over its life (one per ladder step, and across restarts), all carrying orderRef =
intent id. The ledger merges live OrderEvents and ReconciliationSnapshots, keyed by permId when known and by
orderId otherwise, so the same order seen both ways is counted once. Filled quantity is the larger of the sum of
distinct executions and the sum of the orders' own filled counts: when the two disagree the bot assumes more is
filled, which can only make it send less.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.broker.types import LIVE_STATUSES, OrderEvent, OrderEventKind, OrderRecord, ReconciliationSnapshot

_STATUS_KIND = {
    "Filled": OrderEventKind.FILLED,
    "Cancelled": OrderEventKind.CANCELLED,
    "ApiCancelled": OrderEventKind.CANCELLED,
    "Inactive": OrderEventKind.INACTIVE,
}


@dataclass
class OrderState:
    """The ledger's view of one order; `terminal` is sticky (a late 'working' never revives a dead order)."""

    order_id: int
    perm_id: int
    kind: OrderEventKind | None = None
    filled: float = 0.0
    limit_price: float | None = None
    error_code: int | None = None
    error_message: str = ""

    @property
    def terminal(self) -> bool:
        return self.kind is not None and (self.kind.terminal or self.kind is OrderEventKind.INACTIVE)

    @property
    def live(self) -> bool:
        return not self.terminal


class IntentLedger:
    def __init__(self, order_ref: str, quantity: float) -> None:
        if quantity <= 0:
            raise ValueError(f"intent quantity must be > 0, got {quantity}")
        self.order_ref = order_ref
        self.quantity = quantity
        self._orders: list[OrderState] = []
        self._executions: dict[str, float] = {}
        self._fill_value: dict[str, float] = {}
        self._commissions: dict[str, float] = {}

    # ---------------------------------------------------------------- lookup
    def _find(self, order_id: int, perm_id: int) -> OrderState | None:
        """permId first (unique per account); else the most recent order with that orderId whose permId does not
        contradict. Most recent, because order ids are per client: an old order 8 of another client id can share
        the intent with the order 8 this client just sent."""
        if perm_id:
            for state in self._orders:
                if state.perm_id == perm_id:
                    return state
        if order_id:
            for state in reversed(self._orders):
                if state.order_id == order_id and (not perm_id or not state.perm_id):
                    return state
        return None

    def _state(self, order_id: int, perm_id: int) -> OrderState:
        state = self._find(order_id, perm_id)
        if state is None:
            state = OrderState(order_id=order_id, perm_id=perm_id)
            self._orders.append(state)
        if perm_id and not state.perm_id:
            state.perm_id = perm_id
        if order_id and not state.order_id:
            state.order_id = order_id
        return state

    def expect(self, order_id: int, limit_price: float) -> OrderState:
        """Register an order about to be sent; it counts as possibly live until evidence says otherwise.

        Always a new entry (never merged into an older order that happens to share the id); the caller keeps the
        returned object to follow exactly the order it sent.
        """
        state = OrderState(order_id=order_id, perm_id=0, limit_price=limit_price)
        self._orders.append(state)
        return state

    # ---------------------------------------------------------------- evidence
    def apply(self, event: OrderEvent) -> None:
        if event.order_ref != self.order_ref:
            return
        state = self._state(event.order_id, event.perm_id)
        state.filled = max(state.filled, event.filled)
        if event.limit_price is not None:
            state.limit_price = event.limit_price
        if event.exec_id:
            self._executions[event.exec_id] = event.exec_shares
            if event.last_fill_price is not None:
                self._fill_value[event.exec_id] = event.exec_shares * event.last_fill_price
            if event.commission is not None:
                self._commissions[event.exec_id] = event.commission
        if event.error_code is not None:
            state.error_code, state.error_message = event.error_code, event.error_message
        self._advance(state, event.kind)

    def _advance(self, state: OrderState, kind: OrderEventKind) -> None:
        if kind is OrderEventKind.REJECTED and state.kind is not OrderEventKind.FILLED:
            state.kind = kind  # a rejection code explains an Inactive/Cancelled status that arrived first
            return
        if state.terminal:
            return
        if kind in (OrderEventKind.SUBMITTED, OrderEventKind.WORKING) and state.kind is OrderEventKind.PARTIAL:
            return  # an older status arriving late never un-fills an order
        state.kind = kind

    def apply_snapshot(self, snapshot: ReconciliationSnapshot) -> None:
        mine = snapshot.for_order_ref(self.order_ref)
        for record in (*mine.open_orders, *mine.completed_orders):
            self._apply_record(record)
        for execution in mine.executions:
            self._executions[execution.exec_id] = execution.shares
            self._fill_value[execution.exec_id] = execution.shares * execution.price
            if execution.commission is not None:
                self._commissions[execution.exec_id] = execution.commission

    def _apply_record(self, record: OrderRecord) -> None:
        state = self._state(record.order_id, record.perm_id)
        state.filled = max(state.filled, record.filled)
        if record.limit_price is not None:
            state.limit_price = record.limit_price
        if record.status in LIVE_STATUSES:
            kind = OrderEventKind.PARTIAL if record.filled > 0 else OrderEventKind.WORKING
        else:
            kind = _STATUS_KIND.get(record.status, OrderEventKind.INACTIVE)
            if kind is OrderEventKind.FILLED and record.remaining > 0:
                kind = OrderEventKind.CANCELLED  # a completed order that stopped short
        self._advance(state, kind)

    def forget_unconfirmed(self) -> list[OrderState]:
        """Drop (and return) every expected order no evidence ever mentioned. Only right after a complete,
        fresh read of the gateway's orders and executions: then 'not mentioned' means 'never arrived'."""
        forgotten = [s for s in self._orders if s.kind is None and not s.perm_id]
        self._orders = [s for s in self._orders if s not in forgotten]
        return forgotten

    # ---------------------------------------------------------------- answers
    @property
    def filled(self) -> float:
        by_executions = sum(self._executions.values())
        by_orders = sum(s.filled for s in self._orders)
        return max(by_executions, by_orders)

    @property
    def executed(self) -> float:
        """Shares covered by execution reports (these carry the price; order statuses may run ahead of them)."""
        return sum(self._executions.values())

    @property
    def commission(self) -> float | None:
        return sum(self._commissions.values()) if self._commissions else None

    @property
    def remaining(self) -> float:
        return max(self.quantity - self.filled, 0.0)

    @property
    def average_price(self) -> float | None:
        shares = sum(self._executions[e] for e in self._fill_value)
        return sum(self._fill_value.values()) / shares if shares else None

    @property
    def orders(self) -> tuple[OrderState, ...]:
        return tuple(self._orders)

    def live_orders(self) -> list[OrderState]:
        return [s for s in self._orders if s.live]

    def order(self, order_id: int) -> OrderState | None:
        return self._find(order_id, 0)

    @property
    def has_evidence(self) -> bool:
        """True when the gateway has reported anything about this intent's orders."""
        return bool(self._executions) or any(s.kind is not None or s.perm_id for s in self._orders)

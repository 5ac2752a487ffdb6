"""What a restart (or reconnect) does with intents that may be at the broker: a pure decision per intent.

Protocol. Before placeOrder the bot commits the intent as `submitting` and the order's row (one fsync, made by the
order's synchronous=FULL commit; a power cut before it undoes both, and nothing was sent). A crash can then leave:
1. `submitting` and the order never left the process  -> complete evidence shows nothing with that orderRef;
2. `submitting` and the order reached the broker        -> evidence has an order (open or completed) or fills;
3. `working` with later changes missed while down        -> evidence shows the current state.
Matching is by orderRef (= intent id) and, as a second key, by permId the journal already knows. Case 1 becomes
`expired` ("not sent"); it is never resent: a new send needs a new intent id from a new plan. With incomplete
evidence (an End message missing) nothing is decided and nothing is sent: WAIT.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from bot.journal.evidence import BrokerEvidence, FillEvidence, OrderEvidence
from bot.journal.states import IntentStatus, status_from_broker


class RecoveryAction(StrEnum):
    KEEP_WORKING = "keep_working"  # an open order exists: track it (no new send)
    MARK_FILLED = "mark_filled"
    MARK_CANCELLED = "mark_cancelled"
    MARK_REJECTED = "mark_rejected"
    MARK_NOT_SENT = "mark_not_sent"  # complete evidence and nothing found: expired, never resent
    WAIT = "wait"  # evidence incomplete: decide later, send nothing


@dataclass(frozen=True, slots=True)
class RecoveryDecision:
    intent_id: str
    action: RecoveryAction
    reason: str
    orders: tuple[OrderEvidence, ...] = ()
    fills: tuple[FillEvidence, ...] = field(default_factory=tuple)
    filled_quantity: float = 0.0

    @property
    def may_resend(self) -> bool:
        """Always False: recovery never sends. Kept as a property so callers can assert it."""
        return False


def decide_recovery(
    intent_id: str, quantity: int, evidence: BrokerEvidence, known_perm_ids: Iterable[int] = ()
) -> RecoveryDecision:
    """Decide what an intent in `submitting`/`working` is, from broker evidence alone."""
    perms = {p for p in known_perm_ids if p}
    orders = tuple(o for o in evidence.orders if o.order_ref == intent_id or (o.perm_id and o.perm_id in perms))
    order_perms = perms | {o.perm_id for o in orders if o.perm_id}
    fills = tuple(f for f in evidence.fills if f.order_ref == intent_id or (f.perm_id and f.perm_id in order_perms))
    # A ladder sends several orders per intent: sum each distinct order's cumulative fill (an order may be listed
    # both as open and as completed), and take the executions' sum when it is larger (a fill seen before status).
    per_order = {(o.perm_id or 0, o.order_id or 0): o.filled for o in orders}
    filled = max(sum(f.quantity for f in {f.exec_id: f for f in fills}.values()), sum(per_order.values()))

    def decision(action: RecoveryAction, reason: str) -> RecoveryDecision:
        return RecoveryDecision(intent_id, action, reason, orders, fills, filled)

    if filled >= quantity > 0:
        return decision(RecoveryAction.MARK_FILLED, f"broker shows {filled:g} of {quantity} filled")
    if any(o.is_open and status_from_broker(o.status, o.filled, quantity) is IntentStatus.WORKING for o in orders):
        return decision(RecoveryAction.KEEP_WORKING, "the order is open at the broker")
    if not evidence.complete:
        return decision(RecoveryAction.WAIT, "broker evidence incomplete (an End message is missing): not deciding")
    if orders:
        final = [status_from_broker(o.status, o.filled, quantity) for o in orders]
        if IntentStatus.CANCELLED in final or filled > 0:
            return decision(RecoveryAction.MARK_CANCELLED, f"order finished unfilled or partly filled ({filled:g})")
        if IntentStatus.REJECTED in final:
            return decision(RecoveryAction.MARK_REJECTED, "the broker rejected the order (Inactive)")
        return decision(RecoveryAction.MARK_CANCELLED, f"order no longer open (status {orders[-1].status})")
    if fills:
        return decision(RecoveryAction.MARK_CANCELLED, f"fills ({filled:g}) without an open order: order is done")
    return decision(
        RecoveryAction.MARK_NOT_SENT, "no order, completed order or execution carries this orderRef: not sent"
    )

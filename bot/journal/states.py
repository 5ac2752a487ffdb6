"""Intent lifecycle states and which changes the bot or a person may make (broker evidence is separate).

planned -> pending_approval -> approved -> submitting -> working -> filled | cancelled | rejected | expired
(paper/live skip approval: planned -> submitting). `denied` = refused by risk before sending, `withdrawn` = a newer
plan no longer wants it. `submitting` is written and committed BEFORE the order is sent; only broker evidence
(or recovery with complete evidence) moves it on, so a restart can never send it again.
"""

from __future__ import annotations

from enum import StrEnum


class IntentStatus(StrEnum):
    PLANNED = "planned"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    SUBMITTING = "submitting"
    WORKING = "working"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"


S = IntentStatus
TERMINAL = frozenset({S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED, S.DENIED, S.WITHDRAWN})
NOT_YET_SENT = frozenset({S.PLANNED, S.PENDING_APPROVAL, S.APPROVED})
SENT = frozenset({S.SUBMITTING, S.WORKING})  # may be at the broker: reconcile, never resend

# Changes made by the bot or a person (not by broker evidence).
ALLOWED: dict[IntentStatus, frozenset[IntentStatus]] = {
    S.PLANNED: frozenset({S.PENDING_APPROVAL, S.SUBMITTING, S.DENIED, S.WITHDRAWN, S.EXPIRED}),
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.EXPIRED, S.WITHDRAWN}),
    S.APPROVED: frozenset({S.SUBMITTING, S.EXPIRED, S.WITHDRAWN, S.DENIED, S.PENDING_APPROVAL}),
    S.SUBMITTING: frozenset({S.EXPIRED}),  # only recovery, with complete broker evidence showing no order
}

# IB order status -> intent status (openOrder / orderStatus / completed orders).
IB_STATUS: dict[str, IntentStatus] = {
    "PendingSubmit": S.WORKING,
    "ApiPending": S.WORKING,
    "PreSubmitted": S.WORKING,
    "Submitted": S.WORKING,
    "PendingCancel": S.WORKING,
    "Filled": S.FILLED,
    "Cancelled": S.CANCELLED,
    "ApiCancelled": S.CANCELLED,
    "Inactive": S.REJECTED,
}


def status_from_broker(ib_status: str, filled: float, quantity: float) -> IntentStatus:
    """Unknown statuses count as working: an order that may be live must never be treated as gone."""
    if quantity > 0 and filled >= quantity:
        return S.FILLED
    return IB_STATUS.get(ib_status, S.WORKING)

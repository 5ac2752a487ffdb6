"""What execution writes to the journal, as a Protocol that the SQLite journal (bot/journal.py) satisfies.

The one rule that makes restarts safe: `record_order_sending` is called and returns BEFORE the order goes to the
broker. If the process dies between the two, the journal shows a send the broker may never have received; the
next run reconciles against the broker before sending anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.broker.types import OrderEvent


class OutcomeKind(StrEnum):
    FILLED = "filled"  # the whole quantity filled
    PARTIAL = "partial"  # the ladder ended with part filled; the rest was cancelled
    UNFILLED = "unfilled"  # the ladder ended with nothing filled; cancelled
    REJECTED = "rejected"  # the broker rejected an order (201); nothing more is sent
    REFUSED = "refused"  # execution refused before sending (no limit, no tick size, no quote, not connected)
    SKIPPED = "skipped"  # a roll's open, not sent because its close did not fill
    INTERRUPTED = "interrupted"  # the connection dropped and did not come back in time; retry reconciles first
    UNRESOLVED = "unresolved"  # the broker's evidence is missing or contradicts the journal: a person must look

    @property
    def final(self) -> bool:
        """A final outcome is never executed again; the others are reconciled and resumed when retried."""
        return self not in (OutcomeKind.INTERRUPTED, OutcomeKind.UNRESOLVED, OutcomeKind.REFUSED)


@dataclass(frozen=True, slots=True)
class OrderSendRecord:
    """One order about to be sent (journaled first)."""

    intent_id: str
    order_id: int
    step: int
    con_id: int
    action: str
    quantity: float
    limit_price: float
    time: dt.datetime


@dataclass(frozen=True, slots=True)
class ExecutionOutcome:
    intent_id: str
    kind: OutcomeKind
    filled: float
    quantity: float
    average_price: float | None
    orders_sent: int
    reason: str
    error_code: int | None = None
    commission: float | None = None


class ExecutionJournal(Protocol):
    def record_order_sending(self, record: OrderSendRecord) -> None:
        """Durably record an order before it is sent."""

    def record_order_event(self, event: OrderEvent) -> None:
        """Record broker evidence about an order of an intent."""

    def record_outcome(self, outcome: ExecutionOutcome) -> None:
        """Record how an intent's execution ended."""

    def sent_orders(self, intent_id: str) -> Sequence[OrderSendRecord]:
        """Every order recorded as being sent for the intent, oldest first."""

    def outcome(self, intent_id: str) -> ExecutionOutcome | None:
        """The latest recorded outcome of the intent, if any."""


class InMemoryJournal:
    """An ExecutionJournal kept in memory: for tests and dry runs (it does not survive the process)."""

    def __init__(self) -> None:
        self.sends: list[OrderSendRecord] = []
        self.events: list[OrderEvent] = []
        self.outcomes: list[ExecutionOutcome] = []

    def record_order_sending(self, record: OrderSendRecord) -> None:
        self.sends.append(record)

    def record_order_event(self, event: OrderEvent) -> None:
        self.events.append(event)

    def record_outcome(self, outcome: ExecutionOutcome) -> None:
        self.outcomes.append(outcome)

    def sent_orders(self, intent_id: str) -> Sequence[OrderSendRecord]:
        return [r for r in self.sends if r.intent_id == intent_id]

    def outcome(self, intent_id: str) -> ExecutionOutcome | None:
        return next((o for o in reversed(self.outcomes) if o.intent_id == intent_id), None)

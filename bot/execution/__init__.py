"""Execution: accepted intents -> limit-order ladders, with reconciliation by orderRef. See executor.py."""

from bot.execution.executor import Executor, OrderBroker
from bot.execution.journal import ExecutionJournal, ExecutionOutcome, InMemoryJournal, OrderSendRecord, OutcomeKind

__all__ = [
    "ExecutionJournal",
    "ExecutionOutcome",
    "Executor",
    "InMemoryJournal",
    "OrderBroker",
    "OrderSendRecord",
    "OutcomeKind",
]

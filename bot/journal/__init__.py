"""The bot's journal (SQLite, WAL): cycles, decisions, intents, approvals, orders, fills, events, trading state.

Crash protocol (the reason this package exists): an intent is committed as `submitting` before its order is sent
(`Journal.begin_submit`), and `begin_submit` refuses any intent that was ever submitted. After a restart,
`Journal.reconcile(evidence)` settles every `submitting`/`working` intent from the broker's open and completed
orders and executions (matched by orderRef = intent id, then permId) and never sends: see `recovery.py`.
"""

from bot.journal.codec import fingerprint, intent_from_dict, intent_to_dict, short
from bot.journal.db import JournalError
from bot.journal.evidence import BrokerEvidence, FillEvidence, OrderEvidence
from bot.journal.recovery import RecoveryAction, RecoveryDecision, decide_recovery
from bot.journal.states import IntentStatus
from bot.journal.store import (
    ApprovalError,
    ApprovalRefusal,
    IntentConflict,
    IntentRecord,
    Journal,
    NotSendable,
    OrderUpdate,
    TradingStateRecord,
)

__all__ = [
    "ApprovalError",
    "ApprovalRefusal",
    "BrokerEvidence",
    "FillEvidence",
    "IntentConflict",
    "IntentRecord",
    "IntentStatus",
    "Journal",
    "JournalError",
    "NotSendable",
    "OrderEvidence",
    "OrderUpdate",
    "RecoveryAction",
    "RecoveryDecision",
    "TradingStateRecord",
    "decide_recovery",
    "fingerprint",
    "intent_from_dict",
    "intent_to_dict",
    "short",
]

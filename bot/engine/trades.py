"""How the engine groups, keys and describes intents (pure helpers, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.intents import Intent
from bot.execution import ExecutionOutcome


def groups_of(intents: Iterable[Intent]) -> list[list[Intent]]:
    """Intents grouped by `group` (a roll's close and open travel together); ungrouped ones alone, order kept."""
    groups: dict[str, list[Intent]] = {}
    for intent in intents:
        groups.setdefault(intent.group or intent.id, []).append(intent)
    return list(groups.values())


def trade_key(intent: Intent) -> tuple[int, str, bool]:
    """What a person approves in substance: this layer adding (or reducing) exposure in this direction.

    Not the instrument or the quantity: the core re-sizes every cycle and may switch a layer between equivalent
    wrappers (VXM and VIXY), and a question that changed under the person's eyes could never be answered. The
    approved content is what is sent (re-checked against current prices and risk first); the next plan corrects
    any difference after the fill."""
    return int(intent.layer), intent.side.value, intent.opens_position


def describe_intent(intent: Intent) -> str:
    limit = f" lmt {intent.price.limit:.2f} (mid {intent.price.reference:.2f})" if intent.price else ""
    return f"L{int(intent.layer)} {intent.side.value} {intent.quantity} {intent.instrument.key}{limit} [{intent.id}]"


def describe_outcome(o: ExecutionOutcome) -> str:
    price = f" avg {o.average_price:.2f}" if o.average_price else ""
    filled = f"filled {o.filled:g}/{o.quantity:g}{price}"
    return f"{o.intent_id}: {o.kind.value}, {filled} in {o.orders_sent} order(s); {o.reason}"

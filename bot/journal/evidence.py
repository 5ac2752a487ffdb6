"""Broker evidence in the project's own small types: the broker facade converts IB objects into these, the journal
records them idempotently (natural keys: permId, (clientId, orderId, orderRef), execId) and recovery reads them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class OrderEvidence:
    """One openOrder / orderStatus / completed-order observation."""

    order_ref: str | None
    status: str  # IB status text: Submitted, Filled, Cancelled, Inactive, ...
    perm_id: int | None = None  # 0 from IB means unknown; pass None
    order_id: int | None = None
    client_id: int | None = None
    account: str | None = None
    contract: str | None = None  # HedgeInstrument.key when known, else local symbol
    side: str | None = None  # BUY / SELL
    quantity: float | None = None
    limit_price: float | None = None
    filled: float = 0.0
    remaining: float | None = None
    avg_fill_price: float | None = None
    is_open: bool = True  # False for orders from reqCompletedOrders or with a final status


@dataclass(frozen=True, slots=True)
class FillEvidence:
    """One execDetails observation (commission arrives separately, keyed by exec_id)."""

    exec_id: str
    contract: str
    side: str  # BUY / SELL (IB's BOT / SLD are mapped by the facade)
    quantity: float
    price: float
    time: dt.datetime
    order_ref: str | None = None
    perm_id: int | None = None
    order_id: int | None = None
    client_id: int | None = None
    account: str | None = None


@dataclass(frozen=True, slots=True)
class BrokerEvidence:
    """What the broker says after (re)connecting: open and completed orders and executions.

    `complete` is True only when every End message (openOrderEnd, completedOrdersEnd, execDetailsEnd) arrived; with
    incomplete evidence recovery decides nothing, because absence of evidence is then not evidence of absence.
    """

    orders: Sequence[OrderEvidence] = field(default_factory=tuple)
    fills: Sequence[FillEvidence] = field(default_factory=tuple)
    complete: bool = True

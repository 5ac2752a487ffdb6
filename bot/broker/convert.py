"""Library objects (ib_async / ib_insync, duck-typed) -> the project's broker types.

No import of either library here: both share attribute names, and keeping the conversion free of them lets the
unit tests feed plain stand-in objects.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from bot.broker.types import (
    ContractSpec,
    DailyBar,
    ExecutionRecord,
    OptionGreeksTick,
    OrderEvent,
    OrderEventKind,
    OrderRecord,
    PositionRow,
    QuoteTick,
    clean_price,
)

# IB's "unset" double (Double.MAX_VALUE) appears in order fields such as lmtPrice and filledQuantity.
UNSET_DOUBLE_THRESHOLD = 1e300


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number) or abs(number) >= UNSET_DOUBLE_THRESHOLD:
        return None
    return number


def _multiplier(value: Any) -> float:
    number = _number(value) if value not in ("", None) else None
    return number if number and number > 0 else 1.0


def spec_from_contract(contract: Any, details: Any | None = None) -> ContractSpec:
    """A ContractSpec from a library Contract, enriched by ContractDetails when given (min tick, hours)."""
    min_tick = _number(getattr(details, "minTick", None)) if details is not None else None
    return ContractSpec(
        con_id=int(getattr(contract, "conId", 0) or 0),
        symbol=str(getattr(contract, "symbol", "") or ""),
        sec_type=str(getattr(contract, "secType", "") or ""),
        exchange=str(getattr(contract, "exchange", "") or ""),
        currency=str(getattr(contract, "currency", "") or "USD"),
        expiry=str(getattr(contract, "lastTradeDateOrContractMonth", "") or ""),
        strike=float(_number(getattr(contract, "strike", 0.0)) or 0.0),
        right=_right(getattr(contract, "right", "")),
        multiplier=_multiplier(getattr(contract, "multiplier", "")),
        trading_class=str(getattr(contract, "tradingClass", "") or ""),
        local_symbol=str(getattr(contract, "localSymbol", "") or ""),
        min_tick=min_tick if min_tick and min_tick > 0 else None,
        trading_hours=str(getattr(details, "tradingHours", "") or "") if details is not None else "",
        liquid_hours=str(getattr(details, "liquidHours", "") or "") if details is not None else "",
        time_zone_id=str(getattr(details, "timeZoneId", "") or "") if details is not None else "",
        real_expiration=str(getattr(details, "realExpirationDate", "") or "") if details is not None else "",
        market_rule_ids=str(getattr(details, "marketRuleIds", "") or "") if details is not None else "",
        valid_exchanges=str(getattr(details, "validExchanges", "") or "") if details is not None else "",
    )


def _right(value: Any) -> str:
    text = str(value or "").upper()
    return {"CALL": "C", "PUT": "P", "?": "", "0": ""}.get(text, text)


def position_row(position: Any) -> PositionRow:
    return PositionRow(
        account=str(position.account),
        contract=spec_from_contract(position.contract),
        quantity=float(position.position),
        avg_cost=float(_number(position.avgCost) or 0.0),
    )


def quote_tick(ticker: Any, received_at: dt.datetime) -> QuoteTick:
    """Sanitise a ticker: NaN, -1 and 0 become None, and `sanitised` says that happened."""
    raw = [getattr(ticker, name, None) for name in ("bid", "ask", "last", "close")]
    cleaned = [clean_price(value) for value in raw]
    sanitised = any(value is None and original is not None for value, original in zip(cleaned, raw, strict=True))
    data_type = getattr(ticker, "marketDataType", 1)
    return QuoteTick(
        con_id=int(ticker.contract.conId),
        bid=cleaned[0],
        ask=cleaned[1],
        last=cleaned[2],
        close=cleaned[3],
        received_at=received_at,
        sanitised=sanitised,
        frozen=data_type not in (1, None),
    )


def greeks_tick(con_id: int, greeks: Any, received_at: dt.datetime) -> OptionGreeksTick:
    def value(name: str) -> float | None:
        return _number(getattr(greeks, name, None))

    implied_vol = value("impliedVol")
    return OptionGreeksTick(
        con_id=con_id,
        implied_vol=implied_vol if implied_vol is not None and implied_vol >= 0 else None,
        delta=value("delta"),
        gamma=value("gamma"),
        vega=value("vega"),
        theta=value("theta"),
        option_price=clean_price(value("optPrice")),
        underlying_price=clean_price(value("undPrice")),
        received_at=received_at,
    )


def daily_bar(bar: Any) -> DailyBar:
    date = bar.date
    if isinstance(date, dt.datetime):
        date = date.date()
    elif isinstance(date, str):
        date = dt.datetime.strptime(date[:8], "%Y%m%d").date()
    return DailyBar(
        date=date,
        open=float(bar.open),
        high=float(bar.high),
        low=float(bar.low),
        close=float(bar.close),
        volume=float(_number(bar.volume) or 0.0),
    )


_KIND_BY_STATUS = {
    "PendingSubmit": OrderEventKind.SUBMITTED,
    "ApiPending": OrderEventKind.SUBMITTED,
    "PreSubmitted": OrderEventKind.SUBMITTED,
    "PendingCancel": OrderEventKind.WORKING,
    "Submitted": OrderEventKind.WORKING,
    "Filled": OrderEventKind.FILLED,
    "Cancelled": OrderEventKind.CANCELLED,
    "ApiCancelled": OrderEventKind.CANCELLED,
    "Inactive": OrderEventKind.INACTIVE,
}


def kind_for_status(status: str, filled: float, remaining: float) -> OrderEventKind | None:
    """The event kind for an IB status; None for statuses that say nothing about the order (ValidationError...)."""
    kind = _KIND_BY_STATUS.get(status)
    if kind is OrderEventKind.WORKING and filled > 0 and remaining > 0:
        return OrderEventKind.PARTIAL
    if kind is OrderEventKind.FILLED and remaining > 0:
        return OrderEventKind.PARTIAL  # IB can report Filled for a slice; trust the remaining quantity
    return kind


def order_record(trade: Any) -> OrderRecord:
    """An open or completed order as an OrderRecord (completed orders carry filledQuantity on the order)."""
    order, status = trade.order, trade.orderStatus
    total = float(_number(order.totalQuantity) or 0.0)
    filled = _number(getattr(order, "filledQuantity", None))
    if filled is None or (filled == 0 and status.filled):
        filled = float(status.filled or 0.0)
    remaining = (
        max(total - filled, 0.0)
        if status.status in ("Filled", "Cancelled", "ApiCancelled", "Inactive")
        else (float(status.remaining) if status.remaining else max(total - filled, 0.0))
    )
    return OrderRecord(
        order_id=int(order.orderId or 0),
        perm_id=int(order.permId or status.permId or 0),
        order_ref=str(order.orderRef or ""),
        con_id=int(trade.contract.conId or 0),
        action=str(order.action),
        total_quantity=total,
        limit_price=_number(order.lmtPrice),
        status=str(status.status),
        filled=filled,
        remaining=remaining,
        avg_fill_price=clean_price(status.avgFillPrice),
    )


def execution_record(fill: Any) -> ExecutionRecord:
    execution = fill.execution
    report = getattr(fill, "commissionReport", None)
    commission = _number(getattr(report, "commission", None)) if report is not None else None
    return ExecutionRecord(
        exec_id=str(execution.execId),
        order_id=int(execution.orderId or 0),
        perm_id=int(execution.permId or 0),
        order_ref=str(execution.orderRef or ""),
        con_id=int(fill.contract.conId or 0),
        side=str(execution.side),
        shares=float(execution.shares),
        price=float(execution.price),
        time=_aware(fill.time),
        commission=commission if commission else None,
    )


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return utc_now()


def status_event(trade: Any, received_at: dt.datetime) -> OrderEvent | None:
    """An OrderEvent from a trade's current orderStatus, or None if the status carries no order evidence."""
    status = trade.orderStatus
    filled = float(status.filled or 0.0)
    remaining = float(status.remaining or 0.0)
    kind = kind_for_status(str(status.status), filled, remaining)
    if kind is None:
        return None
    return _order_event(trade, kind, received_at, filled=filled, remaining=remaining)


def fill_event(trade: Any, fill: Any, received_at: dt.datetime) -> OrderEvent:
    """Execution evidence: `exec_id`/`exec_shares` name this one execution; filled/remaining are the order's."""
    status = trade.orderStatus
    total = float(_number(trade.order.totalQuantity) or 0.0)
    execution = fill.execution
    cum = float(_number(getattr(execution, "cumQty", None)) or 0.0)
    filled = max(float(status.filled or 0.0), cum)
    remaining = max(total - filled, 0.0)
    kind = OrderEventKind.FILLED if remaining <= 0 else OrderEventKind.PARTIAL
    report = getattr(fill, "commissionReport", None)
    commission = _number(getattr(report, "commission", None)) if report is not None else None
    return _order_event(
        trade,
        kind,
        received_at,
        filled=filled,
        remaining=remaining,
        exec_id=str(execution.execId),
        exec_shares=float(execution.shares),
        last_fill_price=float(execution.price),
        commission=commission if commission else None,
        perm_id=int(execution.permId or 0),
    )


def error_event(trade: Any, kind: OrderEventKind, code: int, message: str, received_at: dt.datetime) -> OrderEvent:
    status = trade.orderStatus
    return _order_event(
        trade,
        kind,
        received_at,
        filled=float(status.filled or 0.0),
        remaining=float(status.remaining or 0.0) if kind is not OrderEventKind.REJECTED else 0.0,
        error_code=code,
        error_message=message,
    )


def _order_event(trade: Any, kind: OrderEventKind, received_at: dt.datetime, **values: Any) -> OrderEvent:
    order, status = trade.order, trade.orderStatus
    perm_id = values.pop("perm_id", 0) or int(order.permId or status.permId or 0)
    return OrderEvent(
        kind=kind,
        order_id=int(order.orderId or status.orderId or 0),
        perm_id=perm_id,
        order_ref=str(order.orderRef or ""),
        con_id=int(trade.contract.conId or 0),
        avg_fill_price=clean_price(status.avgFillPrice),
        time=received_at,
        limit_price=_number(order.lmtPrice),
        action=str(order.action),
        total_quantity=float(_number(order.totalQuantity) or 0.0),
        last_fill_price=values.pop("last_fill_price", None) or clean_price(status.lastFillPrice),
        **values,
    )

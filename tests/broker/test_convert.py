"""Library objects -> project types: sanitising quotes and reading orders, with plain stand-ins for the library."""

import datetime as dt
import math
from types import SimpleNamespace as NS

from bot.broker import convert
from bot.broker.types import OrderEventKind

NOW = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


def ticker(**values):
    base = {"bid": math.nan, "ask": math.nan, "last": math.nan, "close": math.nan, "marketDataType": 1}
    base.update(values)
    return NS(contract=NS(conId=7), **base)


def test_quote_sanitises_nan_minus_one_and_zero() -> None:
    quote = convert.quote_tick(ticker(bid=-1.0, ask=0.0, last=math.nan, close=17.5), NOW)
    assert (quote.bid, quote.ask, quote.last, quote.close) == (None, None, None, 17.5)
    assert quote.sanitised
    assert quote.mid is None


def test_clean_quote_is_not_flagged_and_has_a_mid() -> None:
    quote = convert.quote_tick(ticker(bid=17.05, ask=17.15, last=17.1, close=16.9), NOW)
    assert not quote.sanitised
    assert math.isclose(quote.mid, 17.10)
    assert quote.received_at == NOW


def test_crossed_quote_has_no_mid() -> None:
    assert convert.quote_tick(ticker(bid=17.2, ask=17.1), NOW).mid is None


def test_delayed_data_is_flagged_frozen() -> None:
    assert convert.quote_tick(ticker(bid=1.0, ask=1.1, marketDataType=3), NOW).frozen


def test_status_kinds() -> None:
    assert convert.kind_for_status("Submitted", 0, 5) is OrderEventKind.WORKING
    assert convert.kind_for_status("Submitted", 2, 3) is OrderEventKind.PARTIAL
    assert convert.kind_for_status("Filled", 5, 0) is OrderEventKind.FILLED
    assert convert.kind_for_status("Filled", 2, 3) is OrderEventKind.PARTIAL
    assert convert.kind_for_status("ApiCancelled", 0, 5) is OrderEventKind.CANCELLED
    assert convert.kind_for_status("PreSubmitted", 0, 5) is OrderEventKind.SUBMITTED
    assert convert.kind_for_status("ValidationError", 0, 5) is None


def _trade(status: str, filled: float, remaining: float, filled_quantity: float = 1.7976931348623157e308):
    order = NS(
        orderId=0,
        permId=99,
        orderRef="I-1",
        action="BUY",
        totalQuantity=5.0,
        lmtPrice=17.15,
        filledQuantity=filled_quantity,
    )
    status_obj = NS(status=status, filled=filled, remaining=remaining, avgFillPrice=0.0, permId=99)
    return NS(order=order, orderStatus=status_obj, contract=NS(conId=7))


def test_completed_order_reads_filled_quantity_from_the_order() -> None:
    record = convert.order_record(_trade("Cancelled", 0.0, 0.0, filled_quantity=2.0))
    assert (record.filled, record.remaining, record.perm_id, record.is_live) == (2.0, 3.0, 99, False)


def test_open_order_unset_filled_quantity_uses_status() -> None:
    record = convert.order_record(_trade("Submitted", 1.0, 4.0))
    assert (record.filled, record.remaining, record.is_live) == (1.0, 4.0, True)
    assert record.limit_price == 17.15


def test_unset_double_limit_is_none() -> None:
    trade = _trade("Submitted", 0, 5)
    trade.order.lmtPrice = 1.7976931348623157e308
    assert convert.order_record(trade).limit_price is None

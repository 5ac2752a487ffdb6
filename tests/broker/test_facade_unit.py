"""Facade behaviour that needs no gateway: ticker handling and error routing, fed with stand-in library objects."""

from __future__ import annotations

import asyncio
import math
from types import SimpleNamespace as NS

import pytest

from bot.broker import Broker, BrokerState, BrokerUnavailableError
from bot.broker.facade import _Subscription
from bot.broker.types import ConnectionEvent, ConnectionEventKind, ContractSpec, QuoteTick
from bot.settings.broker import BrokerSettings

SPEC = ContractSpec(501, "VIX", "FUT", "CFE", expiry="20250122", trading_class="VX", min_tick=0.05)


def ticker(bid: float, ask: float, bid_size: float) -> NS:
    return NS(contract=NS(conId=501), bid=bid, ask=ask, last=math.nan, close=14.0, bidSize=bid_size, marketDataType=1)


def drain(broker: Broker) -> list:
    events = []
    while not broker.events.empty():
        events.append(broker.events.get_nowait())
    return events


def test_unchanged_prices_refresh_the_quote_age_without_an_event() -> None:
    async def go():
        broker = Broker(BrokerSettings())
        t = ticker(14.0, 14.05, 10)
        broker._subs[501] = _Subscription(SPEC, contract=None, ticker=t)
        broker._on_pending_tickers([t])
        first = broker.latest_quote(501)
        await asyncio.sleep(0.01)
        t.bidSize = 12  # a size tick: prices unchanged
        broker._on_pending_tickers([t])
        second = broker.latest_quote(501)
        t.bid = 14.05
        broker._on_pending_tickers([t])
        return first, second, broker.latest_quote(501), drain(broker)

    first, second, third, events = asyncio.run(go())
    assert second.received_at > first.received_at and (second.bid, second.ask) == (first.bid, first.ask)
    assert [type(e) for e in events] == [QuoteTick, QuoteTick]  # one per price change, none for the size tick
    assert third.bid == 14.05


def test_competing_session_clears_on_data_but_not_while_connectivity_is_lost() -> None:
    async def go():
        broker = Broker(BrokerSettings())
        broker._set_state(BrokerState.READY)
        t = ticker(14.0, 14.05, 10)
        broker._subs[501] = _Subscription(SPEC, contract=None, ticker=t)
        broker._on_error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost.")
        broker._on_error(-1, 10197, "No market data during competing live session")
        broker._on_pending_tickers([t])
        during_1100 = broker.state
        kinds = [e.kind for e in drain(broker) if isinstance(e, ConnectionEvent)]
        return during_1100, kinds

    during_1100, kinds = asyncio.run(go())
    assert during_1100 is BrokerState.DEGRADED
    assert kinds == [ConnectionEventKind.DEGRADED, ConnectionEventKind.COMPETING_SESSION]


def test_notices_are_information_and_unknown_errors_are_reported() -> None:
    async def go():
        broker = Broker(BrokerSettings())
        broker._on_error(-1, 2104, "Market data farm connection is OK:usfarm")
        broker._on_error(7, 354, "Requested market data is not subscribed")
        return drain(broker)

    notice, error = asyncio.run(go())
    assert isinstance(notice, ConnectionEvent) and notice.kind is ConnectionEventKind.NOTICE and notice.code == 2104
    assert (error.code, error.kind, error.req_id) == (354, "market_data", 7)


def test_remote_host_is_refused_at_connect_even_if_settings_were_bypassed() -> None:
    settings = BrokerSettings.model_construct(**{**BrokerSettings().model_dump(), "host": "10.1.2.3"})

    async def go():
        await Broker(settings).connect()

    with pytest.raises(BrokerUnavailableError, match="non-loopback"):
        asyncio.run(go())


def _trade(order_id: int, status: str = "PendingSubmit") -> NS:
    order = NS(orderId=order_id, clientId=17, permId=0, orderRef="L1-x", action="BUY", totalQuantity=1.0,
               lmtPrice=3.33)  # fmt: skip
    status_obj = NS(status=status, filled=0.0, remaining=1.0, avgFillPrice=0.0, permId=0, orderId=order_id,
                    lastFillPrice=0.0)  # fmt: skip
    return NS(order=order, orderStatus=status_obj, contract=NS(conId=501), log=[])


@pytest.mark.parametrize(("acknowledged", "expected"), [(False, "rejected"), (True, None)])
def test_error_110_rejects_only_an_order_the_gateway_never_acknowledged(acknowledged: bool, expected) -> None:
    from bot.broker.types import BrokerErrorEvent, OrderEvent

    async def go():
        broker = Broker(BrokerSettings())
        trade = _trade(5, "Submitted" if acknowledged else "PendingSubmit")
        broker._ib.wrapper.trades[(17, 5)] = trade
        if acknowledged:
            broker._on_order_status(trade)
            drain(broker)
        broker._on_error(5, 110, "The price does not conform to the minimum price variation for this contract.")
        return drain(broker)

    (event,) = asyncio.run(go())
    if expected is None:
        assert isinstance(event, BrokerErrorEvent) and event.code == 110
    else:
        assert isinstance(event, OrderEvent) and event.kind == expected and event.error_code == 110

"""Both real client libraries against the simulator on explicit quotes: orders, fills, faults, reconnects."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

from bot.sim.clock import ManualClock
from bot.sim.orders_log import read_orders_log
from bot.sim.runner import Simulator
from bot.sim.wire import frame

from .sim_client_helpers import LogGuard, connect, run, until
from .sim_fake_market import PUT_LONG, PUT_SHORT, VX, FakeMarket


def make_sim(tmp_path: Path, market: FakeMarket | None = None, **kwargs) -> tuple[Simulator, FakeMarket, ManualClock]:
    market = market or FakeMarket()
    clock = ManualClock(market.info.start)
    sim = Simulator(market, clock, orders_log=tmp_path / "orders.jsonl", tick_interval=0.05, **kwargs)
    return sim, market, clock


def vx(lib: ModuleType):
    return lib.Contract(conId=VX.con_id, exchange="CFE")


def test_connect_sees_starting_book_and_account(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port, client_id=3)
            assert ib.managedAccounts() == ["DU1234567"]
            legs = {(p.contract.conId, p.position, p.avgCost) for p in ib.positions()}
            assert legs == {(PUT_SHORT.con_id, -10.0, 1020.0), (PUT_LONG.con_id, 10.0, 610.0)}
            values = {v.tag: v.value for v in ib.accountValues() if v.currency == "USD"}
            assert float(values["NetLiquidation"]) == pytest.approx(1_000_000 - 10 * 10.2 * 100 + 10 * 6.15 * 100)
            assert {p.contract.conId for p in ib.portfolio()} == {PUT_SHORT.con_id, PUT_LONG.con_id}
            ib.disconnect()

    run(body())


def test_marketable_limit_fills_at_the_quote_with_the_tws_sequence(
    lib: ModuleType, log_guard: LogGuard, tmp_path: Path
) -> None:
    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            trade = ib.placeOrder(vx(lib), lib.LimitOrder("BUY", 3, 17.10, orderRef="alvh:L1:abc"))
            await until(lambda: trade.orderStatus.status == "Filled" and trade.fills[-1].commissionReport.execId)
            fill = trade.fills[0]
            assert fill.execution.price == 17.05  # the ask, better than the 17.10 limit
            assert fill.execution.shares == 3 and fill.execution.side == "BOT"
            assert fill.execution.orderRef == "alvh:L1:abc" and trade.order.orderRef == "alvh:L1:abc"
            assert fill.commissionReport.execId == fill.execution.execId
            assert fill.commissionReport.commission == pytest.approx(6.75)
            assert fill.execution.time.tzinfo is not None
            assert trade.orderStatus.permId > 0 and trade.order.permId == trade.orderStatus.permId
            statuses = [e.status for e in trade.log]
            assert statuses[:2] == ["PendingSubmit", "Submitted"] and statuses[-1] == "Filled"
            position = {p.contract.conId: p.position for p in ib.positions()}
            assert position[VX.con_id] == 3
            ib.disconnect()
        events = read_orders_log(tmp_path / "orders.jsonl")
        kinds = [e["event"] for e in events]
        assert kinds[0] == "place" and "fill" in kinds and kinds[-1] == "status"
        fill_line = next(e for e in events if e["event"] == "fill")
        assert fill_line["orderRef"] == "alvh:L1:abc" and fill_line["execId"] == fill.execution.execId
        assert fill_line["permId"] == trade.order.permId and fill_line["localSymbol"] == "VXZ6"
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))

    run(body())


def test_big_order_fills_in_parts_as_displayed_size_replenishes(
    lib: ModuleType, log_guard: LogGuard, tmp_path: Path
) -> None:
    async def body() -> None:
        sim, _, clock = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            trade = ib.placeOrder(vx(lib), lib.LimitOrder("BUY", 30, 17.10))
            await until(lambda: trade.orderStatus.filled == 25)  # displayed ask size
            await asyncio.sleep(0.2)  # cycles run, but the displayed size is used up at this quote and instant
            assert trade.orderStatus.status == "Submitted" and trade.orderStatus.remaining == 5
            clock.advance(2)
            await until(lambda: trade.orderStatus.status == "Filled")
            assert [f.execution.shares for f in trade.fills] == [25, 5]
            assert [f.execution.cumQty for f in trade.fills] == [25, 30]
            ib.disconnect()

    run(body())


def test_resting_limit_fills_when_the_market_comes_to_it(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    async def body() -> None:
        sim, market, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            trade = ib.placeOrder(vx(lib), lib.LimitOrder("SELL", 2, 17.50))
            await until(lambda: trade.orderStatus.status == "Submitted")
            await asyncio.sleep(0.2)
            assert not trade.fills
            market.quotes[VX.con_id] = replace(market.quotes[VX.con_id], bid=17.55, ask=17.60)
            await until(lambda: trade.orderStatus.status == "Filled")
            assert trade.fills[0].execution.price == 17.55 and trade.fills[0].execution.side == "SLD"
            ib.disconnect()

    run(body())


def test_orders_rest_while_the_exchange_is_closed(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    async def body() -> None:
        sim, market, _ = make_sim(tmp_path)
        market.trading = False
        async with sim:
            ib = await connect(lib, sim.port)
            trade = ib.placeOrder(vx(lib), lib.MarketOrder("BUY", 1))
            await until(lambda: trade.orderStatus.status == "PreSubmitted")
            await asyncio.sleep(0.2)
            assert not trade.fills
            market.trading = True
            await until(lambda: trade.orderStatus.status == "Filled")
            assert trade.fills[0].execution.price == 17.05  # a market buy takes the ask
            ib.disconnect()

    run(body())


def test_cancel_then_completed_orders_after_reconnect(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    log_guard.allow(r"Error 202")  # ib_async 2.x logs "Order Canceled" as an error
    log_guard.allow(r"Canceled")

    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            trade = ib.placeOrder(vx(lib), lib.LimitOrder("BUY", 1, 16.00, orderRef="keep-me"))
            await until(lambda: trade.orderStatus.status == "Submitted")
            ib.cancelOrder(trade.order)
            await until(lambda: trade.orderStatus.status == "Cancelled")
            ib.disconnect()
            ib2 = await connect(lib, sim.port)
            completed = await ib2.reqCompletedOrdersAsync(apiOnly=True)
            assert [(t.order.orderRef, t.orderStatus.status) for t in completed] == [("keep-me", "Cancelled")]
            ib2.disconnect()
        events = [e["event"] for e in read_orders_log(tmp_path / "orders.jsonl")]
        assert "cancel_request" in events

    run(body())


def test_rejected_order_is_cancelled_client_side(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    log_guard.allow(r"Error 201")

    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            sim.faults.reject_next()
            rejected = ib.placeOrder(vx(lib), lib.LimitOrder("BUY", 1, 17.10))
            await until(lambda: rejected.orderStatus.status == "Cancelled")
            assert any(e.errorCode == 201 for e in rejected.log)
            unsupported = ib.placeOrder(vx(lib), lib.StopOrder("BUY", 1, 18.0))
            await until(lambda: unsupported.orderStatus.status == "Cancelled")
            assert any("STP" in e.message for e in unsupported.log)
            ok = ib.placeOrder(vx(lib), lib.LimitOrder("BUY", 1, 17.10))  # the fault was one-shot
            await until(lambda: ok.orderStatus.status == "Filled")
            ib.disconnect()
        rejects = [e for e in read_orders_log(tmp_path / "orders.jsonl") if e["event"] == "reject"]
        assert [e["code"] for e in rejects] == [201, 201]

    run(body())


def test_partial_fill_fault_leaves_the_rest_working(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    async def body() -> None:
        sim, _, clock = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            sim.faults.partial(2)
            trade = ib.placeOrder(vx(lib), lib.LimitOrder("BUY", 5, 17.10))
            await until(lambda: trade.orderStatus.filled == 2)
            clock.advance(5)
            await asyncio.sleep(0.2)
            assert trade.orderStatus.status == "Submitted" and trade.orderStatus.remaining == 3
            ib.disconnect()

    run(body())


def test_reconnect_after_drop_restores_positions_orders_and_fills(
    lib: ModuleType, log_guard: LogGuard, tmp_path: Path
) -> None:
    log_guard.allow(r"Peer closed connection")

    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port, client_id=5)
            filled = ib.placeOrder(vx(lib), lib.LimitOrder("BUY", 1, 17.10, orderRef="f1"))
            resting = ib.placeOrder(vx(lib), lib.LimitOrder("BUY", 1, 15.00, orderRef="r1"))
            await until(lambda: filled.orderStatus.status == "Filled" and resting.orderStatus.status == "Submitted")
            dropped = asyncio.Event()
            ib.disconnectedEvent += dropped.set
            sim.faults.drop()
            await asyncio.wait_for(dropped.wait(), 5)
            assert not ib.isConnected()
            await ib.connectAsync("127.0.0.1", sim.port, clientId=5, timeout=5)
            assert {t.order.orderRef for t in ib.openTrades()} == {"r1"}
            assert [f.execution.orderRef for f in ib.fills()] == ["f1"]
            assert {p.contract.conId: p.position for p in ib.positions()}[VX.con_id] == 1
            ib.disconnect()

    run(body())


def test_duplicate_client_id_gets_326(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    log_guard.allow(r"already in use|Peer closed|API connection failed|326")

    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port, client_id=9)
            other = lib.IB()
            with pytest.raises((TimeoutError, ConnectionError, asyncio.TimeoutError)):
                await other.connectAsync("127.0.0.1", sim.port, clientId=9, timeout=1)
            assert ib.isConnected()
            ib.disconnect()

    run(body())


def test_connectivity_broadcasts_and_bad_quotes(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    log_guard.allow(r"Error 1101")

    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            errors: list[int] = []
            ib.errorEvent += lambda req_id, code, *args: errors.append(code)
            sim.faults.broadcast(1101)
            await until(lambda: 1101 in errors)
            ticker = ib.reqMktData(vx(lib))
            await until(lambda: ticker.bid == 17.0)
            sim.faults.quotes("crossed", 0.5)
            await until(lambda: ticker.bid > ticker.ask)
            await until(lambda: ticker.bid == 17.0 and ticker.ask == 17.05, timeout=3)
            ib.disconnect()

    run(body())


def test_option_snapshot_carries_model_greeks(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            [ticker] = await ib.reqTickersAsync(lib.Contract(conId=PUT_SHORT.con_id, exchange="SMART"))
            assert ticker.bid == 10.0 and ticker.ask == 10.4 and ticker.bidSize == 50
            assert ticker.modelGreeks is not None and ticker.modelGreeks.delta == pytest.approx(-0.2)
            ib.disconnect()

    run(body())


def test_pacing_fault_and_unknown_contract_errors(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    log_guard.allow(r"Error 162|Error 200")

    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            sim.faults.pacing()
            paced = await ib.reqHistoricalDataAsync(vx(lib), "", "10 D", "1 day", "TRADES", True)
            assert list(paced) == []
            bars = await ib.reqHistoricalDataAsync(vx(lib), "", "10 D", "1 day", "TRADES", True)
            assert len(bars) >= 6
            assert await ib.qualifyContractsAsync(lib.Stock("NOPE", "SMART", "USD")) in ([], [None])
            ib.disconnect()

    run(body())


def test_log_guard_sees_a_decoder_error(lib: ModuleType, tmp_path: Path) -> None:
    """The guard every client test relies on: a frame with a wrong field count must surface as a Decoder error."""
    guard = LogGuard()
    logger = logging.getLogger(lib.__name__)
    logger.addHandler(guard)

    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            session = next(iter(sim.server.sessions))
            session.send(frame([1, 6, 99, 1, "17.0"]))  # tickPrice missing size and attrMask
            await until(lambda: any(r.name.endswith("Decoder") for r in guard.records))
            ib.disconnect()

    try:
        run(body())
    finally:
        logger.removeHandler(guard)
    assert guard.unexpected()


def test_modify_by_replacing_and_account_summary_after_1102(
    lib: ModuleType, log_guard: LogGuard, tmp_path: Path
) -> None:
    log_guard.allow(r"Error 1102")

    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            order = lib.LimitOrder("BUY", 2, 16.00, orderRef="mod")
            trade = ib.placeOrder(vx(lib), order)
            await until(lambda: trade.orderStatus.status == "Submitted")
            order.lmtPrice = 17.10  # re-place the same orderId: now marketable
            ib.placeOrder(vx(lib), order)
            await until(lambda: trade.orderStatus.status == "Filled")
            assert trade.fills[0].execution.price == 17.05 and trade.order.permId == trade.orderStatus.permId
            sim.faults.broadcast(1102)  # both libraries then request the account summary themselves
            await until(lambda: any(v.tag == "NetLiquidation" for v in ib.wrapper.acctSummary.values()))
            ib.disconnect()
        events = [e["event"] for e in read_orders_log(tmp_path / "orders.jsonl")]
        assert events.count("place") == 2 and "modify" in events

    run(body())


def test_refused_connections_come_back(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    log_guard.allow(r"API connection failed|Make sure API port")

    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            port = sim.port
            sim.faults.refuse(0.6)
            ib = lib.IB()
            with pytest.raises(ConnectionRefusedError):
                await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=2)
            await asyncio.sleep(0.8)
            ib = await connect(lib, port)
            assert ib.isConnected()
            ib.disconnect()

    run(body())


def test_live_looking_account_and_delayed_data(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    async def body() -> None:
        sim, _, _ = make_sim(tmp_path, account_id="U7654321")
        async with sim:
            ib = await connect(lib, sim.port)
            assert ib.managedAccounts() == ["U7654321"]
            ib.reqMarketDataType(3)
            ticker = ib.reqMktData(vx(lib))
            await until(lambda: ticker.bid == 17.0 and ticker.ask == 17.05 and ticker.marketDataType == 3)
            ib.disconnect()

    run(body())


def test_expired_positions_are_cash_settled_the_day_after(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    async def body() -> None:
        sim, market, clock = make_sim(tmp_path)
        market.settlements[PUT_SHORT.con_id] = 0.0  # expired out of the money
        market.settlements[PUT_LONG.con_id] = 0.0
        async with sim:
            ib = await connect(lib, sim.port)
            cash_before = sim.account_state().cash
            clock.set(dt.datetime(2026, 12, 18, 20, 0, tzinfo=dt.UTC))  # expiry day: not yet
            sim.step()
            assert sim.account_state().positions[PUT_SHORT.con_id].quantity == -10
            clock.set(dt.datetime(2026, 12, 19, 14, 0, tzinfo=dt.UTC))
            sim.step()
            await until(lambda: all(p.position == 0 for p in ib.positions()))
            state = sim.account_state()
            assert state.cash == pytest.approx(cash_before)  # worthless: no cash moves
            assert state.realized_pnl == pytest.approx(10 * 1020 - 10 * 610)  # the credit is kept, the wing lost
            ib.disconnect()

    run(body())


def test_a_refused_modification_cancels_the_order_on_both_sides(
    lib: ModuleType, log_guard: LogGuard, tmp_path: Path
) -> None:
    log_guard.allow(r"Error 201")

    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            order = lib.LimitOrder("BUY", 1, 16.00)
            trade = ib.placeOrder(vx(lib), order)
            await until(lambda: trade.orderStatus.status == "Submitted")
            order.lmtPrice = 16.01  # off the 0.05 tick: refused
            ib.placeOrder(vx(lib), order)
            await until(lambda: trade.orderStatus.status == "Cancelled")
            await until(lambda: sim.account_state().open_orders == 0)
            ib.disconnect()

    run(body())


def test_historical_end_date_and_unsupported_bar_size(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    log_guard.allow(r"Error 162")

    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            end = dt.datetime(2026, 10, 15, 21, 0, tzinfo=dt.UTC)
            bars = await ib.reqHistoricalDataAsync(vx(lib), end, "2 W", "1 day", "TRADES", True)
            assert bars and bars[-1].date == dt.date(2026, 10, 15) and bars[0].date > dt.date(2026, 10, 1)
            errors: list[tuple[int, str]] = []
            ib.errorEvent += lambda req_id, code, text, *args: errors.append((code, text))
            minutes = await ib.reqHistoricalDataAsync(vx(lib), "", "1 D", "1 min", "TRADES", True)
            assert list(minutes) == [] and errors and errors[0][0] == 162 and "only '1 day' bars" in errors[0][1]
            ib.disconnect()

    run(body())


def test_global_cancel_cancels_every_working_order(lib: ModuleType, log_guard: LogGuard, tmp_path: Path) -> None:
    log_guard.allow(r"Error 202|Canceled")

    async def body() -> None:
        sim, _, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            trades = [ib.placeOrder(vx(lib), lib.LimitOrder("BUY", 1, 16.0 - 0.05 * i)) for i in range(3)]
            await until(lambda: all(t.orderStatus.status == "Submitted" for t in trades))
            ib.reqGlobalCancel()
            await until(lambda: all(t.orderStatus.status == "Cancelled" for t in trades))
            assert sim.account_state().open_orders == 0
            ib.disconnect()
        assert any(e["event"] == "global_cancel" for e in read_orders_log(tmp_path / "orders.jsonl"))

    run(body())


def test_scheduled_faults_fire_by_simulated_time_and_message_count(
    lib: ModuleType, log_guard: LogGuard, tmp_path: Path
) -> None:
    log_guard.allow(r"Error 1100|Peer closed connection")

    async def body() -> None:
        sim, _, clock = make_sim(tmp_path, faults=["error=1100@t=10m", "drop@msg=40"])
        async with sim:
            ib = await connect(lib, sim.port)
            errors: list[int] = []
            ib.errorEvent += lambda req_id, code, *args: errors.append(code)
            await asyncio.sleep(0.2)
            assert 1100 not in errors
            clock.advance(600)
            await until(lambda: 1100 in errors)
            assert ib.isConnected()
            for _ in range(40):  # enough requests to pass the 40-message trigger
                ib.client.reqCurrentTime()
            await until(lambda: not ib.isConnected())
            assert sim.faults.fired == ["error", "drop"]

    run(body())


def test_day_orders_expire_at_the_close_and_gtc_orders_stay(
    lib: ModuleType, log_guard: LogGuard, tmp_path: Path
) -> None:
    log_guard.allow(r"Error 202|Canceled")

    async def body() -> None:
        sim, market, _ = make_sim(tmp_path)
        async with sim:
            ib = await connect(lib, sim.port)
            day = ib.placeOrder(vx(lib), lib.LimitOrder("BUY", 1, 16.0, tif="DAY"))
            default = ib.placeOrder(vx(lib), lib.LimitOrder("BUY", 1, 16.0))
            gtc = ib.placeOrder(vx(lib), lib.LimitOrder("BUY", 1, 16.0, tif="GTC"))
            await until(lambda: all(t.orderStatus.status == "Submitted" for t in (day, default, gtc)))
            market.trading = False  # the session closes
            await until(lambda: day.orderStatus.status == default.orderStatus.status == "Cancelled")
            await asyncio.sleep(0.2)
            assert gtc.orderStatus.status == "Submitted"
            closed_early = ib.placeOrder(vx(lib), lib.LimitOrder("BUY", 1, 16.0, tif="DAY"))
            await until(lambda: closed_early.orderStatus.status == "PreSubmitted")
            await asyncio.sleep(0.2)
            assert closed_early.orderStatus.status == "PreSubmitted"  # placed while closed: waits for the open
            ib.disconnect()

    run(body())

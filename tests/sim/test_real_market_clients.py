"""Both real client libraries against the simulator running the real market model (scenario `spike`)."""

from __future__ import annotations

import asyncio
import math
from types import ModuleType

import pytest

from bot.sim.market.api import MarketModel
from bot.sim.market.factory import build_market
from bot.sim.runner import Simulator

from .sim_client_helpers import LogGuard, connect, run, until


@pytest.fixture(scope="module")
def market() -> MarketModel:
    return build_market("spike", seed=0)


def test_positions_are_the_starting_condor_legs(lib: ModuleType, log_guard: LogGuard, market: MarketModel) -> None:
    async def body() -> None:
        async with Simulator(market) as sim:
            ib = await connect(lib, sim.port)
            got = sorted((p.contract.conId, p.position, p.contract.tradingClass) for p in ib.positions())
            want = sorted((e.instrument.con_id, e.quantity, e.instrument.trading_class) for e in market.starting_book())
            assert got == want and len(got) == 4
            assert sorted(p.position for p in ib.positions()) == [-10, -10, 10, 10]
            assert all(p.contract.secType == "OPT" and p.contract.symbol == "SPX" for p in ib.positions())
            ib.disconnect()

    run(body())


def test_qualify_every_product(lib: ModuleType, log_guard: LogGuard, market: MarketModel) -> None:
    async def body() -> None:
        async with Simulator(market) as sim:
            ib = await connect(lib, sim.port)
            leg = market.starting_book()[0].instrument
            contracts = [
                lib.Option("SPX", leg.last_trade_date, leg.strike, leg.right, "SMART", tradingClass="SPX"),
                lib.Option("SPX", "20250131", 5500, "P", "SMART", tradingClass="SPXW"),
                lib.Future("VIX", "202502", "CFE"),
                lib.Future(localSymbol="VXMG5", exchange="CFE"),
                lib.Option("VIX", "20250219", 20, "C", "SMART", tradingClass="VIX"),
                lib.Stock("VIXY", "SMART", "USD"),
                *[lib.Index(s, "CBOE") for s in ("VIX", "VIX3M", "VIX9D", "SPX")],
            ]
            qualified = await ib.qualifyContractsAsync(*contracts)
            assert len(qualified) == len(contracts) and all(c.conId for c in qualified)
            assert len({c.conId for c in qualified}) == len(contracts)
            by_kind = {(c.symbol, c.secType, c.tradingClass): c for c in qualified}
            vx = by_kind[("VIX", "FUT", "VX")]
            assert vx.localSymbol == "VXG5" and vx.multiplier == "1000" and vx.exchange == "CFE"
            assert by_kind[("VXM", "FUT", "VXM")].multiplier == "100"
            details = await ib.reqContractDetailsAsync(vx)
            assert details[0].minTick == 0.05 and details[0].tradingHours
            spxw = await ib.reqContractDetailsAsync(contracts[1])
            assert spxw[0].contract.tradingClass == "SPXW" and spxw[0].minTick > 0
            ib.disconnect()

    run(body())


def test_streaming_ticks_and_model_greeks(lib: ModuleType, log_guard: LogGuard, market: MarketModel) -> None:
    # ticks already on the wire when cancelMktData leaves the client hit a reqId it just forgot (TWS races the same)
    log_guard.allow(r"Unknown reqId")

    async def body() -> None:
        async with Simulator(market, speed=600, tick_interval=0.05) as sim:  # 10 simulated minutes per second
            ib = await connect(lib, sim.port)
            leg = market.starting_book()[0].instrument
            vx, vix, option = await ib.qualifyContractsAsync(
                lib.Future("VIX", "202502", "CFE"), lib.Index("VIX", "CBOE"), lib.Contract(conId=leg.con_id)
            )
            tickers = [ib.reqMktData(c) for c in (vx, vix, option)]
            t_vx, t_vix, t_opt = tickers
            await until(lambda: t_vx.bid > 0 and t_vx.ask > t_vx.bid and t_vx.bidSize > 0 and t_vx.close > 0)
            await until(lambda: t_vix.last > 0 and t_opt.modelGreeks is not None)
            greeks = t_opt.modelGreeks
            assert -1 < greeks.delta < 0 and greeks.gamma > 0 and greeks.vega > 0 and greeks.theta < 0
            assert greeks.undPrice > 1000 and 0.05 < greeks.impliedVol < 1.5
            first = (t_vx.bid, t_vx.ask, t_vix.last)
            updates = {"n": 0}
            ib.pendingTickersEvent += lambda ts: updates.__setitem__("n", updates["n"] + len(ts))
            await until(lambda: (t_vx.bid, t_vx.ask, t_vix.last) != first, timeout=10)
            assert updates["n"] > 0
            for c in (vx, vix, option):
                ib.cancelMktData(c)
            await asyncio.sleep(0.1)
            ib.disconnect()

    run(body())


def test_historical_daily_bars_for_warm_up(lib: ModuleType, log_guard: LogGuard, market: MarketModel) -> None:
    async def body() -> None:
        async with Simulator(market) as sim:
            ib = await connect(lib, sim.port)
            vix, vx = await ib.qualifyContractsAsync(lib.Index("VIX", "CBOE"), lib.Future("VIX", "202502", "CFE"))
            year = await ib.reqHistoricalDataAsync(vix, "", "1 Y", "1 day", "TRADES", True)
            assert 240 <= len(year) <= 260
            dates = [b.date for b in year]
            assert dates == sorted(dates) and dates[-1] <= market.info.start.date()
            assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in year)
            month = await ib.reqHistoricalDataAsync(vx, "", "30 D", "1 day", "TRADES", True)
            assert 15 <= len(month) <= 23 and all(math.isfinite(b.close) and b.close > 0 for b in month)
            ib.disconnect()

    run(body())


def test_option_chains_and_snapshot(lib: ModuleType, log_guard: LogGuard, market: MarketModel) -> None:
    async def body() -> None:
        async with Simulator(market) as sim:
            ib = await connect(lib, sim.port)
            [spx] = await ib.qualifyContractsAsync(lib.Index("SPX", "CBOE"))
            chains = await ib.reqSecDefOptParamsAsync("SPX", "", "IND", spx.conId)
            classes = {c.tradingClass for c in chains}
            assert {"SPX", "SPXW"} <= classes
            spxw = next(c for c in chains if c.tradingClass == "SPXW")
            assert len(spxw.expirations) > 10 and 5000.0 in spxw.strikes
            [ticker] = await ib.reqTickersAsync(spx)
            assert ticker.last > 0 or ticker.close > 0
            ib.disconnect()

    run(body())


def test_vx_limit_order_fills_and_moves_the_account(lib: ModuleType, log_guard: LogGuard, market: MarketModel) -> None:
    async def body() -> None:
        async with Simulator(market) as sim:
            ib = await connect(lib, sim.port)
            [vx] = await ib.qualifyContractsAsync(lib.Future("VIX", "202502", "CFE"))
            [ticker] = await ib.reqTickersAsync(vx)
            trade = ib.placeOrder(vx, lib.LimitOrder("BUY", 2, ticker.ask, orderRef="alvh:test"))
            await until(lambda: trade.orderStatus.status == "Filled")
            await until(lambda: all(f.commissionReport.execId for f in trade.fills))
            assert sum(f.execution.shares for f in trade.fills) == 2
            assert all(f.execution.price <= ticker.ask for f in trade.fills)
            await until(lambda: any(p.contract.conId == vx.conId and p.position == 2 for p in ib.positions()))
            state = sim.account_state()
            assert state.positions[vx.conId].quantity == 2 and state.executions == len(trade.fills)
            ib.disconnect()

    run(body())


def test_order_lifecycle_on_the_real_model(lib: ModuleType, log_guard: LogGuard, market: MarketModel) -> None:
    """Partial fills against the model's displayed size, a resting order cancelled, a rejection, a drop."""
    log_guard.allow(r"Error 20[12]|Canceled|Peer closed connection")

    async def body() -> None:
        async with Simulator(market, speed=10, tick_interval=0.05) as sim:
            ib = await connect(lib, sim.port, client_id=4)
            [vx] = await ib.qualifyContractsAsync(lib.Future("VIX", "202502", "CFE"))
            [ticker] = await ib.reqTickersAsync(vx)
            big = ib.placeOrder(vx, lib.LimitOrder("BUY", 1000, ticker.ask + 1.0, orderRef="big"))
            await until(lambda: big.orderStatus.status == "Filled", timeout=10)
            assert len(big.fills) > 1 and big.fills[0].execution.shares < 1000  # capped by the displayed size
            resting = ib.placeOrder(vx, lib.LimitOrder("BUY", 1, round(ticker.bid - 2.0, 2), orderRef="rest"))
            await until(lambda: resting.orderStatus.status == "Submitted")
            sim.faults.reject_next()
            rejected = ib.placeOrder(vx, lib.LimitOrder("BUY", 1, ticker.ask, orderRef="rej"))
            await until(lambda: rejected.orderStatus.status == "Cancelled")
            sim.faults.drop()
            await until(lambda: not ib.isConnected())
            await ib.connectAsync("127.0.0.1", sim.port, clientId=4, timeout=5)
            [again] = [t for t in ib.openTrades() if t.order.orderRef == "rest"]
            ib.cancelOrder(again.order)
            await until(lambda: again.orderStatus.status == "Cancelled")
            assert {p.contract.conId: p.position for p in ib.positions()}[vx.conId] == 1000
            ib.disconnect()

    run(body())


def test_market_rules_match_what_the_exchange_enforces(
    lib: ModuleType, log_guard: LogGuard, market: MarketModel
) -> None:
    log_guard.allow(r"Error 201")

    async def body() -> None:
        async with Simulator(market) as sim:
            ib = await connect(lib, sim.port)
            spx = lib.Option("SPX", "20250131", 5500, "P", "SMART", tradingClass="SPXW")
            vix = lib.Option("VIX", "20250219", 20, "C", "SMART", tradingClass="VIX")
            tiers = {}
            for contract in (spx, vix):
                [details] = await ib.reqContractDetailsAsync(contract)
                rule = int(details.marketRuleIds.split(",")[0])
                increments = await ib.reqMarketRuleAsync(rule)
                tiers[contract.symbol] = [(i.lowEdge, i.increment) for i in increments]
            assert tiers == {"SPX": [(0.0, 0.05), (3.0, 0.1)], "VIX": [(0.0, 0.01), (3.0, 0.05)]}
            [spx] = await ib.qualifyContractsAsync(spx)
            off_tier = ib.placeOrder(spx, lib.LimitOrder("BUY", 1, 3.05))  # 0.05 steps stop at 3.00
            await until(lambda: off_tier.orderStatus.status == "Cancelled")
            assert any("price increment 0.1" in e.message for e in off_tier.log)
            ib.disconnect()

    run(body())

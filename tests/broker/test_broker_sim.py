"""The broker facade against the real gateway simulator, with both client libraries."""

from __future__ import annotations

import asyncio

import pytest

from bot.broker import BrokerState, NotConnectedError
from bot.broker.discovery import condor_leg_positions, is_monthly_vx
from bot.broker.types import ConnectionEvent, ConnectionEventKind, OptionGreeksTick, QuoteTick
from bot.domain.intents import HedgeKind, Side
from bot.vx_calendar import listed_contract_months, vx_expiry

from .refusals import refused_at_start
from .simkit import connected, next_event, simulator, until

pytestmark = pytest.mark.timeout(30)


def run(coro, timeout: float = 20.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_connect_reads_the_account_positions_and_condor_legs(library, calm_market, tmp_path) -> None:
    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            state = sim.account_state()
            snapshot = broker.snapshot
            legs = await broker.condor_legs()
            return state, snapshot, legs, broker.account, broker.state

    state, snapshot, legs, account, broker_state = run(go())
    assert account == state.account_id and snapshot.accounts == (state.account_id,)
    assert broker_state is BrokerState.READY
    assert {p.contract.con_id: p.quantity for p in snapshot.positions} == {
        cid: p.quantity for cid, p in state.positions.items()
    }
    expected_legs = {r.contract.con_id for r in condor_leg_positions(snapshot.positions)}
    assert expected_legs and {leg.con_id for leg in legs} == expected_legs
    for leg in legs:  # details, not the bare position contract: the tick size and hours are known
        assert leg.sec_type == "OPT" and leg.symbol == "SPX" and leg.min_tick and leg.trading_hours


def test_vx_curve_is_found_through_contract_details(library, calm_market, tmp_path) -> None:
    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            today = calm_market.info.start.date()
            return await broker.vx_curve(today=today), await broker.vx_curve(HedgeKind.VXM, today=today)

    full, mini = run(go())
    curve = full.contracts
    today = calm_market.info.start.date()
    expected = [vx_expiry(y, m) for y, m in listed_contract_months(today, len(curve))]
    assert len(curve) >= 6
    assert [c.expiry_date for c in curve] == expected  # front first, monthly, none expired, none missing
    assert all(c.trading_class == "VX" and c.multiplier == 1000 and c.min_tick == 0.05 for c in curve)
    assert all(is_monthly_vx(c) for c in curve)
    assert mini.contracts and all(c.trading_class == "VXM" and c.multiplier == 100 for c in mini.contracts)
    assert [c.expiry for c in mini.contracts] == [c.expiry for c in curve[: len(mini.contracts)]]


def test_indices_vixy_and_vix_options_are_discovered(library, calm_market, tmp_path) -> None:
    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            indices = [await broker.index(s) for s in ("VIX", "VIX3M", "VIX9D", "SPX")]
            return indices, await broker.vixy(), await broker.vix_option_chain()

    indices, vixy, chain = run(go())
    assert [i.symbol for i in indices] == ["VIX", "VIX3M", "VIX9D", "SPX"]
    assert all(i.sec_type == "IND" and i.con_id for i in indices)
    assert len({i.con_id for i in indices}) == 4
    assert vixy.sec_type == "STK" and vixy.symbol == "VIXY"
    assert chain.trading_class == "VIX" and chain.expirations == tuple(sorted(chain.expirations))
    assert len(chain.strikes) > 10


def test_streams_quotes_and_model_greeks(library, calm_market, tmp_path) -> None:
    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            front = (await broker.vx_curve(today=calm_market.info.start.date())).contracts[0]
            leg = (await broker.condor_legs())[0]
            await broker.subscribe(front)
            await broker.subscribe(leg)
            quote = await next_event(broker, lambda e: isinstance(e, QuoteTick) and e.con_id == front.con_id)
            greeks = await next_event(broker, lambda e: isinstance(e, OptionGreeksTick) and e.con_id == leg.con_id)
            expected = calm_market.quote(front.con_id, sim.clock.now())
            return quote, greeks, expected, broker.latest_quote(front.con_id)

    quote, greeks, expected, latest = run(go())
    assert (quote.bid, quote.ask) == (expected.bid, expected.ask)
    assert latest is not None and latest.mid == pytest.approx((expected.bid + expected.ask) / 2)
    assert greeks.delta is not None and greeks.vega is not None and greeks.vega > 0 and greeks.implied_vol


def test_daily_bars_for_warm_up(library, calm_market, tmp_path) -> None:
    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            vix = await broker.index("VIX")
            return await asyncio.gather(*(broker.daily_bars(vix, "1 M") for _ in range(3)))

    results = run(go())
    assert all(bars == results[0] for bars in results) and len(results[0]) >= 15
    dates = [b.date for b in results[0]]
    assert dates == sorted(dates) and all(b.low <= b.close <= b.high for b in results[0])


def test_reconnects_after_the_gateway_refuses_connections_for_a_while(library, calm_market, tmp_path) -> None:
    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            front = (await broker.vx_curve(today=calm_market.info.start.date())).contracts[0]
            await broker.subscribe(front)
            await next_event(broker, lambda e: isinstance(e, QuoteTick) and e.con_id == front.con_id)
            sim.faults.refuse(1.0)
            sim.faults.drop()
            await next_event(broker, lambda e: isinstance(e, ConnectionEvent) and e.kind == "disconnected")
            assert not broker.is_ready
            with pytest.raises(NotConnectedError):
                broker.place_limit(front, Side.BUY, 1, 10.0, "never", 1)
            retry = await next_event(broker, lambda e: isinstance(e, ConnectionEvent) and e.kind == "reconnecting")
            back = await next_event(broker, lambda e: isinstance(e, ConnectionEvent) and e.kind == "connected", 8)
            # the market-data line was re-issued on the new connection
            quote = await next_event(broker, lambda e: isinstance(e, QuoteTick) and e.con_id == front.con_id)
            return retry, back, quote, broker.generation, broker.snapshot

    retry, back, quote, generation, snapshot = run(go())
    assert retry.kind is ConnectionEventKind.RECONNECTING
    assert back.generation == generation == 2 and snapshot.generation == 2
    assert quote.bid is not None


def test_1100_stops_trading_and_1102_resumes(library, calm_market, tmp_path) -> None:
    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            front = (await broker.vx_curve(today=calm_market.info.start.date())).contracts[0]
            sim.faults.broadcast(1100)
            await next_event(broker, lambda e: isinstance(e, ConnectionEvent) and e.kind == "degraded")
            degraded = broker.state
            with pytest.raises(NotConnectedError, match="degraded"):
                broker.place_limit(front, Side.BUY, 1, 10.0, "never", 1)
            sim.faults.broadcast(1101)
            await next_event(broker, lambda e: isinstance(e, ConnectionEvent) and e.kind == "restored_data_lost")
            return degraded, broker.state

    degraded, after = run(go())
    assert degraded is BrokerState.DEGRADED and after is BrokerState.READY


def test_silent_gateway_is_treated_as_disconnected(library, calm_market, tmp_path) -> None:
    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            loop = asyncio.get_running_loop()
            hung = list(sim.server.sessions)
            for session in hung:  # the gateway hangs: socket open, requests never read
                session.transport.pause_reading()
            started = loop.time()
            await next_event(broker, lambda e: isinstance(e, ConnectionEvent) and e.kind == "disconnected", 5)
            noticed_after = loop.time() - started
            for session in hung:  # the gateway recovers and notices the bot hung up
                session.transport.resume_reading()
            await next_event(broker, lambda e: isinstance(e, ConnectionEvent) and e.kind == "connected", 8)
            return broker.generation, noticed_after

    generation, noticed_after = run(go())
    # FAST_TIMINGS probe every 0.5 s and gives up after 0.5 s without an answer
    assert generation == 2 and noticed_after < 1.5


def test_connect_gives_up_with_a_clear_error_when_nothing_listens(library) -> None:
    from bot.broker import Broker, BrokerUnavailableError

    from .simkit import broker_settings

    async def go():
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # a port nobody listens on once the socket closes
        broker = Broker(broker_settings(port, library))
        with pytest.raises(BrokerUnavailableError, match="Fix: start IB Gateway"):
            await broker.connect()

    run(go())


def test_account_snapshot_and_position_updates(library, calm_market, tmp_path) -> None:
    from bot.broker.types import PositionRow

    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            await until(lambda: broker.account_snapshot().net_liquidation is not None, what="account values")
            account = broker.account_snapshot()
            state = sim.account_state()
            front = (await broker.vx_curve(today=calm_market.info.start.date())).contracts[0]
            await broker.subscribe(front)
            await until(lambda: broker.latest_quote(front.con_id) is not None)
            ask = broker.latest_quote(front.con_id).ask
            broker.place_limit(front, Side.BUY, 1, ask, "pos-test", broker.next_order_id())
            row = await next_event(broker, lambda e: isinstance(e, PositionRow) and e.contract.con_id == front.con_id)
            return account, state, row

    account, state, row = run(go())
    assert account.account == state.account_id
    assert account.cash == pytest.approx(state.cash)
    assert account.net_liquidation == pytest.approx(state.net_liquidation, rel=1e-3)
    assert row.quantity == 1


def test_pacing_violation_is_retried(library, calm_market, tmp_path) -> None:
    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            vix = await broker.index("VIX")
            sim.faults.pacing(1)
            bars = await broker.daily_bars(vix, "1 M")
            pacing = await next_event(broker, lambda e: isinstance(e, ConnectionEvent) and e.kind == "pacing")
            return bars, pacing

    bars, pacing = run(go())
    assert len(bars) >= 15 and pacing.code == 162


def test_competing_session_stops_trading_until_data_flows(library, calm_market, tmp_path) -> None:
    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            front = (await broker.vx_curve(today=calm_market.info.start.date())).contracts[0]
            await broker.subscribe(front)
            await next_event(broker, lambda e: isinstance(e, QuoteTick) and e.con_id == front.con_id)
            # 10197 is not a simulator broadcast: deliver it the way the library would, through its errorEvent
            broker._ib.errorEvent.emit(-1, 10197, "No market data during competing live session", None)
            competing = broker.state
            sim.clock.advance(600)  # the market moves: a fresh quote proves data flows again
            await next_event(broker, lambda e: isinstance(e, ConnectionEvent) and e.kind == "restored", 5)
            return competing, broker.state

    competing, after = run(go())
    assert competing is BrokerState.DEGRADED and after is BrokerState.READY


def test_client_id_in_use_is_reported_and_backed_off(library, calm_market, tmp_path) -> None:
    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, refused_at_start(sim, library) as broker:
            await broker.connect()
            in_use = await next_event(broker, lambda e: isinstance(e, ConnectionEvent) and e.kind == "client_id_in_use")
            return in_use, broker.is_ready

    in_use, ready = run(go())
    assert in_use.code == 326 and ready


def test_delayed_market_data_is_requested_and_flagged(library, calm_market, tmp_path) -> None:
    from bot.broker import Broker

    from .simkit import broker_settings

    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim:
            broker = Broker(broker_settings(sim.port, library, market_data_type=3))
            await broker.connect()
            try:
                front = (await broker.vx_curve(today=calm_market.info.start.date())).contracts[0]
                await broker.subscribe(front)
                return await next_event(broker, lambda e: isinstance(e, QuoteTick) and e.bid is not None)
            finally:
                await broker.close()

    quote = run(go())
    assert quote.frozen and quote.ask is not None  # delayed ticks (66/67) land in bid/ask, marked not live


def test_subscribe_universe_streams_everything_the_strategy_reads(library, calm_market, tmp_path) -> None:
    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            universe = await broker.subscribe_universe(curve_months=3, today=calm_market.info.start.date())
            again = await broker.subscribe_universe(curve_months=3, today=calm_market.info.start.date())
            await until(lambda: all(broker.latest_quote(c.con_id) for c in universe.all), what="every quote")
            await until(lambda: all(broker.latest_greeks(c.con_id) for c in universe.condor_legs), what="greeks")
            return universe, again, sum(len(s.subs) for s in sim.server.sessions)  # the gateway's own count

    universe, again, lines = run(go())
    assert set(universe.indices) == {"VIX", "VIX3M", "VIX9D", "SPX"}
    assert len(universe.vx_curve.contracts) == 3 and universe.vixy.symbol == "VIXY"
    assert len(universe.condor_legs) == 4
    assert again == universe and lines == len(universe.all)  # calling twice did not double the market-data lines


def test_no_order_state_survives_a_client_side_reconnect(library, calm_market, tmp_path) -> None:
    from types import SimpleNamespace as NS

    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            # a trade the library remembers from an earlier session, which the gateway no longer lists
            stale = NS(order=NS(orderId=99, clientId=17, permId=4242, orderRef="ghost", action="BUY",
                                totalQuantity=1.0, lmtPrice=1.0, filledQuantity=0.0),
                       orderStatus=NS(status="Submitted", filled=0.0, remaining=1.0, avgFillPrice=0.0, permId=4242),
                       contract=NS(conId=1))  # fmt: skip
            broker._ib.wrapper.trades[(17, 99)] = stale
            before = broker.order_evidence("ghost")
            broker._ib.disconnect()  # what the watchdog does to a silent gateway
            broker._on_disconnected()  # the reconnect starts while the old socket is still closing
            await next_event(broker, lambda e: isinstance(e, ConnectionEvent) and e.kind == "disconnected")
            between = []
            await next_event(
                broker, lambda e: between.append(e) or (isinstance(e, ConnectionEvent) and e.kind == "connected"), 8
            )
            return before, broker.order_evidence("ghost"), between

    before, after, between = run(go())
    assert len(before.open_orders) == 1  # the library did remember it
    assert after.open_orders == () and after.completed_orders == ()
    # the old socket's close did not count as this attempt being turned away: the first attempt succeeded
    assert not [e for e in between if isinstance(e, ConnectionEvent) and e.kind == "reconnecting"]


def test_pacing_retries_are_bounded(library, calm_market, tmp_path) -> None:
    from bot.broker import RequestFailedError

    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, connected(sim, library) as broker:
            vix = await broker.index("VIX")
            with pytest.raises(ValueError, match="whatToShow"):
                await broker.daily_bars(vix, "1 M", what="PRICES")
            sim.faults.pacing(broker.settings.pacing_retries + 1)  # refused every time
            with pytest.raises(RequestFailedError, match="pacing"):
                await broker.daily_bars(vix, "1 M")

    run(go())

"""Helpers for running the broker facade and the executor against the real gateway simulator (bot/sim)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from bot.broker import Broker
from bot.broker.types import BrokerEvent
from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, PriceGuidance, Side
from bot.domain.layers import LayerId
from bot.settings.broker import BrokerSettings
from bot.settings.execution import ExecutionSettings
from bot.sim.clock import ManualClock
from bot.sim.market.api import MarketModel
from bot.sim.orders_log import read_orders_log
from bot.sim.runner import Simulator

# Execution timings short enough for tests; the ladder logic is the same as with the defaults.
SETTINGS = ExecutionSettings(
    ladder_steps=3,
    step_interval_s=0.3,
    cancel_timeout_s=2.0,
    quote_wait_s=2.0,
    reconnect_wait_s=5.0,
    execution_report_wait_s=1.0,
)

# [broker] timings short enough for tests (quick backoff, a watchdog that notices a hung gateway within a second);
# the logic is the same as with the defaults.
FAST_TIMINGS: dict[str, Any] = {
    "reconnect_initial_s": 0.05,
    "reconnect_max_s": 0.3,
    "initial_connect_attempts": 3,
    "client_id_in_use_backoff_s": 0.2,
    "watchdog_interval_s": 0.5,
    "watchdog_timeout_s": 0.5,
    "historical_concurrency": 2,
    "historical_min_interval_s": 0.0,
    "pacing_retry_s": 0.1,
    "pacing_retries": 2,
}


def broker_settings(
    port: int, library: str, client_id: int = 17, connect_timeout_s: float = 2.0, **overrides: Any
) -> BrokerSettings:
    """Settings for the simulator on `port`: FAST_TIMINGS, with any key replaced by `overrides`."""
    return BrokerSettings(
        port=port,
        library=library,
        client_id=client_id,
        connect_timeout_s=connect_timeout_s,
        request_timeout_s=3.0,
        **{**FAST_TIMINGS, **overrides},
    )


@contextlib.asynccontextmanager
async def simulator(market: MarketModel, orders_log: Path, **kwargs: Any) -> AsyncIterator[Simulator]:
    """The simulator on a frozen clock (quotes do not move unless the test moves time), logging orders."""
    clock = ManualClock(market.info.start)
    async with Simulator(market, clock, orders_log=orders_log, tick_interval=0.05, **kwargs) as sim:
        yield sim


@contextlib.asynccontextmanager
async def connected(sim: Simulator, library: str, **kwargs: Any) -> AsyncIterator[Broker]:
    broker = Broker(broker_settings(sim.port, library, **kwargs))
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.close()


async def until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def next_event(broker: Broker, match: Callable[[BrokerEvent], bool], timeout: float = 5.0) -> BrokerEvent:
    """The next event on broker.events satisfying `match` (others are consumed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError("timed out waiting for a matching broker event")
        event = await asyncio.wait_for(broker.events.get(), left)
        if match(event):
            return event


def orders_for(path: Path, order_ref: str) -> list[dict[str, Any]]:
    return [r for r in read_orders_log(path) if r.get("orderRef") == order_ref]


def max_working_at_once(records: list[dict[str, Any]]) -> int:
    """From the simulator's own log: the most orders of one orderRef that were working at the same instant."""
    working: set[int] = set()
    peak = 0
    for r in records:
        if r["event"] == "status" and r["status"] in ("PreSubmitted", "Submitted"):
            working.add(r["orderId"])
        elif r["event"] == "status" and r["status"] in ("Cancelled", "Filled", "Inactive"):
            working.discard(r["orderId"])
        peak = max(peak, len(working))
    return peak


def filled_shares(records: list[dict[str, Any]]) -> float:
    return sum(r["shares"] for r in records if r["event"] == "fill")


async def front_intent(
    broker: Broker, market: MarketModel, intent_id: str, quantity: int = 3, side: Side = Side.BUY
) -> Intent:
    """An intent on the front VX future, limit half a point through the far side, once a quote is in."""
    front = (await broker.vx_curve(today=market.info.start.date())).contracts[0]
    await broker.subscribe(front)
    await until(lambda: broker.latest_quote(front.con_id) is not None, what="a VX quote")
    quote = broker.latest_quote(front.con_id)
    limit = quote.ask + 0.5 if side is Side.BUY else quote.bid - 0.5
    instrument = HedgeInstrument(HedgeKind.VX, front.expiry_date)
    return Intent(intent_id, LayerId.NEAR_TERM, instrument, side, quantity, PriceGuidance(quote.mid, limit), "test")


class HangUpGate:
    """A port in front of the simulator that accepts and at once closes the next `hang_ups` connections, as a gateway
    that is up but turns API clients away does (the socket opens, then closes before the handshake is answered);
    every later connection is forwarded to the simulator byte for byte."""

    def __init__(self, target_port: int, hang_ups: int) -> None:
        self.target_port = target_port
        self.hang_ups = hang_ups
        self.last_hang_up: float | None = None  # loop time of the last connection turned away
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> HangUpGate:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.hang_ups > 0:
            self.hang_ups -= 1
            self.last_hang_up = asyncio.get_running_loop().time()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        pumps = [asyncio.ensure_future(_pump(reader, up_writer)), asyncio.ensure_future(_pump(up_reader, writer))]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
                self._tasks.discard(task)
            writer.close()
            up_writer.close()


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while data := await source.read(65536):
        sink.write(data)
        await sink.drain()

"""How soon the facade trades again once the gateway accepts again, against the simulator, with both libraries.

A refused or turned-away attempt must fail at once and leave the pace to the backoff. Before that fix each 326 (and
each socket the gateway closed mid-handshake) cost a whole connect timeout: the full fault run recovered from two
326s in 22 s. Every test here sets a connect timeout far above the backoff and fails when the recovery comes close
to it, i.e. when an attempt was not cut short.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.broker import Broker
from bot.broker.types import ConnectionEvent, ConnectionEventKind
from bot.sim.market.api import MarketModel
from bot.sim.runner import Simulator

from .refusals import refused_at_start
from .simkit import HangUpGate, broker_settings, connected, simulator, until

pytestmark = pytest.mark.timeout(30)

CONNECT_TIMEOUT_S = 4.0  # what an attempt that is not cut short costs
BACKOFF_326_S = 0.5
MAX_BACKOFF_S = 0.3
TOO_SLOW_S = CONNECT_TIMEOUT_S / 2  # a recovery this long means some attempt waited for its connect timeout
TIMINGS: dict[str, float] = {  # broker_settings overrides for every broker in this file
    "connect_timeout_s": CONNECT_TIMEOUT_S,
    "client_id_in_use_backoff_s": BACKOFF_326_S,
    "reconnect_max_s": MAX_BACKOFF_S,
}


def run(coro, timeout: float = 25.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def settings(port: int, library: str):
    return broker_settings(port, library, **TIMINGS)


@asynccontextmanager
async def recording(broker: Broker) -> AsyncIterator[list[ConnectionEvent]]:
    """Every ConnectionEvent the broker emits while the block runs (each stamped by the facade when emitted)."""
    seen: list[ConnectionEvent] = []

    async def drain() -> None:
        while True:
            event = await broker.events.get()
            if isinstance(event, ConnectionEvent):
                seen.append(event)

    task = asyncio.ensure_future(drain())
    try:
        yield seen
    finally:
        task.cancel()


@asynccontextmanager
async def recorded_session(
    market: MarketModel, tmp_path: Path, library: str
) -> AsyncIterator[tuple[Simulator, Broker, list[ConnectionEvent]]]:
    """A fresh simulator, a broker connected to it with TIMINGS, and the ConnectionEvents it emits from then on."""
    async with (
        simulator(market, tmp_path / "orders.jsonl") as sim,
        connected(sim, library, **TIMINGS) as broker,
        recording(broker) as events,
    ):
        yield sim, broker, events


async def recorded(events: list[ConnectionEvent], kind: ConnectionEventKind) -> None:
    """Wait until the recorder has taken an event of `kind` off the queue (it runs as its own task)."""
    await until(lambda: any(e.kind is kind for e in events), timeout=2.0, what=f"a recorded {kind} event")


async def drop_and_recover(sim: Simulator, broker: Broker, events: list[ConnectionEvent]) -> None:
    """Drop the session (after the test armed its fault), then wait until the broker is ready again and the recorder
    holds its CONNECTED event."""
    sim.faults.drop()
    await asyncio.sleep(0.05)  # the drop reaches the facade
    assert await broker.wait_ready(20), "not ready again within 20 s"
    await recorded(events, ConnectionEventKind.CONNECTED)


def last(events: list[ConnectionEvent], kind: ConnectionEventKind) -> ConnectionEvent:
    matching = [e for e in events if e.kind is kind]
    assert matching, f"no {kind} event among {[e.kind.value for e in events]}"
    return matching[-1]


def test_326_on_reconnect_waits_the_326_backoff_not_the_connect_timeout(library, calm_market, tmp_path) -> None:
    async def go():
        async with recorded_session(calm_market, tmp_path, library) as (sim, broker, events):
            sim.faults.clientid_in_use(2)
            await drop_and_recover(sim, broker, events)
            return list(events), broker.generation

    events, generation = run(go())
    refusals = [e for e in events if e.kind is ConnectionEventKind.CLIENT_ID_IN_USE]
    assert len(refusals) == 2 and all(e.code == 326 for e in refusals)
    recovery = (last(events, ConnectionEventKind.CONNECTED).time - refusals[-1].time).total_seconds()
    print(f"326 x2 on reconnect ({library}): ready {recovery:.2f} s after the last 326")
    assert recovery >= BACKOFF_326_S  # the 326 still keeps its minimum backoff
    assert recovery < BACKOFF_326_S + TOO_SLOW_S, f"{recovery:.2f} s: the 326 attempt waited for its timeout"
    assert generation == 2


def test_326_at_start_up_is_retried_after_the_backoff(library, calm_market, tmp_path) -> None:
    async def go():
        async with (
            simulator(calm_market, tmp_path / "orders.jsonl") as sim,
            refused_at_start(sim, library, **TIMINGS) as broker,
        ):
            async with recording(broker) as events:
                await broker.connect()
                ready_at = dt.datetime.now(dt.UTC)
                await recorded(events, ConnectionEventKind.CONNECTED)
            return list(events), ready_at

    events, ready_at = run(go())
    recovery = (ready_at - last(events, ConnectionEventKind.CLIENT_ID_IN_USE).time).total_seconds()
    print(f"326 at start-up ({library}): ready {recovery:.2f} s after the 326")
    assert BACKOFF_326_S <= recovery < BACKOFF_326_S + TOO_SLOW_S


def test_refused_port_reconnects_within_the_backoff_of_reopening(library, calm_market, tmp_path) -> None:
    """A closed port refuses at once in both libraries; this guards that it stays so (no attempt waits it out)."""
    refuse_s = 1.0

    async def go():
        async with recorded_session(calm_market, tmp_path, library) as (sim, broker, events):
            # the simulator reopens its port refuse_s after this, on this same loop (call_later)
            reopened_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=refuse_s)
            sim.faults.refuse(refuse_s)
            await drop_and_recover(sim, broker, events)
            return list(events), reopened_at

    events, reopened_at = run(go())
    assert any(e.kind is ConnectionEventKind.RECONNECTING for e in events)  # attempts were refused meanwhile
    recovery = (last(events, ConnectionEventKind.CONNECTED).time - reopened_at).total_seconds()
    print(f"refused port ({library}): ready {recovery:.2f} s after the port reopened")
    assert recovery < MAX_BACKOFF_S + TOO_SLOW_S


def test_socket_closed_mid_handshake_fails_the_attempt_at_once(library, calm_market, tmp_path) -> None:
    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim, HangUpGate(sim.port, 2) as gate:
            broker = Broker(settings(gate.port, library))
            loop = asyncio.get_running_loop()
            await broker.connect()
            recovery = loop.time() - gate.last_hang_up
            await broker.close()
            return recovery, gate.hang_ups

    recovery, hang_ups_left = run(go())
    print(f"socket closed mid-handshake x2 ({library}): ready {recovery:.2f} s after the last hang-up")
    assert hang_ups_left == 0  # both attempts really were turned away
    assert recovery < MAX_BACKOFF_S + TOO_SLOW_S


def test_cancelling_a_connect_in_flight_is_not_taken_for_a_refusal(library) -> None:
    """close() (task cancellation) during an attempt must end connect(), not count as one more turned-away attempt."""

    async def go():
        writers: list[asyncio.StreamWriter] = []
        server = await asyncio.start_server(lambda _r, w: writers.append(w), "127.0.0.1", 0)  # accepts, never answers
        port = server.sockets[0].getsockname()[1]
        broker = Broker(settings(port, library))
        loop = asyncio.get_running_loop()
        connecting = asyncio.ensure_future(broker.connect())
        await asyncio.sleep(0.3)
        started = loop.time()
        connecting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await connecting
        took = loop.time() - started
        for writer in writers:
            writer.close()
        server.close()
        return took, len(writers)

    took, accepted = run(go())
    assert accepted == 1 and took < 1.0


def test_a_socket_stuck_closing_on_a_hung_gateway_does_not_block_the_reconnect(library, calm_market, tmp_path) -> None:
    """The watchdog hangs up on a gateway that stopped reading; unsent bytes keep that socket closing forever. The next
    attempt must neither wait for it nor take its eventual close for this attempt being turned away."""

    async def go():
        async with simulator(calm_market, tmp_path / "orders.jsonl") as sim:
            broker = Broker(settings(sim.port, library))
            await broker.connect()
            try:
                for session in sim.server.sessions:
                    session.transport.pause_reading()  # hung: the socket stays open, nothing is read
                transport = broker._ib.client.conn.transport
                transport.write(b"\0" * 32_000_000)  # more than the kernel buffers take: the rest waits to be sent
                await asyncio.sleep(0.05)
                unsent = transport.get_write_buffer_size()
                # The hung session still holds client id 17 at the gateway (it would answer 326 until it notices):
                # reconnect under another id, so that only the old socket's closing can slow the attempt.
                broker.settings = broker.settings.model_copy(update={"client_id": 18})
                loop = asyncio.get_running_loop()
                async with recording(broker) as events:
                    started = loop.time()
                    broker._ib.disconnect()  # what the watchdog does to a silent gateway
                    broker._on_disconnected()
                    assert await broker.wait_ready(20), "not ready again within 20 s"
                    took = loop.time() - started
                    await recorded(events, ConnectionEventKind.CONNECTED)
                return unsent, took, list(events)
            finally:
                await broker.close()

    unsent, took, events = run(go())
    assert unsent > 0  # the old socket really could not finish closing by itself
    assert took < TOO_SLOW_S, f"{took:.2f} s: the reconnect waited for the old socket"
    assert not [e for e in events if e.kind is ConnectionEventKind.RECONNECTING]  # the first attempt succeeded

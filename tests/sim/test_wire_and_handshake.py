"""Framing, the handshake and version negotiation, checked byte for byte and against raw sockets."""

from __future__ import annotations

import asyncio
import math
import struct
from pathlib import Path

import ib_async
import ib_insync
import pytest

from bot.sim.clock import ManualClock
from bot.sim.runner import Simulator
from bot.sim.wire import FrameReader, ProtocolError, encode_field, frame, negotiate, parse_version_range

from .sim_client_helpers import connect, run
from .sim_fake_market import FakeMarket


def test_field_encoding_follows_tws_rules() -> None:
    assert [encode_field(v) for v in (None, True, False, math.inf, 17.25, 3, "x")] == [
        "", "1", "0", "Infinite", "17.25", "3", "x",
    ]  # fmt: skip
    assert frame([9, 1, 5]) == struct.pack(">I", 6) + b"9\x001\x005\x00"


def test_reader_handles_the_unterminated_version_string_and_split_frames() -> None:
    reader = FrameReader()
    data = b"API\0" + struct.pack(">I", 9) + b"v157..176" + frame([71, 2, 1, ""])
    out = []
    for i in range(len(data)):  # one byte at a time: every boundary is exercised
        out += reader.feed(data[i : i + 1])
    assert reader.version_text == "v157..176"
    assert out == [["71", "2", "1", ""]]


def test_reader_refuses_non_api_clients() -> None:
    with pytest.raises(ProtocolError, match="API"):
        FrameReader().feed(b"GET / HTTP/1.1\r\n")


def test_version_range_and_negotiation() -> None:
    assert parse_version_range("v157..176 +PACEAPI") == (157, 176, "+PACEAPI")
    assert parse_version_range("v176") == (176, 176, "")
    assert negotiate(157, 178) == 176
    assert negotiate(100, 175) is None
    assert negotiate(177, 180) is None
    with pytest.raises(ProtocolError):
        parse_version_range("hello")


@pytest.mark.parametrize("lib", [ib_async, ib_insync], ids=lambda m: m.__name__)
def test_installed_library_still_offers_version_176(lib, tmp_path: Path) -> None:
    """Fails when a library upgrade drops 176 from its handshake range (the simulator would refuse it)."""
    assert lib.client.Client.MinClientVersion <= 176 <= lib.client.Client.MaxClientVersion

    async def body() -> list[str]:
        market = FakeMarket()
        async with Simulator(market, ManualClock(market.info.start)) as sim:
            ib = await connect(lib, sim.port)
            assert ib.client.serverVersion() == 176
            ib.disconnect()
            return sim.server.handshakes

    [offered] = run(body())
    low, high, _ = parse_version_range(offered)
    assert low <= 176 <= high


async def _raw_handshake(port: int, version: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"API\0" + struct.pack(">I", len(version)) + version)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(4096), 2)
    finally:
        writer.close()


def test_clients_below_176_are_refused_and_others_get_two_fields() -> None:
    async def body() -> tuple[bytes, bytes]:
        market = FakeMarket()
        async with Simulator(market, ManualClock(market.info.start)) as sim:
            old = await _raw_handshake(sim.port, b"v100..175")
            new = await _raw_handshake(sim.port, b"v157..178 +PACEAPI")
            return old, new

    old, new = run(body())
    assert old == b""  # closed without a reply
    (size,) = struct.unpack(">I", new[:4])
    fields = new[4 : 4 + size].split(b"\0")
    assert fields[0] == b"176" and len(fields) == 3 and fields[2] == b"" and fields[1].endswith(b"UTC")


async def _raw_session(port: int, client_id: int = 1) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"API\0" + struct.pack(">I", 9) + b"v157..176" + frame([71, 2, client_id, ""]))
    return reader, writer


async def _read_until(reader: asyncio.StreamReader, msg_id: str, timeout: float) -> list[list[str]]:
    """Read frames until one with msg_id arrives; TimeoutError if it does not within `timeout`."""
    seen: list[list[str]] = []
    buf = FrameReader()
    buf.feed(b"API\0" + struct.pack(">I", 0))  # the reader expects a handshake first; give it an empty one
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        data = await asyncio.wait_for(reader.read(65536), max(0.01, deadline - loop.time()))
        if not data:
            raise ConnectionError("closed")
        for fields in buf.feed(data):
            seen.append(fields)
            if fields[0] == msg_id:
                return seen


def test_withheld_and_delayed_end_messages() -> None:
    async def body() -> None:
        market = FakeMarket()
        async with Simulator(market, ManualClock(market.info.start)) as sim:
            sim.faults.withhold("positionEnd")
            sim.faults.delay("openOrderEnd", 0.5)
            reader, writer = await _raw_session(sim.port)
            writer.write(frame([61, 1]))
            with pytest.raises(TimeoutError):
                await _read_until(reader, "62", 0.5)
            loop = asyncio.get_running_loop()
            asked = loop.time()
            writer.write(frame([5, 1]))
            await _read_until(reader, "53", 3)
            assert loop.time() - asked >= 0.45
            writer.close()

    run(body())

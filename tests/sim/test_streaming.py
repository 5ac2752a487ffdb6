"""Market data leaves line by line: each subscription's ticks are written once priced, before the next is priced."""

from __future__ import annotations

import asyncio

from bot.sim.clock import ManualClock
from bot.sim.server import Session, SimServer, Subscription

from .sim_fake_market import START, VIX, VX, FakeMarket


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.writes.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default=None):
        return ("127.0.0.1", 4001) if name == "peername" else default


def test_each_line_is_written_before_the_next_line_is_priced():
    async def scenario() -> tuple[list[tuple[int, int]], list[bytes]]:
        server = SimServer(FakeMarket(), ManualClock(START))
        session = Session(server)
        transport = RecordingTransport()
        session.connection_made(transport)
        session.subs = {1: Subscription(1, VX, 1), 2: Subscription(2, VIX, 1)}
        priced: list[tuple[int, int]] = []  # (con_id, writes so far) at the moment each line is priced
        quote = server.quote

        def recording_quote(con_id, t, cache):
            priced.append((con_id, len(transport.writes)))
            return quote(con_id, t, cache)

        server.quote = recording_quote  # type: ignore[method-assign]
        session.push_market_data(START, {}, None)
        return priced, transport.writes

    priced, writes = asyncio.run(scenario())
    assert priced == [(VX.con_id, 0), (VIX.con_id, 1)]  # the VX line had left when the VIX line was priced
    assert len(writes) == 2 and all(writes)

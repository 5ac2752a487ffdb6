"""benchmarks/tick_to_order.py's own machinery: its probe must time the VIX line's write in the real simulator
classes (a simulator refactor must break this test, not silently the benchmark's figure), and the step answers the
child process prints must read back as written."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import os
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from bot.sim.clock import ManualClock
from bot.sim.market.api import ContractQuery
from bot.sim.market.factory import build_market
from bot.sim.server import Session, SimServer, Subscription

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tick_to_order.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tick_to_order_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve the module's annotations through sys.modules
    spec.loader.exec_module(module)
    return module


ttl = _load()


class TimedTransport(asyncio.Transport):
    """Records each write with the wall time it happened."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[float, bytes]] = []

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.writes.append((time.time(), bytes(data)))

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default=None):
        return ("127.0.0.1", 4001) if name == "peername" else default


def test_the_probe_times_the_vix_lines_write_not_an_earlier_lines():
    at = ttl.SCAN_FROM
    market = build_market(ttl.SCENARIO)
    vix = market.find(ContractQuery(symbol="VIX", sec_type="IND"), at)[0]
    vx = market.find(ContractQuery(symbol="VIX", sec_type="FUT"), at)[0]
    original = (Session._push_sub, Session.flush)

    async def scenario():
        session = Session(SimServer(market, ManualClock(at)))
        transport = TimedTransport()
        session.connection_made(transport)
        session.subs = {1: Subscription(1, vx, 1), 2: Subscription(2, vix, 1)}  # the VX line is written first
        with ttl.probe_pushes() as probe:
            first = probe.step(lambda: session.push_market_data(at, {}, None))
            done = time.time()
            again = probe.step(lambda: session.push_market_data(at, {}, None))  # nothing changed: nothing written
        return first, done, again, transport.writes

    first, done, again, writes = asyncio.run(scenario())
    assert len(writes) == 2  # one write per line
    assert first.vix_sent is not None
    assert writes[1][0] <= first.vix_sent <= done  # right after the VIX line's write, not the VX line's
    assert first.quoted == {vix.con_id, vx.con_id}
    assert again == ttl.Push(None, frozenset())
    assert (Session._push_sub, Session.flush) == original  # the simulator's class is restored


def test_step_answers_read_back_as_written():
    for push in (ttl.Push(1_700_000_000.123456, frozenset({42, 7})), ttl.Push(None, frozenset())):
        assert ttl.Push.parse(push.answer().encode() + b"\n") == push
    with pytest.raises(RuntimeError, match="did not confirm a step"):
        ttl.Push.parse(b"ok 1.0\n")


def test_a_sample_without_a_vix_send_time_fails_loudly():
    at = ttl.SCAN_FROM
    sample = ttl.Sample(at, asked=1.0, vix_sent=None, received=1.01)
    with pytest.raises(RuntimeError, match="no VIX send time"):
        ttl._checked(0, sample, at, at)
    with pytest.raises(RuntimeError, match="not the activation"):
        ttl._checked(0, ttl.Sample(at, 1.0, 1.001, 1.01), at, at + dt.timedelta(minutes=1))
    assert ttl._checked(0, ttl.Sample(at, 1.0, 1.001, 1.01), at, at).vix_sent == 1.001


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="this platform cannot pin a process to a CPU")
def test_pinning_picks_two_allowed_cpus_and_refuses_what_cannot_be_pinned(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {5, 2, 9})
    assert ttl._cpus(None, "process") == (2, 5)
    assert ttl._cpus(False, "process") is None
    assert ttl._cpus(None, "thread") is None
    with pytest.raises(ValueError, match="--sim process"):
        ttl._cpus(True, "thread")
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {3})
    assert ttl._cpus(None, "process") is None
    with pytest.raises(ValueError, match="two CPUs"):
        ttl._cpus(True, "process")

"""End-to-end tests: the whole bot against the gateway simulator with the real client library (ib_async).

The `sim` fixture runs the simulator in the test process on a clock anchored to the wall clock (AnchoredClock), so a
bot process started (and killed, and started again) agrees with it about the market time. It starts the Monday
before the spike scenario's jump, so the first hedge orders come within seconds.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.engine.clock import AnchoredClock
from bot.engine.simhost import PUSH_INTERVAL_S
from bot.sim.market.factory import build_market
from bot.sim.runner import SimulatorThread

from .helpers import SLOW_SPEED, SLOW_START, SPEED, START


@contextlib.contextmanager
def simulator(log: Path, start: dt.datetime, speed: float) -> Iterator[tuple[SimulatorThread, float, Path]]:
    market = build_market("spike")
    anchor = time.time()
    clock = AnchoredClock(start, speed, anchor, end=market.info.end)
    with SimulatorThread(market, clock, orders_log=log, tick_interval=PUSH_INTERVAL_S) as thread:
        yield thread, anchor, log


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[tuple[SimulatorThread, float, Path]]:
    """The spike from the Monday before its jump, at 20,000x."""
    with simulator(tmp_path / "orders.jsonl", START, SPEED) as running:
        yield running


@pytest.fixture
def slow_sim(tmp_path: Path) -> Iterator[tuple[SimulatorThread, float, Path]]:
    """The spike from the morning of its first day, at 2,000x: slow enough for a person's approval to be current."""
    with simulator(tmp_path / "orders.jsonl", SLOW_START, SLOW_SPEED) as running:
        yield running

"""Tick to order: from the simulator sending the VIX tick that completes layer 1's activation quorum to the simulator
receiving the placeOrder of the first hedge, over loopback, with the real engine, journal, executor and ib_async.

Each sample starts a fresh simulator (spike scenario, manual clock) and a fresh engine (paper mode, empty journal)
an hour before layer 1 activates, then moves the market clock in 60-second steps. Each step makes the simulator
push its market data; the engine reacts on the VIX tick. The step after which a placeOrder arrives is the one whose
tick completed the quorum (checked: it must be the step at which the scan saw the layer activate). Latency = the
simulator's receive time of that placeOrder (its orders log) minus
- the wall time just before that step (p50_ms, p99_ms, max_ms): includes the simulator pricing the lines it pushes
  before the VIX line, an upper bound;
- the end of the step (p50_after_push_ms, p99_after_push_ms): the simulator writes each line's ticks as soon as it
  has priced them (as a gateway streams), so the VIX tick has left by then: a lower bound.

`--sim process` (default): the simulator runs in its own process, as a gateway does (it reports the end of each
step). `--sim thread`: the earlier method, the simulator on a thread of the engine's process, stepped from the
engine's loop; both share one interpreter lock, so each waits for the other at times.

    python benchmarks/tick_to_order.py [--samples 20] [--sim process|thread]

Prints one JSON line: p50_ms, p99_ms, max_ms, p50_after_push_ms, p99_after_push_ms, samples, sim, load_avg_1m
(target: p99 <= 5 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from bot.config import config_from_mapping
from bot.domain.layers import LayerId, LayerPhase
from bot.engine.engine import Engine
from bot.engine.simhost import SIM_TUNING
from bot.engine.timeline import Timeline
from bot.logs import configure_logging
from bot.sim.clock import ManualClock
from bot.sim.market.factory import build_market
from bot.sim.orders_log import read_orders_log
from bot.sim.runner import Simulator, SimulatorThread

STEP_S = 60.0
SCAN_FROM = dt.datetime(2025, 1, 28, 14, 35, tzinfo=dt.UTC)  # the spike's first morning, before any layer arms
SCENARIO = "spike"
TICK_INTERVAL_S = 3600.0  # the simulator pushes only when stepped
Step = Callable[[dt.datetime], Awaitable[float]]  # set the clock to t and push; returns the wall time the step ended


def _config(journal: Path, port: int):
    return config_from_mapping(
        {
            "bot": {"mode": "paper", "journal_path": str(journal), "cycle_seconds": 86_400.0},
            "broker": {"port": port, "client_id": 17},
            "signals": {"ts_ratio_source": "vix_vix3m"},
        }
    )


async def _until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.001)
    return True


@asynccontextmanager
async def _thread_sim(start: dt.datetime, log: Path) -> AsyncIterator[tuple[int, Step]]:
    """The simulator on a thread of this process; a step blocks this loop until the whole push is done."""
    clock = ManualClock(start)
    with SimulatorThread(build_market(SCENARIO), clock, orders_log=log, tick_interval=TICK_INTERVAL_S) as sim:

        async def step(t: dt.datetime) -> float:
            clock.set(t)
            sim.call(lambda s: s.step())
            return time.time()

        yield sim.port, step


@asynccontextmanager
async def _process_sim(start: dt.datetime, log: Path) -> AsyncIterator[tuple[int, Step]]:
    """The simulator in a child process (this script with --serve-sim), stepped over its stdin."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-sim", start.isoformat(), str(log),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout
    try:
        line = await asyncio.wait_for(stdout.readline(), 60)
        if not line.strip().isdigit():
            raise RuntimeError(f"the simulator process did not start (said {line!r})")

        async def step(t: dt.datetime) -> float:
            stdin.write(f"{t.isoformat()}\n".encode())
            await stdin.drain()
            said = (await asyncio.wait_for(stdout.readline(), 10)).split()
            if len(said) != 2 or said[0] != b"ok":
                raise RuntimeError(f"the simulator process did not confirm a step (said {said!r})")
            return float(said[1])

        yield int(line), step
    finally:
        stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _serve_sim(start: dt.datetime, log: Path) -> None:
    """Child side of --sim process: print the port, then for each line (an ISO instant) set the clock and push, and
    answer `ok <wall time the step ended>` (each line's frames were written as soon as that line was priced)."""
    clock = ManualClock(start)
    sim = Simulator(build_market(SCENARIO), clock, orders_log=log, tick_interval=TICK_INTERVAL_S)
    await sim.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(sim.port, flush=True)
    try:
        while line := await reader.readline():
            clock.set(dt.datetime.fromisoformat(line.decode().strip()))
            sim.step()
            print(f"ok {time.time():.6f}", flush=True)
    finally:
        await sim.stop()


async def _run(
    start: dt.datetime,
    stop_at: dt.datetime,
    tmp: Path,
    simulator: Callable[[dt.datetime, Path], AbstractAsyncContextManager[tuple[int, Step]]],
    *,
    find: bool,
) -> tuple[dt.datetime, tuple[float, float] | None]:
    """Step from `start`; returns the instant of the step that produced the first order and its latency in ms,
    measured from just before the simulator's push and from just after it."""
    clock = ManualClock(start)
    log = tmp / "orders.jsonl"
    async with simulator(start, log) as (port, step):
        engine = Engine(
            _config(tmp / "alvh.sqlite", port),
            mode="paper",
            clock=clock,
            timeline=Timeline(io.StringIO()),
            tuning=SIM_TUNING,
            debounce_s=0.0,
        )
        task = asyncio.ensure_future(engine.run())
        try:
            if not await _until(lambda: engine._last_cycle_at is not None, 30):
                raise RuntimeError("the engine did not start")
            t = start
            while t < stop_at:
                t += dt.timedelta(seconds=STEP_S)
                clock.set(t)
                cycles = engine.summary.cycles
                before = time.time()
                after = await step(t)
                await _until(lambda c=cycles: engine.summary.cycles > c, 0.1)
                if find and engine.state.layers.get(LayerId.NEAR_TERM).phase is LayerPhase.ACTIVE:
                    return t, None
                if not find and await _until(lambda: log.exists() and '"place"' in log.read_text(), 0.05):
                    place = next(r for r in read_orders_log(log) if r["event"] == "place")
                    received = dt.datetime.fromisoformat(place["ts"]).timestamp()
                    return t, ((received - before) * 1000.0, (received - after) * 1000.0)
            raise RuntimeError(f"no order by {stop_at}")
        finally:
            engine.stop_event.set()
            await asyncio.wait_for(task, 30)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-sim":
        configure_logging("json", "error", stream=io.StringIO())
        asyncio.run(_serve_sim(dt.datetime.fromisoformat(sys.argv[2]), Path(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--sim", choices=("process", "thread"), default="process")
    args = parser.parse_args()
    if args.samples < 1:
        parser.error("--samples must be at least 1")
    simulator = _process_sim if args.sim == "process" else _thread_sim
    configure_logging("json", "error", stream=io.StringIO())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "scan").mkdir(mode=0o700)
        scan_to = SCAN_FROM + dt.timedelta(hours=8)
        activation, _ = asyncio.run(_run(SCAN_FROM, scan_to, root / "scan", simulator, find=True))
        upper, lower = [], []
        for i in range(args.samples):
            d = root / f"s{i}"
            d.mkdir(mode=0o700)
            start = activation - dt.timedelta(hours=1)
            at, ms = asyncio.run(_run(start, activation + dt.timedelta(hours=1), d, simulator, find=False))
            if at != activation or ms is None:
                raise RuntimeError(f"sample {i}: the first order followed the step at {at}, not the activation")
            upper.append(ms[0])
            lower.append(ms[1])
            print(f"sample {i}: {ms[0]:.2f} ms from before the push, {ms[1]:.2f} ms from after it", file=sys.stderr)
    figures = {
        "benchmark": "tick_to_order",
        "sim": args.sim,
        "samples": len(upper),
        "p50_ms": round(statistics.median(upper), 3),
        "p99_ms": round(_p99(upper), 3),
        "max_ms": round(max(upper), 3),
        "p50_after_push_ms": round(statistics.median(lower), 3),
        "p99_after_push_ms": round(_p99(lower), 3),
    }
    print(json.dumps(figures | {"activation_at": activation.isoformat(), "load_avg_1m": os.getloadavg()[0]}))


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


if __name__ == "__main__":
    main()

"""Tick to order: from the simulator sending the VIX tick that completes layer 1's activation quorum to the simulator
receiving the placeOrder of the first hedge, over loopback, with the real engine, journal, executor and ib_async.

Each sample starts a fresh simulator (spike scenario, manual clock) and a fresh engine (paper mode, empty journal)
an hour before layer 1 activates, then moves the market clock in 60-second steps. Each step makes the simulator
push its market data, one line at a time (each line's ticks are written as soon as it is priced, as a gateway
streams); the engine subscribes the VIX first, so the VIX line leads each push and the engine reacts on its tick. The
step after which a placeOrder arrives is the one whose tick completed the quorum (checked: it must be the step at
which a first scan saw the layer activate). The figures, each the simulator's receive time of that placeOrder (the
`ts` of its orders-log `place` record) minus a start instant:
- p50_ms, p99_ms, max_ms (the issue's definition; target p99 <= 5 ms): from the instant the simulator wrote the VIX
  line's ticks to the socket in that step. The simulator records it (time.time() right after the flush that wrote
  them) through a probe this script wraps around `Session._push_sub` and `Session.flush`; the simulator's code is
  unchanged. A step whose VIX line wrote nothing has no such instant: the run then fails instead of guessing.
- p50_from_step_ms, p99_from_step_ms: from just before the step was asked for, so they also include the simulator
  pricing the VIX line (and, in the child process, the step request over a pipe): an upper bound, kept to compare.

Pinning (`--pin`, the default where the process may run on two CPUs or more; `--no-pin` to turn it off): the
simulator's process is pinned to one CPU and the bot's to another. Without it, on a small VM the kernel often wakes
the bot on the simulator's CPU right after the VIX tick is written, and the two then time-slice one CPU for a few
ms while the other idles (measured on 2 cores: a decision took 3.7 ms wall for 1 ms of CPU), whereas a real gateway is
a separate JVM, often on another host. The JSON line says whether it pinned and which CPUs. Where the platform
cannot pin (no os.sched_setaffinity, e.g. macOS) or only one CPU is allowed, the default skips it.

`--sim process` (default): the simulator runs in its own process, as a gateway does, stepped over a pipe; each step's
answer carries the VIX send time and the lines whose quotes changed. `--sim thread`: the earlier method, the simulator
on a thread of the bot's process, stepped from the bot's loop; both share one interpreter lock, so each waits for the
other at times. The VIX send time is recorded the same way; there is nothing to pin (pinned is false).

Stepping is quick: only after a push that changed the VIX or a VX future's quote (what triggers a cycle) does the
script wait for the engine's cycle, and only when that cycle submitted intents does it wait for the `place` record.
Stepping faster than a live minute must not leave the engine behind: before each step the script waits for the
engine's background VIX option subscription (at start, and when the futures move) to finish, and for its disk worker
to go idle after checkpointing the journal, as a live minute would let them (without the first wait the first hedge
waited ~0.8 s for a chain still being subscribed; without the second the placeOrder's fsync would flush the pages of
up to a second of cycles, where live cycles are each followed by a checkpoint). Each sample leaves its
order working at the end (execution.shutdown_policy=leave): the figure is taken, and each sample has its own
simulator and journal.

Warm and cold: the `--samples` share this process (after the scan that finds the activation step), so the code of
the activation path has run before, as in a bot that has hedged once. `--cold-samples` (default 5) each run in a
fresh bot process: the first hedge a newly started bot sends (cold_p50_ms, cold_max_ms), reported apart.

    python benchmarks/tick_to_order.py [--samples 20] [--cold-samples 5] [--sim process|thread] [--no-pin]

Prints one line per sample on stderr, then one JSON line: p50_ms, p99_ms, max_ms, p50_from_step_ms, p99_from_step_ms,
cold_samples, cold_p50_ms, cold_max_ms, samples, sim, pinned, bot_cpu, sim_cpu, activation_at, load_avg_1m.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from bot.config import config_from_mapping
from bot.domain.layers import LayerId, LayerPhase
from bot.engine.engine import Engine
from bot.engine.simhost import SIM_TUNING
from bot.engine.timeline import Timeline
from bot.journal.db import checkpoint_wal
from bot.logs import configure_logging
from bot.sim.clock import ManualClock
from bot.sim.market.factory import build_market
from bot.sim.orders_log import read_orders_log
from bot.sim.runner import Simulator, SimulatorThread
from bot.sim.server import Session, Subscription

STEP_S = 60.0
SCAN_FROM = dt.datetime(2025, 1, 28, 14, 35, tzinfo=dt.UTC)  # the spike's first morning, before any layer arms
SCENARIO = "spike"
TICK_INTERVAL_S = 3600.0  # the simulator pushes only when stepped
CYCLE_ROLES = ("vix", "curve")  # a quote change of these lines triggers a cycle (Engine._handle; debounce 0 here)
QUOTE_KEYS = ("bid", "ask", "last", "close")  # the bot's broker passes a tick on only when one of these changed
CYCLE_WAIT_S = 0.1  # the wait for a cycle a push should trigger (as before; it comes within a ms or two)
PLACE_WAIT_S = 2.0  # from a cycle that submitted intents to the placeOrder in the orders log
COLD_SAMPLE_TIMEOUT_S = 120.0  # one fresh bot process: imports, an hour of steps, the sample
SETTLE_WAIT_S = 30.0  # for the engine's background work (option subscription, disk worker) before a step


@dataclasses.dataclass(frozen=True)
class Push:
    """One step's market-data push as the simulator saw it."""

    vix_sent: float | None  # wall time right after the VIX line's ticks were written; None: it wrote none
    quoted: frozenset[int]  # con_ids of the lines whose ticks changed a QUOTE_KEYS price

    def answer(self) -> str:
        """The child's answer to a step: `ok <vix_sent or -> <con_id,... or ->`."""
        sent = "-" if self.vix_sent is None else f"{self.vix_sent:.6f}"
        return f"ok {sent} {','.join(map(str, sorted(self.quoted))) or '-'}"

    @classmethod
    def parse(cls, said: bytes) -> Push:
        words = said.decode().split()
        if len(words) != 3 or words[0] != "ok":
            raise RuntimeError(f"the simulator process did not confirm a step (said {said!r})")
        quoted = frozenset() if words[2] == "-" else frozenset(int(c) for c in words[2].split(","))
        return cls(None if words[1] == "-" else float(words[1]), quoted)


class PushProbe:
    """Sees, during one simulator step, which lines' quotes changed and when the VIX line's ticks were written.

    Installed (see `probe_pushes`) around `Session._push_sub`, which queues a line's ticks, and `Session.flush`, which
    writes what is queued to the socket: the instant recorded is right after the flush that wrote the VIX line's
    ticks. It observes only; what is sent and when is unchanged."""

    def __init__(self) -> None:
        self._active = False
        self._vix_queued = False
        self._vix_sent: float | None = None
        self._quoted: set[int] = set()

    def step(self, push: Callable[[], None]) -> Push:
        """Run `push` (a simulator step) and report what it sent."""
        self._vix_queued, self._vix_sent, self._quoted = False, None, set()
        self._active = True
        try:
            push()
        finally:
            self._active = False
        return Push(self._vix_sent, frozenset(self._quoted))

    def queued(self, sub: Subscription, frames: bool, quote_changed: bool) -> None:
        """After a line was pushed: whether it queued frames, and whether they changed its quote."""
        if not self._active:
            return
        if quote_changed:
            self._quoted.add(sub.instrument.con_id)
        if frames and sub.instrument.symbol == "VIX" and sub.instrument.sec_type == "IND":
            self._vix_queued = True

    def flushed(self, wrote: bool) -> None:
        if self._active and wrote and self._vix_queued:
            self._vix_queued = False
            if self._vix_sent is None:
                self._vix_sent = time.time()


@contextlib.contextmanager
def probe_pushes() -> Iterator[PushProbe]:
    """A PushProbe wrapped around every Session of this process while the block runs (the simulator's own class)."""
    probe = PushProbe()
    push_sub, flush = Session._push_sub, Session.flush

    @functools.wraps(push_sub)
    def probed_push_sub(session: Session, sub: Subscription, *args: Any, **kwargs: Any) -> None:
        frames, quote = len(session._out), [sub.sent.get(k) for k in QUOTE_KEYS]
        push_sub(session, sub, *args, **kwargs)
        probe.queued(sub, len(session._out) > frames, [sub.sent.get(k) for k in QUOTE_KEYS] != quote)

    @functools.wraps(flush)
    def probed_flush(session: Session) -> None:
        queued = bool(session._out)
        flush(session)
        probe.flushed(queued and not session._out)  # flush empties the queue only when it writes it

    Session._push_sub, Session.flush = probed_push_sub, probed_flush  # type: ignore[method-assign]
    try:
        yield probe
    finally:
        Session._push_sub, Session.flush = push_sub, flush  # type: ignore[method-assign]


@dataclasses.dataclass(frozen=True)
class Sample:
    at: dt.datetime  # the step after which the first placeOrder arrived
    asked: float  # wall time just before that step was asked for
    vix_sent: float | None  # wall time the simulator wrote that step's VIX ticks
    received: float  # wall time the simulator received the placeOrder


Step = Callable[[dt.datetime], Awaitable[Push]]  # set the simulator's clock to t and push


def _config(journal: Path, port: int):
    return config_from_mapping(
        {
            "bot": {"mode": "paper", "journal_path": str(journal), "cycle_seconds": 86_400.0},
            # a sample ends with its ladder working; cancelling it would wait for a fill or timeout (seconds) that
            # measures nothing: each sample has its own simulator and journal, so the order is simply left
            "execution": {"shutdown_policy": "leave"},
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
async def _thread_sim(start: dt.datetime, log: Path, cpu: int | None) -> AsyncIterator[tuple[int, Step]]:
    """The simulator on a thread of this process; a step blocks this loop until the whole push is done."""
    assert cpu is None, "a simulator thread shares the bot's process: there is nothing to pin"
    clock = ManualClock(start)
    with (
        probe_pushes() as probe,
        SimulatorThread(build_market(SCENARIO), clock, orders_log=log, tick_interval=TICK_INTERVAL_S) as sim,
    ):

        async def step(t: dt.datetime) -> Push:
            clock.set(t)
            return sim.call(lambda s: probe.step(s.step))

        yield sim.port, step


@asynccontextmanager
async def _process_sim(start: dt.datetime, log: Path, cpu: int | None) -> AsyncIterator[tuple[int, Step]]:
    """The simulator in a child process (this script with --serve-sim), pinned to `cpu` if given, stepped over its
    stdin."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-sim", start.isoformat(), str(log), "-" if cpu is None else str(cpu),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout
    try:
        line = await asyncio.wait_for(stdout.readline(), 60)
        if not line.strip().isdigit():
            raise RuntimeError(f"the simulator process did not start (said {line!r})")

        async def step(t: dt.datetime) -> Push:
            stdin.write(f"{t.isoformat()}\n".encode())
            await stdin.drain()
            return Push.parse(await asyncio.wait_for(stdout.readline(), 10))

        yield int(line), step
    finally:
        stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def serve_sim(start: dt.datetime, log: Path, cpu: int | None) -> None:
    """Child side of --sim process: pin to `cpu`, print the port, then for each line (an ISO instant) set the clock,
    push, and answer with what the push sent (`Push.answer`)."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
        if os.sched_getaffinity(0) != {cpu}:
            raise RuntimeError(f"the simulator process could not pin itself to CPU {cpu}")
    clock = ManualClock(start)
    sim = Simulator(build_market(SCENARIO), clock, orders_log=log, tick_interval=TICK_INTERVAL_S)
    with probe_pushes() as probe:
        await sim.start()
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        print(sim.port, flush=True)
        try:
            while line := await reader.readline():
                clock.set(dt.datetime.fromisoformat(line.decode().strip()))
                print(probe.step(sim.step).answer(), flush=True)
        finally:
            await sim.stop()


async def _run(
    start: dt.datetime,
    stop_at: dt.datetime,
    tmp: Path,
    simulator: Callable[[dt.datetime, Path, int | None], AbstractAsyncContextManager[tuple[int, Step]]],
    sim_cpu: int | None,
    *,
    find: bool,
) -> tuple[dt.datetime, Sample | None]:
    """Step from `start`. With `find`, until layer 1 is active: returns that step. Otherwise until the first
    placeOrder: returns the step after which it arrived and its sample."""
    clock = ManualClock(start)
    log = tmp / "orders.jsonl"
    async with simulator(start, log, sim_cpu) as (port, step):
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
                await _settle(engine)
                t += dt.timedelta(seconds=STEP_S)
                clock.set(t)
                cycles, intents = engine.summary.cycles, engine.summary.intents
                asked = time.time()
                push = await step(t)
                if any(engine.inst.role_of(con_id) in CYCLE_ROLES for con_id in push.quoted):
                    await _until(lambda c=cycles: engine.summary.cycles > c, CYCLE_WAIT_S)
                if find:
                    if engine.state.layers.get(LayerId.NEAR_TERM).phase is LayerPhase.ACTIVE:
                        return t, None
                elif engine.summary.intents > intents:
                    if not await _until(lambda: _first_place(log) is not None, PLACE_WAIT_S):
                        raise RuntimeError(
                            f"the engine submitted {engine.summary.intents - intents} intent(s) after the step at "
                            f"{t} but the simulator logged no placeOrder within {PLACE_WAIT_S} s"
                        )
                    place = _first_place(log)
                    assert place is not None
                    received = dt.datetime.fromisoformat(place["ts"]).timestamp()
                    return t, Sample(t, asked, push.vix_sent, received)
            raise RuntimeError(f"no {'activation' if find else 'order'} by {stop_at}")
        finally:
            engine.stop_event.set()
            await asyncio.wait_for(task, 30)


async def _settle(engine: Engine) -> None:
    """Leave the engine as a live minute between two steps would: its background VIX option subscription (at start,
    and when the futures move) finished, and its disk worker idle with the journal checkpointed. Live cycles are at
    least CHECKPOINT_EVERY_S apart, so each is followed by a checkpoint; stepping faster would otherwise leave up to
    a second of cycles in the WAL for the placeOrder's fsync to flush."""
    options = engine._options_task
    if options is not None and not await _until(options.done, SETTLE_WAIT_S):
        raise RuntimeError(f"the engine's VIX option subscription did not finish within {SETTLE_WAIT_S} s")
    disk = engine._io
    if disk is None or engine.journal is None:
        raise RuntimeError("the engine has no disk worker or journal: it did not start")
    done, failed = threading.Event(), []
    journal = Path(engine.journal.path)

    def checkpoint() -> None:
        try:
            checkpoint_wal(journal)
        except Exception as exc:
            failed.append(exc)
        finally:
            done.set()

    disk.submit("benchmark-settle", checkpoint)  # queued last: it runs after every job the engine queued
    if not await _until(done.is_set, SETTLE_WAIT_S):
        raise RuntimeError(f"the engine's disk worker did not become idle within {SETTLE_WAIT_S} s")
    if failed:
        raise RuntimeError(f"checkpointing the journal between steps failed: {failed[0]!r}")


def _first_place(log: Path) -> dict[str, Any] | None:
    if not log.exists() or '"place"' not in log.read_text():
        return None
    return next((r for r in read_orders_log(log) if r["event"] == "place"), None)


def _cpus(pin: bool | None, sim: str) -> tuple[int, int] | None:
    """The (bot, simulator) CPUs to pin to, or None. `pin` None: pin where it applies and is possible."""
    can_pin = hasattr(os, "sched_setaffinity")
    allowed = sorted(os.sched_getaffinity(0)) if can_pin else []
    if pin is False or (pin is None and (sim != "process" or len(allowed) < 2)):
        return None
    if sim != "process":
        raise ValueError("--pin needs --sim process: a simulator thread shares the bot's process; use --no-pin")
    if not can_pin:
        raise ValueError("--pin: this platform has no os.sched_setaffinity; use --no-pin")
    if len(allowed) < 2:
        raise ValueError(f"--pin needs two CPUs this process may run on (allowed: {allowed}); use --no-pin")
    return allowed[0], allowed[1]


def _checked(i: int, sample: Sample | None, at: dt.datetime, activation: dt.datetime) -> Sample:
    """The sample, after the checks that it measures the step the scan found and a real VIX send."""
    if at != activation or sample is None:
        raise RuntimeError(f"sample {i}: the first order followed the step at {at}, not the activation at {activation}")
    if sample.vix_sent is None:
        raise RuntimeError(
            f"sample {i}: the simulator reported no VIX send time for the activation step at {at}: its VIX line wrote "
            "no ticks in that push, or this script's probe of Session._push_sub/Session.flush no longer matches the "
            "simulator (fix PushProbe); without it there is no tick-to-order figure"
        )
    if not sample.asked <= sample.vix_sent <= sample.received:
        raise RuntimeError(
            f"sample {i}: the VIX send time {sample.vix_sent:.6f} is not between the step's start {sample.asked:.6f} "
            f"and the placeOrder's receipt {sample.received:.6f}"
        )
    return sample


def _sample(i: int, activation: dt.datetime, d: Path, simulator: Any, sim_cpu: int | None) -> tuple[float, float]:
    """One sample in this process: (ms from the VIX send, ms from the step) to the placeOrder's receipt."""
    start, stop = activation - dt.timedelta(hours=1), activation + dt.timedelta(hours=1)
    at, got = asyncio.run(_run(start, stop, d, simulator, sim_cpu, find=False))
    sample = _checked(i, got, at, activation)
    assert sample.vix_sent is not None
    return (sample.received - sample.vix_sent) * 1000.0, (sample.received - sample.asked) * 1000.0


def _cold_sample(i: int, activation: dt.datetime, d: Path, cpus: tuple[int, int] | None) -> tuple[float, float]:
    """One sample in a fresh bot process (`--one-sample`): the first activation a newly started bot sees, with
    nothing of the activation path run before in that interpreter (the warm samples share one process)."""
    bot_cpu, sim_cpu = ("-", "-") if cpus is None else (str(cpus[0]), str(cpus[1]))
    argv = [sys.executable, __file__, "--one-sample", activation.isoformat(), str(d), sim_cpu, bot_cpu]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=COLD_SAMPLE_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"cold sample {i} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return float(figures["from_vix_ms"]), float(figures["from_step_ms"])


def _one_sample(argv: list[str]) -> None:
    """Child side of a cold sample: pin, run one sample against a simulator process, print its figures."""
    activation, d = dt.datetime.fromisoformat(argv[0]), Path(argv[1])
    sim_cpu, bot_cpu = (None if a == "-" else int(a) for a in argv[2:4])
    if bot_cpu is not None:
        os.sched_setaffinity(0, {bot_cpu})
    configure_logging("json", "error", stream=io.StringIO())
    from_vix, from_step = _sample(0, activation, d, _process_sim, sim_cpu)
    print(json.dumps({"from_vix_ms": from_vix, "from_step_ms": from_step}))


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve-sim":
        configure_logging("json", "error", stream=io.StringIO())
        cpu = None if sys.argv[4] == "-" else int(sys.argv[4])
        asyncio.run(serve_sim(dt.datetime.fromisoformat(sys.argv[2]), Path(sys.argv[3]), cpu))
        return
    if len(sys.argv) == 6 and sys.argv[1] == "--one-sample":
        _one_sample(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument(
        "--cold-samples",
        type=int,
        default=5,
        help="samples each in a fresh bot process (the first activation after a start); 0 to skip",
    )
    parser.add_argument("--sim", choices=("process", "thread"), default="process")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="pin the bot and the simulator process to two different CPUs (default: when two are allowed)",
    )
    args = parser.parse_args()
    if args.samples < 1:
        parser.error("--samples must be at least 1")
    if args.cold_samples < 0:
        parser.error("--cold-samples must be 0 or more")
    if args.cold_samples and args.sim != "process":
        parser.error("--cold-samples needs --sim process (a cold bot process talks to a simulator process)")
    try:
        cpus = _cpus(args.pin, args.sim)
    except ValueError as exc:
        parser.error(str(exc))
    if cpus is not None:
        os.sched_setaffinity(0, {cpus[0]})
    sim_cpu = cpus[1] if cpus else None
    simulator = _process_sim if args.sim == "process" else _thread_sim
    configure_logging("json", "error", stream=io.StringIO())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "scan").mkdir(mode=0o700)
        scan_to = SCAN_FROM + dt.timedelta(hours=8)
        activation, _ = asyncio.run(_run(SCAN_FROM, scan_to, root / "scan", simulator, sim_cpu, find=True))
        from_vix, from_step = [], []
        for i in range(args.samples):
            d = root / f"s{i}"
            d.mkdir(mode=0o700)
            vix_ms, step_ms = _sample(i, activation, d, simulator, sim_cpu)
            from_vix.append(vix_ms)
            from_step.append(step_ms)
            print(f"sample {i}: {vix_ms:.2f} ms from the VIX send, {step_ms:.2f} ms from the step", file=sys.stderr)
        cold: list[float] = []
        for i in range(args.cold_samples):
            d = root / f"cold{i}"
            d.mkdir(mode=0o700)
            vix_ms, _ = _cold_sample(i, activation, d, cpus)
            cold.append(vix_ms)
            print(f"cold sample {i}: {vix_ms:.2f} ms from the VIX send (a fresh bot process)", file=sys.stderr)
    figures = {
        "benchmark": "tick_to_order",
        "sim": args.sim,
        "samples": len(from_vix),
        "p50_ms": round(statistics.median(from_vix), 3),
        "p99_ms": round(_p99(from_vix), 3),
        "max_ms": round(max(from_vix), 3),
        "p50_from_step_ms": round(statistics.median(from_step), 3),
        "p99_from_step_ms": round(_p99(from_step), 3),
        "cold_samples": len(cold),
        "cold_p50_ms": round(statistics.median(cold), 3) if cold else None,
        "cold_max_ms": round(max(cold), 3) if cold else None,
        "pinned": cpus is not None,
        "bot_cpu": cpus[0] if cpus else None,
        "sim_cpu": sim_cpu,
    }
    print(json.dumps(figures | {"activation_at": activation.isoformat(), "load_avg_1m": os.getloadavg()[0]}))


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


if __name__ == "__main__":
    main()

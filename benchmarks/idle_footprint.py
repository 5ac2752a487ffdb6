"""Idle footprint of the bot: resident memory after an hour of simulated time, and CPU while the market is quiet.

The bot runs as its own process (tests/e2e/bot_child.py: the real Engine, dry-run mode) against the simulator's calm
scenario in this process, both on one anchored clock:
1. at 60x for 60 s (one simulated hour of ticks, cycles and journal writes), then its resident memory (VmRSS);
2. a fresh bot at 1x (real time, the rate a real gateway streams at), CPU time over `--window` seconds after a
   warm-up, as a share of one core.

    python benchmarks/idle_footprint.py [--window 30]

Prints one JSON line: rss_mb, cpu_pct_of_core (targets: <= 150 MB, <= 1 %).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bot.engine.clock import AnchoredClock
from bot.logs import configure_logging
from bot.sim.market.factory import build_market
from bot.sim.runner import SimulatorThread

ROOT = Path(__file__).resolve().parents[1]
CHILD = ROOT / "tests" / "e2e" / "bot_child.py"
TICK_INTERVAL_S = 0.25  # like `alvh sim` and a real gateway's conflated stream


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _bot(speed: float, seconds: float, measure: Callable[[int, float], float]) -> float:
    market = build_market("calm")
    anchor = time.time()
    start = market.info.start
    clock = AnchoredClock(start, speed, anchor, end=market.info.end)
    with tempfile.TemporaryDirectory() as tmp, SimulatorThread(market, clock, tick_interval=TICK_INTERVAL_S) as sim:
        run = Path(tmp) / "run"
        run.mkdir(mode=0o700)
        args = [sys.executable, str(CHILD), str(sim.port), str(run / "alvh.sqlite"), start.isoformat(), str(speed)]
        args += [repr(anchor), "dry-run"]
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            return measure(proc.pid, seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _rss_after(pid: int, seconds: float) -> float:
    time.sleep(seconds)
    return _rss_mb(pid)


def _cpu_share(pid: int, window: float) -> float:
    time.sleep(15.0)  # start-up, discovery and warm-up are not idle
    before, t0 = _cpu_s(pid), time.monotonic()
    time.sleep(window)
    return 100.0 * (_cpu_s(pid) - before) / (time.monotonic() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=30.0, help="seconds of CPU measurement at 1x")
    args = parser.parse_args()
    configure_logging("json", "error", stream=io.StringIO())  # the simulator's request log is not the result
    rss = _bot(60.0, 60.0, _rss_after)
    cpu = _bot(1.0, args.window, _cpu_share)
    print(
        json.dumps(
            {
                "benchmark": "idle_footprint",
                "rss_mb": round(rss, 1),
                "cpu_pct_of_core": round(cpu, 2),
                "simulated_hours": 1.0,
                "cpu_window_s": args.window,
            }
        )
    )


if __name__ == "__main__":
    main()

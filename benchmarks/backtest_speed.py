"""Backtest speed: full 2004-2019 runs after data load, and sweep parameter sets per minute.

Targets (issue 5): one run of all strategies <= 1 s after loading; >= 1,000 sweep sets per minute on 2 cores.
ALVH runs `bot.strategy.decide` once per trading day (about 4,000 calls), so its time is reported separately
from the vectorised engine and competitors: `run_all_strategies_s` is the median of `--alvh-runs` full runs (each
run listed; the first also pays one-time setup such as materialising the exchange calendars). The machine is
shared: the 1-minute load average is printed too, and `run_all_strategies_cpu_s` (the median CPU time of the same
runs, which other processes inflate far less than the wall time).
Usage: python benchmarks/backtest_speed.py [--data DIR] [--runs N] [--alvh-runs N] [--workers N]. Prints one JSON
line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from bot.backtest.alvh import alvh_leg
from bot.backtest.data import load_directory
from bot.backtest.run import compute_metrics, run_backtest
from bot.backtest.sweep import run_sweep
from bot.config import AppConfig

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
START, END = "2004-03-26", "2019-12-31"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--runs", type=int, default=3, help="runs timed without ALVH (the best is reported)")
    parser.add_argument("--alvh-runs", type=int, default=3, help="runs timed with ALVH (the median is reported)")
    parser.add_argument("--workers", type=int, default=0, help="sweep workers (0 = one per core)")
    args = parser.parse_args()
    config = AppConfig()
    s = config.backtest
    began = time.perf_counter()
    data = load_directory(args.data).slice(START, END)
    load_s = time.perf_counter() - began
    fast = []
    for _ in range(args.runs):
        began = time.perf_counter()
        compute_metrics(run_backtest(data, s))
        fast.append(time.perf_counter() - began)
    alvh, alvh_cpu = [], []
    for _ in range(args.alvh_runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        compute_metrics(run_backtest(data, s, alvh_leg=lambda d, _s, c: alvh_leg(d, config, c)))
        alvh.append(time.perf_counter() - began)
        alvh_cpu.append(time.process_time() - began_cpu)
    grid = dict(s.sweep.grid)
    began = time.perf_counter()
    sweep = run_sweep(args.data, START, END, config, grid, args.workers)
    sweep_s = time.perf_counter() - began
    print(
        json.dumps(
            {
                "data_load_s": round(load_s, 3),
                "run_without_alvh_best_s": round(min(fast), 3),
                "run_all_strategies_s": round(statistics.median(alvh), 3),
                "run_all_strategies_runs_s": [round(x, 3) for x in alvh],
                "run_all_strategies_cpu_s": round(statistics.median(alvh_cpu), 3),
                "alvh_decide_calls": data.n,
                "sweep_sets": sweep.tried,
                "sweep_failed": sweep.failed,
                "sweep_wall_s": round(sweep_s, 2),
                "sweep_sets_per_min": round(sweep.tried / sweep_s * 60, 1),
                "sweep_includes_alvh": False,
                "cores": os.cpu_count(),
                "workers": args.workers or os.cpu_count(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()

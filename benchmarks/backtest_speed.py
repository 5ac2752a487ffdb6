"""Backtest speed: one full 2004-2019 run of all strategies after data load, and sweep parameter sets per minute.

Targets (issue 5): one run <= 1 s after loading; >= 1,000 sets per minute on 2 cores.
Usage: python benchmarks/backtest_speed.py [--data DIR] [--sets N] [--workers N]. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from bot.backtest.alvh import alvh_leg, strategy_available
from bot.backtest.data import load_directory
from bot.backtest.run import compute_metrics, run_backtest
from bot.backtest.sweep import run_sweep
from bot.config import AppConfig

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--runs", type=int, default=3, help="full runs timed (the best is reported)")
    parser.add_argument("--workers", type=int, default=0, help="sweep workers (0 = one per core)")
    args = parser.parse_args()
    config = AppConfig()
    s = config.backtest
    began = time.perf_counter()
    data = load_directory(args.data).slice("2004-03-26", "2019-12-31")
    load_s = time.perf_counter() - began
    runs = []
    for _ in range(args.runs):
        began = time.perf_counter()
        result = run_backtest(data, s, alvh_leg=lambda d, st, c: alvh_leg(d, config, c))
        compute_metrics(result)
        runs.append(time.perf_counter() - began)
    grid = dict(s.sweep.grid)
    sets = 1
    for values in grid.values():
        sets *= len(values)
    began = time.perf_counter()
    sweep = run_sweep(args.data, "2004-03-26", "2019-12-31", s, grid, args.workers)
    sweep_s = time.perf_counter() - began
    print(
        json.dumps(
            {
                "data_load_s": round(load_s, 3),
                "full_run_best_s": round(min(runs), 3),
                "full_run_median_s": round(sorted(runs)[len(runs) // 2], 3),
                "alvh_included": strategy_available() and bool(result.legs.get("alvh")),
                "sweep_sets": sweep.tried,
                "sweep_failed": sweep.failed,
                "sweep_wall_s": round(sweep_s, 2),
                "sweep_sets_per_min": round(sweep.tried / sweep_s * 60, 1),
                "cores": os.cpu_count(),
                "workers": args.workers or os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()

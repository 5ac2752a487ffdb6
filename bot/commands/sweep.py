"""`alvh sweep --data DIR`: run every combination of a parameter grid in parallel; print the sensitivity table."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from bot.cli import UserError
from bot.config import AppConfig, load_config


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="directory in the shared format (e.g. ../shared/data)")
    parser.add_argument("--config", help="TOML configuration (its backtest.sweep.grid is the default grid)")
    parser.add_argument("--start", help="first day, YYYY-MM-DD (default: backtest.start)")
    parser.add_argument("--end", help="last day, YYYY-MM-DD (default: backtest.end)")
    parser.add_argument(
        "--grid",
        action="append",
        metavar="KEY=V1,V2",
        help="replace the grid with these axes, e.g. --grid condor.short_delta=0.1,0.16 or sizing.h_max=0.5,0.6 "
        "(keys relative to backtest, or absolute; repeatable)",
    )
    parser.add_argument("--workers", type=int, help="worker processes (default: backtest.sweep.workers, 0 = cores)")
    parser.add_argument(
        "--alvh",
        action="store_true",
        help="also run ALVH through bot.strategy.decide for every set (seconds per set; for strategy settings)",
    )
    parser.add_argument("--out", help="write sweep_sets.csv (every set) and sensitivity.md into this directory")
    parser.add_argument("--json", action="store_true", help="print every set and the sensitivity table as JSON")


def parse_grid(items: list[str]) -> dict[str, tuple[float, ...]]:
    grid: dict[str, tuple[float, ...]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise UserError(f"--grid {item!r}: expected KEY=V1,V2,... Fix: e.g. --grid condor.short_delta=0.1,0.16")
        try:
            grid[key.strip()] = tuple(float(v) for v in values.split(","))
        except ValueError:
            raise UserError(f"--grid {item!r}: values must be numbers separated by commas") from None
    return grid


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bot.backtest.sweep import run_sweep, sensitivity, sensitivity_markdown
    from bot.backtest.validate import DataError
    from bot.commands.backtest import _date

    config = load_config(args.config) if args.config else AppConfig()
    s = config.backtest
    grid = parse_grid(args.grid) if args.grid else dict(s.sweep.grid)
    if not grid:
        raise UserError("the sweep grid is empty. Fix: pass --grid KEY=V1,V2 or set backtest.sweep.grid")
    start = _date(args.start, "--start") or s.start
    end = _date(args.end, "--end") or s.end
    workers = s.sweep.workers if args.workers is None else args.workers
    if workers < 0:
        raise UserError("--workers must be 0 (one per core) or more")
    total = 1
    for values in grid.values():
        total *= len(values)
    began = time.perf_counter()
    with tqdm(total=total, desc="sweep", unit="set", file=sys.stderr, disable=None) as bar:
        try:
            result = run_sweep(args.data, start, end, config, grid, workers, progress=bar.update, with_alvh=args.alvh)
        except DataError as exc:
            raise UserError(str(exc)) from None
    elapsed = time.perf_counter() - began
    table = sensitivity(result)
    text = sensitivity_markdown(result, table) + f"\n{result.tried} sets in {elapsed:.1f} s\n"
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        fields = sorted({k for r in result.rows for k in r}, key=lambda k: (k not in result.keys, k))
        with (out / "sweep_sets.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(result.rows)
        (out / "sensitivity.md").write_text(text)
    if args.json:
        print(json.dumps({"tried": result.tried, "failed": result.failed, "sets": result.rows, "sensitivity": table}))
    else:
        print(text, end="")
    return 0 if result.failed == 0 else 1

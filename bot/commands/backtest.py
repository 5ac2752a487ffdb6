"""`alvh backtest --data DIR`: the condor book unhedged, hedged by ALVH and by simple competitors, on history."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli import UserError
from bot.config import AppConfig, load_config
from bot.settings.backtest import BacktestSettings

if TYPE_CHECKING:  # the CLI imports every command module: keep pandas/scipy out of `alvh --help`
    from bot.backtest.condors import CondorResult
    from bot.backtest.data import MarketData


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="directory in the shared format (e.g. ../shared/data)")
    parser.add_argument("--config", help="TOML configuration (default: built-in defaults = config/default.toml)")
    parser.add_argument("--start", help="first day, YYYY-MM-DD (default: backtest.start)")
    parser.add_argument("--end", help="last day, YYYY-MM-DD (default: backtest.end)")
    parser.add_argument("--out", help="write equity.csv, metrics.json, report.md and PNG plots into this directory")
    parser.add_argument("--json", action="store_true", help="print metrics.json to standard output")


def _date(text: str | None, flag: str) -> str | None:
    import datetime as dt

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise UserError(f"{flag} {text!r} is not a date. Fix: use YYYY-MM-DD, e.g. {flag} 2008-01-02") from None


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bot.backtest.alvh import alvh_leg
    from bot.backtest.data import load_directory
    from bot.backtest.report import metrics_json, write_outputs
    from bot.backtest.run import compute_metrics, run_backtest
    from bot.backtest.validate import DataError

    config = load_config(args.config) if args.config else AppConfig()
    s = config.backtest
    start = _date(args.start, "--start") or s.start
    end = _date(args.end, "--end") or s.end
    if start > end:
        raise UserError(f"--start {start} is after --end {end}. Fix: swap them")
    steps = ["load", "condors", "futures_always", "vxth_calls", "alvh", "vixy_constant", "metrics", "outputs"]
    with tqdm(total=len(steps), desc="backtest", file=sys.stderr, disable=None) as bar:
        try:
            data = load_directory(args.data)
            data = data.slice(max(start, str(data.dates[0])), min(end, str(data.dates[-1])))
        except DataError as exc:
            raise UserError(str(exc)) from None
        bar.update()

        def step(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update()

        def alvh(d: MarketData, _s: BacktestSettings, c: CondorResult) -> tuple | None:
            with tqdm(total=d.n, desc="alvh days", unit="day", file=sys.stderr, disable=None, leave=False) as days:
                return alvh_leg(d, config, c, progress=days.update)

        result = run_backtest(data, s, alvh_leg=alvh, progress=step)
        metrics = compute_metrics(result)
        bar.update()
        if args.out:
            command = (
                "alvh backtest " + " ".join(shlex.quote(a) for a in sys.argv[2:])
                if sys.argv[1:2] == ["backtest"]
                else "alvh backtest"
            )
            files = write_outputs(result, metrics, Path(args.out), command)
        bar.update()
    if args.json:
        print(metrics_json(metrics))
    elif args.out:
        print(f"wrote {len(files)} files to {args.out}: " + ", ".join(f.name for f in files))
    else:
        from bot.backtest.report import report_markdown

        print(report_markdown(metrics, "alvh backtest"))
    return 0

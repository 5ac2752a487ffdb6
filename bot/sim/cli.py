"""`alvh sim`: run the gateway simulator in the foreground until Ctrl-C (or the scenario's end with --exit-at-end)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import errno
import re
import signal
from pathlib import Path

from bot.logs import configure_logging, get_logger

ACCOUNT_RE = re.compile(r"^[A-Z]{1,3}\d{3,10}$")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=4002, help="TCP port on 127.0.0.1 (default 4002, like IB Gateway paper)"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--scenario", help="synthetic scenario: calm, spike, crash-recover or grind (default calm)")
    source.add_argument(
        "--replay", type=Path, metavar="DIR", help="replay daily history from DIR (../shared/data format)"
    )
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)")
    parser.add_argument("--account", help="account id to report, e.g. DU1234567 (paper) or U1234567 (live-looking)")
    parser.add_argument("--fault", action="append", default=[], metavar="SPEC",
                        help="scripted fault, repeatable, e.g. drop@t=120s, refuse=30s@rt=60s, error=1101@msg=400 "
                             "(grammar in docs/simulator.md)")  # fmt: skip
    parser.add_argument("--orders-log", type=Path, metavar="FILE", help="append one JSON line per order event")
    parser.add_argument("--exit-at-end", action="store_true", help="stop when the scenario's simulated period ends")
    parser.add_argument("--seed", type=int, help="random seed of a synthetic scenario (default: config or 0)")
    parser.add_argument("--start", type=dt.date.fromisoformat, metavar="YYYY-MM-DD", help="first simulated trading day")
    parser.add_argument("--config", type=Path, metavar="FILE", help="take the [sim] settings from this config file")
    parser.add_argument("--tick-interval", type=float, default=0.25, help="market data push interval, real seconds")
    parser.add_argument("--log-format", choices=("auto", "console", "json"), default="auto", help="log output format")


def run(args: argparse.Namespace) -> int:
    from bot.cli import UserError
    from bot.config import load_config
    from bot.settings.sim import SimSettings
    from bot.sim.faults import FaultSpecError, parse_fault_spec
    from bot.sim.market.factory import ScenarioError, build_market

    configure_logging(args.log_format)
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not a TCP port; use 1-65535 (0 picks a free one)")
    if not args.speed > 0:
        raise UserError(f"--speed {args.speed} must be > 0 (simulated seconds per real second)")
    if not args.tick_interval > 0:
        raise UserError(f"--tick-interval {args.tick_interval} must be > 0 seconds")
    try:
        faults = [parse_fault_spec(spec) for spec in args.fault]
    except FaultSpecError as exc:
        raise UserError(str(exc)) from None
    settings = load_config(args.config).sim if args.config else SimSettings()
    account = args.account or settings.account_id
    if not ACCOUNT_RE.match(account):
        raise UserError(f"--account {account!r} does not look like an IB account id; use e.g. DU1234567 or U1234567")
    if args.replay is not None and not args.replay.is_dir():
        raise UserError(f"--replay {args.replay} is not a directory; point it at a folder of daily CSVs")
    start = dt.datetime.combine(args.start, dt.time(), dt.UTC) if args.start else None
    seed = settings.seed if args.seed is None else args.seed
    try:
        market = build_market(args.scenario, args.replay, settings, seed, start)
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    try:
        return asyncio.run(_serve(market, args, account, [f.text for f in faults]))
    except OSError as exc:
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise UserError(f"cannot listen on 127.0.0.1:{args.port}: {reason}; pick another with --port") from None


async def _serve(market, args: argparse.Namespace, account: str, faults: list[str]) -> int:
    from bot.sim.runner import Simulator

    log = get_logger("bot.sim.cli")
    sim = Simulator(market, port=args.port, account_id=account, speed=args.speed, orders_log=args.orders_log,
                    faults=faults, tick_interval=args.tick_interval)  # fmt: skip
    ended = asyncio.Event()
    stop = asyncio.Event()
    sim.server.on_end = ended.set
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await sim.start()
    info = market.info
    period = f"{info.start:%Y-%m-%d %H:%M} .. {info.end:%Y-%m-%d} UTC"
    print(f"alvh sim: scenario {info.name} ({info.description}); {period} at {args.speed:g}x; account {account}; "
          f"listening on 127.0.0.1:{sim.port}; Ctrl-C stops", flush=True)  # fmt: skip
    try:
        waits = [asyncio.ensure_future(stop.wait())]
        if args.exit_at_end:
            waits.append(asyncio.ensure_future(ended.wait()))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        log.info("exiting at the scenario's end" if ended.is_set() else "stopping on signal")
    finally:
        await sim.stop()
    return 0

"""`alvh run --config FILE [--mode MODE] [--live]`: the bot, until Ctrl-C / SIGTERM or the simulated scenario's end.

With `[broker] simulator_scenario` (or `simulator_replay_dir`) the gateway simulator starts in this process on a
free loopback port, with a fresh journal (a new simulated account shares nothing with an earlier run; the old
journal is kept under a timestamped name). Otherwise the bot connects to IB Gateway / TWS at broker.host:port.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import signal
import sys
from pathlib import Path

from bot.account_guard import MODES


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, required=True, metavar="FILE", help="TOML config (see config/)")
    parser.add_argument("--mode", choices=MODES, help="override bot.mode for this run")
    parser.add_argument("--live", action="store_true", help="acknowledge live trading (also needs bot.live_account)")
    parser.add_argument(
        "--log-format",
        choices=("auto", "console", "json"),
        help="timeline and logs: console lines for people, JSON lines for machines (default: logging.format; auto "
        "is JSON when stdout is not a terminal)",
    )
    parser.add_argument(
        "--sim-fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="scripted fault for the in-process simulator, repeatable (grammar as `alvh sim --fault`)",
    )


def archive_journal(path: Path) -> Path | None:
    """Move an earlier journal (and its WAL, status file and orders log) aside; returns the new name."""
    if not path.exists():
        return None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.stem}-{stamp}{path.suffix}")
    for suffix in ("", "-wal", "-shm", ".status.json"):
        old = path.with_name(path.name + suffix)
        if old.exists():
            old.rename(target.with_name(target.name + suffix))
    log_file = sim_orders_log(path)
    if log_file.exists():
        log_file.rename(sim_orders_log(target))
    return target


def sim_orders_log(journal: Path) -> Path:
    """Where the in-process simulator logs every order it receives: next to the journal."""
    return journal.with_name(f"{journal.stem}.sim-orders.jsonl")


def run(args: argparse.Namespace) -> int:
    from bot.cli import UserError
    from bot.config import load_config
    from bot.engine.clock import WallClock
    from bot.engine.engine import TICK_DEBOUNCE_S, Engine, EngineError
    from bot.engine.simhost import PUSH_INTERVAL_S, SIM_TUNING, accelerated, start_simulator
    from bot.engine.timeline import Timeline
    from bot.logs import configure_logging
    from bot.sim.faults import FaultSpecError, parse_fault_spec
    from bot.sim.market.factory import ScenarioError

    config = load_config(args.config)
    mode = args.mode or config.bot.mode
    fmt = args.log_format or config.logging.format
    configure_logging(fmt, config.logging.level)
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())
    quiet = ["ib_async", "ib_insync"]  # their per-message info lines (portfolio updates) drown everything else
    if not json_lines:  # a person reads the timeline; the components' own info lines would repeat it
        quiet += ["bot.sim", "bot.broker", "bot.execution", "bot.engine"]
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    if not json_lines:  # the library logs the bot's own cancels (202) as errors; the facade reports errors by meaning
        for name in ("ib_async", "ib_insync"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    timeline = Timeline(sys.stdout, json_lines=json_lines)
    if args.sim_fault and not config.broker.uses_simulator:
        raise UserError("--sim-fault needs an in-process simulator: set broker.simulator_scenario in the config")
    try:
        faults = tuple(parse_fault_spec(f).text for f in args.sim_fault)
    except FaultSpecError as exc:
        raise UserError(str(exc)) from None
    sim = None
    clock = WallClock()
    tuning = None
    debounce, speed = TICK_DEBOUNCE_S, 1.0
    if config.broker.uses_simulator:
        journal = config.bot.journal_path
        journal.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # private before the orders log lands there
        archived = archive_journal(journal)
        try:
            sim = start_simulator(config, sim_orders_log(journal), faults)
        except (ScenarioError, OSError, RuntimeError) as exc:
            raise UserError(f"cannot start the simulator: {exc}") from None
        speed = sim.speed
        config, notes = accelerated(config, speed)
        broker = config.broker.model_copy(update={"host": "127.0.0.1", "port": sim.port})
        config = config.model_copy(update={"broker": broker})
        clock, tuning = sim.clock, SIM_TUNING
        debounce = max(TICK_DEBOUNCE_S, 0.5 * speed * PUSH_INTERVAL_S)
        info = sim.market.info
        timeline.text(
            f"alvh run: simulator scenario {info.name} ({info.description}), {info.start:%Y-%m-%d} .. "
            f"{info.end:%Y-%m-%d} at {speed:g}x on 127.0.0.1:{sim.port}; journal {journal}"
            + (f" (earlier journal kept as {archived.name})" if archived else "")
        )
        for note in notes:
            timeline.text(f"  accelerated: {note}")
    engine = Engine(
        config, mode=mode, live_flag=args.live, clock=clock, timeline=timeline, sim=sim, tuning=tuning,
        debounce_s=debounce, speed=speed,
    )  # fmt: skip
    try:
        return asyncio.run(_main(engine))
    except EngineError as exc:
        raise UserError(str(exc)) from None
    finally:
        if sim is not None:
            sim.stop()


async def _main(engine) -> int:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, engine.stop_event.set)
    return await engine.run()

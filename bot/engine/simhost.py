"""The built-in simulator, started in the bot's process when `[broker]` names a scenario or a replay directory.

It runs in its own thread and event loop (`SimulatorThread`), so its market-data streaming never competes with the
engine's loop for the GIL-free parts of a cycle and a slow engine cycle never delays the simulator's fills.

At 20,000x one wall second is five and a half market hours, so two kinds of settings need translating, and this is
the one place that does it (each change is returned as a note the run prints):
- freshness limits in MARKET seconds shorter than the simulator's push period would call every quote stale: they are
  raised to a few push periods;
- execution timings in WALL seconds (ladder step, waits) would let a ladder step last market days: they are scaled
  down by the speed, but never below what a loopback round trip needs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.broker.facade import BrokerTuning
from bot.config import AppConfig

if TYPE_CHECKING:  # the simulator (and its scipy.signal) is imported only when a config starts it
    from bot.sim.market.api import MarketModel
    from bot.sim.runner import SimulatorThread

PUSH_INTERVAL_S = 0.02  # wall seconds between the in-process simulator's market-data pushes (and order matching)
FRESHNESS_PUSHES = 3.0  # a quote is fresh for at least this many push periods of market time
STALE_HALT_PUSHES = 10.0  # the stale-data halt waits at least this many push periods

# Broker timings for a loopback simulator: no historical pacing to respect, quick reconnects.
SIM_TUNING = BrokerTuning(
    reconnect_initial_s=0.1,
    reconnect_max_s=2.0,
    initial_connect_attempts=5,
    client_id_in_use_backoff_s=1.0,
    historical_concurrency=4,
    historical_min_interval_s=0.0,
    pacing_retry_s=0.5,
    pacing_retries=3,
)


def accelerated(
    config: AppConfig, speed: float, push_interval_s: float = PUSH_INTERVAL_S
) -> tuple[AppConfig, list[str]]:
    """`config` adapted to a simulator running at `speed`; returns the new config and one note per change."""
    notes: list[str] = []
    push_market_s = speed * push_interval_s
    fresh = FRESHNESS_PUSHES * push_market_s

    def at_least(section: object, name: str, floor: float, prefix: str) -> dict[str, float]:
        value = getattr(section, name)
        if value >= floor:
            return {}
        notes.append(f"{prefix}.{name} {value:g} -> {floor:g} market s (simulator pushes every {push_market_s:g} s)")
        return {name: floor}

    book = config.book.model_copy(
        update={
            **at_least(config.book, "greeks_max_age_s", fresh, "book"),
            **at_least(config.book, "quote_max_age_s", fresh, "book"),
        }
    )
    signals = config.signals.model_copy(
        update=at_least(config.signals, "quote_max_age_seconds", fresh, "signals"),
    )
    sizing = config.sizing.model_copy(update=at_least(config.sizing, "hedge_quote_max_age_s", fresh, "sizing"))
    risk = config.risk.model_copy(
        update={
            **at_least(config.risk, "max_quote_age_s", fresh, "risk"),
            **at_least(config.risk, "halt_on_stale_data_s", STALE_HALT_PUSHES * push_market_s, "risk"),
        }
    )
    ex = config.execution
    wall = {
        # name: lowest wall seconds that still lets a loopback round trip (and a few matching passes) complete
        "step_interval_s": 3 * push_interval_s,
        "quote_wait_s": 10 * push_interval_s,
        "max_quote_age_s": 5 * push_interval_s,
        "execution_report_wait_s": 5 * push_interval_s,
    }
    changes: dict[str, float] = {}
    for name, floor in wall.items():
        value = getattr(ex, name)
        scaled = max(value / speed, floor)
        if scaled < value:
            changes[name] = scaled
            notes.append(f"execution.{name} {value:g} -> {scaled:g} wall s ({value:g} market s at {speed:g}x)")
    execution = ex.model_copy(update=changes)
    adapted = config.model_copy(
        update={"book": book, "signals": signals, "sizing": sizing, "risk": risk, "execution": execution}
    )
    return adapted, notes


@dataclass
class SimHost:
    """A running in-process simulator: its thread, market, port and orders log."""

    thread: SimulatorThread
    market: MarketModel
    speed: float
    orders_log: Path

    @property
    def port(self) -> int:
        return self.thread.port

    @property
    def clock(self):
        assert self.thread.simulator is not None
        return self.thread.simulator.clock

    @property
    def end(self) -> dt.datetime:
        return self.market.info.end

    def stop(self) -> None:
        self.thread.__exit__(None, None, None)


def start_simulator(config: AppConfig, orders_log: Path, faults: tuple[str, ...] = ()) -> SimHost:
    """Build the configured market and start the simulator on a free loopback port."""
    from bot.sim.market.factory import build_market
    from bot.sim.runner import SimulatorThread

    b = config.broker
    start = dt.datetime.combine(config.sim.start_date, dt.time(), dt.UTC) if config.sim.start_date else None
    replay = Path(b.simulator_replay_dir) if b.simulator_replay_dir else None
    market = build_market(None if replay else b.simulator_scenario, replay, config.sim, config.sim.seed, start)
    thread = SimulatorThread(
        market,
        None,
        port=0,
        account_id=config.sim.account_id,
        speed=b.simulator_speed,
        orders_log=orders_log,
        faults=faults,
        tick_interval=PUSH_INTERVAL_S,
    )
    thread.__enter__()
    return SimHost(thread, market, b.simulator_speed, orders_log)

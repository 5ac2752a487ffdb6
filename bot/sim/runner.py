"""Run the simulator in-process: `Simulator` inside a running asyncio loop, `SimulatorThread` in its own thread.

The bot's engine and the tests use this; keep the surface small:

    async with Simulator(market, clock) as sim:          # inside a loop
        await ib.connectAsync("127.0.0.1", sim.port, clientId=1)
        sim.faults.drop()                                 # any fault, see bot.sim.faults.Faults
        state = sim.account_state()

    sim = build_simulator(settings.sim, scenario="spike", speed=60)   # the real market model from [sim] settings

    with SimulatorThread(market, clock) as sim:           # for sync clients
        ib.connect("127.0.0.1", sim.port, clientId=1)
        sim.call(lambda s: s.faults.reject_next())        # runs on the simulator's loop thread
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot.sim.account import mark_price
from bot.sim.clock import RealTimeClock, SimClock
from bot.sim.faults import Faults, parse_fault_spec
from bot.sim.market.api import MarketModel
from bot.sim.orders_log import OrdersLog
from bot.sim.server import DEFAULT_ACCOUNT, SimServer

if TYPE_CHECKING:
    from bot.settings.sim import SimSettings

T = TypeVar("T")


@dataclass(frozen=True)
class PositionState:
    con_id: int
    local_symbol: str
    quantity: float
    avg_cost: float


@dataclass(frozen=True)
class AccountState:
    """A consistent snapshot of the simulated account (taken on the simulator's loop)."""

    account_id: str
    cash: float
    net_liquidation: float
    realized_pnl: float
    positions: dict[int, PositionState]
    executions: int
    open_orders: int
    completed_orders: int


class Simulator:
    """The simulator as an object you start and stop inside an existing asyncio loop."""

    def __init__(
        self,
        market: MarketModel,
        clock: SimClock | None = None,
        *,
        port: int = 0,
        account_id: str = DEFAULT_ACCOUNT,
        starting_cash: float = 1_000_000.0,
        speed: float = 1.0,
        orders_log: Path | str | None = None,
        faults: Iterable[str] = (),
        tick_interval: float = 0.25,
        account_push_interval: float = 3.0,
    ) -> None:
        self.clock = clock or RealTimeClock(market.info.start, speed, market.info.end)
        self.orders_log_path = Path(orders_log) if orders_log is not None else None
        self.faults = Faults()
        for spec in faults:
            self.faults.schedule(parse_fault_spec(spec))
        self.server = SimServer(
            market,
            self.clock,
            account_id=account_id,
            starting_cash=starting_cash,
            port=port,
            orders_log=OrdersLog(self.orders_log_path),
            faults=self.faults,
            tick_interval=tick_interval,
            account_push_interval=account_push_interval,
        )

    @property
    def port(self) -> int:
        return self.server.port

    async def start(self) -> Simulator:
        await self.server.start()
        return self

    async def stop(self) -> None:
        await self.server.stop()

    async def __aenter__(self) -> Simulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def step(self) -> None:
        """Run one cycle now (fills, settlement, market data), e.g. right after advancing a ManualClock."""
        self.server.cycle()

    def account_state(self) -> AccountState:
        s = self.server
        t = s.now()
        acct = s.account
        values = acct.values({cid: mark_price(s.market.quote(cid, t)) for cid in acct.positions})
        return AccountState(
            account_id=acct.account_id,
            cash=acct.cash,
            net_liquidation=values["NetLiquidation"],
            realized_pnl=acct.realized_pnl,
            positions={
                cid: PositionState(cid, p.instrument.local_symbol, p.quantity, p.avg_cost)
                for cid, p in acct.positions.items()
            },
            executions=len(acct.executions),
            open_orders=sum(1 for o in s.orders.values() if o.working),
            completed_orders=len(s.completed),
        )


def build_simulator(
    settings: SimSettings | None = None,
    *,
    scenario: str | None = "calm",
    replay_dir: Path | str | None = None,
    seed: int | None = None,
    **kwargs: Any,
) -> Simulator:
    """A Simulator on the real market model, configured from the [sim] settings (what `alvh sim` and the engine use).

    kwargs go to Simulator (port, speed, orders_log, faults, tick_interval, clock, starting_cash); the account id
    defaults to settings.account_id. Raises bot.sim.market.factory.ScenarioError for an unknown scenario.
    """
    from bot.settings.sim import SimSettings
    from bot.sim.market.factory import build_market

    settings = settings or SimSettings()
    replay = Path(replay_dir) if replay_dir is not None else None
    market = build_market(scenario, replay, settings, settings.seed if seed is None else seed)
    kwargs.setdefault("account_id", settings.account_id)
    clock = kwargs.pop("clock", None)
    return Simulator(market, clock, **kwargs)


class SimulatorThread:
    """A Simulator on its own event loop in a daemon thread, for sync clients and tests; a context manager."""

    def __init__(self, market: MarketModel, clock: SimClock | None = None, **kwargs: Any) -> None:
        self._market, self._clock, self._kwargs = market, clock, kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.simulator: Simulator | None = None

    def __enter__(self) -> SimulatorThread:
        self._thread = threading.Thread(target=self._run, name="alvh-sim", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise RuntimeError(f"simulator failed to start: {self._error}") from self._error
        if self.simulator is None:
            raise RuntimeError("simulator did not start within 30 s")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self.simulator is not None:
            asyncio.run_coroutine_threadsafe(self.simulator.stop(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            sim = Simulator(self._market, self._clock, **self._kwargs)
            loop.run_until_complete(sim.start())
            self.simulator = sim
        except BaseException as exc:  # reported to the caller of __enter__
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    @property
    def port(self) -> int:
        assert self.simulator is not None
        return self.simulator.port

    @property
    def orders_log_path(self) -> Path | None:
        assert self.simulator is not None
        return self.simulator.orders_log_path

    def call(self, fn: Callable[[Simulator], T], timeout: float = 10.0) -> T:
        """Run fn(simulator) on the simulator's loop thread and return its result (faults, clock, state)."""
        assert self._loop is not None and self.simulator is not None
        sim = self.simulator

        async def run() -> T:
            return fn(sim)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=timeout)

    def account_state(self) -> AccountState:
        return self.call(lambda s: s.account_state())

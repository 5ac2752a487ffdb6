"""The in-process runners: a simulator on its own thread for sync clients, and the settings-based builder."""

from __future__ import annotations

from types import ModuleType

import ib_async
import pytest

from bot.settings.sim import SimSettings
from bot.sim.clock import ManualClock
from bot.sim.market.factory import ScenarioError
from bot.sim.runner import SimulatorThread, build_simulator

from .sim_client_helpers import LogGuard, connect, run
from .sim_fake_market import PUT_SHORT, VX, FakeMarket


def test_sync_client_against_a_simulator_thread(lib: ModuleType, log_guard: LogGuard) -> None:
    log_guard.allow(r"Error 201")
    market = FakeMarket()
    with SimulatorThread(market, ManualClock(market.info.start)) as sim:
        ib = lib.IB()
        ib.RequestTimeout = 5
        ib.connect("127.0.0.1", sim.port, clientId=1, timeout=5)
        try:
            assert {p.contract.conId for p in ib.positions()} >= {PUT_SHORT.con_id}
            sim.call(lambda s: s.faults.reject_next())
            rejected = ib.placeOrder(lib.Contract(conId=VX.con_id, exchange="CFE"), lib.LimitOrder("BUY", 1, 17.10))
            filled = ib.placeOrder(lib.Contract(conId=VX.con_id, exchange="CFE"), lib.LimitOrder("BUY", 1, 17.10))
            for _ in range(50):
                if rejected.isDone() and filled.isDone():
                    break
                ib.sleep(0.05)
            assert (rejected.orderStatus.status, filled.orderStatus.status) == ("Cancelled", "Filled")
            assert sim.account_state().positions[VX.con_id].quantity == 1
        finally:
            ib.disconnect()


def test_build_simulator_uses_the_sim_settings(log_guard: LogGuard) -> None:
    settings = SimSettings(account_id="U1234567", condor_count=2)

    async def body() -> None:
        async with build_simulator(settings, scenario="calm") as sim:
            ib = await connect(ib_async, sim.port)
            assert ib.managedAccounts() == ["U1234567"]
            assert sorted(abs(p.position) for p in ib.positions()) == [2, 2, 2, 2]
            ib.disconnect()

    run(body())
    with pytest.raises(ScenarioError, match="unknown scenario"):
        build_simulator(settings, scenario="nope")

"""A broker whose first connect attempts the simulator answers with 326 (client id in use), shared by the tests that
check a 326 at start-up is reported (test_broker_sim) and how soon it is retried (test_reconnect_speed)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bot.broker import Broker
from bot.sim.runner import Simulator

from .simkit import broker_settings


@contextlib.asynccontextmanager
async def refused_at_start(sim: Simulator, library: str, refusals: int = 1, **kwargs: Any) -> AsyncIterator[Broker]:
    """A broker for `sim`, not yet connected (the test calls connect()), closed afterwards; the gateway answers its
    first `refusals` attempts with 326. `kwargs` replace broker_settings' defaults."""
    broker = Broker(broker_settings(sim.port, library, **kwargs))
    sim.faults.clientid_in_use(refusals)
    try:
        yield broker
    finally:
        await broker.close()

"""Request pacing: IB throttles historical data (about 60 requests per 10 minutes, 50 simultaneous); a bot that
warms up a dozen indicators at start must queue its requests rather than earn pacing violations (162/420)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Pacer:
    """At most `concurrency` requests in flight, and starts at least `min_interval_s` apart."""

    def __init__(self, concurrency: int, min_interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if concurrency < 1:
            raise ValueError(f"pacing concurrency must be >= 1, got {concurrency}")
        if min_interval_s < 0:
            raise ValueError(f"pacing interval must be >= 0, got {min_interval_s}")
        self._slots = asyncio.Semaphore(concurrency)
        self._start_lock = asyncio.Lock()
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._last_start: float | None = None

    async def run(self, make_request: Callable[[], Awaitable[T]]) -> T:
        async with self._slots:
            async with self._start_lock:
                if self._last_start is not None:
                    wait = self._last_start + self._min_interval_s - self._clock()
                    if wait > 0:
                        await asyncio.sleep(wait)
                self._last_start = self._clock()
            return await make_request()

"""The historical-data pacer: bounded concurrency and spaced starts."""

import asyncio
import itertools

import pytest

from bot.broker.pacing import Pacer


def test_never_more_than_the_allowed_requests_in_flight() -> None:
    async def go():
        pacer = Pacer(concurrency=2, min_interval_s=0.0)
        in_flight = peak = 0

        async def request(i: int) -> int:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            return i

        results = await asyncio.gather(*(pacer.run(lambda i=i: request(i)) for i in range(7)))
        return results, peak

    results, peak = asyncio.run(go())
    assert results == list(range(7)) and peak == 2


def test_starts_are_spaced() -> None:
    async def go():
        loop = asyncio.get_running_loop()
        pacer = Pacer(concurrency=5, min_interval_s=0.05)
        starts: list[float] = []

        async def request() -> None:
            starts.append(loop.time())

        await asyncio.gather(*(pacer.run(request) for _ in range(4)))
        return starts

    starts = asyncio.run(go())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 3 and min(gaps) >= 0.045


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        Pacer(0, 1.0)
    with pytest.raises(ValueError, match="interval"):
        Pacer(1, -1.0)

"""Helpers for driving the real ib_async / ib_insync clients against the simulator (imported by tests/sim)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from types import ModuleType
from typing import TypeVar

T = TypeVar("T")


class LogGuard(logging.Handler):
    """Collects ERROR records of the client libraries; a test fails on any it did not declare as expected."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.allowed: list[re.Pattern[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def allow(self, pattern: str) -> None:
        """Declare an error the test provokes on purpose (e.g. r"Error 201"); decoder errors are never allowed."""
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        out = []
        for r in self.records:
            text = r.getMessage()
            decoder = r.name.endswith("Decoder")
            if decoder or not any(p.search(text) for p in self.allowed):
                out.append(f"{r.name}: {text}")
        return out


def run(coro: Awaitable[T], timeout: float = 30.0) -> T:
    """Run one async test body on a fresh loop, with a hard timeout so a silent server cannot hang the suite."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


async def connect(lib: ModuleType, port: int, client_id: int = 1, **kwargs: object):
    ib = lib.IB()
    ib.RequestTimeout = 5
    await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=5, **kwargs)
    return ib


async def until(predicate, timeout: float = 5.0, step: float = 0.02) -> None:
    """Wait until predicate() is true (the client processes socket data between the sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(step)

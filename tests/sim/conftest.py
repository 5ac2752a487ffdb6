"""Fixtures for driving the real ib_async / ib_insync clients against the simulator over loopback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import ModuleType

import ib_async
import ib_insync
import pytest

from .sim_client_helpers import LogGuard

LIBS = [ib_async, ib_insync]


@pytest.fixture(params=LIBS, ids=lambda m: m.__name__)
def lib(request: pytest.FixtureRequest) -> ModuleType:
    return request.param


@pytest.fixture
def log_guard() -> Iterator[LogGuard]:
    guard = LogGuard()
    loggers = [logging.getLogger(name) for name in ("ib_async", "ib_insync")]
    for lg in loggers:
        lg.addHandler(guard)
    try:
        yield guard
    finally:
        for lg in loggers:
            lg.removeHandler(guard)
    problems = guard.unexpected()
    assert not problems, "client library logged errors:\n" + "\n".join(problems)

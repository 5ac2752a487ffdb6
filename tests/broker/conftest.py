"""Fixtures for the facade tests against the real simulator: both client libraries, one shared market model."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.sim.market.api import MarketModel
from bot.sim.market.factory import build_market

LIBRARIES = ["ib_async", "ib_insync"]


@pytest.fixture(params=LIBRARIES)
def library(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def calm_market() -> MarketModel:
    """The calm scenario (pure and deterministic, so one instance serves every test)."""
    return build_market("calm")


class _DecoderErrors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.endswith("Decoder"):
            self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def no_decoder_errors() -> Iterator[None]:
    """A message the client library could not decode is dropped silently; any such error fails the test."""
    handler = _DecoderErrors()
    loggers = [logging.getLogger(name) for name in ("ib_async", "ib_insync")]
    for lg in loggers:
        lg.addHandler(handler)
    yield
    for lg in loggers:
        lg.removeHandler(handler)
    assert not handler.messages, "client decoder errors: " + "; ".join(handler.messages)

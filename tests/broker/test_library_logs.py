"""The library's log: routine cancel confirmations are not ERROR lines, real connectivity errors still are."""

from __future__ import annotations

import logging

import pytest

from bot.broker.library_logs import RoutineErrorFilter, install_routine_error_filter


def _record(message: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord("ib_async.wrapper", level, __file__, 1, message, None, None)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Error 202, reqId 166: Order Canceled - reason:", logging.INFO),
        ("Error 2104, reqId -1: Market data farm connection is OK:usfarm", logging.INFO),
        ("Error 1100, reqId -1: Connectivity between IB and Trader Workstation has been lost.", logging.ERROR),
        ("Error 201, reqId 7: Order rejected - reason: no", logging.ERROR),
        ("Error 326, reqId -1: Unable to connect as the client id is already in use.", logging.ERROR),
        ("Peer closed connection.", logging.ERROR),
        ("API connection failed: CancelledError()", logging.INFO),  # the facade cut the attempt short
        ("API connection failed: TimeoutError()", logging.ERROR),
        ("API connection failed: ConnectionRefusedError(111, 'Connect call failed')", logging.ERROR),
    ],
)
def test_only_routine_codes_are_lowered(message, expected):
    record = _record(message)
    assert RoutineErrorFilter().filter(record) is True  # never drops a record
    assert record.levelno == expected
    assert record.levelname == logging.getLevelName(expected)


@pytest.mark.parametrize("name", ["wrapper", "client"])
def test_installed_once_on_the_wrapper_and_client_loggers(name):
    logger = logging.getLogger(f"ib_insync.{name}")
    before = len(logger.filters)
    install_routine_error_filter("ib_insync")
    install_routine_error_filter("ib_insync")
    assert sum(isinstance(f, RoutineErrorFilter) for f in logger.filters) == 1
    assert len(logger.filters) <= before + 1

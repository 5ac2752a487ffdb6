"""Keep the IB library's own log honest: an error code the facade handles as routine is not an ERROR line.

ib_async logs every `Error 202 ... Order Canceled` at ERROR, yet a cancel is the normal end of each ladder step, so
an operator watching the console saw an "error" per step. The facade already handles these codes by meaning
(`bot.broker.errors`); this filter lowers the library's record for them to INFO and leaves every other code,
notably 1100/1101/1102, 201 and 326, at the level the library chose. Likewise "API connection failed:
CancelledError()": the facade cancels a connect attempt the gateway turned away (or on close) and logs why itself.
"""

from __future__ import annotations

import logging
import re

from bot.broker.errors import ErrorKind, classify_error

ROUTINE_KINDS = frozenset({ErrorKind.ORDER_CANCELLED, ErrorKind.NOTICE})
_ERROR_LINE = re.compile(r"^Error (\d+), reqId")
_CANCELLED_CONNECT = "API connection failed: CancelledError()"


class RoutineErrorFilter(logging.Filter):
    """Lowers library records of routine error codes (cancel confirmations, farm notices) to INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            message = record.getMessage()
            match = _ERROR_LINE.match(message)
            routine = match is not None and classify_error(int(match.group(1)), message).kind in ROUTINE_KINDS
            if routine or message == _CANCELLED_CONNECT:
                record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def install_routine_error_filter(library_name: str) -> None:
    """Attach the filter once to the library's wrapper logger (where both libraries log API errors) and its client
    logger (where they log connect failures)."""
    for name in ("wrapper", "client"):
        logger = logging.getLogger(f"{library_name}.{name}")
        if not any(isinstance(f, RoutineErrorFilter) for f in logger.filters):
            logger.addFilter(RoutineErrorFilter())

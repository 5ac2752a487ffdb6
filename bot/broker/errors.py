"""IB error codes classified by what the bot must do about them, independent of the client library.

ib_insync logs 202 as a warning and leaves the order alone; ib_async 2.x treats it as an error and cancels the Trade
itself. The facade ignores both libraries' verdicts and acts on this table instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorKind(StrEnum):
    CONNECTIVITY_LOST = "connectivity_lost"  # 1100: stop trading, wait for 1101/1102
    RESTORED_DATA_LOST = "restored_data_lost"  # 1101: resubscribe market data, then resume
    RESTORED = "restored"  # 1102: resume
    NOTICE = "notice"  # 2104/2106/2158 farm OK and other 21xx: information only
    FARM_DOWN = "farm_down"  # 2103/2105/2157: a data farm is down (information, data may go stale)
    ORDER_REJECTED = "order_rejected"  # 201 and friends: the order is dead, with a reason
    ORDER_CANCELLED = "order_cancelled"  # 202: the order is cancelled
    ORDER_WARNING = "order_warning"  # 399/404/...: the order stays live
    CLIENT_ID_IN_USE = "client_id_in_use"  # 326: back off, alert the operator
    COMPETING_SESSION = "competing_session"  # 10197: market data blocked by another session
    PACING = "pacing"  # retry the request later
    NO_SECURITY = "no_security"  # 200: contract not found
    MARKET_DATA = "market_data"  # 354/10090/10167/...: no or delayed market data
    NOT_CONNECTED = "not_connected"  # 504/502/1300: the socket is not usable
    REQUEST_FAILED = "request_failed"  # anything else tied to a request


_BY_CODE: dict[int, ErrorKind] = {
    1100: ErrorKind.CONNECTIVITY_LOST,
    1101: ErrorKind.RESTORED_DATA_LOST,
    1102: ErrorKind.RESTORED,
    1300: ErrorKind.NOT_CONNECTED,
    502: ErrorKind.NOT_CONNECTED,
    504: ErrorKind.NOT_CONNECTED,
    201: ErrorKind.ORDER_REJECTED,
    203: ErrorKind.ORDER_REJECTED,  # security not available for this account
    103: ErrorKind.ORDER_REJECTED,  # duplicate order id
    110: ErrorKind.ORDER_WARNING,  # price off the tick grid: the facade always rounds, so only logged
    202: ErrorKind.ORDER_CANCELLED,
    161: ErrorKind.ORDER_WARNING,  # cancel attempted when the order is not in a cancellable state
    399: ErrorKind.ORDER_WARNING,
    404: ErrorKind.ORDER_WARNING,
    326: ErrorKind.CLIENT_ID_IN_USE,
    10197: ErrorKind.COMPETING_SESSION,
    100: ErrorKind.PACING,  # max rate of messages per second exceeded
    420: ErrorKind.PACING,  # invalid real-time query / pacing violation
    200: ErrorKind.NO_SECURITY,
    354: ErrorKind.MARKET_DATA,
    10090: ErrorKind.MARKET_DATA,
    10167: ErrorKind.MARKET_DATA,
    10168: ErrorKind.MARKET_DATA,
    2103: ErrorKind.FARM_DOWN,
    2105: ErrorKind.FARM_DOWN,
    2157: ErrorKind.FARM_DOWN,
}


@dataclass(frozen=True, slots=True)
class ClassifiedError:
    code: int
    kind: ErrorKind
    message: str

    @property
    def is_order_terminal(self) -> bool:
        return self.kind in (ErrorKind.ORDER_REJECTED, ErrorKind.ORDER_CANCELLED)


def classify_error(code: int, message: str = "") -> ClassifiedError:
    """Map an IB error code (and, where IB overloads a code, its text) to what it means for the bot."""
    kind = _BY_CODE.get(code)
    if kind is None:
        if code == 162 or code == 322:
            # 162 "Historical Market Data Service error message" and 322 "Error processing request" carry pacing
            # violations ("pacing violation", "Only 50 simultaneous ... requests") as well as ordinary failures.
            text = message.lower()
            is_pacing = "pacing" in text or "simultaneous" in text or "max rate" in text
            kind = ErrorKind.PACING if is_pacing else ErrorKind.REQUEST_FAILED
        elif 2100 <= code < 2200:
            kind = ErrorKind.NOTICE
        else:
            kind = ErrorKind.REQUEST_FAILED
    return ClassifiedError(code=code, kind=kind, message=message)


class BrokerError(RuntimeError):
    """Base of the facade's own exceptions."""


class NotConnectedError(BrokerError):
    """The facade is not connected and reconciled (or is degraded): nothing may be sent now."""


class BrokerUnavailableError(BrokerError):
    """The gateway could not be reached within the configured attempts."""


class GatewayRefusedError(ConnectionError):
    """The gateway turned a connect attempt away (326, or the socket closed mid-handshake). A ConnectionError, not a
    BrokerError: it is one failed attempt, retried with backoff like a refused port."""


class RequestTimeoutError(BrokerError):
    """A request got no answer within broker.request_timeout_s."""


class RequestFailedError(BrokerError):
    """The gateway answered a request with an error."""

    def __init__(self, what: str, error: ClassifiedError) -> None:
        super().__init__(f"{what} failed: IB error {error.code} ({error.kind}): {error.message}")
        self.error = error


class ContractNotFoundError(BrokerError):
    """Contract details for a query came back empty or ambiguous."""

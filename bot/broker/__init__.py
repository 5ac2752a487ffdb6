"""The broker facade: the only package that imports ib_async / ib_insync. See facade.py for the engine's API."""

from bot.broker.errors import (
    BrokerError,
    BrokerUnavailableError,
    ContractNotFoundError,
    NotConnectedError,
    RequestFailedError,
    RequestTimeoutError,
)
from bot.broker.facade import Broker, BrokerState, BrokerTuning, OrderWatch

__all__ = [
    "Broker",
    "BrokerError",
    "BrokerState",
    "BrokerTuning",
    "BrokerUnavailableError",
    "ContractNotFoundError",
    "NotConnectedError",
    "OrderWatch",
    "RequestFailedError",
    "RequestTimeoutError",
]

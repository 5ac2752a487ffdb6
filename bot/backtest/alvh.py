"""ALVH in the backtest: daily snapshots fed through the live decision path, `bot.strategy.decide`.

There is deliberately no second implementation of signals, quorum, layers or sizing here. Until the strategy
core exposes `decide`, the ALVH column of a run is empty and the report says so.
"""

from __future__ import annotations

import importlib

import numpy as np

from bot.backtest.condors import CondorResult
from bot.backtest.data import MarketData
from bot.backtest.hedges import LegResult
from bot.config import AppConfig


def strategy_available() -> bool:
    try:
        module = importlib.import_module("bot.strategy")
    except ImportError:
        return False
    return callable(getattr(module, "decide", None))


def alvh_leg(
    data: MarketData, config: AppConfig, condor: CondorResult
) -> tuple[LegResult, np.ndarray, np.ndarray] | None:
    """(hedge leg, layers active per day, ALVH 'on' signal per day), or None when the strategy core is absent."""
    if not strategy_available():
        return None
    return None  # wired in once bot.strategy.decide's contract is committed (see the H5 report)

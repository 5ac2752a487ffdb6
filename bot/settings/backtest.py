"""Historical backtest: condor engine, costs, competitors, windows."""

from __future__ import annotations

from bot.settings.base import Section


class BacktestSettings(Section):
    """Filled in by the room that owns it; every field needs a description."""

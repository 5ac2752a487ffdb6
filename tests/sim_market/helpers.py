"""Small helpers shared by the market-model tests."""

from __future__ import annotations

import datetime as dt

from bot.sim.market import hours


def closes(market, venue: str = "cboe", first: dt.date | None = None) -> list[dt.datetime]:
    """Regular-session close instants of `venue` from `first` (default: the scenario start) to the end."""
    lo = market.info.start if first is None else market.path.t0
    sessions = hours.sessions_between(venue, first or lo.date(), market.info.end.date())
    return [s.liquid_close for s in sessions if lo <= s.liquid_close <= market.info.end]

"""The starting book: SPX iron condors already in the simulated account, priced by the model at the start.

Each condor: same expiry and trading class; long put K1 < short put K2 < short call K3 < long call K4, with the short
strikes the listed strikes whose model delta is nearest the configured short delta and the wings a fixed width away.
avg_cost follows IB: price x 100 per contract, positive for longs and shorts alike (the sign is in the quantity).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from bot.settings.sim import SimSettings
from bot.sim.market import catalog, hours
from bot.sim.market.api import BookEntry
from bot.sim.market.catalog import OptKey

if TYPE_CHECKING:
    from bot.sim.market.model import SimMarket


def choose_expiry(trading_class: str, start: dt.datetime, dte: int) -> dt.date:
    day = start.astimezone(hours.ET).date()
    expiries = catalog.listed_expiries(trading_class, start)
    if not expiries:
        raise ValueError(f"no {trading_class} expiries listed at {start}")
    return min(expiries, key=lambda e: (abs((e - day).days - dte), e))


def short_strike(market: SimMarket, expiry: dt.date, cls: str, right: str, delta: float, t: dt.datetime) -> float:
    """The listed strike whose |delta| is nearest `delta` on the out-of-the-money side."""
    spot = market.underlying_value("SPX", t)
    strikes = [k for k in market.strikes(cls) if (k < spot if right == "P" else k > spot)]
    if right == "P":
        strikes.reverse()  # walk outward from the money; |delta| decreases monotonically
    best, best_err = None, float("inf")
    for k in strikes:
        d = abs(market.option_greeks(OptKey(cls, expiry, right, k), t)[0].delta)
        err = abs(d - delta)
        if err < best_err:
            best, best_err = k, err
        elif d < delta:
            break
    if best is None:
        raise ValueError(f"no {cls} {right} strike available for a {delta:.2f} delta short on {expiry}")
    return best


def build_condors(market: SimMarket, settings: SimSettings, start: dt.datetime) -> list[BookEntry]:
    n = settings.condor_count
    if n == 0:
        return []
    cls = settings.condor_trading_class
    expiry = choose_expiry(cls, start, settings.condor_dte)
    k2 = short_strike(market, expiry, cls, "P", settings.condor_short_delta, start)
    k3 = short_strike(market, expiry, cls, "C", settings.condor_short_delta, start)
    wing = settings.condor_wing_width
    legs = ((k2 - wing, "P", n), (k2, "P", -n), (k3, "C", -n), (k3 + wing, "C", n))
    out = []
    for strike, right, qty in legs:
        key = OptKey(cls, expiry, right, strike)
        if not market.strike_listed(cls, strike):
            raise ValueError(f"condor wing strike {strike} is outside the listed {cls} strikes; narrow the wings")
        inst = catalog.with_hours(catalog.instrument(key), "cboe", start)
        price = market.value(key, start)
        mid = max(round(price / catalog.tick_size(inst, price)) * catalog.tick_size(inst, price), inst.min_tick)
        out.append(BookEntry(inst, float(qty), round(mid * 100.0, 6)))
    return out

"""Top-of-book construction: tick-rounded bid/ask around a model mid, spreads that widen with VIX, sizes.

Spreads (docs/sim_market.md, "Quotes"):
- VX: 1 tick (0.05) while VIX < 20, one more tick per 8 VIX points above 15, one more from the fourth month out;
  VXM the same width on its 0.01 grid. VIXY: 0.01 plus 0.05% of price per 15 VIX points.
- Options: 2% of mid (SPX) or 5% (VIX options) scaled by sqrt(VIX / 15), at least two ticks; a bid below one
  tick is no bid (NaN).
- Indices have no bid/ask, only a last value.
Sizes and the last-trade size are a deterministic hash of (conId, simulated minute), so a quote is a pure
function of t.
"""

from __future__ import annotations

import math

from bot.sim.market.api import Instrument, Quote
from bot.sim.market.catalog import tick_size

NAN = float("nan")


def round_up(x: float, tick: float) -> float:
    return round(math.ceil(x / tick - 1e-9) * tick, 10)


def round_near(x: float, tick: float) -> float:
    return round(round(x / tick) * tick, 10)


def _unit(con_id: int, minute: int, salt: int) -> float:
    """A deterministic number in [0, 1) from the contract and the simulated minute."""
    h = (con_id * 2654435761 + minute * 40503 + salt * 97531) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 2246822519) & 0xFFFFFFFF
    h ^= h >> 13
    return h / 4294967296.0


def spread_width(inst: Instrument, mid: float, vix: float, months_out: int = 0) -> float:
    stress = max(vix - 15.0, 0.0)
    if inst.sec_type == "FUT":
        ticks = 1 + math.floor(stress / 8.0) + (1 if months_out >= 3 else 0)
        return ticks * 0.05
    if inst.sec_type == "STK":
        return 0.01 + 0.0005 * mid * vix / 15.0
    if inst.sec_type == "OPT":
        tick = tick_size(inst, mid)
        share = 0.05 if inst.symbol == "VIX" else 0.02  # VIX options trade relatively wider than SPX
        return max(share * mid * math.sqrt(max(vix, 5.0) / 15.0), 2 * tick)
    return 0.0


def make_quote(
    inst: Instrument,
    mid: float,
    vix: float,
    close: float,
    minute: int,
    high: float = NAN,
    low: float = NAN,
    session_frac: float = 0.5,
    months_out: int = 0,
) -> Quote:
    tick = tick_size(inst, mid)
    high, low = round_near(high, tick) if high == high else NAN, round_near(low, tick) if low == low else NAN
    if inst.sec_type == "IND":
        return Quote(NAN, NAN, round(mid, 2), round(close, 2), high=high, low=low)
    n = max(1, round(spread_width(inst, mid, vix, months_out) / tick))  # spread in whole ticks, never locked
    bid = round_near(mid - n * tick / 2.0, tick)
    ask = round_up(bid + n * tick, tick_size(inst, bid + n * tick))
    if bid < tick_size(inst, 0.0) - 1e-9:
        bid = NAN  # nothing bid for a worthless option (IB sends no bid rather than a zero)
    ask = max(ask, tick_size(inst, 0.0))
    floor = tick_size(inst, 0.0)  # a worthless option last traded at the minimum tick, never at zero
    last = max(round_near(mid, tick), floor)
    close = max(close, floor)
    calm = 15.0 / max(vix, 15.0)
    u1, u2, u3 = _unit(inst.con_id, minute, 1), _unit(inst.con_id, minute, 2), _unit(inst.con_id, minute, 3)
    if inst.sec_type == "FUT":
        base, volume = 20 + 280 * calm, 60_000
    elif inst.sec_type == "STK":
        base, volume = 500 + 4500 * calm, 3_000_000
    else:
        base, volume = 5 + 95 * calm, 2_000
    return Quote(
        bid=bid,
        ask=ask,
        last=last,
        close=max(round_near(close, tick_size(inst, close)), floor),
        bid_size=float(max(1, round(base * (0.3 + u1)))),
        ask_size=float(max(1, round(base * (0.3 + u2)))),
        last_size=float(max(1, round(base * 0.2 * (0.2 + u3)))),
        high=high,
        low=low,
        volume=float(round(volume * min(max(session_frac, 0.0), 1.0) * (0.5 + u1))),
    )

"""Limit-ladder arithmetic: where step k of an order ladder is priced. Pure functions, no I/O.

Step 0 sits at mid, the last step at the far side (ask to buy, bid to sell), prices on the contract's tick grid,
never past the intent's limit. Decimal arithmetic keeps 0.05-tick prices exact (float would give 17.150000000000002).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from bot.domain.intents import Side


def _ticks(price: float, tick: float, rounding: str) -> Decimal:
    tick_d = Decimal(str(tick))
    return (Decimal(str(price)) / tick_d).to_integral_value(rounding=rounding) * tick_d


def round_down(price: float, tick: float) -> float:
    """Largest multiple of `tick` <= price."""
    _check_tick(tick)
    return float(_ticks(price, tick, ROUND_FLOOR))


def round_up(price: float, tick: float) -> float:
    """Smallest multiple of `tick` >= price."""
    _check_tick(tick)
    return float(_ticks(price, tick, ROUND_CEILING))


def _check_tick(tick: float) -> None:
    if not tick > 0:
        raise ValueError(f"min tick must be > 0, got {tick}")


PriceIncrements = tuple[tuple[float, float], ...]  # (low edge, increment), ascending: an IB market rule


def tick_at(price: float, tick: float, increments: PriceIncrements = ()) -> float:
    """The price increment valid at `price`: the market rule's tier when known, else the contract's min tick."""
    valid = tick
    for low_edge, increment in increments:
        if price >= low_edge - 1e-12:
            valid = increment
    return valid


def ladder_price(
    side: Side,
    bid: float,
    ask: float,
    step: int,
    steps: int,
    limit: float,
    tick: float,
    far_steps: int = 1,
    increments: PriceIncrements = (),
) -> float | None:
    """The price of ladder step `step` (0-based) of `steps`, or None when no positive price respects the limit.

    The raw price moves linearly from mid (step 0, always) to the far side, reached at step `steps - far_steps`
    (at least 1) and held for the remaining steps (patience where the liquidity is). It is rounded toward the
    passive side, so rounding never makes the order more aggressive than the step asks for, then clamped to the
    limit (rounded inward too). A buy is never priced above `limit`, a sell never below it. `increments` (an IB
    market rule) replaces the single `tick` where the increment depends on the price (VIX options: 0.01 below
    3.00, 0.05 from 3.00).
    """
    _check_tick(tick)
    if steps < 1 or not 0 <= step < steps:
        raise ValueError(f"step {step} is outside a ladder of {steps} steps")
    if not 1 <= far_steps <= steps:
        raise ValueError(f"far_steps {far_steps} must be between 1 and the ladder's {steps} steps")
    if not (bid > 0 and ask > 0 and ask >= bid):
        raise ValueError(f"ladder needs a valid two-sided quote, got bid {bid} ask {ask}")
    mid = (bid + ask) / 2.0
    far = ask if side is Side.BUY else bid
    walk = max(1, steps - far_steps)  # steps spent moving from mid (step 0 is always at mid) to the far side
    fraction = min(step / walk, 1.0)
    raw = mid + fraction * (far - mid)
    # Each rounding uses the increment of the tier the price is in. Flooring never leaves the tier; ceiling stops
    # at the next tier's edge at most, which lies on both grids (IB rules nest that way).
    if side is Side.BUY:
        price = min(
            round_down(raw, tick_at(raw, tick, increments)), round_down(limit, tick_at(limit, tick, increments))
        )
        return price if price > 0 else None
    price = max(round_up(raw, tick_at(raw, tick, increments)), round_up(limit, tick_at(limit, tick, increments)))
    return price if price > 0 else None

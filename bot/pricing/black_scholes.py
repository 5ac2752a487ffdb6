"""Black-Scholes (index options) and Black-76 (options on VIX futures) prices, greeks and implied vol.

One implementation serves the strategy core (greek fallback), the simulator (model greeks it publishes)
and the backtest (condor marks), so that every venue prices alike. Conventions follow IB's model greeks:
`vega` is per 1 vol point (sigma + 0.01), `theta` per calendar day, `t` in years (ACT/365).
Scalar functions use `math` for speed on small books; `*_vec` variants take numpy arrays for the backtest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

Right = Literal["C", "P"]

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
MIN_T = 1e-6  # years; below this an option is priced at intrinsic value
MIN_VOL = 1e-4


@dataclass(frozen=True, slots=True)
class Greeks:
    price: float
    delta: float
    gamma: float
    vega: float  # per 1 vol point
    theta: float  # per calendar day


def norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / _SQRT2))


def norm_pdf(x: float) -> float:
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


def _check_right(right: str) -> None:
    if right not in ("C", "P"):
        raise ValueError(f"option right must be 'C' or 'P', got {right!r}")


def bs_greeks(
    spot: float, strike: float, t: float, rate: float, vol: float, right: Right, div_yield: float = 0.0
) -> Greeks:
    """Price and greeks of a European option on an index paying a continuous dividend yield."""
    return Greeks(*bs_greeks_tuple(spot, strike, t, rate, vol, right, div_yield))


def bs_greeks_tuple(
    spot: float, strike: float, t: float, rate: float, vol: float, right: Right, div_yield: float = 0.0
) -> tuple[float, float, float, float, float]:
    """`bs_greeks` as a plain (price, delta, gamma, vega, theta) tuple: the backtest prices every open condor leg
    every day (about 20,000 calls a run) and copies the numbers into its own quote and greeks objects, so the
    `Greeks` object in between is only a cost. For the same reason `norm_pdf` and `norm_cdf` are written out
    inline (the same expressions, so the same numbers)."""
    if right != "C" and right != "P":
        _check_right(right)
    if spot <= 0 or strike <= 0:
        raise ValueError(f"spot and strike must be positive, got spot={spot} strike={strike}")
    if t <= MIN_T or vol <= MIN_VOL:
        intrinsic = max(spot - strike, 0.0) if right == "C" else max(strike - spot, 0.0)
        itm = (spot > strike) if right == "C" else (spot < strike)
        delta = (1.0 if itm else 0.0) if right == "C" else (-1.0 if itm else 0.0)
        return (intrinsic, delta, 0.0, 0.0, 0.0)
    sqrt_t = math.sqrt(t)
    d1 = (math.log(spot / strike) + (rate - div_yield + 0.5 * vol * vol) * t) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    disc_r = math.exp(-rate * t)
    disc_q = math.exp(-div_yield * t)
    pdf_d1 = _INV_SQRT_2PI * math.exp(-0.5 * d1 * d1)  # norm_pdf(d1)
    gamma = disc_q * pdf_d1 / (spot * vol * sqrt_t)
    vega = spot * disc_q * pdf_d1 * sqrt_t * 0.01
    decay = -spot * disc_q * pdf_d1 * vol / (2.0 * sqrt_t)
    erf = math.erf
    if right == "C":
        nd1, nd2 = 0.5 * (1.0 + erf(d1 / _SQRT2)), 0.5 * (1.0 + erf(d2 / _SQRT2))  # norm_cdf(d1), norm_cdf(d2)
        price = spot * disc_q * nd1 - strike * disc_r * nd2
        delta = disc_q * nd1
        theta = decay - rate * strike * disc_r * nd2 + div_yield * spot * disc_q * nd1
    else:
        nmd1, nmd2 = 0.5 * (1.0 + erf(-d1 / _SQRT2)), 0.5 * (1.0 + erf(-d2 / _SQRT2))  # norm_cdf(-d1), norm_cdf(-d2)
        price = strike * disc_r * nmd2 - spot * disc_q * nmd1
        delta = -disc_q * nmd1
        theta = decay + rate * strike * disc_r * nmd2 - div_yield * spot * disc_q * nmd1
    # `max(price, 0.0)` without the builtin's call: the same answer (NaN and -0.0 kept, as max keeps its first)
    return (0.0 if price < 0.0 else price, delta, gamma, vega, theta / 365.0)


def bs_price(
    spot: float, strike: float, t: float, rate: float, vol: float, right: Right, div_yield: float = 0.0
) -> float:
    return bs_greeks(spot, strike, t, rate, vol, right, div_yield).price


def black76_greeks(forward: float, strike: float, t: float, rate: float, vol: float, right: Right) -> Greeks:
    """Black-76 for options on a futures price (VIX options are priced off the same-expiry VX future)."""
    g = bs_greeks(forward, strike, t, rate, vol, right, div_yield=rate)
    return g


def implied_vol(
    price: float,
    spot: float,
    strike: float,
    t: float,
    rate: float,
    right: Right,
    div_yield: float = 0.0,
    lo: float = 1e-3,
    hi: float = 5.0,
    tol: float = 1e-7,
) -> float | None:
    """Bisection implied vol; None when the price is outside the no-arbitrage band (never a guess)."""
    if not (math.isfinite(price) and price > 0) or t <= MIN_T:
        return None
    p_lo = bs_price(spot, strike, t, rate, lo, right, div_yield)
    p_hi = bs_price(spot, strike, t, rate, hi, right, div_yield)
    if not (p_lo - tol <= price <= p_hi + tol):
        return None
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if bs_price(spot, strike, t, rate, mid, right, div_yield) < price:
            lo = mid
        else:
            hi = mid
        if hi - lo < tol:
            break
    return 0.5 * (lo + hi)


def _norm_cdf_vec(x: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr  # local import keeps scipy optional for scalar users

    return ndtr(x)


def bs_price_vec(
    spot: np.ndarray | float,
    strike: np.ndarray | float,
    t: np.ndarray | float,
    rate: np.ndarray | float,
    vol: np.ndarray | float,
    is_call: np.ndarray | bool,
    div_yield: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Vectorised Black-Scholes price; expired or zero-vol options are worth intrinsic value.

    Written for small arrays too (the book's stress grid is a few dozen prices per decision), where numpy's per-call
    overhead is the cost: inputs broadcast in the arithmetic instead of being copied to one shape; calls and puts
    share two normal-CDF evaluations, `N(s d1)` and `N(s d2)` with s = +1 for calls and -1 for puts, and one price
    `s (a - b)` (IEEE negation is exact: these are the textbook `N(-d1)` and `b - a` bit for bit); a zero rate or
    yield skips its discount factor (e^0 is exactly 1); and the intrinsic branch is built only when some option is
    expired or has no vol. Every element goes through the same operations as the textbook form, so the prices are
    the same to the bit (tested against it).
    """
    spot, strike, t, vol = (np.asarray(a, dtype=float) for a in (spot, strike, t, vol))
    rate, div_yield = _scalar_or_array(rate), _scalar_or_array(div_yield)
    if not (isinstance(is_call, np.ndarray) and is_call.dtype == np.bool_):
        is_call = np.asarray(is_call, dtype=float).astype(bool)
    # NaN fails both tests, as it fails `live` below
    all_live = bool(np.minimum.reduce(t, axis=None) > MIN_T and np.minimum.reduce(vol, axis=None) > MIN_VOL)
    live = None if all_live else (t > MIN_T) & (vol > MIN_VOL)
    safe_t = t if live is None else np.where(live, t, 1.0)
    safe_vol = vol if live is None else np.where(live, vol, 1.0)
    sqrt_t = np.sqrt(safe_t)
    vol_t = safe_vol * sqrt_t
    carry = rate - div_yield
    # a zero carry adds exactly nothing to 0.5 vol^2 (never -0.0): the addition is skipped, not the rounding
    drift = 0.5 * safe_vol**2 if _is_zero(carry) else carry + 0.5 * safe_vol**2
    d1 = (np.log(spot / strike) + drift * safe_t) / vol_t
    d2 = d1 - vol_t
    sign = _SIGNS.take(is_call.view(np.int8))  # +1.0 for calls, -1.0 for puts
    spot_part = spot if _is_zero(div_yield) else spot * np.exp(-div_yield * safe_t)
    strike_part = strike if _is_zero(rate) else strike * np.exp(-rate * safe_t)
    a = spot_part * _norm_cdf_vec(sign * d1)
    b = strike_part * _norm_cdf_vec(sign * d2)
    # calls a - b, puts b - a = -(a - b) exactly; `+ 0.0` turns the -0.0 of a worthless put into the textbook +0.0
    # (np.maximum(-0.0, 0.0) may return either zero) and leaves every other value as it is
    price = np.maximum(sign * (a - b), 0.0) + 0.0
    if live is None:
        return price
    intrinsic = np.where(is_call, np.maximum(spot - strike, 0.0), np.maximum(strike - spot, 0.0))
    return np.where(live, price, intrinsic)


_SIGNS = np.array([-1.0, 1.0])  # indexed by is_call as 0/1


def _scalar_or_array(x: np.ndarray | float) -> np.ndarray | float:
    """A Python float for a scalar (arithmetic with it rounds as with a 0-d array, at a fraction of the cost)."""
    if isinstance(x, float):
        return x
    arr = np.asarray(x, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


def _is_zero(x: np.ndarray | float) -> bool:
    """A scalar zero: its discount factor e^(-0 t) is exactly 1, so multiplying by it changes no bit."""
    return isinstance(x, float) and x == 0.0

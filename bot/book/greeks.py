"""Per-contract greeks of the option book, computed for all contracts at once.

Source order per contract: fresh, complete broker model greeks (with an IV to reprice under stress: the leg's
own, else the VIX-derived one); else, when `bs_fallback`, Black-Scholes from the leg's own fresh IV; else from a
VIX-derived IV with a skew term; else UNKNOWN. Non-finite, zero or negative inputs count as missing, so an
unknown contract carries NaN greeks and every structure holding it is unknown (sizing then abstains).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from scipy.special import ndtr

from bot.domain.condors import GreeksSource, LegGreeks
from bot.domain.market import OptionContract, OptionLeg
from bot.pricing.black_scholes import MIN_T, MIN_VOL
from bot.settings.book import BookSettings

YEAR_DAYS = 365.0
SOURCES = (GreeksSource.BROKER, GreeksSource.BS_LEG_IV, GreeksSource.BS_VIX, GreeksSource.UNKNOWN)
BROKER, BS_LEG_IV, BS_VIX, UNKNOWN = range(4)
_NAN_ROW = (math.nan,) * 6
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def years_to_expiry(expiry: dt.date, today: dt.date) -> float:
    return max((expiry - today).days, 0) / YEAR_DAYS


def model_iv(strike: float, spot: float, atm_iv: float, settings: BookSettings) -> float:
    """VIX-derived IV with a skew term, clamped to the configured band (scalar form of the vector rule)."""
    iv = atm_iv + settings.skew_slope * math.log(strike / spot)
    return min(max(iv, settings.min_iv), settings.max_iv)


@dataclass(frozen=True, slots=True, eq=False)
class GreeksTable:
    """Greeks per contract (quantity 1, before the multiplier); arrays aligned with `contracts`."""

    contracts: tuple[OptionContract, ...]
    source: np.ndarray  # int codes into SOURCES
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray  # per vol point
    theta: np.ndarray  # per calendar day
    iv: np.ndarray  # the vol stress repricing starts from
    mark: np.ndarray  # fresh two-sided mid, else NaN
    und: np.ndarray  # the underlying level the model used

    @property
    def known(self) -> np.ndarray:
        return self.source != UNKNOWN

    def leg(self, contract: OptionContract) -> LegGreeks:
        j = self.contracts.index(contract)
        return LegGreeks(
            SOURCES[int(self.source[j])],
            float(self.delta[j]),
            float(self.gamma[j]),
            float(self.vega[j]),
            float(self.theta[j]),
            float(self.iv[j]),
            math.nan,
            float(self.mark[j]),
        )


def _row(leg: OptionLeg, q_from: dt.datetime, g_from: dt.datetime, until: dt.datetime) -> tuple[float, ...]:
    """(mark, delta, gamma, vega, theta, iv, und) with NaN for anything missing or stale.

    Freshness is a window of instants [from, until] (until = now + 1 s of clock skew), compared directly:
    this runs once per contract per decision."""
    mark = math.nan
    q = leg.quote
    if q is not None and q.at is not None and q_from <= q.at <= until:
        bid, ask = q.bid, q.ask  # Quote.mid inlined (hot path): both sides finite, positive, not crossed
        if 0.0 < bid <= ask and math.isfinite(ask):
            mark = 0.5 * (bid + ask)
    g = leg.greeks
    if g is None or not g_from <= g.at <= until:
        return (mark, *_NAN_ROW)
    return (mark, g.delta, g.gamma, g.vega, g.theta, g.iv, g.und_price)


def bs_greeks_vec(
    spot: np.ndarray, strike: np.ndarray, t: np.ndarray, rate: float, vol: np.ndarray, is_call: np.ndarray, q: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(price, delta, gamma, vega, theta) with `bot.pricing.black_scholes.bs_greeks` conventions, vectorised."""
    live = (t > MIN_T) & (vol > MIN_VOL)
    st = np.where(live, t, 1.0)
    sv = np.where(live, vol, 1.0)
    sqrt_t = np.sqrt(st)
    d1 = (np.log(spot / strike) + (rate - q + 0.5 * sv * sv) * st) / (sv * sqrt_t)
    d2 = d1 - sv * sqrt_t
    disc_r, disc_q = np.exp(-rate * st), np.exp(-q * st)
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
    gamma = disc_q * pdf / (spot * sv * sqrt_t)
    vega = spot * disc_q * pdf * sqrt_t * 0.01
    decay = -spot * disc_q * pdf * sv / (2.0 * sqrt_t)
    nd1, nd2, nmd1, nmd2 = ndtr(d1), ndtr(d2), ndtr(-d1), ndtr(-d2)
    price = np.where(
        is_call, spot * disc_q * nd1 - strike * disc_r * nd2, strike * disc_r * nmd2 - spot * disc_q * nmd1
    )
    delta = np.where(is_call, disc_q * nd1, -disc_q * nmd1)
    theta = np.where(
        is_call,
        decay - rate * strike * disc_r * nd2 + q * spot * disc_q * nd1,
        decay + rate * strike * disc_r * nmd2 - q * spot * disc_q * nmd1,
    )
    itm = np.where(is_call, spot > strike, spot < strike)
    intrinsic = np.where(is_call, np.maximum(spot - strike, 0.0), np.maximum(strike - spot, 0.0))
    dead_delta = np.where(itm, np.where(is_call, 1.0, -1.0), 0.0)
    return (
        np.where(live, np.maximum(price, 0.0), intrinsic),
        np.where(live, delta, dead_delta),
        np.where(live, gamma, 0.0),
        np.where(live, vega, 0.0),
        np.where(live, theta / YEAR_DAYS, 0.0),
    )


def _all_broker(n: int) -> np.ndarray:
    """`np.full(n, BROKER)` (the same integer array), without np.full's Python wrapper."""
    source = np.empty(n, dtype=np.int_)
    source.fill(BROKER)
    return source


def greeks_table(
    contracts: tuple[OptionContract, ...],
    legs: Sequence[OptionLeg],
    strikes: np.ndarray,
    is_call: np.ndarray,
    t: np.ndarray,
    now: dt.datetime,
    settings: BookSettings,
    spot: float | None,
    vix: float | None,
) -> GreeksTable:
    """Greeks of `contracts`, each read from the leg at the same index of `legs`; `t` in years per contract."""
    n = len(contracts)
    until = now + dt.timedelta(seconds=1)
    q_from = now - dt.timedelta(seconds=settings.quote_max_age_s)
    g_from = now - dt.timedelta(seconds=settings.greeks_max_age_s)
    flat = chain.from_iterable(_row(leg, q_from, g_from, until) for leg in legs)
    rows = np.fromiter(flat, dtype=float, count=7 * n).reshape(n, 7)
    mark, d, gm, v, th, iv, und_g = rows.T
    if spot is not None and math.isfinite(spot) and spot > 0 and np.isfinite(rows[:, 1:6]).all() and (iv > 0).all():
        # every contract has fresh, complete broker greeks with its own IV and SPX is usable (the usual case): the
        # rules below would pick the broker's numbers for all of them, so they are returned as they are (the same
        # test as below, on the whole block at once)
        und = np.empty(n)
        und.fill(spot)  # `np.full(n, spot)` without its Python wrapper
        return GreeksTable(contracts, _all_broker(n), d, gm, v, th, iv, mark, und)
    finite = np.isfinite
    with np.errstate(invalid="ignore", divide="ignore"):
        complete = finite(d) & finite(gm) & finite(v) & finite(th)
        leg_iv_ok = finite(iv) & (iv > 0)
        # SPX when fresh; otherwise each leg's own underlying from its (fresh) broker greeks
        und = np.full(n, spot) if spot is not None else np.where(finite(und_g) & (und_g > 0), und_g, np.nan)
        und_ok = finite(und) & (und > 0)
        safe_und = np.where(und_ok, und, 1.0)
        if vix is not None:
            atm = vix / 100.0 * settings.atm_iv_per_vix
            iv_vix = np.clip(atm + settings.skew_slope * np.log(strikes / safe_und), settings.min_iv, settings.max_iv)
            iv_vix = np.where(und_ok, iv_vix, np.nan)
        else:
            iv_vix = np.full(n, np.nan)
        iv_used = np.where(leg_iv_ok, iv, iv_vix)
        broker = complete & und_ok & finite(iv_used)
        fallback = settings.bs_fallback & und_ok & ~broker
        bs_leg = fallback & leg_iv_ok
        bs_vix = fallback & ~leg_iv_ok & finite(iv_vix)
        model = bs_leg | bs_vix
        # nested `where`, not `np.select`: same codes, a tenth of the cost on a handful of contracts
        source = np.where(broker, BROKER, np.where(bs_leg, BS_LEG_IV, np.where(bs_vix, BS_VIX, UNKNOWN)))
        known = source != UNKNOWN
        if model.any():
            safe_iv = np.where(model, iv_used, 0.2)
            _, bd, bg, bv, bt = bs_greeks_vec(
                safe_und, strikes, t, settings.risk_free_rate, safe_iv, is_call, settings.dividend_yield
            )
            d, gm, v, th = (np.where(model, b, x) for b, x in ((bd, d), (bg, gm), (bv, v), (bt, th)))
    nan = np.nan
    return GreeksTable(
        contracts=contracts,
        source=source,
        delta=np.where(known, d, nan),
        gamma=np.where(known, gm, nan),
        vega=np.where(known, v, nan),
        theta=np.where(known, th, nan),
        iv=np.where(known, iv_used, nan),
        mark=mark,
        und=und,
    )

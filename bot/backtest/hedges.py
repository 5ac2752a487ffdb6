"""Hedge legs executed on real prices: VX futures on each contract's own settle, VIXY closes, modelled VIX calls.

Timing (no look-ahead): a target decided from data up to the close of day t is traded at day t+1's price (the
VX settle, 16:15 ET, or the VIXY close, 16:00 ET) and earns P&L from then on. Each instrument is marked at its own
closing print only, so the 15-minute gap between the ETF close and the futures settle never enters one day's P&L
of one leg; on a spike day (2018-02-05: VIXY +34%, F1 +100%) the two legs simply show different moves, as they would
have in the account.

Costs: half spreads that widen with VIX (`spread_scale`), commissions and fees per contract or per notional, an
extra slippage on each futures roll, and VIXY's expense ratio only where the real fund's returns (already net of
fees) are missing and a synthetic VIXY built from the VX curve is used instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from bot.backtest.condors import spread_scale
from bot.backtest.data import MarketData
from bot.pricing.black_scholes import MIN_T, MIN_VOL, bs_price_vec
from bot.settings.backtest import CompetitorSettings, CostSettings

VX_MULTIPLIER = 1000.0
VIX_OPTION_MULTIPLIER = 100.0
DAYS = 365.0


@dataclass(frozen=True)
class LegResult:
    pnl: np.ndarray  # dollars per day, costs included
    costs: np.ndarray  # dollars of costs per day
    exposure: np.ndarray  # held at each close: VX contracts / VIXY dollars / VIX calls (count)


def trading_days_to_expiry(data: MarketData) -> np.ndarray:
    """(n_days, n_contracts): trading days from each day to each contract's expiry (negative once expired)."""
    expiry_pos = np.searchsorted(data.dates, data.vx.expiry)
    return expiry_pos[None, :] - np.arange(data.n)[:, None]


def hold_contract(data: MarketData, roll_days: int, offset: int = 0) -> np.ndarray:
    """Per day, the contract column a futures hedge holds: the `offset`-th listed contract (0 = front) among those
    with more than `roll_days` trading days left, so that a held F1 rolls `roll_days` days before expiry. A
    contract counts as listed from its first to its last settle in the data."""
    left = trading_days_to_expiry(data)
    valid = np.isfinite(data.vx.settle)
    rows = np.arange(data.n)[:, None]
    first = np.argmax(valid, axis=0)[None, :]
    last = (data.n - 1 - np.argmax(valid[::-1], axis=0))[None, :]
    trading = valid.any(axis=0)[None, :] & (rows >= first) & (rows <= last)  # a hole in the data is not a delisting
    listed = trading & (left > roll_days)
    beyond = np.cumsum(listed, axis=1) > offset  # from the offset-th listed column on (columns sorted by expiry)
    return np.where(beyond.any(axis=1), beyond.argmax(axis=1), -1).astype(np.int64)


def futures_leg(
    data: MarketData,
    target: np.ndarray,
    costs: CostSettings,
    roll_days: int,
    step: float,
    offset: int = 0,
    held: np.ndarray | None = None,
) -> LegResult:
    """Long VX futures following `target` (contracts, decided at each close; NaN = no view, hold) at t+1 settles.
    `held` may pass a precomputed `hold_contract(data, roll_days, offset)` (the sweep reuses it)."""
    n = data.n
    settle = data.vx.settle
    held_col = hold_contract(data, roll_days, offset) if held is None else held
    half = costs.vx_half_spread * spread_scale(data.vix, costs.spread_vix_power) * VX_MULTIPLIER
    per_contract = half + costs.vx_commission  # per VX-equivalent (a VXM is charged a tenth: 0.1 VX)
    pnl = np.zeros(n)
    cost = np.zeros(n)
    qty_out = np.zeros(n)
    rounded = np.maximum(np.round(np.asarray(target, dtype=float) / step) * step, 0.0).tolist()  # NaN stays NaN
    # the day loop reads Python lists and scalars (the same values: the same arithmetic, without numpy's
    # per-element overhead; this leg runs once per sweep set)
    held_l, per_l = held_col.tolist(), per_contract.tolist()
    expiry_day, day = (x.astype("datetime64[D]").astype(np.int64).tolist() for x in (data.vx.expiry, data.dates))
    roll_slippage = costs.vx_roll_slippage * VX_MULTIPLIER
    qty, col, last = 0.0, -1, math.nan  # contracts held, their column, their last settle
    for i in range(1, n):
        row = settle[i]
        if qty != 0.0:
            price = row[col]
            if math.isfinite(price):  # a missing settle carries the position at its last price
                pnl[i] += qty * (price - last) * VX_MULTIPLIER
                last = price
            if expiry_day[col] <= day[i]:  # cash-settled at the final settlement: nothing to sell
                qty, col = 0.0, -1
        want = held_l[i]
        wanted = rounded[i - 1]
        new_qty = qty if wanted != wanted else wanted  # NaN (no view): keep
        if want < 0 or not math.isfinite(row[want]):
            qty_out[i] = qty  # nothing tradable today: hold what there is, trade tomorrow
            continue
        if qty != 0.0 and want != col:
            cost[i] += abs(qty) * (2 * per_l[i] + roll_slippage)
            col, last = want, row[want]
        if new_qty != qty:
            cost[i] += abs(new_qty - qty) * per_l[i]
            col, last = want, row[want]
        qty = new_qty
        qty_out[i] = qty
    return LegResult(pnl - cost, cost, qty_out)


def vixy_returns(data: MarketData, expense_ratio: float) -> np.ndarray:
    """Daily VIXY returns; before launch (or on missing days) a 30-day constant-maturity F1/F2 mix of the same
    contracts held overnight, minus the expense ratio (the real fund's returns are already net of it)."""
    n = data.n
    ret = np.full(n, np.nan)
    close = data.vixy
    real = np.isfinite(close[1:]) & np.isfinite(close[:-1])
    ret[1:][real] = close[1:][real] / close[:-1][real] - 1.0
    settle = data.vx.settle
    f1, f2 = data.vx.f1.tolist(), data.vx.f2.tolist()
    # Python ints and floats in the loop: the same arithmetic, without numpy's per-scalar overhead
    day, expiry = (x.astype("datetime64[D]").astype(np.int64).tolist() for x in (data.dates, data.vx.expiry))
    for i in (np.flatnonzero(np.isnan(ret[1:])) + 1).tolist():
        a, b = f1[i - 1], f2[i - 1]
        if a < 0 or b < 0:
            continue
        d1, d2 = expiry[a] - day[i - 1], expiry[b] - day[i - 1]
        w1 = min(max((d2 - 30.0) / max(d2 - d1, 1.0), 0.0), 1.0)
        r1 = settle[i, a] / settle[i - 1, a] - 1.0
        r2 = settle[i, b] / settle[i - 1, b] - 1.0
        if math.isfinite(r1) and math.isfinite(r2):
            ret[i] = w1 * r1 + (1 - w1) * r2 - expense_ratio * (day[i] - day[i - 1]) / DAYS
    return np.nan_to_num(ret, nan=0.0)


def vixy_leg(data: MarketData, target: np.ndarray, costs: CostSettings, band: float = 0.10) -> LegResult:
    """VIXY notional following `target` dollars (decided at close t, traded at the t+1 close); rebalanced only when
    the holding drifts more than `band` from target, to keep costs honest."""
    n = data.n
    ret = vixy_returns(data, costs.vixy_expense_ratio)
    bps = costs.vixy_half_spread_bps * spread_scale(data.vix, costs.spread_vix_power) + costs.vixy_commission_bps
    rate = bps / 1e4
    pnl = np.zeros(n)
    cost = np.zeros(n)
    held = np.zeros(n)
    value = 0.0
    ret_l, rate_l, target_l = ret.tolist(), rate.tolist(), np.asarray(target, dtype=float).tolist()  # as in futures_leg
    for i in range(1, n):
        gain = value * ret_l[i]
        pnl[i] += gain
        value += gain
        wanted = target_l[i - 1]
        if math.isfinite(wanted):
            wanted = max(wanted, 0.0)
            if abs(value - wanted) > band * max(wanted, 1.0) or (wanted == 0.0 and value != 0.0):
                cost[i] += abs(wanted - value) * rate_l[i]
                value = wanted
        held[i] = value
    return LegResult(pnl - cost, cost, held)


def vix_call_vols(
    data: MarketData, i: int, t: float, strikes: np.ndarray, forward: float, comp: CompetitorSettings
) -> np.ndarray:
    """Black-76 vols for VIX calls of one expiry: VVIX (or its fallback before 2007) is the 30-day vol of spot VIX;
    a future further out moves less, so the ATM vol decays with tenor like a mean-reverting VIX
    (`vvix_term_decay` per year, normalised at 30 days), plus an upward call skew."""
    vvix = data.vvix[i] if np.isfinite(data.vvix[i]) else comp.vvix_fallback
    k = comp.vvix_term_decay
    tt = max(t, 1.0 / DAYS)
    damp = ((1 - np.exp(-k * tt)) / (k * tt)) / ((1 - np.exp(-k * 30 / DAYS)) / (k * 30 / DAYS))
    atm = vvix / 100.0 * np.sqrt(max(damp, 0.2))
    return atm * np.maximum(1.0 + comp.vix_call_skew * np.log(np.asarray(strikes, dtype=float) / forward), 0.5)


def vix_call_vols_rows(
    data: MarketData,
    rows: np.ndarray,
    t: np.ndarray,
    strikes: np.ndarray,
    forward: np.ndarray,
    comp: CompetitorSettings,
) -> np.ndarray:
    """`vix_call_vols` for many (day, expiry) rows at once: `rows`, `t` and `forward` are columns (shape (n, 1))
    against a strike matrix (n, k). The same element-wise arithmetic, so the same numbers (tested); kept apart
    from the scalar form, which the daily hedge legs call thousands of times and which numpy would slow down."""
    vvix = data.vvix[rows]
    vvix = np.where(np.isfinite(vvix), vvix, comp.vvix_fallback)
    k = comp.vvix_term_decay
    tt = np.maximum(t, 1.0 / DAYS)
    damp = ((1 - np.exp(-k * tt)) / (k * tt)) / ((1 - np.exp(-k * 30 / DAYS)) / (k * 30 / DAYS))
    atm = vvix / 100.0 * np.sqrt(np.maximum(damp, 0.2))
    return atm * np.maximum(1.0 + comp.vix_call_skew * np.log(strikes / forward), 0.5)


def vix_call_vol(data: MarketData, i: int, t: float, strike: float, forward: float, comp: CompetitorSettings) -> float:
    """`vix_call_vols` for one strike, written on floats: the same operations (numpy's log and exp), so the same
    number (tested), without building arrays for one value (the hedge legs call it thousands of times)."""
    vvix = data.vvix[i] if np.isfinite(data.vvix[i]) else comp.vvix_fallback
    k = comp.vvix_term_decay
    tt = max(t, 1.0 / DAYS)
    damp = ((1 - np.exp(-k * tt)) / (k * tt)) / ((1 - np.exp(-k * 30 / DAYS)) / (k * 30 / DAYS))
    atm = vvix / 100.0 * np.sqrt(max(damp, 0.2))
    return float(atm * max(1.0 + comp.vix_call_skew * np.log(strike / forward), 0.5))


def vix_call_price(forward: float, strike: float, t: float, rate: float, vol: float) -> float:
    """Black-76 call on the VX future (Black-Scholes with dividend yield = rate): `bs_price_vec` for one option,
    written on floats with the same operations (numpy's log and exp, scipy's normal CDF), so the same number
    (tested), at a third of the cost (the daily hedge legs price one call at a time)."""
    if not (t > MIN_T and vol > MIN_VOL):  # expired or no vol: intrinsic value (NaN inputs land here too)
        return float(max(forward - strike, 0.0))
    vol_t = vol * math.sqrt(t)
    d1 = (np.log(forward / strike) + (rate - rate + 0.5 * (vol * vol)) * t) / vol_t
    d2 = d1 - vol_t
    disc = np.exp(-rate * t)
    return float(max(forward * disc * ndtr(d1) - strike * disc * ndtr(d2), 0.0))


def vix_call_prices(forward: float, strikes: np.ndarray, t: float, rate: float, vols: np.ndarray) -> np.ndarray:
    return bs_price_vec(forward, strikes, t, rate, vols, True, rate)


def vxth_calls_leg(data: MarketData, comp: CompetitorSettings, costs: CostSettings, capital: float) -> LegResult:
    """Monthly 30-delta calls on the new front VX contract, bought at its settle on each VX expiry day (and on the
    first day), sized by the VXTH weight schedule on that future's level; held to expiry and settled at the
    contract's final settlement. The schedule is fixed in advance: no signal, no look-ahead."""
    n = data.n
    settle = data.vx.settle
    day = data.dates.astype(np.int64)
    expiry = data.vx.expiry.astype(np.int64)
    pnl = np.zeros(n)
    cost = np.zeros(n)
    held = np.zeros(n)
    pos_col, strike, qty, last_value = -1, 0.0, 0.0, 0.0
    for i in range(1, n):
        if qty > 0:
            f = settle[i, pos_col]
            t = (expiry[pos_col] - day[i]) / DAYS
            if not np.isfinite(f):
                if t > 0:
                    held[i] = qty
                    continue  # no settle today: carried at the last value (no roll can happen without F1 data)
                f = strike + last_value  # expired without a final print: settle at the last value
            if t <= 0:
                value = max(f - strike, 0.0)
                pnl[i] += (value - last_value) * qty * VIX_OPTION_MULTIPLIER
                qty, pos_col = 0.0, -1
            else:
                vol = vix_call_vol(data, i, t, strike, f, comp)
                value = vix_call_price(f, strike, t, data.rate[i], vol)
                pnl[i] += (value - last_value) * qty * VIX_OPTION_MULTIPLIER
                last_value = value
        # the roll: the day the front contract changes (a VX expiry day: the old calls settled this morning)
        roll_day = data.vx.f1[i] != data.vx.f1[i - 1]
        if qty == 0 and (roll_day or i == 1):
            col = data.vx.f1[i]
            f = settle[i, col] if col >= 0 else np.nan
            if col >= 0 and np.isfinite(f):
                weight = comp.vxth_budget_share * (1.0 if 15 < f <= 30 else 0.5 if 30 < f <= 50 else 0.0)
                t = (expiry[col] - day[i]) / DAYS
                if weight > 0 and t > 0:
                    vol = vix_call_vol(data, i, t, f, f, comp)
                    k = f * np.exp(-ndtri(comp.vxth_call_delta) * vol * np.sqrt(t) + 0.5 * vol * vol * t)
                    k = max(np.round(k), np.ceil(f))  # VIX strikes on a 1-point grid, out of the money
                    vol = vix_call_vol(data, i, t, k, f, comp)
                    price = vix_call_price(f, k, t, data.rate[i], vol)
                    half = max(
                        costs.vix_option_half_spread * spread_scale(data.vix[i], costs.spread_vix_power), 0.05 * price
                    )
                    ask = price + half
                    contracts = np.floor(weight * capital / (ask * VIX_OPTION_MULTIPLIER)) if ask > 0 else 0.0
                    if contracts > 0:
                        cost[i] += contracts * (half * VIX_OPTION_MULTIPLIER + costs.vix_option_commission)
                        pos_col, strike, qty, last_value = col, float(k), float(contracts), price
        held[i] = qty
    return LegResult(pnl - cost, cost, held)

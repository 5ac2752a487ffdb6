"""Implied-volatility surface for SPX options, rebuilt each day from public Cboe indices (no option chains exist).

Model (every constant is a setting in `BacktestSettings`):
1. ATM term structure. VIX9D, VIX and VIX3M are 9-, 30- and 93-calendar-day volatility indices. Their squares
   times tenor are total variances; the total variance at any tenor is interpolated linearly between those points
   (flat volatility beyond the ends). VIX is a variance-swap rate, above the ATM implied vol because of the skew,
   so each index is multiplied by `atm_to_vix_ratio` first.
   Missing points (VIX3M before 2009-09, VIX9D before 2011) come from a mean-reverting variance curve fitted
   through VIX: avgvar(T) = theta + (v0 - theta) * (1 - exp(-kT)) / (kT), with theta = `long_run_vol`^2 and
   k = `vol_mean_reversion`; v0 is solved so that avgvar(30d) = VIX^2.
2. Skew. Cboe SKEW = 100 - 10 * (risk-neutral skewness of 30-day returns); steeper when SKEW is higher. Vol at
   strike K is atm * (1 + slope * z) with z = -ln(K/F) / (atm * sqrt(T)) (standardized moneyness, > 0 for puts),
   slope = `skew_coefficient` * (SKEW - 100) / 100 on the put side and `call_skew_share` of that on the call side
   (the SPX smile flattens above the money), floored at `min_vol_share` of ATM. A missing SKEW uses `default_skew`.
This is an empirical shape, not a fitted surface: it gets the level, term structure and the put-over-call
premium right in spirit, and it is the main source of model error in the condor P&L (see docs/evidence.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DAYS = 365.0


@dataclass(frozen=True, slots=True)
class VolModelParams:
    atm_to_vix_ratio: float
    long_run_vol: float
    vol_mean_reversion: float
    skew_coefficient: float
    call_skew_share: float
    min_vol_share: float
    default_skew: float


def _mr_avg_var(v0: np.ndarray, theta: float, k: float, t: np.ndarray | float) -> np.ndarray:
    kt = np.maximum(k * np.asarray(t, dtype=float), 1e-9)
    return theta + (v0 - theta) * (1.0 - np.exp(-kt)) / kt


def _mr_weight(k: float, t: float) -> float:
    kt = max(k * t, 1e-9)
    return float((1.0 - np.exp(-kt)) / kt)


def atm_term_points(
    vix: np.ndarray, vix9d: np.ndarray, vix3m: np.ndarray, p: VolModelParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ATM vols (decimal) at 9, 30 and 93 days per day, with missing indices filled by the mean-reverting curve."""
    atm30 = p.atm_to_vix_ratio * vix / 100.0
    theta = (p.atm_to_vix_ratio * p.long_run_vol) ** 2
    k = p.vol_mean_reversion
    w30 = _mr_weight(k, 30 / DAYS)
    v0 = theta + (atm30**2 - theta) / w30  # instantaneous variance consistent with the 30-day point
    v0 = np.maximum(v0, 1e-6)
    fill9 = np.sqrt(np.maximum(_mr_avg_var(v0, theta, k, 9 / DAYS), 1e-8))
    fill93 = np.sqrt(np.maximum(_mr_avg_var(v0, theta, k, 93 / DAYS), 1e-8))
    atm9 = np.where(np.isnan(vix9d), fill9, p.atm_to_vix_ratio * vix9d / 100.0)
    atm93 = np.where(np.isnan(vix3m), fill93, p.atm_to_vix_ratio * vix3m / 100.0)
    return atm9, atm30, atm93


def atm_vol(points: tuple[np.ndarray, np.ndarray, np.ndarray], t_years: np.ndarray) -> np.ndarray:
    """ATM vol at `t_years` (same shape as the point arrays) by linear interpolation in total variance."""
    atm9, atm30, atm93 = points
    t = np.maximum(np.asarray(t_years, dtype=float), 1.0 / DAYS)
    t9, t30, t93 = 9 / DAYS, 30 / DAYS, 93 / DAYS
    w9, w30, w93 = atm9**2 * t9, atm30**2 * t30, atm93**2 * t93
    short = w9 + (w30 - w9) * (t - t9) / (t30 - t9)
    long = w30 + (w93 - w30) * (t - t30) / (t93 - t30)
    total = np.where(t <= t30, short, long)
    vol = np.sqrt(np.maximum(total, 1e-10) / t)
    vol = np.where(t < t9, atm9, vol)
    return np.where(t > t93, atm93, vol)


def smile_vol(
    atm: np.ndarray, strike: np.ndarray, forward: np.ndarray, t_years: np.ndarray, skew: np.ndarray, p: VolModelParams
) -> np.ndarray:
    """Vol at `strike` from the ATM vol and the SKEW index (see the module docstring)."""
    t = np.maximum(np.asarray(t_years, dtype=float), 1.0 / DAYS)
    skew = np.where(np.isnan(skew), p.default_skew, skew)
    slope = p.skew_coefficient * (skew - 100.0) / 100.0
    z = -np.log(strike / forward) / (atm * np.sqrt(t))
    slope = np.where(z < 0, slope * p.call_skew_share, slope)
    return atm * np.maximum(1.0 + slope * z, p.min_vol_share)


def atm_vol_one(atm9: float, atm30: float, atm93: float, t_years: float) -> float:
    """`atm_vol` for one tenor on one day's points, written on floats with the same operations (squares as
    products, as numpy squares), so the same number (tested), without building arrays for one value."""
    t = max(t_years, 1.0 / DAYS)
    t9, t30, t93 = 9 / DAYS, 30 / DAYS, 93 / DAYS
    w9, w30, w93 = atm9 * atm9 * t9, atm30 * atm30 * t30, atm93 * atm93 * t93
    short = w9 + (w30 - w9) * (t - t9) / (t30 - t9)
    long = w30 + (w93 - w30) * (t - t30) / (t93 - t30)
    vol = math.sqrt(max(short if t <= t30 else long, 1e-10) / t)
    vol = atm9 if t < t9 else vol
    return float(atm93 if t > t93 else vol)


def smile_vol_one(atm: float, strike: float, forward: float, t_years: float, skew: float, p: VolModelParams) -> float:
    """`smile_vol` for one strike, written on floats with the same operations (numpy's log), so the same number
    (tested): the condor engine solves strikes for a delta with it, a few thousand calls a run, where building
    0-d arrays cost more than the arithmetic."""
    t = max(t_years, 1.0 / DAYS)
    skew = p.default_skew if math.isnan(skew) else skew
    slope = p.skew_coefficient * (skew - 100.0) / 100.0
    z = -np.log(strike / forward) / (atm * math.sqrt(t))
    slope = slope * p.call_skew_share if z < 0 else slope
    return float(atm * max(1.0 + slope * z, p.min_vol_share))

"""Implied volatility surfaces: SPX options from the VIX term structure, VIX options from a VVIX-like level.

SPX (docs/sim_market.md, "SPX surface"):
    atm(T) = atm_ratio * term_vol(T) / 100                 (term_vol through VIX9D / VIX / VIX3M)
    x      = clip(ln(K / F) / sqrt(T), -X_MAX, X_MAX)
    iv     = clip(atm + slope * x + curvature * x^2, 0.3 atm, 4 atm)
A negative slope makes out-of-the-money puts richer than calls at the same distance (the index skew).
VIX options (Black-76 off the same-month VX future):
    vvix   = clip(vvix_at_15 + vvix_slope * (VIX - 15), 60, 250) / 100
    atm(T) = vvix * clip((30 / days)^0.2, 0.75, 1.5)       (short options carry more vol of vol)
    iv     = clip(atm + skew * ln(K / F), 0.4 atm, 3 atm)  (positive skew: calls richer)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

X_MAX = 2.5
MIN_T = 1.0 / (365.0 * 24.0)


@dataclass(frozen=True, slots=True)
class SpxSurface:
    atm_ratio: float
    slope: float
    curvature: float

    def atm(self, term_vol_points: float) -> float:
        return self.atm_ratio * term_vol_points / 100.0

    def iv(self, atm: float, forward: float, strike: float, t: float) -> float:
        x = math.log(strike / forward) / math.sqrt(max(t, MIN_T))
        x = min(max(x, -X_MAX), X_MAX)
        raw = atm + self.slope * x + self.curvature * x * x
        return min(max(raw, 0.3 * atm), 4.0 * atm)


@dataclass(frozen=True, slots=True)
class VixOptionSurface:
    vvix_at_15: float
    vvix_slope: float
    skew: float

    def atm(self, vix: float, days: float) -> float:
        vvix = min(max(self.vvix_at_15 + self.vvix_slope * (vix - 15.0), 60.0), 250.0) / 100.0
        return vvix * min(max((30.0 / max(days, 0.5)) ** 0.2, 0.75), 1.5)

    def iv(self, atm: float, forward: float, strike: float) -> float:
        raw = atm + self.skew * math.log(strike / forward)
        return min(max(raw, 0.4 * atm), 3.0 * atm)

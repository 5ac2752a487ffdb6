"""VIX term structure: VX futures and the VIX9D/VIX3M indices from spot VIX and a long-run level.

One mean-reverting expectation drives all of them (docs/sim_market.md, "Term structure"):
    F(tau) = theta + (VIX - theta) * exp(-kappa * tau)
so a future converges to spot at expiry (tau -> 0), its beta to spot is exp(-kappa * tau) (about 1 near expiry, about
0.6 at one month with kappa = 6.2/yr), the curve is in contango while VIX < theta and inverts (F1 > F2) above it.
A volatility index over horizon tau averages the expected variance path, approximated by the average level:
    V(tau) = theta + (VIX - theta) * g(tau) / g(30 days),  g(tau) = (1 - exp(-kappa tau)) / (kappa tau).
"""

from __future__ import annotations

import itertools
import math

DAYS_PER_YEAR = 365.0
TAU_30 = 30.0 / DAYS_PER_YEAR


def future_beta(tau: float, kappa: float) -> float:
    """d F / d VIX for a future `tau` years from expiry."""
    return math.exp(-kappa * max(tau, 0.0))


def future_price(vix: float, theta: float, tau: float, kappa: float) -> float:
    return theta + (vix - theta) * future_beta(tau, kappa)


def _g(tau: float, kappa: float) -> float:
    x = kappa * tau
    return 1.0 - x / 2.0 if x < 1e-6 else (1.0 - math.exp(-x)) / x


def vol_index(vix: float, theta: float, days: float, kappa: float) -> float:
    """A VIX-style index over `days` calendar days (VIX9D: 9, VIX3M: 93) consistent with the futures curve."""
    return max(theta + (vix - theta) * _g(days / DAYS_PER_YEAR, kappa) / _g(TAU_30, kappa), 1.0)


def cm30_weights(days_f1: float, days_f2: float) -> tuple[float, float]:
    """Weights of F1 and F2 in the 30-day constant-maturity mix (linear in calendar days, clipped to [0, 1])."""
    if days_f2 <= days_f1:
        raise ValueError(f"F2 must expire after F1, got {days_f1} and {days_f2} days")
    w1 = min(max((days_f2 - 30.0) / (days_f2 - days_f1), 0.0), 1.0)
    return w1, 1.0 - w1


def term_vol(days: float, v9: float, v30: float, v93: float) -> float:
    """Implied vol level (index points) at `days`, interpolating total variance through 9/30/93-day indices."""
    pts = ((9.0, v9), (30.0, v30), (93.0, v93))
    if days <= pts[0][0]:
        return v9
    if days >= pts[-1][0]:
        return v93
    for (d0, a), (d1, b) in itertools.pairwise(pts):
        if days <= d1:
            w0, w1 = a * a * d0, b * b * d1
            return math.sqrt((w0 + (w1 - w0) * (days - d0) / (d1 - d0)) / days)
    return v93  # pragma: no cover - loop always returns

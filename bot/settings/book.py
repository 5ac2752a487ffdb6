"""Reading the condor book: greeks freshness, the Black-Scholes fallback, beta_IV, the stress grid."""

from __future__ import annotations

from pydantic import Field

from bot.settings.base import Section


class StressPoint(Section):
    """One stress scenario: the book is fully repriced with these shocks (sticky moneyness: the skew moves with SPX)."""

    spx_pct: float = Field(-7.0, ge=-99, le=100, description="SPX move, percent (-7 = down 7%)")
    iv_points: float = Field(15.0, ge=-50, le=200, description="implied vol shift of every leg, vol points")
    days: float = Field(5.0, ge=0, le=365, description="calendar days that pass (time decay)")
    vix_points: float = Field(
        15.0,
        gt=0,
        description="the VIX move assumed with this scenario, points: scenario sizing divides the loss by it",
    )


def _default_grid() -> list[StressPoint]:
    return [
        StressPoint(spx_pct=-5.0, iv_points=10.0, days=1.0, vix_points=10.0),
        StressPoint(spx_pct=-7.0, iv_points=15.0, days=5.0, vix_points=15.0),
        StressPoint(spx_pct=-10.0, iv_points=30.0, days=5.0, vix_points=30.0),
    ]


class BookSettings(Section):
    greeks_max_age_s: float = Field(
        120.0, gt=0, description="broker model greeks older than this are stale and not used, seconds"
    )
    quote_max_age_s: float = Field(
        60.0, gt=0, description="SPX/VIX/option quotes older than this are stale for the greeks fallback, seconds"
    )
    bs_fallback: bool = Field(
        True,
        description="when broker greeks are missing or stale, compute Black-Scholes greeks from the leg's IV or a "
        "VIX-derived IV; false makes such legs unknown (sizing then abstains)",
    )
    atm_iv_per_vix: float = Field(
        0.9,
        gt=0,
        le=2,
        description="ATM implied vol of the condors' expiry as a multiple of VIX/100 (VIX carries a skew premium, so "
        "SPX ATM IV is usually below VIX)",
    )
    skew_slope: float = Field(
        -0.7,
        ge=-5,
        le=5,
        description="skew term: IV(K) = ATM IV + skew_slope x ln(K/SPX), vol as a fraction per unit log-moneyness "
        "(negative: puts richer than calls)",
    )
    min_iv: float = Field(0.03, gt=0, description="floor of any modelled IV, as a fraction")
    max_iv: float = Field(3.0, gt=0, description="ceiling of any modelled IV, as a fraction")
    risk_free_rate: float = Field(0.0, ge=-0.05, le=0.25, description="continuous rate for Black-Scholes, fraction")
    dividend_yield: float = Field(0.0, ge=0, le=0.2, description="SPX continuous dividend yield, fraction")
    beta_iv: float = Field(
        0.85,
        gt=0,
        le=2,
        description="vol points the condors' IV moves per VIX point (E_VIX = beta_iv x V_IC); typically 0.7 to 0.9",
    )
    stress_grid: list[StressPoint] = Field(
        default_factory=_default_grid,
        description="stress scenarios for full repricing; each structure's loss is capped at its max loss",
    )

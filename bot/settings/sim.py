"""Built-in gateway simulator: account, starting book, scenario model parameters."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from bot.settings.base import Section


class SimSettings(Section):
    """The simulated account and the market model (docs/sim_market.md explains every equation these feed)."""

    account_id: str = Field(
        "DU1234567", pattern=r"^[A-Z]{1,3}\d{3,10}$", description="account id reported by the simulator (DU... paper)"
    )
    seed: int = Field(0, ge=0, description="random seed of the synthetic scenarios (same seed, same market)")
    start_date: dt.date | None = Field(
        None, description="first simulated trading day of a synthetic scenario; unset uses 2025-01-13"
    )
    replay_start: dt.date | None = Field(None, description="first replayed day; unset: first day with warm-up history")
    replay_end: dt.date | None = Field(None, description="last replayed day; unset: the last day in the data")
    warmup_days: int = Field(320, ge=260, le=2000, description="trading days of daily history before the start")
    # ---- levels at the start of a synthetic scenario
    spx_start: float = Field(5500.0, gt=0, description="SPX level at the start of a synthetic scenario")
    vixy_start: float = Field(20.0, gt=0, description="VIXY price at the start (replay rebases real returns to it)")
    rate: float = Field(0.04, ge=-0.01, le=0.2, description="risk-free rate for option pricing, per year")
    spx_dividend_yield: float = Field(0.015, ge=0, le=0.1, description="SPX continuous dividend yield, per year")
    # ---- VIX path
    vix_fast_sd: float = Field(0.06, ge=0, le=0.5, description="stationary sd of the fast log-VIX noise")
    vix_fast_half_life_days: float = Field(2.0, gt=0, description="half-life of the fast log-VIX noise, days")
    vix_slow_sd: float = Field(0.08, ge=0, le=0.5, description="stationary sd of the slow log-VIX noise")
    vix_slow_half_life_days: float = Field(20.0, gt=0, description="half-life of the slow log-VIX noise, days")
    step_minutes: int = Field(5, ge=1, le=60, description="resolution of the simulated path (linear between steps)")
    # ---- term structure
    contango_ratio: float = Field(
        1.35, gt=1.0, le=2.0, description="long-run VIX level the curve reverts to, as a multiple of the base level"
    )
    curve_kappa: float = Field(
        6.2, gt=0, le=50, description="mean-reversion speed of the VX curve per year (beta of a 30-day future ~0.6)"
    )
    curve_noise_sd: float = Field(
        0.04, ge=0, le=0.3, description="stationary sd of the log noise on the curve's long-run level (basis moves)"
    )
    curve_noise_half_life_days: float = Field(5.0, gt=0, description="half-life of the curve-level noise, days")
    replay_long_run_vix: float = Field(
        19.5, gt=5, le=60, description="long-run VIX used in replay for quantities the data lacks (far VX months)"
    )
    # ---- SPX
    spx_vix_beta: float = Field(0.11, ge=0, le=1, description="SPX log return per unit of log-VIX change (minus)")
    spx_realized_ratio: float = Field(
        0.7, ge=0, le=2, description="SPX idiosyncratic vol as a share of VIX/100 (realized below implied)"
    )
    spx_atm_ratio: float = Field(0.88, gt=0.3, le=1.2, description="SPX ATM implied vol as a share of the VIX term")
    spx_skew_slope: float = Field(
        -0.20, le=0, ge=-1, description="SPX IV change per unit of ln(K/F)/sqrt(T) (negative: puts richer)"
    )
    spx_skew_curvature: float = Field(0.30, ge=0, le=2, description="SPX IV smile curvature per ln(K/F)^2/T")
    # ---- VIX options
    vvix_at_15: float = Field(85.0, gt=10, le=300, description="VIX options ATM vol (VVIX-like, %) when VIX is 15")
    vvix_slope: float = Field(3.0, ge=0, le=20, description="VVIX-like vol points added per VIX point above 15")
    vix_option_skew: float = Field(0.35, ge=0, le=3, description="VIX option IV change per unit of ln(K/F) (calls)")
    # ---- VIXY
    vixy_expense_ratio: float = Field(0.0085, ge=0, le=0.05, description="VIXY annual expense ratio")
    # ---- futures listing
    vx_months_listed: int = Field(9, ge=2, le=12, description="number of VX monthly contracts listed")
    vxm_months_listed: int = Field(4, ge=1, le=12, description="number of VXM monthly contracts listed")
    # ---- starting book
    condor_count: int = Field(10, ge=0, le=1000, description="iron condors in the account at the start (0: none)")
    condor_dte: int = Field(45, ge=1, le=365, description="target days to expiry of the starting condors")
    condor_short_delta: float = Field(0.25, gt=0.05, lt=0.5, description="absolute delta of the short legs")
    condor_wing_width: float = Field(50.0, gt=0, description="points between each short and its long wing")
    condor_trading_class: Literal["SPX", "SPXW"] = Field(
        "SPX", description="SPX (AM monthly, third Friday) or SPXW (PM) for the starting condors"
    )

    @model_validator(mode="after")
    def _check(self) -> SimSettings:
        if self.replay_start and self.replay_end and self.replay_end <= self.replay_start:
            raise ValueError(f"replay_end {self.replay_end} must be after replay_start {self.replay_start}")
        if self.condor_wing_width % 5:
            raise ValueError(f"condor_wing_width {self.condor_wing_width} must be a multiple of 5 (SPX strikes)")
        return self

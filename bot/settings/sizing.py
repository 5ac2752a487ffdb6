"""Hedge sizing: h range, betas and their fallbacks, instruments, rounding, covered calls, tail budget, caps, carry."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from bot.settings.base import Section


class SizingSettings(Section):
    h_min: float = Field(0.40, ge=0, le=1, description="hedge ratio h at the weakest confirmation (strength 0)")
    h_max: float = Field(0.60, ge=0, le=1, description="hedge ratio h at full confirmation (strength 1)")
    beta_window_days: int = Field(60, ge=5, description="daily changes used by the rolling beta regressions")
    beta_min_obs: int = Field(20, ge=3, description="fewer usable daily changes than this -> the configured fallback")
    beta_min_r2: float = Field(0.3, ge=0, le=1, description="a regression with a lower R^2 -> the configured fallback")
    beta_f1_fallback: float = Field(0.6, gt=0, le=2, description="F1 points per VIX point when no good regression")
    beta_f2_fallback: float = Field(0.45, gt=0, le=2, description="F2 points per VIX point when no good regression")
    beta_f_bounds: tuple[float, float] = Field(
        (0.2, 1.2), description="a regressed futures beta outside [lo, hi] is rejected for the fallback"
    )
    beta_f_stress: float = Field(
        0.55,
        gt=0,
        le=2,
        description="F1 points per VIX point assumed by scenario sizing (as low as 0.3 on a spike morning)",
    )
    beta_pct_fallback: float = Field(0.45, gt=0, le=2, description="VIXY % move per VIX % move when no good regression")
    beta_pct_bounds: tuple[float, float] = Field(
        (0.15, 1.0), description="a regressed VIXY beta outside [lo, hi] is rejected for the fallback"
    )
    near_instrument: Literal["futures", "vixy"] = Field(
        "futures", description="layer 1 (and layer 2's near part): VX/VXM futures or VIXY shares"
    )
    vixy_when_no_futures: bool = Field(
        True, description="use VIXY for the near part when the needed futures have no usable quote"
    )
    allow_vx: bool = Field(True, description="use big VX contracts when the need is at least one VX")
    vxm_remainder: bool = Field(
        True, description="after whole VX contracts, cover the remainder with VXM (false: VX only once VX is used)"
    )
    vx_switch_at_vx: float = Field(
        2.0,
        ge=1.0,
        description="layer 1 hedged in VXM this episode adds whole VX only once its need reaches this many VX "
        "(hysteresis: a need hovering near 1 VX must not flip VXM <-> VX every cycle); below it, it stays in VXM",
    )
    min_fraction_for_one: float = Field(
        0.5,
        gt=0,
        le=1,
        description="rounding: whole units are rounded down, but a need of at least this fraction of one unit "
        "(and less than one) gives 1",
    )
    mid_curve_share: float = Field(
        0.5, ge=0, le=1, description="share of the futures hedge layer 2 takes over while it holds"
    )
    roll_business_days: int = Field(
        5, ge=0, le=20, description="roll a futures hedge to the next contract this many business days before expiry"
    )
    overwrite_strike_offset: float = Field(
        2.0, ge=0, description="covered calls: first listed strike at or above the future's price plus this, points"
    )
    tail_instrument: Literal["call_spread", "vixy"] = Field(
        "call_spread", description="layer 3 wrapper: VIX call spreads or VIXY shares"
    )
    tail_contract: int = Field(1, ge=1, le=3, description="layer 3 VIX option expiry: 1 = F1's expiry, 2 = F2's")
    tail_long_offset: float = Field(
        5.0, ge=0, description="tail spread long strike: first strike at or above the future plus this, points"
    )
    tail_spread_width: float = Field(
        10.0, gt=0, description="tail spread short strike: first strike at or above the long strike plus this"
    )
    tail_budget_pct_nlv: float = Field(
        1.0, ge=0, le=100, description="hard premium budget of layer 3, % of net liquidation"
    )
    tail_h: float = Field(
        0.25, ge=0, le=1, description="layer 3 VIXY: share of |E_VIX| the tail shares cover (within the budget)"
    )
    max_vx: int = Field(5, ge=0, description="hard cap: total VX contracts targeted across layers")
    max_vxm: int = Field(50, ge=0, description="hard cap: total VXM contracts targeted across layers")
    max_vixy_shares: int = Field(5000, ge=0, description="hard cap: total VIXY shares targeted across layers")
    max_vix_options: int = Field(200, ge=0, description="hard cap: VIX option contracts per layer and series")
    rebalance_band_pct: float = Field(
        10.0,
        ge=0,
        le=100,
        description="a held layer's position is not traded when it is within this % of its new target (no churn "
        "of single contracts as E_VIX drifts); 0 trades every difference",
    )
    hedge_quote_max_age_s: float = Field(
        60.0, gt=0, description="hedge instrument quotes older than this are unusable for sizing and prices"
    )
    limit_beyond_far_pct: float = Field(
        1.0,
        ge=0,
        description="intent limit = far side of the quote plus this % of mid (keep it within "
        "risk.collar_beyond_far_pct so pre-trade checks accept it)",
    )
    carry_budget_share: float = Field(
        0.5, ge=0, description="monthly hedge carry may cost at most this share of the condors' monthly premium"
    )
    carry_budget_enforced: bool = Field(
        False,
        description="true: when the plan's carry is over budget, opening intents are dropped (closes kept); "
        "false: over budget is only reported and alerted (protection first)",
    )
    vixy_decay_pct_month: float = Field(
        5.0, ge=0, description="VIXY monthly decay assumed when the curve cannot give the F1->F2 roll yield, %"
    )
    vixy_expense_pct_year: float = Field(0.85, ge=0, description="VIXY expense ratio, % per year")

    @model_validator(mode="after")
    def _ordered(self) -> SizingSettings:
        if self.h_min > self.h_max:
            raise ValueError(f"h_min {self.h_min} is above h_max {self.h_max}: set h_min <= h_max")
        for name in ("beta_f_bounds", "beta_pct_bounds"):
            lo, hi = getattr(self, name)
            if not 0 < lo < hi:
                raise ValueError(f"{name} must be (lo, hi) with 0 < lo < hi, got ({lo}, {hi})")
        return self

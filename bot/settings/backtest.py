"""Historical backtest: condor engine, implied-vol model, costs, competitors, windows, sweep grid.

Defaults are structural choices made before looking at results (a 45-DTE 16-delta monthly condor is the
textbook retail trade; CNDR is the outside check); they are frozen here so that the evidence report can name them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from bot.settings.base import Section


class CondorSettings(Section):
    capital: float = Field(100_000.0, gt=0, description="fixed capital base of the account, dollars (not compounded)")
    risk_per_condor: float = Field(
        0.10, gt=0, le=1, description="max loss of one condor cycle as a share of the capital base (sets contracts)"
    )
    entry_dte: int = Field(45, ge=7, le=120, description="target calendar days to expiry at entry (nearest monthly)")
    entry_interval_days: int = Field(
        21, ge=1, description="trading days between condor entries (21 = about monthly, overlapping cycles allowed)"
    )
    entry_schedule: Literal["interval", "monthly_expiry"] = Field(
        "interval",
        description="interval: an entry every entry_interval_days; monthly_expiry: on each monthly SPX expiry day "
        "(and the first day), as Cboe's CNDR rolls",
    )
    max_open: int = Field(3, ge=1, description="most condors open at once; an entry is skipped when the book is full")
    short_delta: float = Field(0.16, gt=0.01, lt=0.5, description="absolute delta of the short put and short call")
    wing_width_pct: float = Field(
        0.02, gt=0, lt=0.2, description="distance from short to long strike as a share of SPX at entry"
    )
    wing_delta: float = Field(
        0.0, ge=0, lt=0.5, description="if > 0, long strikes at this absolute delta, not wing_width_pct (CNDR: 0.05)"
    )
    strike_step: float = Field(5.0, gt=0, description="SPX strike grid, index points")
    take_profit: float = Field(0.5, gt=0, le=1, description="close when this share of the entry credit is earned")
    stop_multiple: float = Field(2.0, gt=0, description="close when the loss reaches this multiple of the entry credit")
    exit_dte: int = Field(7, ge=0, description="close any condor with this many calendar days or fewer to expiry")
    dividend_yield: float = Field(0.018, ge=0, lt=0.1, description="SPX continuous dividend yield for pricing")

    @model_validator(mode="after")
    def _wings_outside_shorts(self) -> CondorSettings:
        if self.wing_delta and self.wing_delta >= self.short_delta:
            raise ValueError(f"wing_delta {self.wing_delta} must be below short_delta {self.short_delta}")
        return self


class VolModelSettings(Section):
    atm_to_vix_ratio: float = Field(
        0.88, gt=0.5, le=1.2, description="ATM implied vol / VIX (VIX is a variance-swap rate, above ATM by skew)"
    )
    long_run_vol: float = Field(0.195, gt=0, description="long-run VIX level (decimal) for the mean-reverting fill")
    vol_mean_reversion: float = Field(
        4.0, gt=0, description="mean reversion speed of variance per year, for VIX9D/VIX3M before they exist"
    )
    skew_coefficient: float = Field(
        0.8, ge=0, description="put-side smile slope per (SKEW-100)/100, per unit of standardized moneyness"
    )
    call_skew_share: float = Field(0.5, ge=0, le=1, description="call-side slope as a share of the put-side slope")
    min_vol_share: float = Field(0.5, gt=0, le=1, description="floor of any strike's vol as a share of ATM vol")
    default_skew: float = Field(120.0, ge=100, description="SKEW used on days the index is missing")


class CostSettings(Section):
    option_commission: float = Field(
        1.00, ge=0, description="SPX option commission + exchange/regulatory fees per contract per side, dollars"
    )
    option_half_spread: float = Field(
        0.10, ge=0, description="SPX option half bid-ask spread at VIX 20, index points per leg (scales with VIX)"
    )
    vx_commission: float = Field(2.50, ge=0, description="VX future commission + CFE fees per contract per side")
    vx_half_spread: float = Field(0.025, ge=0, description="VX half spread at VIX 20, VIX points (scales with VIX)")
    vx_roll_slippage: float = Field(
        0.02, ge=0, description="extra VIX points lost per contract on each roll (two legs crossing at once)"
    )
    vix_option_commission: float = Field(1.00, ge=0, description="VIX option commission + fees per contract per side")
    vix_option_half_spread: float = Field(
        0.05, ge=0, description="VIX option half spread at VIX 20, VIX points; also at least 5% of the price"
    )
    vixy_half_spread_bps: float = Field(5.0, ge=0, description="VIXY half spread at VIX 20, basis points")
    vixy_commission_bps: float = Field(
        1.0, ge=0, description="VIXY commission, basis points of notional (the data is split-adjusted: no share counts)"
    )
    vixy_expense_ratio: float = Field(
        0.0085,
        ge=0,
        description="VIXY annual expense ratio; charged only on the synthetic VIXY used before the 2011 launch",
    )
    spread_vix_power: float = Field(
        1.0, ge=0, description="spreads scale as (VIX/20)^power, never below the VIX-20 width"
    )


class CompetitorSettings(Section):
    vixy_budget_share: float = Field(
        0.0, ge=0, description="vixy_constant notional as a share of capital; 0 = matched to ALVH's average hedge cost"
    )
    vixy_fallback_share: float = Field(
        0.02, ge=0, description="vixy_constant notional share when ALVH spent nothing (nothing to match)"
    )
    vxth_call_delta: float = Field(0.30, gt=0, lt=1, description="delta of the monthly VIX calls (VXTH buys 30-delta)")
    vxth_budget_share: float = Field(
        0.01,
        ge=0,
        description="VIX-call premium per monthly roll as a share of capital when F1 is 15-30; half of it "
        "at 30-50; none outside 15-50 (the VXTH weight schedule)",
    )
    vix_call_skew: float = Field(
        0.5, ge=0, description="VIX call smile: vol(K) = atm * (1 + vix_call_skew * ln(K/F)) (upward VIX skew)"
    )
    futures_hedge_ratio: float = Field(
        0.5, ge=0, description="futures_always hedge ratio h against the condors' VIX exposure (mid of layer 1's h)"
    )
    roll_days: int = Field(5, ge=0, description="business days before expiry a held VX contract rolls to the next")
    contract_step: float = Field(0.1, gt=0, description="futures granularity in VX contracts (0.1 = one VXM)")
    beta_iv: float = Field(0.85, gt=0, le=1.5, description="condor IV points per VIX point (E_VIX = beta_iv * V_IC)")
    beta_f: float = Field(0.6, gt=0, le=1.5, description="F1 points per VIX point used to size futures")
    vvix_term_decay: float = Field(
        4.0, gt=0, description="per year: how fast a VX future's vol falls below VVIX with tenor (VIX mean reversion)"
    )
    vvix_fallback: float = Field(
        95.0, gt=0, description="VVIX-like vol of VIX (percent) for VIX options on days VVIX is missing (pre-2007)"
    )


class WindowSettings(Section):
    names: tuple[str, ...] = Field(
        ("Oct 2008", "May 2010", "Aug 2011", "Aug 2015", "Feb 2018", "Q4 2018", "2022 grind"),
        description="stress windows scored separately (same order as starts/ends)",
    )
    starts: tuple[str, ...] = Field(
        ("2008-09-15", "2010-04-23", "2011-07-22", "2015-08-17", "2018-01-26", "2018-10-01", "2022-01-03"),
        description="first day of each stress window, ISO date",
    )
    ends: tuple[str, ...] = Field(
        ("2008-11-21", "2010-07-02", "2011-10-04", "2015-09-30", "2018-04-06", "2018-12-31", "2022-10-14"),
        description="last day of each stress window, ISO date; a window outside the data is 'not covered'",
    )

    @model_validator(mode="after")
    def _same_length(self) -> WindowSettings:
        if not len(self.names) == len(self.starts) == len(self.ends):
            raise ValueError("backtest.windows names, starts and ends must have the same length")
        return self


class EventSettings(Section):
    spike_vix_rise: float = Field(
        0.30, gt=0, description="a spike: VIX closes this share above its trailing 20-day minimum"
    )
    spike_min_vix: float = Field(20.0, gt=0, description="and VIX closes at or above this level")
    decluster_days: int = Field(20, ge=1, description="spike days closer than this to the previous one join its event")
    lead_window_days: int = Field(
        10, ge=1, description="a signal counts for an event if it fires this many days before"
    )
    random_seed: int = Field(20040326, description="seed of the random baseline signal (equal firing frequency)")


class SweepSettings(Section):
    grid: dict[str, tuple[float, ...]] = Field(
        {
            "condor.short_delta": (0.10, 0.16, 0.25),
            "condor.take_profit": (0.5, 1.0),
            "condor.stop_multiple": (1.0, 2.0, 100.0),
            "condor.wing_width_pct": (0.01, 0.02, 0.04),
            "competitors.futures_hedge_ratio": (0.25, 0.5, 0.75),
        },
        description="`alvh sweep` grid: dotted setting (relative to backtest, or absolute such as sizing.h_max) -> "
        "values; every combination is run and counted",
    )
    workers: int = Field(0, ge=0, description="worker processes for the sweep; 0 = one per core")


class BacktestSettings(Section):
    start: str = Field("2004-03-26", description="first day simulated when --start is not given (VX futures start)")
    end: str = Field("2019-12-31", description="last day simulated when --end is not given")
    fill_within_limit: bool = Field(
        True,
        description="ALVH intents decided at day t fill at day t+1 only within their limit price (as the live "
        "executor's limit orders would); false fills every intent at the t+1 price",
    )
    condor: CondorSettings = Field(default_factory=CondorSettings, description="the systematic SPX condor")
    vol_model: VolModelSettings = Field(default_factory=VolModelSettings, description="implied-vol model")
    costs: CostSettings = Field(default_factory=CostSettings, description="trading costs")
    competitors: CompetitorSettings = Field(default_factory=CompetitorSettings, description="simple hedges")
    windows: WindowSettings = Field(default_factory=WindowSettings, description="named stress windows")
    events: EventSettings = Field(default_factory=EventSettings, description="spike events for signal scoring")
    sweep: SweepSettings = Field(default_factory=SweepSettings, description="parameter grid of `alvh sweep`")

"""Pre-trade checks, automatic halts and the account guard's options (read by bot/risk.py, bot/account_guard.py)."""

from __future__ import annotations

from pydantic import Field

from bot.settings.base import Section


class RiskSettings(Section):
    max_vx_contracts: int = Field(
        5, ge=0, description="largest absolute VX (big VIX future) position after an opening order, contracts"
    )
    max_vxm_contracts: int = Field(
        50, ge=0, description="largest absolute VXM (mini VIX future) position after an opening order, contracts"
    )
    max_vixy_shares: int = Field(
        5000, ge=0, description="largest absolute VIXY position after an opening order, shares"
    )
    max_vix_option_contracts: int = Field(
        200, ge=0, description="largest absolute position in one VIX option series after an opening order, contracts"
    )
    max_order_notional_usd: float = Field(
        500_000.0,
        gt=0,
        description="largest notional of one order: quantity x limit x multiplier (premium for options), USD",
    )
    premium_budget_pct_nlv: float = Field(
        2.0,
        ge=0,
        le=100,
        description="long VIX option premium held plus the premium of a new buy may not exceed this % of net "
        "liquidation; unknown net liquidation denies option buys",
    )
    max_orders_per_day: int = Field(
        20,
        ge=0,
        description="intents the bot may submit per calendar day (UTC), closes included (each is worked by one "
        "limit ladder); 0 sends none",
    )
    collar_beyond_far_pct: float = Field(
        2.0,
        ge=0,
        description="a limit may cross the far side of the quote (ask for a buy, bid for a sell) by at most this % "
        "of mid",
    )
    max_spread_pct: float = Field(
        25.0,
        gt=0,
        description="refuse to trade when the quote's bid-ask spread is wider than this % of mid",
    )
    max_quote_age_s: float = Field(
        30.0, gt=0, description="a quote older than this (seconds of market time) is stale: the order is refused"
    )
    require_trading_hours: bool = Field(
        True,
        description="refuse orders outside the regular hours of the instrument's exchange (XCBF for VX/VXM/VIX "
        "options, XNYS for VIXY) from exchange_calendars",
    )
    halt_after_rejections: int = Field(
        3, ge=1, description="halt automatically after this many broker rejections within rejection_window_s"
    )
    rejection_window_s: float = Field(600.0, gt=0, description="window for counting broker rejections, seconds")
    halt_on_stale_data_s: float = Field(
        900.0,
        gt=0,
        description="halt automatically when the VIX quote has been stale this long during trading hours, seconds",
    )
    position_mismatch_tolerance: int = Field(
        0,
        ge=0,
        description="halt when a hedge position differs from the journal's expectation (baseline plus fills seen) "
        "by more than this many contracts/shares",
    )
    live_cap_factor: float = Field(
        0.5,
        gt=0,
        le=1,
        description="live mode multiplies every size, notional and per-day cap above by this factor (tighter limits)",
    )
    allow_multiple_accounts: bool = Field(
        False,
        description="accept a login that manages several accounts; trade_account must then name the one to trade",
    )
    trade_account: str | None = Field(
        None, description="account id to trade when the login manages several (requires allow_multiple_accounts)"
    )

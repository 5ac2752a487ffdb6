"""Order execution: limit ladder steps and intervals, rolls, shutdown policy."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from bot.settings.base import Section


class ExecutionSettings(Section):
    """How an accepted intent becomes limit orders. Market orders do not exist in this bot."""

    ladder_steps: int = Field(
        4,
        ge=1,
        le=20,
        description="limit-price steps per intent: the first at mid, the last at the far side (ask to buy, bid to "
        "sell), evenly spaced, never past the intent's limit; then the rest is cancelled",
    )
    far_side_steps: int = Field(
        1,
        ge=1,
        le=20,
        description="how many of the last ladder steps sit at the far side (the first step is always at mid)",
    )
    step_interval_s: float = Field(
        20.0, gt=0, le=3600, description="seconds each ladder step works before it is cancelled and re-priced"
    )
    cancel_timeout_s: float = Field(
        15.0,
        gt=0,
        le=600,
        description="seconds to wait for the broker to confirm a cancel; without confirmation the intent stops as "
        "unresolved and nothing more is sent for it",
    )
    execution_report_wait_s: float = Field(
        2.0,
        ge=0,
        le=60,
        description="after an order reports filled, seconds to wait for its execution reports (fill prices, "
        "commissions) before the outcome is reported",
    )
    quote_wait_s: float = Field(
        5.0, gt=0, le=600, description="seconds to wait for a valid two-sided quote before pricing a step"
    )
    max_quote_age_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="a quote the gateway has not spoken for (no price or size tick) for longer than this is not used "
        "to price a step (wait for a new one)",
    )
    reconnect_wait_s: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="after a dropped connection mid-ladder, seconds to wait for the reconnect and reconciliation "
        "before the intent is reported interrupted (it is reconciled again when retried)",
    )
    roll_open_after_close: bool = Field(
        True,
        description="VX roll (a close and an open sharing a group): send the open only after the close has "
        "completely filled; false works both at once",
    )
    outside_rth: bool = Field(
        False, description="let orders fill outside regular trading hours (matters for VIXY; VX trades ~24h anyway)"
    )
    shutdown_policy: Literal["cancel", "leave"] = Field(
        "cancel",
        description="on a clean shutdown: cancel working ladder orders, or leave them working at the broker "
        "(reconciled by orderRef on the next start)",
    )

    @model_validator(mode="after")
    def _far_steps_fit(self) -> ExecutionSettings:
        if self.far_side_steps > self.ladder_steps:
            raise ValueError(
                f"execution.far_side_steps ({self.far_side_steps}) exceeds execution.ladder_steps "
                f"({self.ladder_steps}); make it at most ladder_steps"
            )
        return self

"""Signal rules: thresholds, windows, data files and freshness limits (see bot/signals/evaluate.py for the votes)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from bot.settings.base import Section

EXTERNAL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class ExternalRule(Section):
    """One user series (P/E, real effective exchange rate, WACC, ...) and the rule that turns it into a vote."""

    name: str = Field(description="short lower-case name; the vote is called `external:<name>`")
    file: Path = Field(description="CSV with header `date,value`, or JSON (list of {date, value} or {dates, values})")
    kind: Literal["threshold", "roc"] = Field(
        default="threshold",
        description="`threshold`: compare the last value; `roc`: compare its change over `roc_periods` observations",
    )
    direction: Literal["above", "below"] = Field(
        description="FOR when the compared quantity is above (or below) `threshold`"
    )
    threshold: float = Field(description="the level (kind threshold) or the change (kind roc) that turns the vote on")
    roc_periods: int = Field(default=1, ge=1, description="observations back for the rate of change (kind roc)")
    roc_mode: Literal["percent", "difference"] = Field(
        default="percent",
        description="`percent`: last/earlier - 1 (as a fraction, -0.05 = -5%); `difference`: last - earlier",
    )
    max_age_sessions: int = Field(
        default=25,
        ge=0,
        description="ABSTAIN when more NYSE sessions than this passed after the last observation (monthly data: ~25)",
    )

    @field_validator("name")
    @classmethod
    def _name_ok(cls, value: str) -> str:
        if not EXTERNAL_NAME.match(value):
            raise ValueError(f"external series name {value!r} must match {EXTERNAL_NAME.pattern}")
        return value


class SignalSettings(Section):
    """Every threshold and window of the signal table (spec section 4); all defaults are the spec's."""

    quote_max_age_seconds: float = Field(
        default=300.0, gt=0, description="a live quote (VIX, VIX3M, VIX9D, F1, F2) older than this is missing"
    )
    daily_max_age_sessions: int = Field(
        default=1,
        ge=0,
        description="VIX and ratio histories: ABSTAIN when more NYSE sessions than this are missing before today",
    )
    rsi_period: int = Field(default=14, ge=2, description="Wilder RSI period of daily VIX closes")
    rsi_on: float = Field(default=60.0, gt=0, lt=100, description="`vix_rsi` turns on at or above this RSI")
    rsi_off: float = Field(default=50.0, gt=0, lt=100, description="`vix_rsi` turns off below this RSI (hysteresis)")
    rsi_min_history: int = Field(
        default=250, ge=15, description="daily VIX closes needed before `vix_rsi` votes (Wilder RSI must converge)"
    )
    vix_level: float = Field(default=20.0, gt=0, description="`vix_level` votes FOR at or above this VIX (layers 1-2)")
    vix_tail_level: float = Field(default=35.0, gt=0, description="`vix_level_tail` votes FOR above this VIX (layer 3)")
    term_structure_threshold: float = Field(
        default=1.0, gt=0, description="`term_structure` FOR when F1/F2 or VIX/VIX3M is above this (backwardation)"
    )
    term_structure_min_f1_dte_days: float = Field(
        default=1.0,
        ge=0,
        description="ignore F1/F2 when F1 settles within this many days (it converges to spot and says little)",
    )
    ts_ratio_source: Literal["f1_f2", "vix_vix3m"] = Field(
        default="f1_f2",
        description="which ratio `ratio_history` holds and the live bar is computed from, for the ts_macd signals",
    )
    ts_zscore_window: int = Field(default=60, ge=5, description="rolling window (sessions) of the ratio z-score")
    macd_fast: int = Field(default=12, ge=1, description="MACD fast EMA span")
    macd_slow: int = Field(default=26, ge=2, description="MACD slow EMA span")
    macd_signal: int = Field(default=9, ge=1, description="MACD signal EMA span")
    macd_peak_lookback: int = Field(
        default=20, ge=2, description="sessions searched for the histogram peak that `ts_macd_stabilizing` needs"
    )
    macd_peak_min: float = Field(
        default=0.2,
        gt=0,
        description="a histogram peak (z units) must reach this to count as a stress episode (~95th percentile)",
    )
    macd_peak_retrace: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="`ts_macd_stabilizing` FOR while the histogram falls and is this share below its peak",
    )
    macro_calendar_file: Path | None = Field(
        default=None, description="CSV `date,event,description,scheduled,source` of CPI, PPI and FOMC dates"
    )
    macro_events: list[str] = Field(
        default_factory=lambda: ["CPI", "PPI", "FOMC"], description="event kinds that count for `macro_event`"
    )
    macro_sessions_before: int = Field(
        default=1, ge=0, description="`macro_event` FOR from this many sessions before an event"
    )
    macro_sessions_after: int = Field(
        default=1, ge=0, description="`macro_event` FOR until this many sessions after an event"
    )
    macro_coverage_days: int = Field(
        default=45,
        ge=1,
        description="ABSTAIN when the calendar's last event is more than this many days before today (not maintained)",
    )
    breadth_file: Path | None = Field(
        default=None, description="CSV `date,advances,declines,net,ad_line` of NYSE breadth"
    )
    breadth_ma_sessions: int = Field(
        default=20, ge=2, description="`breadth` FOR when the A/D line is below its average over this many sessions"
    )
    breadth_net_threshold: float = Field(
        default=-1500.0, description="`breadth` also FOR when net advances (advances - declines) are below this"
    )
    breadth_max_age_sessions: int = Field(
        default=1, ge=0, description="ABSTAIN when more NYSE sessions than this are missing from the breadth data"
    )
    externals: list[ExternalRule] = Field(
        default_factory=list, description="user series, each voting as `external:<name>`"
    )

    @field_validator("macro_events")
    @classmethod
    def _upper(cls, value: list[str]) -> list[str]:
        return [v.strip().upper() for v in value]

    @model_validator(mode="after")
    def _consistent(self) -> SignalSettings:
        if not self.rsi_off < self.rsi_on:
            raise ValueError(f"rsi_off ({self.rsi_off}) must be below rsi_on ({self.rsi_on}) for the hysteresis")
        if not self.macd_fast < self.macd_slow:
            raise ValueError(f"macd_fast ({self.macd_fast}) must be below macd_slow ({self.macd_slow})")
        if self.rsi_min_history < self.rsi_period + 1:
            raise ValueError(f"rsi_min_history ({self.rsi_min_history}) must exceed rsi_period ({self.rsi_period})")
        if not self.vix_level < self.vix_tail_level:
            raise ValueError(f"vix_level ({self.vix_level}) must be below vix_tail_level ({self.vix_tail_level})")
        names = [e.name for e in self.externals]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"external series names must be unique; repeated: {', '.join(dupes)}")
        return self

    @property
    def ratio_min_history(self) -> int:
        """Daily ratio bars (history + live) the ts_macd signals need: z-score window plus MACD warm-up."""
        return self.ts_zscore_window + self.macd_slow + self.macd_signal

    def signal_names(self) -> tuple[str, ...]:
        """Every vote name `evaluate_signals` returns for these settings, in order."""
        return (*FIXED_SIGNALS, *(f"external:{e.name}" for e in self.externals))


FIXED_SIGNALS: tuple[str, ...] = (
    "vix_rsi",
    "vix_level",
    "vix_level_tail",
    "term_structure",
    "ts_macd_building",
    "ts_macd_stabilizing",
    "macro_event",
    "breadth",
)

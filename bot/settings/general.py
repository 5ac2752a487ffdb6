"""Settings of the process as a whole: mode, accounts, journal, logging."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from bot.settings.base import Section

Mode = Literal["dry-run", "approval", "paper", "live"]


class BotSettings(Section):
    mode: Mode = Field(
        "dry-run",
        description="dry-run plans and journals only; approval waits for a person; paper trades a DU paper "
        "account; live needs --live and live_account",
    )
    live_account: str | None = Field(
        None, description="exact live account id (U...) that live mode may trade; unset refuses live mode"
    )
    journal_path: Path = Field(Path("runs/alvh.sqlite"), description="SQLite journal (WAL mode)")
    cycle_seconds: float = Field(
        60.0,
        gt=0,
        description="periodic decision cycle, in seconds of market time, besides tick-driven cycles",
    )


class LoggingSettings(Section):
    format: Literal["auto", "console", "json"] = Field(
        "auto", description="console for people, json lines for machines, auto picks json when not on a TTY"
    )
    level: Literal["debug", "info", "warning", "error"] = Field("info", description="minimum log level")

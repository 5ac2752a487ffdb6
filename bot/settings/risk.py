"""Pre-trade checks and automatic halts."""

from __future__ import annotations

from bot.settings.base import Section


class RiskSettings(Section):
    """Filled in by the room that owns it; every field needs a description."""

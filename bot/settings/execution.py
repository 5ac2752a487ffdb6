"""Order execution: limit ladder steps and intervals, rolls, shutdown policy."""

from __future__ import annotations

from bot.settings.base import Section


class ExecutionSettings(Section):
    """Filled in by the room that owns it; every field needs a description."""

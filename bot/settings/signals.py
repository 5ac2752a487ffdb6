"""Signal rules: thresholds, windows, data files and freshness limits."""

from __future__ import annotations

from bot.settings.base import Section


class SignalSettings(Section):
    """Filled in by the room that owns it; every field needs a description."""

"""Built-in gateway simulator: account, starting book, scenario model parameters."""

from __future__ import annotations

from bot.settings.base import Section


class SimSettings(Section):
    """Filled in by the room that owns it; every field needs a description."""

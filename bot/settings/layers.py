"""Layer state machine: quorum rules per transition, holding times, cooldowns."""

from __future__ import annotations

from bot.settings.base import Section


class LayerSettings(Section):
    """Filled in by the room that owns it; every field needs a description."""

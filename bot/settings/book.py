"""Reading the condor book: greeks freshness, beta_IV, the stress grid."""

from __future__ import annotations

from bot.settings.base import Section


class BookSettings(Section):
    """Filled in by the room that owns it; every field needs a description."""

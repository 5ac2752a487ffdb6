"""Manual-approval mode: expiry of pending intents and re-check tolerances."""

from __future__ import annotations

from bot.settings.base import Section


class ApprovalSettings(Section):
    """Filled in by the room that owns it; every field needs a description."""

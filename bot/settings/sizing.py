"""Hedge sizing: h range, betas and their fallbacks, instruments, hard caps."""

from __future__ import annotations

from bot.settings.base import Section


class SizingSettings(Section):
    """Filled in by the room that owns it; every field needs a description."""

"""Manual-approval mode: expiry of pending intents and the re-check before an approved intent is sent."""

from __future__ import annotations

from pydantic import Field

from bot.settings.base import Section


class ApprovalSettings(Section):
    pending_expiry_s: float = Field(
        900.0,
        gt=0,
        description="a pending intent not approved within this many wall-clock seconds expires and is never sent",
    )
    approved_expiry_s: float = Field(
        300.0,
        gt=0,
        description="an approved intent not sent within this many wall-clock seconds of its approval expires",
    )
    max_price_move_pct: float = Field(
        5.0,
        ge=0,
        description="refuse to send an approved intent when the mid moved more than this % from the reference price "
        "the person saw",
    )

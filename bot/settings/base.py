"""The base every configuration section derives from: unknown keys are errors, values are immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Strict, frozen settings model (a typo in a key must never be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

"""Simulated time: a clock that runs at `speed` simulated seconds per real second, and a manual one for tests.

The server only ever asks `now()`; the scenario's end (MarketInfo.end) caps it, so a finished scenario freezes
instead of asking the market model for instants it does not cover.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class SimClock(Protocol):
    start: dt.datetime

    def now(self) -> dt.datetime:
        """Current simulated instant, timezone-aware UTC."""

    @property
    def ended(self) -> bool:
        """True once the scenario's end is reached."""


def _require_utc(t: dt.datetime, what: str) -> dt.datetime:
    if t.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {t.isoformat()}")
    return t.astimezone(dt.UTC)


class RealTimeClock:
    """Starts at `start` when created and advances `speed` simulated seconds per wall-clock second."""

    def __init__(self, start: dt.datetime, speed: float = 1.0, end: dt.datetime | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be > 0 simulated seconds per real second, got {speed}")
        self.start = _require_utc(start, "clock start")
        self.end = _require_utc(end, "clock end") if end is not None else None
        self.speed = float(speed)
        self._t0 = time.monotonic()

    def now(self) -> dt.datetime:
        t = self.start + dt.timedelta(seconds=(time.monotonic() - self._t0) * self.speed)
        return min(t, self.end) if self.end is not None else t

    @property
    def ended(self) -> bool:
        return self.end is not None and self.now() >= self.end


class ManualClock:
    """Moves only when told to; tests use it to make fills and expiries happen at exact instants."""

    def __init__(self, start: dt.datetime, end: dt.datetime | None = None) -> None:
        self._now = _require_utc(start, "clock start")
        self.start = self._now
        self.end = _require_utc(end, "clock end") if end is not None else None

    def now(self) -> dt.datetime:
        return min(self._now, self.end) if self.end is not None else self._now

    def advance(self, seconds: float) -> dt.datetime:
        if seconds < 0:
            raise ValueError("a simulated clock does not run backwards")
        self._now += dt.timedelta(seconds=seconds)
        return self.now()

    def set(self, t: dt.datetime) -> None:
        t = _require_utc(t, "clock time")
        if t < self._now:
            raise ValueError(f"a simulated clock does not run backwards ({t} < {self._now})")
        self._now = t

    @property
    def ended(self) -> bool:
        return self.end is not None and self.now() >= self.end

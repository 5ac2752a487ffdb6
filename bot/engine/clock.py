"""The market clock: the instant decisions are made at.

Against a real gateway it is wall-clock UTC. Against the in-process simulator it is the simulator's own clock, which
runs thousands of times faster than the wall: every quote is stamped with it when it arrives, so that freshness
limits (seconds of market time) mean the same thing in both cases.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class MarketClock(Protocol):
    def now(self) -> dt.datetime:
        """The current market instant, timezone-aware UTC."""


class WallClock:
    """Wall-clock UTC (a real gateway trades in real time)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class AnchoredClock:
    """A simulated clock that two processes can share: market time = anchor + (wall now - wall anchor) x speed.

    A simulator and a bot in different processes (the kill-and-restart test) agree on the market instant because
    both derive it from the wall clock and the same anchor, not from when each process started. Implements the
    simulator's SimClock protocol (start, now, ended) too.
    """

    def __init__(self, start: dt.datetime, speed: float, wall_anchor: float, end: dt.datetime | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError(f"AnchoredClock start {start} must be timezone-aware (UTC)")
        if not speed > 0:
            raise ValueError(f"AnchoredClock speed must be > 0, got {speed}")
        self.start = start.astimezone(dt.UTC)
        self.speed = float(speed)
        self.wall_anchor = float(wall_anchor)
        self.end = end

    def now(self) -> dt.datetime:
        t = self.start + dt.timedelta(seconds=max(0.0, time.time() - self.wall_anchor) * self.speed)
        return min(t, self.end) if self.end is not None else t

    @property
    def ended(self) -> bool:
        return self.end is not None and self.now() >= self.end

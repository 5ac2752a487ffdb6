"""What the signals read: immutable snapshots built by the shell (or the backtest), never by the rules themselves.

Conventions the rules rely on:
- `now` is timezone-aware. The *session date* of `now` is its calendar date in New York (the XNYS session day).
- Daily series hold *completed* daily values (closes, settles, file rows), oldest first, strictly increasing dates.
  Bars dated on or after the session date of `now` are ignored by the rules: today's value comes from the live
  quote (the "live last bar"), so a series that already contains today's close is never counted twice.
- A quote (`Timed`) is usable only if its value is finite and positive and its age `now - at` is within the
  configured limit; otherwise the signal that needs it ABSTAINs and says why.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from bot.signals.indicators import MacdState, WilderState


@dataclass(frozen=True, slots=True)
class Timed:
    """One observed value and the instant it was observed (timezone-aware)."""

    value: float
    at: dt.datetime

    def age_seconds(self, now: dt.datetime) -> float:
        return (now - self.at).total_seconds()

    @property
    def is_valid_price(self) -> bool:
        """Finite and positive: NaN, inf, zero and negative prices are treated as missing."""
        return math.isfinite(self.value) and self.value > 0.0


def _readonly(values: object) -> np.ndarray:
    arr = np.array(values, dtype=np.float64, copy=True).reshape(-1)
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class DailySeries:
    """Dated daily values, oldest first. `values` is a read-only float64 array (NaN allowed: means no value)."""

    dates: tuple[dt.date, ...]
    values: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dates", tuple(self.dates))
        object.__setattr__(self, "values", _readonly(self.values))
        if len(self.dates) != len(self.values):
            raise ValueError(f"DailySeries: {len(self.dates)} dates but {len(self.values)} values")
        for earlier, later in zip(self.dates, self.dates[1:], strict=False):
            if not later > earlier:
                raise ValueError(f"DailySeries: dates must strictly increase ({earlier} then {later})")

    @classmethod
    def empty(cls) -> DailySeries:
        return cls((), np.empty(0))

    def __len__(self) -> int:
        return len(self.dates)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DailySeries):
            return NotImplemented
        return self.dates == other.dates and bool(np.array_equal(self.values, other.values, equal_nan=True))

    __hash__ = None  # type: ignore[assignment]

    @property
    def last_date(self) -> dt.date | None:
        return self.dates[-1] if self.dates else None

    def count_before(self, day: dt.date) -> int:
        """How many bars are dated strictly before `day` (a binary search, no copy)."""
        if not self.dates or self.dates[-1] < day:
            return len(self.dates)
        return bisect.bisect_left(self.dates, day)

    def tail(self, n: int) -> DailySeries:
        """The last `n` bars (all of them when there are fewer). A slice of a validated series needs no
        re-validation, so this costs two slices, not a pass over the dates (the backtest cuts 7 series a day)."""
        if n < 0:
            raise ValueError(f"DailySeries.tail: n must be >= 0, got {n}")
        if n >= len(self.dates):
            return self
        return self.bars(len(self.dates) - n, len(self.dates))

    def bars(self, lo: int, hi: int) -> DailySeries:
        """Bars lo..hi-1 by position (Python slice bounds, step 1), without re-validating a validated series."""
        part = _new(DailySeries)
        _SET_DATES(part, self.dates[lo:hi])
        _SET_VALUES(part, self.values[lo:hi])  # a view of a read-only array stays read-only
        return part

    def before(self, day: dt.date) -> DailySeries:
        """The part dated strictly before `day` (no copy when nothing is cut; a binary search otherwise)."""
        if not self.dates or self.dates[-1] < day:
            return self
        return self.bars(0, bisect.bisect_left(self.dates, day))


_new = object.__new__
# the slots' own setters: `bars` fills a slice without `__init__` (it needs no re-validation), as cheaply as it can
_SET_DATES, _SET_VALUES = DailySeries.dates.__set__, DailySeries.values.__set__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class MacroEvent:
    """One scheduled (or unscheduled) macro release: CPI, PPI or FOMC."""

    date: dt.date
    event: str  # upper case: "CPI", "PPI", "FOMC"
    description: str = ""
    scheduled: bool = True


@dataclass(frozen=True, slots=True, eq=False)
class MacroCalendar:
    """Macro events sorted by date (built once by the loader, reused every decision); `dates` allows bisection."""

    events: tuple[MacroEvent, ...] = ()
    dates: tuple[dt.date, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.events, key=lambda e: (e.date, e.event)))
        object.__setattr__(self, "events", ordered)
        object.__setattr__(self, "dates", tuple(e.date for e in ordered))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MacroCalendar) and self.events == other.events

    __hash__ = None  # type: ignore[assignment]

    def between(self, first: dt.date, last: dt.date) -> tuple[MacroEvent, ...]:
        """Events dated first..last inclusive."""
        lo = bisect.bisect_left(self.dates, first)
        hi = bisect.bisect_right(self.dates, last)
        return self.events[lo:hi]

    def last_of(self, kinds: frozenset[str]) -> dt.date | None:
        for e in reversed(self.events):
            if e.event in kinds:
                return e.date
        return None


@dataclass(frozen=True, slots=True)
class Breadth:
    """NYSE advance/decline data: the cumulative A/D line and daily net advances, on the same dates."""

    ad_line: DailySeries
    net: DailySeries

    def __post_init__(self) -> None:
        if self.ad_line.dates != self.net.dates:
            raise ValueError("Breadth: ad_line and net must have the same dates")

    def bars(self, lo: int, hi: int) -> Breadth:
        """Rows lo..hi-1 of both series by position (`DailySeries.bars`). Equal dates cut at the same bounds stay
        equal, so the slice skips the dates comparison (the backtest cuts breadth every day)."""
        part = _new(Breadth)
        _SET_AD(part, self.ad_line.bars(lo, hi))
        _SET_NET(part, self.net.bars(lo, hi))
        return part


_SET_AD, _SET_NET = Breadth.ad_line.__set__, Breadth.net.__set__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ExternalSeries:
    """A user series (P/E, REER, WACC, ...) loaded from a file; its rule lives in SignalSettings.externals."""

    name: str
    series: DailySeries


@dataclass(frozen=True, slots=True)
class SignalInputs:
    """Everything the signal rules read at one instant."""

    now: dt.datetime
    vix: Timed | None = None
    vix3m: Timed | None = None
    vix9d: Timed | None = None  # carried for the decision record; no rule reads it yet
    f1: Timed | None = None
    f2: Timed | None = None
    f1_dte_days: float | None = None  # days to F1 final settlement; near 0 the F1/F2 ratio says little
    vix_history: DailySeries = field(default_factory=DailySeries.empty)  # daily VIX closes
    ratio_history: DailySeries = field(default_factory=DailySeries.empty)  # daily F1/F2 (or VIX/VIX3M) closes
    macro: MacroCalendar = field(default_factory=MacroCalendar)
    breadth: Breadth | None = None
    externals: tuple[ExternalSeries, ...] = ()

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("SignalInputs.now must be timezone-aware (e.g. datetime.now(UTC))")


@dataclass(frozen=True, slots=True, eq=False)
class HistoryKey:
    """Identifies one exact daily history (the first `length` bars of a series) and the parameters a cache was
    computed with. It keeps a read-only view of those values (no copy) and compares them byte for byte, which
    also lets a cache recognise a history that only appends bars to its own (the next day's)."""

    first: dt.date | None
    last: dt.date | None
    length: int
    values: np.ndarray = field(repr=False)  # read-only view of the series' first `length` values
    params: tuple[int, ...]

    @classmethod
    def of(cls, series: DailySeries, params: tuple[int, ...], length: int | None = None) -> HistoryKey:
        """The key of the first `length` bars of `series` (all of them by default)."""
        n = len(series) if length is None else length
        first = series.dates[0] if n else None
        last = series.dates[n - 1] if n else None
        return cls(first, last, n, series.values[:n], params)

    def bars_added(self, series: DailySeries, n: int, params: tuple[int, ...]) -> int | None:
        """How many bars the first `n` bars of `series` add to this history: 0 when they are this very history,
        k when they are this history followed by k bars, None otherwise (another first bar, a corrected bar,
        other parameters)."""
        m = self.length
        if (
            params != self.params
            or m == 0
            or n < m
            or series.dates[0] != self.first
            or series.dates[m - 1] != self.last
        ):
            return None
        if series.values[:m].tobytes() != self.values.tobytes():
            return None
        return n - m


@dataclass(frozen=True, slots=True)
class RsiCache:
    """Wilder state at the end of the VIX history: the live bar then costs one step."""

    key: HistoryKey
    state: WilderState


@dataclass(frozen=True, slots=True)
class MacdCache:
    """MACD state at the end of the ratio history, the last window-1 ratios and the last histogram values."""

    key: HistoryKey
    state: MacdState
    ratio_tail: np.ndarray  # read-only: the last (z-window - 1) ratios, to z-score a live bar
    hist_tail: np.ndarray  # read-only: the last `macd_peak_lookback` histogram values of the history
    live: LiveMacdStep | None = None  # the last live bar's step from this state, reused if it becomes a bar


@dataclass(frozen=True, slots=True)
class LiveMacdStep:
    """A live bar stepped from a `MacdCache`: its ratio, the z-score window it ended (the cache's ratio tail plus
    it), the state after it and the histogram tail with it. When the next history appends exactly that ratio (the
    backtest's live ratio is the next day's close), the cache steps over it by reusing these: the same inputs give
    the same numbers, so the result is bit for bit the one a fresh step computes, at no cost."""

    ratio: float
    window: np.ndarray  # read-only
    state: MacdState
    hist_tail: np.ndarray  # read-only


@dataclass(frozen=True, slots=True)
class SignalMemory:
    """State carried from one evaluation to the next. Start with `SignalMemory()`.

    `vix_rsi_on` is the RSI hysteresis latch: it turns on at or above the on-level and off below the off-level, and
    is left untouched while the RSI abstains (stale data neither turns it on nor off). The caches only save work:
    they are keyed by the exact history they were computed from; a history that appends a few bars to it (the
    next day's) steps the cached state over them, as the live bar does, which equals a full recomputation up to
    floating-point rounding (tested); any other history recomputes. Two memories compare equal when their latches
    are equal.
    """

    vix_rsi_on: bool = False
    rsi_cache: RsiCache | None = field(default=None, compare=False, repr=False)
    macd_cache: MacdCache | None = field(default=None, compare=False, repr=False)

    def with_rsi(self, vix_rsi_on: bool, rsi_cache: RsiCache | None) -> SignalMemory:
        """This memory with the RSI latch and cache replaced (`dataclasses.replace` without its generic cost: it
        runs twice per decision; a test checks that every other field is carried over)."""
        return SignalMemory(vix_rsi_on, rsi_cache, self.macd_cache)

    def with_macd(self, macd_cache: MacdCache | None) -> SignalMemory:
        """This memory with the MACD cache replaced (see `with_rsi`)."""
        return SignalMemory(self.vix_rsi_on, self.rsi_cache, macd_cache)

    def to_dict(self) -> dict[str, object]:
        return {"vix_rsi_on": self.vix_rsi_on}

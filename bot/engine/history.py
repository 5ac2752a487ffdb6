"""Daily history for the indicators: warmed up from the broker's daily bars, then extended by each session's close.

RSI and MACD are daily indicators: the core reads completed daily closes plus today's live value. So the engine
loads the bars once at start (paced by the broker), and when the market clock passes a session's close it appends
the last value seen before that close, dated that session. Nothing here decides anything; it only keeps series.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

from bot.broker.types import ContractSpec, DailyBar
from bot.signals.inputs import Breadth, DailySeries, ExternalSeries, MacroCalendar
from bot.signals.sessions import NEW_YORK, session_date, sessions_in
from bot.strategy import History
from bot.vx_calendar import vx_expiry

# Index values settle at 16:15 New York (VIX's own close); a quarter hour after the stock close covers every series.
CLOSE_GRACE = dt.timedelta(minutes=15)
SERIES = ("vix", "vix3m", "spx", "vixy", "ratio")


@cache
def _xnys():
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return xcals.get_calendar("XNYS", start="2000-01-01")


@cache
def session_close(day: dt.date) -> dt.datetime | None:
    """When the NYSE session of `day` closes (UTC, early closes included), or None when `day` is not a session."""
    if not sessions_in(day, day):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        close = _xnys().session_close(day.isoformat())
    return close.to_pydatetime().astimezone(dt.UTC)


@cache
def session_open(day: dt.date) -> dt.datetime | None:
    """When the NYSE session of `day` opens (UTC), or None when `day` is not a session."""
    if not sessions_in(day, day):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        opened = _xnys().session_open(day.isoformat())
    return opened.to_pydatetime().astimezone(dt.UTC)


def closes_before(bars: Iterable[DailyBar], today: dt.date) -> dict[dt.date, float]:
    """Bar closes dated strictly before `today` (today's value comes from the live quote), finite and positive."""
    return {b.date: b.close for b in bars if b.date < today and b.close == b.close and b.close > 0}


def ratio_of(num: Mapping[dt.date, float], den: Mapping[dt.date, float]) -> dict[dt.date, float]:
    return {d: num[d] / den[d] for d in sorted(set(num) & set(den)) if den[d] > 0}


def futures_ratio(curve_bars: Mapping[ContractSpec, Iterable[DailyBar]], today: dt.date) -> dict[dt.date, float]:
    """Daily F1/F2 settles by position, from the bars of the contracts the gateway lists.

    A day counts only when both of that day's F1 and F2 are among the listed contracts: before the expiry of the
    month preceding the first listed contract, the then-front contract has expired and is not listed any more.
    """
    specs = sorted((s for s in curve_bars if s.expiry_date is not None), key=lambda s: s.expiry_date)  # type: ignore
    if len(specs) < 2:
        return {}
    first = specs[0].expiry_date
    assert first is not None
    prev = vx_expiry(first.year - (first.month == 1), 12 if first.month == 1 else first.month - 1)
    closes = {s.con_id: closes_before(curve_bars[s], today) for s in specs}
    days = sorted({d for c in closes.values() for d in c if d >= prev})
    out: dict[dt.date, float] = {}
    for day in days:
        live = [s for s in specs if s.expiry_date > day]  # type: ignore[operator]
        if len(live) < 2:
            continue
        f1, f2 = closes[live[0].con_id].get(day), closes[live[1].con_id].get(day)
        if f1 and f2:
            out[day] = f1 / f2
    return out


def _series(values: Mapping[dt.date, float]) -> DailySeries:
    days = sorted(values)
    return DailySeries(tuple(days), [values[d] for d in days])


@dataclass
class DailyHistory:
    """The daily closes per series plus the file-based inputs; `history()` is what `decide` gets."""

    closes: dict[str, dict[dt.date, float]] = field(default_factory=lambda: {name: {} for name in SERIES})
    macro: MacroCalendar = field(default_factory=MacroCalendar)
    breadth: Breadth | None = None
    externals: tuple[ExternalSeries, ...] = ()
    _live: dict[str, tuple[dt.date, float]] = field(default_factory=dict)
    _cached: History | None = None

    def load(self, name: str, values: Mapping[dt.date, float]) -> None:
        self.closes[name].update(values)
        self._cached = None

    def observe(self, name: str, value: float | None, at: dt.datetime) -> None:
        """A live value: remembered as the candidate close of its session if it arrived before that close."""
        if value is None or not value > 0:
            return
        day = session_date(at)
        close = session_close(day)
        if close is not None and at <= close + CLOSE_GRACE:
            self._live[name] = (day, value)

    def roll(self, now: dt.datetime) -> list[dt.date]:
        """Append every remembered session close whose session has ended by `now`; returns the sessions added."""
        added: set[dt.date] = set()
        for name, (day, value) in list(self._live.items()):
            close = session_close(day)
            if close is not None and now > close + CLOSE_GRACE:
                if day not in self.closes[name]:
                    self.closes[name][day] = value
                    added.add(day)
                del self._live[name]
        if added:
            self._cached = None
        return sorted(added)

    def last(self, name: str) -> tuple[dt.date, float] | None:
        series = self.closes[name]
        if not series:
            return None
        day = max(series)
        return day, series[day]

    def history(self) -> History:
        if self._cached is None:
            self._cached = History(
                vix=_series(self.closes["vix"]),
                ratio=_series(self.closes["ratio"]),
                vixy=_series(self.closes["vixy"]),
                macro=self.macro,
                breadth=self.breadth,
                externals=self.externals,
            )
        return self._cached

    def counts(self) -> dict[str, int]:
        return {name: len(values) for name, values in self.closes.items()}


__all__ = ["NEW_YORK", "DailyHistory", "closes_before", "futures_ratio", "ratio_of", "session_close", "session_open"]

"""VIX futures (VX/VXM) expiry dates and contract codes by the Cboe rule, holidays from exchange_calendars.

Rule (Cboe VX contract specs): the Wednesday 30 days before the third Friday of the month after the contract
month; if that Friday is not a trading day, 30 days before the business day preceding it; if the Wednesday is not
a trading day, the business day before it. Shared by the strategy core, simulator and backtest.
"""

from __future__ import annotations

import bisect
import datetime as dt
from functools import cache

import exchange_calendars as xcals
import pandas as pd

MONTH_CODES = "FGHJKMNQUVXZ"
_CALENDAR_NAME = "XCBF"  # Cboe Futures Exchange


@cache
def _calendar() -> xcals.ExchangeCalendar:
    return xcals.get_calendar(_CALENDAR_NAME, start="2000-01-01")


def is_trading_day(day: dt.date) -> bool:
    return bool(_calendar().is_session(pd.Timestamp(day)))


def previous_trading_day(day: dt.date) -> dt.date:
    """The trading day strictly before `day`."""
    candidate = day - dt.timedelta(days=1)
    while not is_trading_day(candidate):
        candidate -= dt.timedelta(days=1)
    return candidate


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    first_friday = first + dt.timedelta(days=(4 - first.weekday()) % 7)
    return first_friday + dt.timedelta(days=14)


@cache
def vx_expiry(year: int, month: int) -> dt.date:
    """Final settlement date of the VX (and VXM) monthly contract for contract month `year-month`."""
    if not 1 <= month <= 12:
        raise ValueError(f"contract month must be 1..12, got {month}")
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    friday = third_friday(next_year, next_month)
    if not is_trading_day(friday):
        friday = previous_trading_day(friday)
    wednesday = friday - dt.timedelta(days=30)
    if not is_trading_day(wednesday):
        wednesday = previous_trading_day(wednesday)
    return wednesday


def contract_code(year: int, month: int, root: str = "VX") -> str:
    """Local-symbol style code, e.g. VXF2020 (the form used in `vx_contracts.csv`)."""
    return f"{root}{MONTH_CODES[month - 1]}{year}"


def listed_contract_months(trade_date: dt.date, count: int) -> list[tuple[int, int]]:
    """The next `count` monthly contracts that have not expired on `trade_date`, nearest first."""
    months: list[tuple[int, int]] = []
    year, month = trade_date.year, trade_date.month
    while len(months) < count:
        if vx_expiry(year, month) > trade_date:
            months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Trading days in (start, end]; negative when end is before start.

    Two binary searches over the calendar's sessions as day ordinals (materialised once): asking exchange_calendars
    costs ~80 us a call, and the strategy asks with a new `today` every cycle (every day in a backtest). Outside the
    materialised range the calendar itself answers, and raises as it would.
    """
    if end == start:
        return 0
    days = _session_ordinals()
    lo, hi = (start, end) if end > start else (end, start)
    first, last = lo.toordinal() + 1, hi.toordinal()
    if not days or first < days[0] or last > days[-1]:
        return _sessions_by_calendar(start, end)
    count = bisect.bisect_right(days, last) - bisect.bisect_left(days, first)
    return count if end > start else -count


def preload() -> None:
    """Build the session table now (~0.6 ms, once per process). The bot calls it at start: the strategy first asks
    for business days when a layer sizes a hedge, so otherwise its first hedge would pay for it."""
    _session_ordinals()


@cache
def _session_ordinals() -> tuple[int, ...]:
    days = _calendar().sessions.to_numpy().astype("datetime64[D]").astype(object)
    return tuple(day.toordinal() for day in days)


def _sessions_by_calendar(start: dt.date, end: dt.date) -> int:
    """The reference count, straight from exchange_calendars (the fast path is tested against it)."""
    if end == start:
        return 0
    sign = 1 if end > start else -1
    lo, hi = sorted((start, end))
    sessions = _calendar().sessions_in_range(pd.Timestamp(lo + dt.timedelta(days=1)), pd.Timestamp(hi))
    return sign * len(sessions)

"""Trading and liquid hours per venue, from `exchange_calendars` sessions (no hand-written holiday tables).

Venues and why their hours look the way they do:
- `cfe`: VX/VXM futures on CFE (calendar XCBF). Regular hours are the XCBF session (08:30-15:15 CT); the extended
  session starts at 17:00 CT on the previous calendar day and ends 45 minutes after the regular close (16:00 CT),
  or at the regular close on early-close days. IB reports CFE hours in US/Central.
- `cboe`: indices and SPX/VIX options (calendar XNYS, 09:30-16:15 ET; 13:15 ET on early-close days).
- `stock`: VIXY on ARCA (calendar XNYS): trading 04:00-20:00 ET (17:00 on early-close days), liquid = the session.

The IB strings use the venue's time zone and the format "YYYYMMDD:HHMM-YYYYMMDD:HHMM;YYYYMMDD:CLOSED".
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd

UTC = dt.UTC
ET = ZoneInfo("America/New_York")
CT = ZoneInfo("America/Chicago")

VENUES = ("cfe", "cboe", "stock")
_TZ_ID = {"cfe": "US/Central", "cboe": "US/Eastern", "stock": "US/Eastern"}
_TZ = {"cfe": CT, "cboe": ET, "stock": ET}


@dataclass(frozen=True, slots=True)
class Session:
    """One trading day of a venue: `day` is the session date; all instants are UTC."""

    day: dt.date
    open: dt.datetime
    close: dt.datetime
    liquid_open: dt.datetime
    liquid_close: dt.datetime


def time_zone_id(venue: str) -> str:
    return _TZ_ID[_check(venue)]


def _check(venue: str) -> str:
    if venue not in VENUES:
        raise ValueError(f"unknown venue {venue!r}; expected one of {VENUES}")
    return venue


@cache
def _calendar(name: str) -> xcals.ExchangeCalendar:
    return xcals.get_calendar(name, start="2000-01-01")


def calendar_for(venue: str) -> xcals.ExchangeCalendar:
    return _calendar("XCBF" if _check(venue) == "cfe" else "XNYS")


def _local(day: dt.date, hour: int, minute: int, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(UTC)


def _build(venue: str, day: dt.date, open_utc: dt.datetime, close_utc: dt.datetime) -> Session:
    if venue == "cfe":
        normal_close = _local(day, 15, 15, CT)
        end = close_utc + dt.timedelta(minutes=45) if close_utc >= normal_close else close_utc
        start = _local(day - dt.timedelta(days=1), 17, 0, CT)
        return Session(day, start, end, open_utc, close_utc)
    if venue == "cboe":
        close = close_utc + dt.timedelta(minutes=15)  # index options and indices run to 16:15 ET
        return Session(day, open_utc, close, open_utc, close)
    early = close_utc < _local(day, 16, 0, ET)
    return Session(day, _local(day, 4, 0, ET), _local(day, 17 if early else 20, 0, ET), open_utc, close_utc)


@cache
def _sessions_of_year(venue: str, year: int) -> tuple[Session, ...]:
    cal = calendar_for(venue)
    lo = max(pd.Timestamp(dt.date(year, 1, 1)), cal.first_session)
    hi = min(pd.Timestamp(dt.date(year, 12, 31)), cal.last_session)
    if lo > hi:
        return ()
    sched = cal.schedule.loc[lo:hi]
    out = []
    for label, row in sched.iterrows():
        out.append(_build(venue, label.date(), row["open"].to_pydatetime(), row["close"].to_pydatetime()))
    return tuple(out)


@cache
def _days_of_year(venue: str, year: int) -> tuple[dt.date, ...]:
    return tuple(s.day for s in _sessions_of_year(venue, year))


def sessions_between(venue: str, first: dt.date, last: dt.date) -> list[Session]:
    """Sessions whose day lies in [first, last] (binary search: this runs for every quote)."""
    out: list[Session] = []
    for year in range(first.year, last.year + 1):
        days = _days_of_year(_check(venue), year)
        out.extend(_sessions_of_year(venue, year)[bisect.bisect_left(days, first) : bisect.bisect_right(days, last)])
    return out


def session_on(venue: str, day: dt.date) -> Session | None:
    found = sessions_between(venue, day, day)
    return found[0] if found else None


def is_session(venue: str, day: dt.date) -> bool:
    return session_on(venue, day) is not None


def _nearby(venue: str, t: dt.datetime) -> list[Session]:
    day = t.astimezone(_TZ[_check(venue)]).date()
    return sessions_between(venue, day - dt.timedelta(days=1), day + dt.timedelta(days=2))


def is_open(venue: str, t: dt.datetime, liquid: bool = False) -> bool:
    """Whether the venue trades at instant t (UTC-aware); `liquid` restricts to regular hours."""
    for s in _nearby(venue, t):
        lo, hi = (s.liquid_open, s.liquid_close) if liquid else (s.open, s.close)
        if lo <= t < hi:
            return True
    return False


def current_or_next_session(venue: str, t: dt.datetime) -> Session | None:
    for s in _nearby(venue, t):
        if t < s.close:
            return s
    later = sessions_between(venue, t.date() + dt.timedelta(days=3), t.date() + dt.timedelta(days=14))
    return later[0] if later else None


def last_close_before(venue: str, t: dt.datetime, liquid: bool = True) -> Session | None:
    """The most recent session whose (liquid) close is at or before t."""
    day = t.astimezone(_TZ[_check(venue)]).date()
    candidates = sessions_between(venue, day - dt.timedelta(days=10), day + dt.timedelta(days=1))
    ends = [(s.liquid_close if liquid else s.close) for s in candidates]
    i = bisect.bisect_right(ends, t)
    return candidates[i - 1] if i else None


def _fmt(t: dt.datetime, tz: ZoneInfo) -> str:
    local = t.astimezone(tz)
    return local.strftime("%Y%m%d:%H%M")


def ib_hours(venue: str, t: dt.datetime, days: int = 7, liquid: bool = False) -> str:
    """IB tradingHours/liquidHours for `days` calendar days from t's local date, CLOSED on non-session days."""
    tz = _TZ[_check(venue)]
    first = t.astimezone(tz).date()
    by_day = {s.day: s for s in sessions_between(venue, first, first + dt.timedelta(days=days - 1))}
    parts = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        s = by_day.get(day)
        if s is None:
            parts.append(f"{day:%Y%m%d}:CLOSED")
        else:
            lo, hi = (s.liquid_open, s.liquid_close) if liquid else (s.open, s.close)
            parts.append(f"{_fmt(lo, tz)}-{_fmt(hi, tz)}")
    return ";".join(parts)


def parse_ib_hours(text: str, tz_id: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """Parse an IB hours string into UTC intervals (CLOSED days give none); raises ValueError on bad text."""
    tz = ZoneInfo({"US/Central": "America/Chicago", "US/Eastern": "America/New_York"}.get(tz_id, tz_id))
    out = []
    for part in filter(None, text.split(";")):
        if part.endswith(":CLOSED"):
            dt.datetime.strptime(part[:8], "%Y%m%d")
            continue
        lo, hi = part.split("-")
        a = dt.datetime.strptime(lo, "%Y%m%d:%H%M").replace(tzinfo=tz).astimezone(UTC)
        b = dt.datetime.strptime(hi, "%Y%m%d:%H%M").replace(tzinfo=tz).astimezone(UTC)
        if b <= a:
            raise ValueError(f"interval {part!r} ends before it starts")
        out.append((a, b))
    return out

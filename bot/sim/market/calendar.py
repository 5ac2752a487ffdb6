"""Expiry calendars of the simulated contracts: SPX AM monthlies, SPXW PM weeklies/month-ends, VX/VIX options.

VX expiries come from `bot.vx_calendar` (the Cboe rule); SPX dates follow the Cboe rules on the XNYS calendar:
a monthly SPX (AM) option expires on the third Friday (the session before it if that Friday is a holiday) and stops
trading at the previous session's close; SPXW (PM) expire on every trading day (listed: each session of the coming
week, Mondays/Wednesdays/Fridays for ten weeks, Fridays for six months and month-ends for a year) and trade until
16:00 ET on the expiry day. VIX options expire on the VX expiry date.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

from bot.sim.market import hours
from bot.vx_calendar import third_friday, vx_expiry

SPXW_DAILY_HORIZON_DAYS = 7  # every session this close is listed
SPXW_WEEKLY_HORIZON_DAYS = 70  # Mon/Wed/Fri expiries this close are listed
SPXW_FRIDAY_HORIZON_DAYS = 190
MONTHLY_HORIZON_MONTHS = 12
VIX_OPTION_MONTHS = 6


def _session_on_or_before(day: dt.date) -> dt.date:
    while not hours.is_session("cboe", day):
        day -= dt.timedelta(days=1)
    return day


def _months(start: dt.date, count: int) -> list[tuple[int, int]]:
    y, m = start.year, start.month
    out = []
    for _ in range(count):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


@cache
def spx_monthly_expiry(year: int, month: int) -> dt.date:
    return _session_on_or_before(third_friday(year, month))


@cache
def month_end_expiry(year: int, month: int) -> dt.date:
    nxt = dt.date(year + (month == 12), 1 if month == 12 else month + 1, 1)
    return _session_on_or_before(nxt - dt.timedelta(days=1))


@cache
def spx_expiries(day: dt.date) -> tuple[dt.date, ...]:
    """SPX (AM) monthly expiries listed on `day`: the next MONTHLY_HORIZON_MONTHS third Fridays not yet expired."""
    out = [spx_monthly_expiry(y, m) for y, m in _months(day, MONTHLY_HORIZON_MONTHS + 1)]
    return tuple(e for e in out if e > day)[:MONTHLY_HORIZON_MONTHS]


@cache
def spxw_expiries(day: dt.date) -> tuple[dt.date, ...]:
    """SPXW (PM) expiries listed on `day` (including today's, which trades until the close)."""
    found: set[dt.date] = set()
    for offset in range(SPXW_FRIDAY_HORIZON_DAYS + 1):
        d = day + dt.timedelta(days=offset)
        daily = offset <= SPXW_DAILY_HORIZON_DAYS and hours.is_session("cboe", d)
        weekly = d.weekday() in (0, 2) and offset <= SPXW_WEEKLY_HORIZON_DAYS
        if d.weekday() == 4 or weekly or daily:
            e = _session_on_or_before(d)
            if e >= day:
                found.add(e)
    for y, m in _months(day, MONTHLY_HORIZON_MONTHS):
        e = month_end_expiry(y, m)
        if e >= day:
            found.add(e)
    return tuple(sorted(found))


def vx_months(day: dt.date, count: int) -> list[tuple[int, int]]:
    """Contract months of VX futures not yet expired on `day` (expiring today counts until its morning stop)."""
    out = []
    y, m = day.year, day.month
    if m == 1:
        y, m = y - 1, 12
    else:
        m -= 1
    while len(out) < count:
        if vx_expiry(y, m) >= day:
            out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def vix_option_expiries(day: dt.date) -> tuple[dt.date, ...]:
    return tuple(vx_expiry(y, m) for y, m in vx_months(day, VIX_OPTION_MONTHS))

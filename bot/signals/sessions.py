"""NYSE session arithmetic for freshness and macro windows: count trading sessions, not weekdays.

The XNYS calendar (exchange_calendars) is materialized once into a sorted numpy array of session days, so each
count is two binary searches: the decision path stays fast and pure (no clock: the calendar is built for a fixed
range, and a date outside it gives `None`, which callers turn into ABSTAIN).
"""

from __future__ import annotations

import bisect
import datetime as dt
import warnings
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import numpy as np

CALENDAR_NAME = "XNYS"
CALENDAR_FIRST = dt.date(1965, 1, 4)
CALENDAR_LAST = dt.date(2035, 12, 31)
NEW_YORK = ZoneInfo("America/New_York")


@cache
def _sessions() -> np.ndarray:
    with warnings.catch_warnings():
        # exchange_calendars 4.13 uses a pandas API that pandas 3.1 deprecates; the values it reads are unaffected
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        cal = xcals.get_calendar(CALENDAR_NAME, start=CALENDAR_FIRST.isoformat(), end=CALENDAR_LAST.isoformat())
    days = cal.sessions.to_numpy().astype("datetime64[D]")
    days.flags.writeable = False
    return days


def session_date(now: dt.datetime) -> dt.date:
    """The New York calendar date of an aware instant: the session day a live quote belongs to."""
    return now.astimezone(NEW_YORK).date()


def _covered(day: dt.date) -> bool:
    return CALENDAR_FIRST <= day <= CALENDAR_LAST


def sessions_in(first: dt.date, last: dt.date) -> tuple[dt.date, ...]:
    """The NYSE sessions first..last inclusive (for building test and replay calendars)."""
    days = _sessions()
    lo = int(np.searchsorted(days, np.datetime64(first, "D"), side="left"))
    hi = int(np.searchsorted(days, np.datetime64(last, "D"), side="right"))
    return tuple(d.astype(dt.date) for d in days[lo:hi])


@cache
def _session_ordinals() -> tuple[int, ...]:
    """The sessions as sorted day ordinals: bisecting ints avoids converting each date to numpy (~5 us a call)."""
    return tuple(int(day) for day in _sessions().astype(np.int64) + dt.date(1970, 1, 1).toordinal())


@lru_cache(maxsize=8192)
def _rank(day: dt.date, right: bool) -> int:
    """Sessions before `day` (left) or on or before `day` (right): a cached binary search."""
    ordinal = day.toordinal()
    return (bisect.bisect_right if right else bisect.bisect_left)(_session_ordinals(), ordinal)


@lru_cache(maxsize=4096)
def sessions_strictly_between(earlier: dt.date, later: dt.date) -> int | None:
    """Number of sessions d with earlier < d < later (0 when later <= earlier); None outside the calendar.

    Cached: a pure function of two dates, asked four times per decision with the same pair (each daily series'
    last bar against today)."""
    if not (_covered(earlier) and _covered(later)):
        return None
    if later <= earlier:
        return 0
    return max(_rank(later, False) - _rank(earlier, True), 0)


@lru_cache(maxsize=4096)
def session_distance(today: dt.date, event: dt.date) -> int | None:
    """Signed distance in sessions from `today` to `event`: 0 same day, +k k sessions ahead, -k k sessions ago.

    A non-session `today` (weekend) counts as sitting just before the next session, so Friday's event is -1 and
    Monday's event is +1 from a Saturday; an event on a non-session day counts at the next session. Cached (a
    pure function of two dates; the macro vote asks it for each event near today).
    """
    if not (_covered(today) and _covered(event)):
        return None
    if event == today:
        return 0
    if event > today:
        return _rank(event, True) - _rank(today, True)  # sessions in (today, event]
    return -(_rank(today, False) - _rank(event, False))  # sessions in [event, today)

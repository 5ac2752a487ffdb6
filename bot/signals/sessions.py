"""NYSE session arithmetic for freshness and macro windows: count trading sessions, not weekdays.

The XNYS calendar (exchange_calendars) is materialized once into a sorted numpy array of session days, so each
count is two binary searches: the decision path stays fast and pure (no clock: the calendar is built for a fixed
range, and a date outside it gives `None`, which callers turn into ABSTAIN).
"""

from __future__ import annotations

import datetime as dt
import warnings
from functools import cache
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


def is_session(day: dt.date) -> bool | None:
    if not _covered(day):
        return None
    days = _sessions()
    key = np.datetime64(day, "D")
    i = int(np.searchsorted(days, key))
    return i < len(days) and days[i] == key


def sessions_strictly_between(earlier: dt.date, later: dt.date) -> int | None:
    """Number of sessions d with earlier < d < later (0 when later <= earlier); None outside the calendar."""
    if not (_covered(earlier) and _covered(later)):
        return None
    if later <= earlier:
        return 0
    days = _sessions()
    lo = int(np.searchsorted(days, np.datetime64(earlier, "D"), side="right"))
    hi = int(np.searchsorted(days, np.datetime64(later, "D"), side="left"))
    return max(hi - lo, 0)


def session_distance(today: dt.date, event: dt.date) -> int | None:
    """Signed distance in sessions from `today` to `event`: 0 same day, +k k sessions ahead, -k k sessions ago.

    A non-session `today` (weekend) counts as sitting just before the next session, so Friday's event is -1 and
    Monday's event is +1 from a Saturday.
    """
    if not (_covered(today) and _covered(event)):
        return None
    days = _sessions()
    t = np.datetime64(today, "D")
    e = np.datetime64(event, "D")
    if e == t:
        return 0
    if e > t:
        # sessions in (today, event], i.e. how many session steps ahead the event is
        return int(np.searchsorted(days, e, side="right") - np.searchsorted(days, t, side="right"))
    # sessions in [event, today): how many steps back
    return -int(np.searchsorted(days, t, side="left") - np.searchsorted(days, e, side="left"))

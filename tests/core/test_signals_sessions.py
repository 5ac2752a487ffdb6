"""NYSE session arithmetic used for freshness and macro windows."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.signals.sessions import session_date, session_distance, sessions_in, sessions_strictly_between

D = dt.date


def test_session_date_is_the_new_york_date():
    assert session_date(dt.datetime(2018, 2, 6, 3, 0, tzinfo=dt.UTC)) == D(2018, 2, 5)  # 22:00 ET the day before
    assert session_date(dt.datetime(2018, 2, 6, 21, 0, tzinfo=dt.UTC)) == D(2018, 2, 6)


def test_sessions_skip_weekends_and_holidays():
    # 2018-02-16 Fri, 19 Mon Presidents' Day, 20 Tue
    assert sessions_in(D(2018, 2, 16), D(2018, 2, 20)) == (D(2018, 2, 16), D(2018, 2, 20))
    assert sessions_strictly_between(D(2018, 2, 16), D(2018, 2, 20)) == 0
    assert sessions_strictly_between(D(2018, 2, 14), D(2018, 2, 21)) == 3  # 15, 16, 20
    assert sessions_strictly_between(D(2018, 2, 21), D(2018, 2, 14)) == 0


@pytest.mark.parametrize(
    ("today", "event", "expected"),
    [
        (D(2018, 2, 7), D(2018, 2, 7), 0),
        (D(2018, 2, 7), D(2018, 2, 8), 1),
        (D(2018, 2, 7), D(2018, 2, 6), -1),
        (D(2018, 2, 16), D(2018, 2, 20), 1),  # across the holiday weekend
        (D(2018, 2, 20), D(2018, 2, 16), -1),
        (D(2018, 2, 17), D(2018, 2, 16), -1),  # from a Saturday
        (D(2018, 2, 17), D(2018, 2, 20), 1),
        (D(2020, 3, 16), D(2020, 3, 15), 0),  # Sunday emergency FOMC counts at Monday's session
    ],
)
def test_signed_session_distance(today, event, expected):
    assert session_distance(today, event) == expected


def test_outside_the_calendar_is_unknown():
    assert sessions_strictly_between(D(1950, 1, 3), D(2018, 1, 3)) is None
    assert session_distance(D(2018, 1, 3), D(2040, 1, 3)) is None

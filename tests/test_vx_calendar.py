"""VX expiry rule against Cboe's published dates and, when present, every contract in the shared history."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot import vx_calendar
from bot.vx_calendar import business_days_between, contract_code, listed_contract_months, vx_expiry

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2018, 2, dt.date(2018, 2, 14)),
        (2018, 3, dt.date(2018, 3, 21)),
        (2019, 3, dt.date(2019, 3, 19)),  # 2019-04-19 Good Friday: Thursday minus 30 days is a Tuesday
        (2020, 1, dt.date(2020, 1, 22)),
        (2008, 10, dt.date(2008, 10, 22)),
    ],
)
def test_known_expiries(year, month, expected):
    assert vx_expiry(year, month) == expected


def test_codes_and_listing():
    assert contract_code(2020, 1) == "VXF2020"
    assert contract_code(2018, 12, root="VXM") == "VXMZ2018"
    assert listed_contract_months(dt.date(2018, 2, 14), 2) == [(2018, 3), (2018, 4)]
    assert listed_contract_months(dt.date(2018, 2, 13), 1) == [(2018, 2)]


def test_business_days():
    assert business_days_between(dt.date(2018, 12, 21), dt.date(2018, 12, 26)) == 2  # 24th, 26th
    assert business_days_between(dt.date(2018, 12, 26), dt.date(2018, 12, 21)) == -2


@pytest.mark.skipif(not (DATA / "vx_contracts.csv").exists(), reason="../shared/data is absent")
def test_rule_matches_every_contract_in_history_since_2005():
    import pandas as pd

    frame = pd.read_csv(DATA / "vx_contracts.csv", usecols=["contract_month", "expiry"]).drop_duplicates()
    mismatches = []
    for month_text, expiry in frame.itertuples(index=False):
        year, month = map(int, month_text.split("-"))
        if year >= 2005 and str(vx_expiry(year, month)) != expiry:
            mismatches.append((month_text, expiry, vx_expiry(year, month)))
    assert mismatches == []


def test_preload_builds_the_session_table_once_so_the_first_hedge_does_not() -> None:
    vx_calendar._session_ordinals.cache_clear()
    vx_calendar.preload()
    assert vx_calendar._session_ordinals.cache_info().currsize == 1
    before = vx_calendar._session_ordinals.cache_info().misses
    assert vx_calendar.business_days_between(dt.date(2025, 1, 28), dt.date(2025, 2, 19)) == 15
    assert vx_calendar._session_ordinals.cache_info().misses == before

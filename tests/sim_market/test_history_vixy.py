"""Daily bars (warm-up history) and VIXY tracking the 30-day constant-maturity mix of F1 and F2."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import pytest

from bot.sim.market import catalog, hours
from bot.sim.market.catalog import FutKey, front_two
from bot.sim.market.curve import cm30_weights

from .helpers import closes


@pytest.mark.parametrize("symbol", ["VIX", "SPX", "VIX3M", "VIX9D", "VIXY"])
def test_at_least_300_warmup_bars_before_the_start(markets, symbol):
    m = markets("spike")
    start = m.info.start
    bars = m.daily_bars(catalog.FIXED_IDS[symbol], start, 1000)
    before = [b for b in bars if b.date < start.date()]
    assert len(before) >= 300
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    days = [b.date for b in bars]
    assert days == sorted(set(days))
    assert all(hours.is_session("stock" if symbol == "VIXY" else "cboe", d) for d in days)
    assert len(m.daily_bars(catalog.FIXED_IDS[symbol], start, 250)) == 250


def test_bars_end_with_the_value_at_the_asked_instant(markets):
    m = markets("spike")
    end = m.info.start + dt.timedelta(days=16, hours=1)
    (last,) = m.daily_bars(catalog.FIXED_IDS["VIX"], end, 1)
    assert last.date == end.astimezone(hours.ET).date()
    assert last.close == pytest.approx(m.path.vix(end))


def test_future_bars_cover_the_warmup_and_close_at_the_settlement_time(markets):
    m = markets("calm")
    key = FutKey("VX", 2025, 3)
    bars = m.daily_bars(catalog.con_id_of(key), m.info.start, 1000)
    assert len([b for b in bars if b.date < m.info.start.date()]) >= 300
    full = bars[-2]
    session = hours.session_on("cfe", full.date)
    assert full.close == pytest.approx(m.path.future(key, session.close))


def test_vixy_daily_returns_track_the_cm30_mix(markets):
    m = markets("spike")
    fee = m.settings.vixy_expense_ratio
    ts = closes(m, venue="stock")
    checked = 0
    for a, b in itertools.pairwise(ts):
        f1, f2 = front_two("VX", a)
        day = a.astimezone(hours.ET).date()
        w1, w2 = cm30_weights((f1.expiry - day).days, (f2.expiry - day).days)
        mix = (w1 * m.path.future(f1, b) + w2 * m.path.future(f2, b)) / (
            w1 * m.path.future(f1, a) + w2 * m.path.future(f2, a)
        )
        expected = mix * math.exp(-fee * (b - a).total_seconds() / (365 * 86400)) - 1
        assert m.path.vixy(b) / m.path.vixy(a) - 1 == pytest.approx(expected, abs=1e-9)
        checked += 1
    assert checked >= 35
    assert m.path.vixy(m.info.start) == pytest.approx(m.settings.vixy_start)

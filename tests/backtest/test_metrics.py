"""Every metric on small hand-checked series."""

from __future__ import annotations

import numpy as np
import pytest

from bot.backtest import metrics as m


def _dates(n: int, start: str = "2018-01-29") -> np.ndarray:
    return np.arange(np.datetime64(start, "D"), np.datetime64(start, "D") + n)


def test_drawdown_and_max_drawdown() -> None:
    equity = np.array([100.0, 110.0, 99.0, 120.0, 90.0, 95.0])
    assert m.drawdown(equity) == pytest.approx([0, 0, -0.1, 0, -0.25, 95 / 120 - 1])
    assert m.max_drawdown(equity) == pytest.approx(-0.25)
    assert m.max_drawdown_dollars(equity) == pytest.approx(-30.0)
    assert m.max_drawdown(np.array([1.0, 2.0, 3.0])) == 0.0


def test_cvar_is_the_mean_of_the_worst_tail() -> None:
    returns = np.arange(1, 101, dtype=float) - 50.0  # -49..50
    assert m.cvar(returns, 0.05) == pytest.approx(np.mean([-49, -48, -47, -46, -45]))
    assert m.cvar(np.array([-1.0, 2.0, 3.0]), 0.05) == -1.0  # at least one observation
    assert m.cvar(np.array([np.nan, -2.0, 1.0]), 0.5) == -2.0


def test_time_under_water() -> None:
    equity = np.array([100.0, 90.0, 95.0, 101.0, 100.0, 99.0, 98.0, 102.0])
    uw = m.time_under_water(equity)
    assert uw.share_of_days == pytest.approx(5 / 8)
    assert uw.longest_days == 3


def test_window_drawdown_counts_only_inside_and_the_day_before() -> None:
    dates = _dates(10)
    equity = np.array([100.0, 50.0, 60.0, 60.0, 54.0, 66.0, 66.0, 30.0, 30.0, 30.0])
    # window = days 3..5: equity before = 60 (day 2), 60, 54, 66 -> -10%; the -50% crash on day 1 is outside
    assert m.window_drawdown(dates, equity, str(dates[3]), str(dates[5])) == pytest.approx(-0.10)
    assert m.window_drawdown(dates, equity, str(dates[0]), str(dates[9])) == pytest.approx(-0.70)


def test_window_outside_the_data_is_not_covered() -> None:
    dates = _dates(10)
    equity = np.linspace(100, 110, 10)
    assert m.window_drawdown(dates, equity, "2022-01-03", "2022-10-14") is None
    assert m.window_drawdown(dates, equity, str(dates[5]), "2030-01-01") is None  # partial overlap: not covered
    assert m.window_covered(dates, str(dates[0]), str(dates[-1]))


def test_annual_return_on_fixed_capital() -> None:
    dates = np.array(["2010-01-01", "2012-01-01"], dtype="datetime64[D]")
    total, per_year = m.annual_return(dates, np.array([100_000.0, 110_000.0]), 100_000.0)
    assert total == pytest.approx(0.10)
    assert per_year == pytest.approx(0.10 / (730 / 365.25))


def test_income_preserved_outside_windows() -> None:
    dates = _dates(6)
    calm = m.outside_windows(dates, [(str(dates[2]), str(dates[3]))])
    assert calm.tolist() == [True, True, False, False, True, True]
    hedged = np.array([1.0, 1.0, 50.0, 50.0, 1.0, 0.0])
    unhedged = np.array([2.0, 2.0, -80.0, -80.0, 2.0, 2.0])
    assert m.income_preserved(hedged, unhedged, calm) == pytest.approx(3 / 8)
    assert m.income_preserved(hedged, -unhedged, calm) is None  # no income to preserve


def _spike_events_day_by_day(vix, rise, min_level, decluster, lookback=20):
    """The rule written out day by day: the reference for the vectorised trailing minimum."""
    onsets, last = [], -(10**9)
    for i in range(len(vix)):
        window = vix[max(0, i - lookback) : i + 1]
        lo = np.nanmin(window) if np.isfinite(window).any() else np.nan
        if np.isfinite(vix[i]) and vix[i] >= min_level and vix[i] >= (1 + rise) * lo:
            if i - last > decluster:
                onsets.append(i)
            last = i
    return onsets


@pytest.mark.parametrize("seed", range(12))
def test_spike_events_equal_the_day_by_day_rule(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 400))
    vix = 12 + np.cumsum(rng.standard_normal(n))
    vix[rng.random(n) < 0.1] = np.nan  # missing days
    vix[: min(n, 25 * (seed % 2))] = np.nan  # and a missing start: all-NaN windows
    for rise, level, decluster, lookback in ((0.3, 18.0, 5, 20), (0.1, 10.0, 0, 3), (0.5, 25.0, 30, 1)):
        want = _spike_events_day_by_day(vix, rise, level, decluster, lookback)
        assert m.spike_events(vix, rise, level, decluster, lookback).tolist() == want


def test_spike_events_decluster() -> None:
    vix = np.full(80, 12.0)
    vix[30:33] = [22.0, 25.0, 21.0]  # one event
    vix[40] = 24.0  # 8 days after the last spike day: same event with decluster 20
    vix[70] = 30.0  # a new event
    onsets = m.spike_events(vix, rise=0.3, min_level=20, decluster=20)
    assert onsets.tolist() == [30, 70]
    assert m.spike_events(vix, rise=0.3, min_level=20, decluster=5).tolist() == [30, 40, 70]


def test_score_signal_precision_recall_lead_and_false_alarms() -> None:
    n = 400
    onsets = np.array([100, 300])
    signal = np.zeros(n, dtype=bool)
    signal[95:102] = True  # on 5 days before the first event: hit, lead 5
    signal[200:203] = True  # false alarm
    signal[300] = True  # on at the onset of the second: hit, lead 0
    score = m.score_signal(signal, onsets, lead_window=10, years=2.0)
    assert score.episodes == 3 and score.events == 2
    assert score.precision == pytest.approx(2 / 3)
    assert score.recall == 1.0
    assert score.median_lead_days == pytest.approx(2.5)
    assert score.false_alarms_per_year == pytest.approx(0.5)


def test_random_like_keeps_frequency_and_episode_count() -> None:
    rng = np.random.default_rng(1)
    signal = np.zeros(1000, dtype=bool)
    for start in rng.choice(900, 20, replace=False):
        signal[start : start + rng.integers(1, 8)] = True
    rnd = m.random_like(signal, seed=5)
    assert rnd.sum() == signal.sum()
    assert len(m.episodes(rnd)) <= len(m.episodes(signal))
    assert len(m.episodes(rnd)) >= len(m.episodes(signal)) - 2
    assert not np.array_equal(rnd, signal)
    assert np.array_equal(rnd, m.random_like(signal, seed=5))  # seeded


def test_drawdown_cut() -> None:
    assert m.drawdown_cut(-0.05, -0.20) == pytest.approx(0.75)
    assert m.drawdown_cut(-0.30, -0.20) == pytest.approx(-0.5)  # the hedge made it worse
    assert m.drawdown_cut(None, -0.2) is None and m.drawdown_cut(-0.1, 0.0) is None

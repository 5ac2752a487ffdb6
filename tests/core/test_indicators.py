"""Indicators against a published worked example, an independent pandas computation, and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.signals.indicators import ema, macd, rolling_zscore, wilder_rsi, wilder_rsi_last

# StockCharts ChartSchool, "Relative Strength Index (RSI)", worked example spreadsheet (cs-rsi.xls): Wilder's RSI(14)
# on these 33 closes (the spreadsheet keeps 4 decimals; the article shows them rounded to 2). The first RSI is on the
# 15th close; the table lists these 19 values rounded to 2 decimals.
STOCKCHARTS_CLOSES = [
    44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826, 45.8931,
    46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439, 46.2122, 46.2521,
    45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672, 43.4205, 42.6628, 43.1314,
]  # fmt: skip
STOCKCHARTS_RSI14 = [
    70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38,
    54.71, 50.42, 39.99, 41.46, 41.87, 45.46, 37.30, 33.08, 37.77,
]  # fmt: skip


def test_rsi_matches_the_stockcharts_worked_example():
    rsi = wilder_rsi(STOCKCHARTS_CLOSES, 14)
    assert np.isnan(rsi[:14]).all()
    np.testing.assert_allclose(rsi[14:], STOCKCHARTS_RSI14, atol=0.005)


def test_rsi_first_value_is_the_simple_average_seed():
    d = np.diff(STOCKCHARTS_CLOSES[:15])
    rs = d.clip(min=0).mean() / (-d).clip(min=0).mean()
    assert wilder_rsi(STOCKCHARTS_CLOSES[:15], 14)[14] == pytest.approx(100 - 100 / (1 + rs), abs=1e-12)


def _pandas_wilder(closes: np.ndarray, n: int) -> np.ndarray:
    """Independent Wilder RSI: pandas ewm(alpha=1/n, adjust=False) started from the SMA seed at bar n."""
    d = pd.Series(closes).diff().iloc[1:]
    gains, losses = d.clip(lower=0), (-d).clip(lower=0)
    g = pd.concat([pd.Series([gains.iloc[:n].mean()]), gains.iloc[n:]], ignore_index=True)
    lo = pd.concat([pd.Series([losses.iloc[:n].mean()]), losses.iloc[n:]], ignore_index=True)
    avg_g = g.ewm(alpha=1 / n, adjust=False).mean().to_numpy()
    avg_l = lo.ewm(alpha=1 / n, adjust=False).mean().to_numpy()
    return 100 - 100 / (1 + avg_g / avg_l)


def test_rsi_matches_pandas_ewm_on_a_long_random_walk():
    rng = np.random.default_rng(7)
    closes = 20 + np.cumsum(rng.normal(0, 1, 400)).clip(-15, None)
    ours = wilder_rsi(closes, 14)[14:]
    np.testing.assert_allclose(ours, _pandas_wilder(closes, 14), rtol=0, atol=1e-9)


def test_macd_matches_pandas_ewm_adjust_false():
    rng = np.random.default_rng(11)
    x = np.cumsum(rng.normal(0, 1, 300))
    s = pd.Series(x)
    line = s.ewm(span=12, adjust=False).mean() - s.ewm(span=26, adjust=False).mean()
    signal = line.ewm(span=9, adjust=False).mean()
    m = macd(x, 12, 26, 9)
    np.testing.assert_allclose(m.line, line.to_numpy(), atol=1e-12)
    np.testing.assert_allclose(m.signal, signal.to_numpy(), atol=1e-12)
    np.testing.assert_allclose(m.histogram, (line - signal).to_numpy(), atol=1e-12)


def test_ema_is_seeded_with_the_first_value():
    out = ema([10.0, 20.0], 3)  # alpha 0.5
    assert out.tolist() == [10.0, 15.0]


def test_rolling_zscore_matches_pandas():
    rng = np.random.default_rng(3)
    x = rng.normal(1, 0.05, 200)
    s = pd.Series(x)
    expected = ((s - s.rolling(60).mean()) / s.rolling(60).std(ddof=0)).to_numpy()[59:]
    np.testing.assert_allclose(rolling_zscore(x, 60), expected, atol=1e-9)


def test_rolling_zscore_of_a_flat_window_is_zero():
    assert rolling_zscore(np.ones(10), 5).tolist() == [0.0] * 6


def test_live_last_bar_does_not_mutate_history_and_equals_appending():
    rng = np.random.default_rng(5)
    history = 15 + np.abs(np.cumsum(rng.normal(0, 1, 100)))
    history.flags.writeable = False
    before = history.copy()
    live = wilder_rsi_last(history, 30.0, 14)
    assert np.array_equal(history, before)
    assert live == pytest.approx(wilder_rsi(np.append(before, 30.0), 14)[-1])
    assert wilder_rsi_last(history, None, 14) == pytest.approx(wilder_rsi(before, 14)[-1])
    assert wilder_rsi_last(history[:10], 30.0, 14) is None


def test_nan_input_is_refused():
    with pytest.raises(ValueError, match="NaN or inf"):
        wilder_rsi([1.0, float("nan"), 2.0], 2)


prices = st.lists(st.floats(min_value=0.5, max_value=500, allow_nan=False), min_size=16, max_size=120)


@settings(max_examples=200, deadline=None)
@given(prices)
def test_rsi_is_always_within_0_and_100(closes):
    rsi = wilder_rsi(closes, 14)[14:]
    assert np.all((rsi >= 0) & (rsi <= 100))


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=0.5, max_value=500), st.integers(min_value=16, max_value=80))
def test_rsi_of_a_constant_series_is_50(level, n):
    assert np.all(wilder_rsi([level] * n, 14)[14:] == 50.0)


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=1, max_value=100), st.floats(min_value=0.01, max_value=5), st.integers(16, 80))
def test_rsi_of_monotone_series_is_0_or_100(start, step, n):
    up = [start + i * step for i in range(n)]
    down = [start + (n - i) * step for i in range(n)]
    assert np.all(wilder_rsi(up, 14)[14:] == 100.0)
    assert np.all(wilder_rsi(down, 14)[14:] == 0.0)


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=-100, max_value=100), st.integers(min_value=2, max_value=80))
def test_macd_of_a_constant_series_is_zero(level, n):
    m = macd([level] * n)
    assert np.allclose(m.line, 0) and np.allclose(m.histogram, 0)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from([0.9, 0.9000001, 0.95, 1.0]) | st.floats(0.5, 1.5), min_size=10, max_size=200),
    st.integers(min_value=2, max_value=10),
)
def test_rolling_zscore_equals_the_direct_window_computation(xs, window):
    x = np.array(xs)
    windows = np.lib.stride_tricks.sliding_window_view(x, window)
    std = windows.std(axis=1)
    direct = np.where(
        std > 1e-9 * np.abs(x).max(), (x[window - 1 :] - windows.mean(axis=1)) / np.where(std > 0, std, 1), 0
    )
    np.testing.assert_allclose(rolling_zscore(x, window), direct, atol=1e-6)


@pytest.mark.parametrize("alpha", [1 / 14, 2 / 13, 2 / 27])
def test_smoothing_loop_is_bit_identical_to_lfilter(alpha):
    """The recursion once ran in scipy's lfilter; the loop must give the same bits (backtest results depend on it)."""
    from scipy.signal import lfilter

    from bot.signals.indicators import _smooth

    x = np.random.default_rng(7).normal(size=600).cumsum() + 20.0
    reference, _ = lfilter([alpha], [1.0, -(1.0 - alpha)], x, zi=[(1.0 - alpha) * 3.5])
    assert np.array_equal(_smooth(x, alpha, 3.5), reference)
    assert _smooth(np.empty(0), alpha, 3.5).shape == (0,)

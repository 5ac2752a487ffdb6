"""Wilder RSI, EMA, MACD and a rolling z-score over numpy arrays; no pandas in the decision path.

Conventions (they decide the numbers, so they are fixed here and tested):
- Wilder RSI(n): changes d_t = c_t - c_{t-1}; the first average gain/loss is the simple mean of the first n gains
  and losses (Wilder, "New Concepts in Technical Trading Systems", 1978); afterwards avg_t = (avg_{t-1} (n-1) + x_t)
  / n, i.e. an EMA with alpha = 1/n. RSI = 100 - 100 / (1 + avg_gain / avg_loss); 100 when avg_loss is 0 and
  avg_gain > 0, and 50 when both are 0 (a flat series has no direction). The first RSI is defined at index n.
- EMA(span): alpha = 2 / (span + 1), seeded with the first value (pandas `ewm(span, adjust=False)`); we keep this
  seeding (not StockCharts' SMA seed) because our MACD runs on a z-score whose first values are discarded by the
  warm-up anyway, and it needs no extra bars. MACD(fast, slow, signal): line = EMA_fast - EMA_slow, signal =
  EMA_signal(line), histogram = line - signal, all of the same length as the input.
- The recursions are a plain loop over floats (a full 250-bar recomputation costs tens of microseconds, and the
  signal caches make it rare); scipy's `lfilter` did the same arithmetic in the same order, but importing
  `scipy.signal` kept about 50 MB resident in the bot for this one recursion. The "live last bar" variants append
  the live value to a copy and never touch the history array.
- `WilderState` / `MacdState` hold the recursion state at the end of a history, so that a live bar (or the next
  bar) costs one O(1) step: the signals cache them between calls while the daily history is unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _as_1d(values: np.ndarray | list[float] | tuple[float, ...]) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-d series, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("series contains NaN or inf; drop or fill missing bars before computing indicators")
    return arr


def _smooth(x: np.ndarray, alpha: float, seed: float) -> np.ndarray:
    """y_0 = alpha x_0 + (1 - alpha) seed; y_t = alpha x_t + (1 - alpha) y_{t-1}."""
    out = np.empty(len(x))
    decay = 1.0 - alpha
    level = seed
    for i, value in enumerate(x.tolist()):
        level = alpha * value + decay * level
        out[i] = level
    return out


def _rsi_from_averages(avg_gain: np.ndarray, avg_loss: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    rsi = np.where(avg_loss == 0.0, np.where(avg_gain == 0.0, 50.0, 100.0), rsi)
    return rsi


def wilder_rsi(closes: np.ndarray | list[float], period: int = 14) -> np.ndarray:
    """RSI per bar; NaN for the first `period` bars (not enough changes yet). Needs period + 1 closes for one value."""
    if period < 1:
        raise ValueError(f"RSI period must be at least 1, got {period}")
    c = _as_1d(closes)
    out = np.full(len(c), np.nan)
    if len(c) < period + 1:
        return out
    d = np.diff(c)
    gains = np.clip(d, 0.0, None)
    losses = np.clip(-d, 0.0, None)
    seed_gain = float(gains[:period].mean())
    seed_loss = float(losses[:period].mean())
    alpha = 1.0 / period
    avg_gain = np.concatenate(([seed_gain], _smooth(gains[period:], alpha, seed_gain)))
    avg_loss = np.concatenate(([seed_loss], _smooth(losses[period:], alpha, seed_loss)))
    out[period:] = _rsi_from_averages(avg_gain, avg_loss)
    return out


def wilder_rsi_last(history: np.ndarray, live: float | None, period: int = 14) -> float | None:
    """The RSI of the last bar of `history` + `live` (if given); None when there are too few bars."""
    series = np.asarray(history, dtype=np.float64)
    if live is not None:
        series = np.append(series, live)  # a new array: the history is never mutated
    if len(series) < period + 1:
        return None
    return float(wilder_rsi(series, period)[-1])


@dataclass(frozen=True, slots=True)
class WilderState:
    """Wilder averages after the last close; `step` adds one close without touching the history."""

    period: int
    avg_gain: float
    avg_loss: float
    last: float

    @property
    def rsi(self) -> float:
        """Same convention as `wilder_rsi`: 100 with no losses, 50 when nothing moved."""
        if self.avg_loss == 0.0:
            return 50.0 if self.avg_gain == 0.0 else 100.0
        return 100.0 - 100.0 / (1.0 + self.avg_gain / self.avg_loss)

    def step(self, close: float) -> WilderState:
        d = close - self.last
        n = self.period
        gain, loss = (d, 0.0) if d > 0 else (0.0, -d)
        return WilderState(n, (self.avg_gain * (n - 1) + gain) / n, (self.avg_loss * (n - 1) + loss) / n, close)


def wilder_state(closes: np.ndarray | list[float], period: int = 14) -> WilderState | None:
    """The state after the last close (same seeding as `wilder_rsi`); None with fewer than period + 1 closes."""
    if period < 1:
        raise ValueError(f"RSI period must be at least 1, got {period}")
    c = _as_1d(closes)
    if len(c) < period + 1:
        return None
    d = np.diff(c)
    gains = np.clip(d, 0.0, None)
    losses = np.clip(-d, 0.0, None)
    seed_gain = float(gains[:period].mean())
    seed_loss = float(losses[:period].mean())
    alpha = 1.0 / period
    avg_gain = _smooth(gains[period:], alpha, seed_gain)
    avg_loss = _smooth(losses[period:], alpha, seed_loss)
    g = float(avg_gain[-1]) if len(avg_gain) else seed_gain
    lo = float(avg_loss[-1]) if len(avg_loss) else seed_loss
    return WilderState(period, g, lo, float(c[-1]))


def ema(values: np.ndarray | list[float], span: int) -> np.ndarray:
    """EMA with alpha = 2/(span+1), seeded with the first value (pandas ewm(span=span, adjust=False))."""
    if span < 1:
        raise ValueError(f"EMA span must be at least 1, got {span}")
    x = _as_1d(values)
    if len(x) == 0:
        return np.empty(0)
    return _smooth(x, 2.0 / (span + 1.0), float(x[0]))


@dataclass(frozen=True, slots=True)
class Macd:
    line: np.ndarray
    signal: np.ndarray
    histogram: np.ndarray


def macd(values: np.ndarray | list[float], fast: int = 12, slow: int = 26, signal: int = 9) -> Macd:
    return _macd(_as_1d(values), fast, slow, signal)[0]


def _macd(x: np.ndarray, fast: int, slow: int, signal: int) -> tuple[Macd, tuple[float, float, float] | None]:
    if not fast < slow:
        raise ValueError(f"MACD needs fast < slow, got fast={fast}, slow={slow}")
    ema_fast, ema_slow = ema(x, fast), ema(x, slow)
    line = ema_fast - ema_slow
    sig = ema(line, signal) if len(line) else np.empty(0)
    last = (float(ema_fast[-1]), float(ema_slow[-1]), float(sig[-1])) if len(x) else None
    return Macd(line=line, signal=sig, histogram=line - sig), last


@dataclass(frozen=True, slots=True)
class MacdState:
    """EMA states after the last value; `step` adds one value and returns the new state and its histogram."""

    fast: int
    slow: int
    signal: int
    ema_fast: float
    ema_slow: float
    ema_signal: float

    @property
    def histogram(self) -> float:
        return (self.ema_fast - self.ema_slow) - self.ema_signal

    def step(self, x: float) -> MacdState:
        af, a_s, ag = 2.0 / (self.fast + 1.0), 2.0 / (self.slow + 1.0), 2.0 / (self.signal + 1.0)
        f = af * x + (1.0 - af) * self.ema_fast
        s = a_s * x + (1.0 - a_s) * self.ema_slow
        g = ag * (f - s) + (1.0 - ag) * self.ema_signal
        return MacdState(self.fast, self.slow, self.signal, f, s, g)


def macd_with_state(
    values: np.ndarray | list[float], fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[Macd, MacdState]:
    """`macd` plus the state after the last value (needs at least one value)."""
    m, last = _macd(_as_1d(values), fast, slow, signal)
    if last is None:
        raise ValueError("MACD state needs at least one value")
    return m, MacdState(fast, slow, signal, *last)


def zscore_last(window: np.ndarray) -> float:
    """The z-score of the window's last value against the whole window (ddof=0); 0 for a flat window.

    Written out as numpy's own `mean()` and `std()` compute them (a pairwise sum divided by n; the root of the
    mean squared deviation), bit for bit (tested), at a third of the cost: it runs twice per decision."""
    n = len(window)
    mean = np.add.reduce(window) / n
    deviation = window - mean
    std = math.sqrt(np.add.reduce(deviation * deviation) / n)
    return (float(window[-1]) - float(mean)) / std if std > 1e-12 else 0.0


def rolling_zscore(values: np.ndarray | list[float], window: int) -> np.ndarray:
    """z_t = (x_t - mean(x_{t-w+1..t})) / std(same, ddof=0); length len(x) - window + 1; 0 where the window is flat.

    Window sums come from cumulative sums of the series centred on its mean (O(n)). Where a window's variance is
    tiny next to the series' (there E[x^2] - E[x]^2 could lose digits) it is recomputed directly, so flat and
    near-flat windows are exact too.
    """
    if window < 2:
        raise ValueError(f"z-score window must be at least 2, got {window}")
    x = _as_1d(values)
    if len(x) < window:
        return np.empty(0)
    c = x - x.mean()
    s1 = np.cumsum(np.concatenate(([0.0], c)))
    s2 = np.cumsum(np.concatenate(([0.0], c * c)))
    mean = (s1[window:] - s1[:-window]) / window
    var = np.maximum((s2[window:] - s2[:-window]) / window - mean * mean, 0.0)
    suspect = np.nonzero(var <= 1e-6 * float((c * c).mean()))[0]
    if suspect.size:
        exact = np.lib.stride_tricks.sliding_window_view(c, window)[suspect]
        mean[suspect] = exact.mean(axis=1)
        var[suspect] = exact.var(axis=1)
    std = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (c[window - 1 :] - mean) / std
    return np.where(std > 1e-12, z, 0.0)

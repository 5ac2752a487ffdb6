"""Scores of equity curves on a fixed capital base, and of signals as spike predictors (ALVH spec section 8).

Conventions: equity in dollars per trading day; drawdowns are fractions of the running peak (negative numbers);
daily returns are P&L over the fixed capital base (what the account risks, not a compounding NAV).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Equity / running peak - 1 per day (0 at a new high)."""
    equity = np.asarray(equity, dtype=float)
    return equity / np.maximum.accumulate(equity) - 1.0


def max_drawdown(equity: np.ndarray) -> float:
    return float(drawdown(equity).min()) if len(equity) else 0.0


def max_drawdown_dollars(equity: np.ndarray) -> float:
    equity = np.asarray(equity, dtype=float)
    return float((equity - np.maximum.accumulate(equity)).min()) if len(equity) else 0.0


def cvar(returns: np.ndarray, level: float = 0.05) -> float:
    """Expected shortfall: mean of the worst `level` share of returns (at least one observation)."""
    returns = np.sort(np.asarray(returns, dtype=float)[np.isfinite(returns)])
    if not len(returns):
        return float("nan")
    k = max(int(np.floor(level * len(returns))), 1)
    return float(returns[:k].mean())


@dataclass(frozen=True, slots=True)
class UnderWater:
    share_of_days: float  # days below the previous peak / all days
    longest_days: int  # longest stretch of consecutive trading days below the peak


def time_under_water(equity: np.ndarray) -> UnderWater:
    under = drawdown(equity) < -1e-12
    if not len(under):
        return UnderWater(0.0, 0)
    longest = run = 0
    for flag in under.tolist():  # Python bools: iterating numpy's own scalars costs several times more
        run = run + 1 if flag else 0
        if run > longest:
            longest = run
    return UnderWater(float(under.mean()), int(longest))


def window_mask(dates: np.ndarray, start: str, end: str) -> np.ndarray:
    return (dates >= np.datetime64(start, "D")) & (dates <= np.datetime64(end, "D"))


def window_covered(dates: np.ndarray, start: str, end: str) -> bool:
    """Only a window the data spans entirely is scored; a partial one would understate the drawdown."""
    return bool(len(dates)) and dates[0] <= np.datetime64(start, "D") and dates[-1] >= np.datetime64(end, "D")


def window_drawdown(dates: np.ndarray, equity: np.ndarray, start: str, end: str) -> float | None:
    """Worst drawdown inside [start, end], measured from peaks inside the window (from the day before it starts,
    so a loss on the first day counts). None when the data does not cover the window."""
    if not window_covered(dates, start, end):
        return None
    mask = window_mask(dates, start, end)
    first = int(np.argmax(mask))
    lo = max(first - 1, 0)
    hi = first + int(mask.sum())
    return max_drawdown(equity[lo:hi])


def drawdown_cut(hedged: float | None, unhedged: float | None) -> float | None:
    """Share of the unhedged drawdown removed by the hedge: 1 - hedged/unhedged (0.5 = halved, < 0 = deeper).
    None when either is missing or the unhedged book did not draw down."""
    if hedged is None or unhedged is None or unhedged >= 0:
        return None
    return 1.0 - hedged / unhedged


def annual_return(dates: np.ndarray, equity: np.ndarray, capital: float) -> tuple[float, float]:
    """(total P&L / capital, the same per year: simple, on the fixed capital base)."""
    total = float(equity[-1] - equity[0]) / capital
    years = max((dates[-1] - dates[0]).astype(int) / 365.25, 1e-9)
    return total, total / years


def outside_windows(dates: np.ndarray, windows: list[tuple[str, str]]) -> np.ndarray:
    mask = np.ones(len(dates), dtype=bool)
    for start, end in windows:
        mask &= ~window_mask(dates, start, end)
    return mask


def income_preserved(hedged_pnl: np.ndarray, unhedged_pnl: np.ndarray, calm: np.ndarray) -> float | None:
    """Hedged / unhedged net P&L on calm days (outside every stress window); None when the unhedged base <= 0,
    since the ratio of two losses says nothing about income kept."""
    base = float(np.sum(unhedged_pnl[calm]))
    if base <= 0:
        return None
    return float(np.sum(hedged_pnl[calm])) / base


# ---- signal events -------------------------------------------------------------------------------------------


def spike_events(vix: np.ndarray, rise: float, min_level: float, decluster: int, lookback: int = 20) -> np.ndarray:
    """Onset indices of VIX spikes: VIX >= `min_level` and >= (1 + rise) x its trailing `lookback`-day minimum;
    spike days within `decluster` days of the previous spike day belong to the same event (one onset)."""
    vix = np.asarray(vix, dtype=float)
    onsets: list[int] = []
    if not len(vix):
        return np.array(onsets, dtype=np.int64)
    # trailing minimum over vix[max(0, i - lookback) .. i], NaN ignored: windows over a NaN-padded copy (a minimum
    # does not round, so this is the day-by-day nanmin exactly); an all-NaN window gives NaN, which never spikes
    padded = np.concatenate((np.full(lookback, np.nan), vix))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice encountered"
        lo = np.nanmin(np.lib.stride_tricks.sliding_window_view(padded, lookback + 1), axis=1)
    with np.errstate(invalid="ignore"):
        spike = np.isfinite(vix) & (vix >= min_level) & (vix >= (1 + rise) * lo)
    last = -(10**9)
    for i in np.flatnonzero(spike).tolist():
        if i - last > decluster:
            onsets.append(i)
        last = i
    return np.array(onsets, dtype=np.int64)


def episodes(signal: np.ndarray) -> np.ndarray:
    """Indices where a boolean signal turns on (rising edges, including day 0 if on)."""
    s = np.asarray(signal, dtype=bool)
    prev = np.concatenate(([False], s[:-1]))
    return np.flatnonzero(s & ~prev)


@dataclass(frozen=True, slots=True)
class EventScore:
    episodes: int
    events: int
    precision: float | None  # share of episodes followed by an event onset within the lead window
    recall: float | None  # share of events with the signal on within the lead window before (or at) onset
    median_lead_days: float | None  # onset - first on-day of the covering run, over hit events
    false_alarms_per_year: float
    on_share: float  # share of days the signal is on

    def to_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


def score_signal(signal: np.ndarray, onsets: np.ndarray, lead_window: int, years: float) -> EventScore:
    s = np.asarray(signal, dtype=bool)
    starts = episodes(s)
    hits = 0
    for e in starts:
        if np.any((onsets >= e) & (onsets <= e + lead_window)):
            hits += 1
    leads: list[int] = []
    for onset in onsets:
        window = s[max(0, onset - lead_window) : onset + 1]
        if window.any():
            first_on = max(0, onset - lead_window) + int(np.argmax(window))
            run_start = first_on
            while run_start > 0 and s[run_start - 1]:
                run_start -= 1
            leads.append(onset - run_start)
    return EventScore(
        episodes=len(starts),
        events=len(onsets),
        precision=hits / len(starts) if len(starts) else None,
        recall=len(leads) / len(onsets) if len(onsets) else None,
        median_lead_days=float(np.median(leads)) if leads else None,
        false_alarms_per_year=(len(starts) - hits) / max(years, 1e-9),
        on_share=float(s.mean()) if len(s) else 0.0,
    )


def random_like(signal: np.ndarray, seed: int) -> np.ndarray:
    """A random signal with the same number of on-days and episodes: the on-run and off-run lengths of `signal`
    are shuffled (seeded) and re-interleaved, so only the timing is random."""
    s = np.asarray(signal, dtype=bool)
    if not len(s):
        return s.copy()
    change = np.flatnonzero(np.diff(s.astype(np.int8))) + 1
    bounds = np.concatenate(([0], change, [len(s)]))
    runs = np.diff(bounds)
    values = s[bounds[:-1]]
    rng = np.random.default_rng(seed)
    on_runs = rng.permutation(runs[values])
    off_runs = list(rng.permutation(runs[~values]))
    n_on = len(on_runs)
    # place the on-runs between off-runs at random gap positions (keeping the count of each)
    gaps = len(off_runs) + 1
    slots = np.sort(rng.choice(gaps, size=min(n_on, gaps), replace=False))
    out: list[np.ndarray] = []
    k = 0
    for g in range(gaps):
        while k < len(slots) and slots[k] == g:
            out.append(np.ones(on_runs[k], dtype=bool))
            k += 1
        if g < len(off_runs):
            out.append(np.zeros(off_runs[g], dtype=bool))
    for extra in on_runs[k:]:
        out.append(np.ones(extra, dtype=bool))
    return np.concatenate(out)[: len(s)]

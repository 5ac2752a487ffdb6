"""Signal votes (spec section 4): one `SignalVote` per configured signal, every time, in a fixed order.

Vote names (stable: intents, transitions and the journal quote them):

| name | FOR when | value / threshold |
|---|---|---|
| `vix_rsi` | RSI(14) latch of daily VIX closes + live VIX: on at >= 60, off below 50 | RSI / next flip level |
| `vix_level` | VIX >= 20 (layers 1-2) | VIX / 20 |
| `vix_level_tail` | VIX > 35 (layer 3) | VIX / 35 |
| `term_structure` | F1/F2 > 1 or VIX/VIX3M > 1, from whichever pair is fresh | the larger fresh ratio / 1 |
| `ts_macd_building` | MACD(12,26,9) histogram of the z-scored ratio is > 0 and rising | histogram (z units) / 0 |
| `ts_macd_stabilizing` | the histogram is falling, >= 30% below a peak of >= 0.2 in 20 sessions | retrace / 0.3 |
| `macro_event` | a CPI/PPI/FOMC date lies within 1 session before .. 1 session after today | signed sessions / window |
| `breadth` | A/D line below its 20-session average, or net advances below -1500 | A/D minus average / 0 |
| `external:<name>` | the user rule (threshold or rate of change, above or below) | compared value / threshold |

AGAINST means "the data is there and says no" (for `vix_rsi`: the latch is off). ABSTAIN means the data is missing,
stale, not finite or too short; its detail says what and how old. Quorum rules may count an AGAINST as a
confirmation with the `!name` form (e.g. `!vix_rsi` = RSI latched off), never an ABSTAIN.

Freshness: quotes by age in seconds (`quote_max_age_seconds`); daily series by NYSE sessions missing between their
last bar and today (`*_max_age_sessions`). Daily bars dated today or later are ignored: today is the live bar.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from bot.domain.votes import SignalVote, Vote, trusted_vote
from bot.settings.signals import ExternalRule, SignalSettings
from bot.signals import indicators
from bot.signals.inputs import (
    Breadth,
    DailySeries,
    HistoryKey,
    LiveMacdStep,
    MacdCache,
    RsiCache,
    SignalInputs,
    SignalMemory,
    Timed,
)
from bot.signals.sessions import session_date, session_distance, sessions_strictly_between

SignalResult = tuple[tuple[SignalVote, ...], SignalMemory]
MAX_BARS_STEPPED = 64  # a cache is stepped over at most this many appended bars; more are recomputed at once


def evaluate_signals(inputs: SignalInputs, memory: SignalMemory, settings: SignalSettings) -> SignalResult:
    """All votes for this instant, and the memory to pass to the next call."""
    today = session_date(inputs.now)
    live = LiveQuotes.of(inputs, settings)
    rsi_vote, memory = vix_rsi(inputs, memory, settings, today, live)
    building, stabilizing, memory = ts_macd(inputs, memory, settings, today, live)
    votes = [
        rsi_vote,
        vix_level(inputs, settings, live),
        vix_level_tail(inputs, settings, live),
        term_structure(inputs, settings, live),
        building,
        stabilizing,
        macro_event(inputs, settings, today),
        breadth(inputs.breadth, settings, today),
    ]
    loaded = {e.name: e.series for e in inputs.externals}
    votes.extend(external(rule, loaded.get(rule.name), settings, today) for rule in settings.externals)
    return tuple(votes), memory


# ---- helpers -------------------------------------------------------------------------------------------------


class LiveQuotes(NamedTuple):
    """The live values several votes read, each checked once per evaluation: (value, "") when usable, else
    (None, why). VIX feeds four votes and F1/F2 two; checking each quote once instead of per vote is the same
    test on the same inputs, so every vote and detail is unchanged."""

    vix: tuple[float | None, str]
    futures_ratio: tuple[float | None, str]
    spot_ratio: tuple[float | None, str]

    @classmethod
    def of(cls, inputs: SignalInputs, s: SignalSettings) -> LiveQuotes:
        now, max_age = inputs.now, s.quote_max_age_seconds
        vix = _fresh_quote("VIX", inputs.vix, now, max_age)
        return cls(vix, _futures_ratio(inputs, s), _spot_ratio(inputs, s, vix))


def _abstain(name: str, detail: str, threshold: float | None = None) -> SignalVote:
    return trusted_vote(name, Vote.ABSTAIN, None, threshold, detail)


def _fresh_quote(label: str, quote: Timed | None, now: dt.datetime, max_age: float) -> tuple[float | None, str]:
    """(value, "") when usable, else (None, why)."""
    if quote is None:
        return None, f"no {label} quote"
    value = quote.value
    if not (math.isfinite(value) and value > 0.0):  # `Timed.is_valid_price`, inlined: nine calls per decision
        return None, f"{label} quote {value!r} is not a finite positive price"
    age = (now - quote.at).total_seconds()  # `Timed.age_seconds`
    if age > max_age:
        return None, f"{label} quote is {age:.0f} s old (limit {max_age:.0f} s)"
    if age < -max_age:
        return None, f"{label} quote is stamped {-age:.0f} s in the future"
    return float(value), ""


def _appended(values: np.ndarray, x: float) -> np.ndarray:
    """`np.append(values, x)` for a 1-d array and one number (the same new array, without its generic overhead)."""
    return np.concatenate((values, (x,)))


def _all_finite(values: np.ndarray) -> bool:
    """`np.isfinite(values).all()`, by a sum first: a finite sum means every value is finite (a NaN or an infinity
    makes the sum NaN or infinite), and the sum costs half the elementwise test. Only a non-finite sum (a bad value,
    or finite values overflowing) takes the elementwise test. Runs on every daily history of every decision."""
    return math.isfinite(np.add.reduce(values)) or bool(np.isfinite(values).all())


def _any_not_positive(values: np.ndarray, known: int = 0) -> bool:
    """`(values <= 0).any()` for a non-empty array of finite values (what `_daily` returns): its minimum <= 0.
    The first `known` values are known positive (see `_known_good`): only the ones after them are tested."""
    if known:
        return any(x <= 0.0 for x in values[known:].tolist())
    return bool(np.minimum.reduce(values) <= 0.0)


def _added(cache: RsiCache | MacdCache | None, series: DailySeries, n: int, params: tuple[int, ...]) -> int | None:
    """How many bars the first `n` of `series` add to the history the cache was computed from (None: another
    history, or no cache). Its bars, the first n - added, are known finite and positive: a cache is only built from
    a history that passed both checks, and `bars_added` compares them byte for byte. The next day's history is
    then checked on its one new bar, not re-checked whole by each signal every day."""
    return cache.key.bars_added(series, n, params) if cache is not None else None


def _daily(
    label: str,
    series: DailySeries,
    today: dt.date,
    max_missing: int,
    tail: int | None = None,
    known: int = 0,
    n: int | None = None,
) -> tuple[int, np.ndarray | None, str]:
    """(n bars before today, their values or the last `tail` of them, "") when recent and finite, else (n, None, why).

    Works on a prefix count rather than a sliced copy: a 13,000-row breadth file costs a binary search, not a copy.
    `known` (with `tail` None): the first `known` bars are known finite (`_known_good`), only the rest are tested.
    `n`: the count of bars before today when the caller has it already.
    """
    if n is None:
        n = series.count_before(today)
    if n == 0:
        return n, None, f"no {label} history before {today}"
    last = series.dates[n - 1]
    missing = sessions_strictly_between(last, today)
    if missing is None:
        return n, None, f"{label} history ends {last}, outside the session calendar"
    if missing > max_missing:
        return n, None, f"{label} history ends {last}: {missing} sessions missing (limit {max_missing})"
    values = series.values[:n] if tail is None else series.values[max(0, n - tail) : n]
    # after known bars, usually the one new bar is left: tested in Python, without numpy's per-call cost
    finite = all(map(math.isfinite, values[known:].tolist())) if known else _all_finite(values)
    if not finite:
        bad = int(np.sum(~np.isfinite(values)))
        return n, None, f"{label} history has {bad} non-finite value(s) among the bars used; fix the data source"
    return n, values, ""


# ---- VIX ------------------------------------------------------------------------------------------------------


def vix_rsi(
    inputs: SignalInputs, memory: SignalMemory, s: SignalSettings, today: dt.date, live_quotes: LiveQuotes | None = None
) -> tuple[SignalVote, SignalMemory]:
    name = "vix_rsi"
    series, params = inputs.vix_history, (s.rsi_period,)
    n = series.count_before(today)
    added = _added(memory.rsi_cache, series, n, params)
    known = n - added if added is not None else 0
    n, history, why = _daily("VIX", series, today, s.daily_max_age_sessions, known=known, n=n)
    if history is None:
        return _abstain(name, why), memory
    if _any_not_positive(history, known):
        return _abstain(name, "VIX history has non-positive closes; fix the data source"), memory
    live, live_why = (live_quotes or LiveQuotes.of(inputs, s)).vix
    bars = len(history) + (1 if live is not None else 0)
    if bars < s.rsi_min_history or len(history) < s.rsi_period + 1:
        return _abstain(name, f"{bars} VIX bars, RSI needs {s.rsi_min_history}"), memory
    cache = _rsi_cache(memory.rsi_cache, added, series, n, history, s)
    rsi = (cache.state.step(live) if live is not None else cache.state).rsi
    on = rsi >= s.rsi_on or (memory.vix_rsi_on and rsi >= s.rsi_off)
    flip = s.rsi_off if on else s.rsi_on
    state_text = "on" if on else "off"
    bar = "live bar" if live is not None else f"close of {inputs.vix_history.dates[n - 1]} ({live_why})"
    detail = f"RSI({s.rsi_period}) {rsi:.1f}, {state_text} (on >= {s.rsi_on:g}, off < {s.rsi_off:g}); last {bar}"
    vote = trusted_vote(name, Vote.FOR if on else Vote.AGAINST, rsi, flip, detail)
    return vote, memory.with_rsi(on, cache)


def _rsi_cache(
    cache: RsiCache | None, added: int | None, series: DailySeries, n: int, history: np.ndarray, s: SignalSettings
) -> RsiCache:
    """Wilder state at the end of `history` (the first n bars of `series`): the cached one when the history is the
    same, stepped over the new bars when it only appends a few (the next day), else computed afresh. `added`: the
    cache's `bars_added` for this history."""
    params = (s.rsi_period,)
    if cache is not None and added == 0:
        return cache
    key = HistoryKey.of(series, params, n)
    if cache is None or added is None or added > MAX_BARS_STEPPED:
        state = indicators.wilder_state(history, s.rsi_period)
        assert state is not None  # the caller checked len(history) > rsi_period
        return RsiCache(key, state)
    state = cache.state
    for close in history[-added:].tolist():
        state = state.step(close)
    return RsiCache(key, state)


def vix_level(inputs: SignalInputs, s: SignalSettings, live: LiveQuotes | None = None) -> SignalVote:
    value, why = (live or LiveQuotes.of(inputs, s)).vix
    if value is None:
        return _abstain("vix_level", why, s.vix_level)
    hit = value >= s.vix_level
    detail = f"VIX {value:.2f} {'>=' if hit else '<'} {s.vix_level:g}"
    return trusted_vote("vix_level", Vote.FOR if hit else Vote.AGAINST, value, s.vix_level, detail)


def vix_level_tail(inputs: SignalInputs, s: SignalSettings, live: LiveQuotes | None = None) -> SignalVote:
    value, why = (live or LiveQuotes.of(inputs, s)).vix
    if value is None:
        return _abstain("vix_level_tail", why, s.vix_tail_level)
    hit = value > s.vix_tail_level
    detail = f"VIX {value:.2f} {'>' if hit else '<='} {s.vix_tail_level:g}"
    return trusted_vote("vix_level_tail", Vote.FOR if hit else Vote.AGAINST, value, s.vix_tail_level, detail)


# ---- term structure -------------------------------------------------------------------------------------------


def _futures_ratio(inputs: SignalInputs, s: SignalSettings) -> tuple[float | None, str]:
    f1, why1 = _fresh_quote("F1", inputs.f1, inputs.now, s.quote_max_age_seconds)
    f2, why2 = _fresh_quote("F2", inputs.f2, inputs.now, s.quote_max_age_seconds)
    if f1 is None or f2 is None:
        return None, why1 or why2
    dte = inputs.f1_dte_days
    if dte is not None and dte < s.term_structure_min_f1_dte_days:
        return None, f"F1 settles in {dte:.1f} days (< {s.term_structure_min_f1_dte_days:g})"
    return f1 / f2, ""


def _spot_ratio(
    inputs: SignalInputs, s: SignalSettings, fresh_vix: tuple[float | None, str]
) -> tuple[float | None, str]:
    vix, why1 = fresh_vix
    vix3m, why2 = _fresh_quote("VIX3M", inputs.vix3m, inputs.now, s.quote_max_age_seconds)
    if vix is None or vix3m is None:
        return None, why1 or why2
    return vix / vix3m, ""


def term_structure(inputs: SignalInputs, s: SignalSettings, live: LiveQuotes | None = None) -> SignalVote:
    name, limit = "term_structure", s.term_structure_threshold
    _, (fut, fut_why), (spot, spot_why) = live or LiveQuotes.of(inputs, s)
    if fut is None and spot is None:
        return _abstain(name, f"F1/F2 unusable ({fut_why}); VIX/VIX3M unusable ({spot_why})", limit)
    parts = []
    if fut is not None:
        parts.append(f"F1/F2 {fut:.3f}")
    else:
        parts.append(f"F1/F2 unusable ({fut_why})")
    if spot is not None:
        parts.append(f"VIX/VIX3M {spot:.3f}")
    else:
        parts.append(f"VIX/VIX3M unusable ({spot_why})")
    best = max(r for r in (fut, spot) if r is not None)
    hit = best > limit
    state = "backwardation" if hit else "contango"
    return trusted_vote(name, Vote.FOR if hit else Vote.AGAINST, best, limit, f"{state}: {'; '.join(parts)}")


# ---- ts_macd ---------------------------------------------------------------------------------------------------


def ts_macd(
    inputs: SignalInputs, memory: SignalMemory, s: SignalSettings, today: dt.date, live_quotes: LiveQuotes | None = None
) -> tuple[SignalVote, SignalVote, SignalMemory]:
    """Both MACD votes from one computation: histogram of MACD(rolling z-score of the ratio)."""
    b_name, st_name = "ts_macd_building", "ts_macd_stabilizing"
    label = "F1/F2" if s.ts_ratio_source == "f1_f2" else "VIX/VIX3M"
    series = inputs.ratio_history
    params = (s.ts_zscore_window, s.macd_fast, s.macd_slow, s.macd_signal, s.macd_peak_lookback)
    n = series.count_before(today)
    added = _added(memory.macd_cache, series, n, params)
    known = n - added if added is not None else 0
    n, history, why = _daily(f"{label} ratio", series, today, s.daily_max_age_sessions, known=known, n=n)
    if history is not None and _any_not_positive(history, known):
        history, why = None, f"{label} ratio history has non-positive values; fix the data source"
    quotes = live_quotes or LiveQuotes.of(inputs, s)
    live, live_why = quotes.futures_ratio if s.ts_ratio_source == "f1_f2" else quotes.spot_ratio
    if history is not None:
        bars = len(history) + (1 if live is not None else 0)
        if bars < s.ratio_min_history or len(history) < s.ts_zscore_window:
            history, why = None, f"{bars} {label} ratio bars, ts_macd needs {s.ratio_min_history}"
    if history is None:
        return _abstain(b_name, why, 0.0), _abstain(st_name, why, s.macd_peak_retrace), memory
    cache = memory.macd_cache
    if cache is None or added is None or added > MAX_BARS_STEPPED:
        cache = _macd_cache(HistoryKey.of(inputs.ratio_history, params, n), history, s)
    elif added:
        cache = _extend_macd(cache, HistoryKey.of(inputs.ratio_history, params, n), history[-added:], s)
    if live is not None:
        step = cache.live
        if step is None or step.ratio != live:
            step = _live_macd_step(cache, live, s)
            cache = MacdCache(cache.key, cache.state, cache.ratio_tail, cache.hist_tail, step)
        now_h = step.state.histogram
        prev_h = float(cache.hist_tail[-1])
        window = step.hist_tail
        bar = "live bar"
    else:
        now_h, prev_h = float(cache.hist_tail[-1]), float(cache.hist_tail[-2])
        window = cache.hist_tail
        bar = f"close of {inputs.ratio_history.dates[n - 1]} ({live_why})"
    memory = memory.with_macd(cache)
    rising = now_h > prev_h
    build = now_h > 0.0 and rising
    b_detail = f"histogram {now_h:+.3f} ({'rising' if rising else 'falling'} from {prev_h:+.3f}); {bar}"
    building = trusted_vote(b_name, Vote.FOR if build else Vote.AGAINST, now_h, 0.0, b_detail)

    peak_i = int(window.argmax())
    peak = float(window[peak_i])
    if peak < s.macd_peak_min:
        st_detail = f"no histogram peak >= {s.macd_peak_min:g} in {s.macd_peak_lookback} sessions (max {peak:+.3f})"
        return building, trusted_vote(st_name, Vote.AGAINST, 0.0, s.macd_peak_retrace, st_detail), memory
    retrace = (peak - now_h) / peak
    stable = peak_i < len(window) - 1 and retrace >= s.macd_peak_retrace and not rising
    st_detail = (
        f"histogram {now_h:+.3f} is {retrace:.0%} below its peak {peak:+.3f} (need {s.macd_peak_retrace:.0%}) "
        f"and {'rising' if rising else 'falling'}"
    )
    stabilizing = trusted_vote(st_name, Vote.FOR if stable else Vote.AGAINST, retrace, s.macd_peak_retrace, st_detail)
    return building, stabilizing, memory


def _live_macd_step(cache: MacdCache, live: float, s: SignalSettings) -> LiveMacdStep:
    """The live ratio stepped from the cache's state, z-scored against the ratios before it."""
    window = _appended(cache.ratio_tail, live)
    state = cache.state.step(indicators.zscore_last(window))
    hist_tail = _appended(cache.hist_tail, state.histogram)[-s.macd_peak_lookback :]
    window.flags.writeable = False
    hist_tail.flags.writeable = False
    return LiveMacdStep(live, window, state, hist_tail)


def _extend_macd(cache: MacdCache, key: HistoryKey, new: np.ndarray, s: SignalSettings) -> MacdCache:
    """The cache stepped over bars appended to its history, each z-scored against the ratios before it exactly as
    the live bar is (the same value as `_macd_cache` on the longer history, up to rounding). When the first new
    bar is the live ratio last stepped from this cache (in the backtest, yesterday's live ratio is today's new
    bar), that step is reused: the same inputs, hence the same numbers. Ratios here are finite and positive
    (checked before), so equal floats are equal bits."""
    state, ratio_tail, hist_tail = cache.state, cache.ratio_tail, cache.hist_tail
    live = cache.live
    for i, x in enumerate(new):
        if i == 0 and live is not None and x == live.ratio:
            window, state, hist_tail = live.window, live.state, live.hist_tail
            ratio_tail = window[1:]
            continue
        window = _appended(ratio_tail, x)
        state = state.step(indicators.zscore_last(window))
        ratio_tail = window[1:]
        hist_tail = _appended(hist_tail, state.histogram)[-s.macd_peak_lookback :]
    ratio_tail.flags.writeable = False
    hist_tail.flags.writeable = False
    return MacdCache(key, state, ratio_tail, hist_tail)


def _macd_cache(key: HistoryKey, history: np.ndarray, s: SignalSettings) -> MacdCache:
    z = indicators.rolling_zscore(history, s.ts_zscore_window)
    m, state = indicators.macd_with_state(z, s.macd_fast, s.macd_slow, s.macd_signal)
    ratio_tail = history[len(history) - (s.ts_zscore_window - 1) :].copy()
    hist_tail = m.histogram[-s.macd_peak_lookback :].copy()
    ratio_tail.flags.writeable = False
    hist_tail.flags.writeable = False
    return MacdCache(key, state, ratio_tail, hist_tail)


# ---- macro calendar -------------------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _macro_kinds(events: tuple[str, ...]) -> tuple[frozenset[str], str]:
    """The configured event kinds as a set, and as the detail shows them (per configuration, not per call)."""
    kinds = frozenset(events)
    return kinds, "/".join(sorted(kinds))


@lru_cache(maxsize=16)
def _macro_reach(before: int, after: int) -> tuple[float, dt.timedelta, dt.timedelta]:
    """(the vote's threshold, calendar days searched after and before today) for the configured session window.
    A session is at most 5 calendar days after the previous one (long weekends, 9/11 excepted): widen generously.
    Per configuration, not per call."""
    return float(max(before, after)), dt.timedelta(days=5 * after + 7), dt.timedelta(days=5 * before + 7)


def macro_event(inputs: SignalInputs, s: SignalSettings, today: dt.date) -> SignalVote:
    name = "macro_event"
    window, reach_after, reach_before = _macro_reach(s.macro_sessions_before, s.macro_sessions_after)
    kinds, shown = _macro_kinds(tuple(s.macro_events))
    last = inputs.macro.last_of(kinds)
    if last is None:
        return _abstain(name, f"no {shown} dates loaded", window)
    if (today - last).days > s.macro_coverage_days:
        return _abstain(name, f"macro calendar ends {last}, {(today - last).days} days ago: not maintained", window)
    best: tuple[int, str] | None = None
    for e in inputs.macro.between(today - reach_after, today + reach_before):
        if e.event not in kinds:
            continue
        d = session_distance(today, e.date)
        if d is None:
            continue
        if -s.macro_sessions_after <= d <= s.macro_sessions_before and (best is None or abs(d) < abs(best[0])):
            best = (d, f"{e.event} {e.date}")
    if best is None:
        detail = (
            f"no {shown} within {s.macro_sessions_before} session(s) before .. {s.macro_sessions_after} after {today}"
        )
        return trusted_vote(name, Vote.AGAINST, None, window, detail)
    d, what = best
    when = "today" if d == 0 else (f"in {d} session(s)" if d > 0 else f"{-d} session(s) ago")
    return trusted_vote(name, Vote.FOR, float(d), window, f"{what} {when}")


# ---- breadth --------------------------------------------------------------------------------------------------


def breadth(data: Breadth | None, s: SignalSettings, today: dt.date) -> SignalVote:
    name = "breadth"
    if data is None:
        return _abstain(name, "no breadth data loaded", 0.0)
    n = s.breadth_ma_sessions
    _, ad, why = _daily("A/D line", data.ad_line, today, s.breadth_max_age_sessions, tail=n)
    if ad is None:
        return _abstain(name, why, 0.0)
    _, net, why = _daily("net advances", data.net, today, s.breadth_max_age_sessions, tail=1)
    if net is None:
        return _abstain(name, why, 0.0)
    if len(ad) < n:
        return _abstain(name, f"{len(ad)} breadth rows, the A/D average needs {n}", 0.0)
    average = float(np.add.reduce(ad[-n:]) / n)  # `mean()` as numpy computes it, without its Python wrapper
    gap = float(ad[-1]) - average
    last_net = float(net[-1])
    below = gap < 0.0
    weak = last_net < s.breadth_net_threshold
    detail = (
        f"A/D line {ad[-1]:.0f} {'below' if below else 'at/above'} its {n}-session average {average:.0f}; "
        f"net advances {last_net:+.0f} ({'below' if weak else 'not below'} {s.breadth_net_threshold:+.0f})"
    )
    return trusted_vote(name, Vote.FOR if (below or weak) else Vote.AGAINST, gap, 0.0, detail)


# ---- external series ------------------------------------------------------------------------------------------


def external(rule: ExternalRule, series: DailySeries | None, s: SignalSettings, today: dt.date) -> SignalVote:
    name = f"external:{rule.name}"
    if series is None:
        return _abstain(name, f"series {rule.name!r} not loaded (file {rule.file})", rule.threshold)
    _, values, why = _daily(rule.name, series, today, rule.max_age_sessions, tail=rule.roc_periods + 1)
    if values is None:
        return _abstain(name, why, rule.threshold)
    if rule.kind == "threshold":
        value = float(values[-1])
        what = f"{rule.name} {value:g}"
    else:
        if len(values) < rule.roc_periods + 1:
            return _abstain(name, f"{len(values)} observations, rate of change needs {rule.roc_periods + 1}")
        last, earlier = float(values[-1]), float(values[-1 - rule.roc_periods])
        if rule.roc_mode == "percent":
            if earlier == 0.0:
                return _abstain(name, f"{rule.name} was 0 {rule.roc_periods} observations ago: no percent change")
            value = last / earlier - 1.0
            what = f"{rule.name} change over {rule.roc_periods} obs {value:+.2%}"
        else:
            value = last - earlier
            what = f"{rule.name} change over {rule.roc_periods} obs {value:+g}"
    if not math.isfinite(value):
        return _abstain(name, f"{what} is not finite")
    hit = value > rule.threshold if rule.direction == "above" else value < rule.threshold
    op = (">" if hit else "<=") if rule.direction == "above" else ("<" if hit else ">=")
    detail = f"{what} {op} {rule.threshold:g}"
    return trusted_vote(name, Vote.FOR if hit else Vote.AGAINST, value, rule.threshold, detail)

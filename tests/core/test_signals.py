"""Each signal rule: FOR, AGAINST, and ABSTAIN for every kind of missing, stale or bad data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.votes import Vote
from bot.settings.signals import ExternalRule, SignalSettings
from bot.signals.evaluate import evaluate_signals
from bot.signals.indicators import macd, rolling_zscore, wilder_rsi
from bot.signals.inputs import (
    Breadth,
    DailySeries,
    ExternalSeries,
    MacroCalendar,
    MacroEvent,
    SignalInputs,
    SignalMemory,
    Timed,
)
from bot.signals.sessions import sessions_in

# Wednesday 2018-02-07, 16:15 New York (21:15 UTC): a session day
NOW = dt.datetime(2018, 2, 7, 21, 15, tzinfo=dt.UTC)
TODAY = dt.date(2018, 2, 7)
S = SignalSettings()


def sessions_before(day: dt.date, n: int) -> tuple[dt.date, ...]:
    days = sessions_in(day - dt.timedelta(days=2 * n + 10), day - dt.timedelta(days=1))
    return days[-n:]


def series(values, end: dt.date = TODAY) -> DailySeries:
    values = np.asarray(values, dtype=float)
    return DailySeries(sessions_before(end, len(values)), values)


def q(value: float, age_s: float = 0.0) -> Timed:
    return Timed(value, NOW - dt.timedelta(seconds=age_s))


CALM_VIX = 12 + 0.5 * (np.arange(300) % 2)  # 12, 12.5, 12, ...: RSI hovers at 50
RNG = np.random.default_rng(2018)
CALM_RATIO = 0.9 + RNG.normal(0, 0.004, 300)  # contango with day-to-day noise


def inputs(**kw) -> SignalInputs:
    base = dict(
        now=NOW,
        vix=q(14.0),
        vix3m=q(16.0),
        f1=q(15.0),
        f2=q(16.0),
        f1_dte_days=14.0,
        vix_history=series(CALM_VIX),
        ratio_history=series(CALM_RATIO),
    )
    base.update(kw)
    return SignalInputs(**base)


def vote(name: str, inp: SignalInputs, memory: SignalMemory | None = None, settings: SignalSettings = S):
    votes, _ = evaluate_signals(inp, memory or SignalMemory(), settings)
    return {v.name: v for v in votes}[name]


def test_one_vote_per_configured_signal_in_a_fixed_order():
    rule = ExternalRule(name="pe", file="pe.csv", direction="below", threshold=15.0)
    s = SignalSettings(externals=[rule])
    votes, _ = evaluate_signals(inputs(), SignalMemory(), s)
    assert tuple(v.name for v in votes) == s.signal_names()
    assert votes[-1].name == "external:pe" and votes[-1].vote is Vote.ABSTAIN


# ---- vix_level / vix_level_tail -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vix", "level", "tail"),
    [(19.99, Vote.AGAINST, Vote.AGAINST), (20.0, Vote.FOR, Vote.AGAINST), (35.0, Vote.FOR, Vote.AGAINST),
     (35.01, Vote.FOR, Vote.FOR)],
)  # fmt: skip
def test_vix_levels(vix, level, tail):
    inp = inputs(vix=q(vix))
    assert vote("vix_level", inp).vote is level
    assert vote("vix_level_tail", inp).vote is tail
    assert vote("vix_level_tail", inp).threshold == 35.0


@pytest.mark.parametrize(
    ("quote", "why"),
    [
        (None, "no VIX quote"),
        (q(25.0, age_s=301), "301 s old"),
        (q(float("nan")), "not a finite positive price"),
        (q(float("inf")), "not a finite positive price"),
        (q(0.0), "not a finite positive price"),
        (q(-3.0), "not a finite positive price"),
    ],
)
def test_vix_level_abstains_on_missing_stale_or_bad_quotes(quote, why):
    v = vote("vix_level", inputs(vix=quote))
    assert v.vote is Vote.ABSTAIN and v.value is None and why in v.detail


# ---- vix_rsi --------------------------------------------------------------------------------------------------


def test_vix_rsi_turns_on_above_60_and_carries_the_latch():
    spike = np.concatenate([CALM_VIX[:-5], [13, 15, 18, 22, 26]])
    votes, memory = evaluate_signals(inputs(vix_history=series(spike), vix=q(30.0)), SignalMemory(), S)
    rsi = {v.name: v for v in votes}["vix_rsi"]
    assert rsi.vote is Vote.FOR and rsi.value > 60 and memory.vix_rsi_on
    assert rsi.threshold == 50.0  # the next flip level while on


def test_vix_rsi_hysteresis_between_50_and_60_keeps_the_previous_state():
    # alternating +1.1 / -1.0 moves: average gain / loss about 1.1, RSI about 52
    drift = 12 + np.cumsum(np.where(np.arange(300) % 2 == 0, 1.1, -1.0))
    inp = inputs(vix_history=series(drift), vix=None)
    off = vote("vix_rsi", inp, SignalMemory(vix_rsi_on=False))
    on = vote("vix_rsi", inp, SignalMemory(vix_rsi_on=True))
    assert 50 <= off.value < 60, off.value
    assert off.vote is Vote.AGAINST and on.vote is Vote.FOR


def test_vix_rsi_turns_off_below_50():
    fall = 40 + np.cumsum(np.where(np.arange(300) % 2 == 0, 1.0, -1.1))  # RSI about 48
    votes, memory = evaluate_signals(inputs(vix_history=series(fall)), SignalMemory(vix_rsi_on=True), S)
    assert {v.name: v for v in votes}["vix_rsi"].vote is Vote.AGAINST and not memory.vix_rsi_on


def test_vix_rsi_uses_the_live_bar_and_ignores_history_bars_dated_today():
    hist = series(CALM_VIX)
    with_today = DailySeries((*hist.dates, TODAY), np.append(hist.values, 99.0))  # a bogus "today" close
    a = vote("vix_rsi", inputs(vix_history=hist, vix=q(13.0)))
    b = vote("vix_rsi", inputs(vix_history=with_today, vix=q(13.0)))
    assert a.value == b.value and "live bar" in a.detail


def test_vix_rsi_abstains_and_keeps_memory_when_history_is_short_or_stale():
    short = inputs(vix_history=series(CALM_VIX[:200]))
    votes, memory = evaluate_signals(short, SignalMemory(vix_rsi_on=True), S)
    rsi = {v.name: v for v in votes}["vix_rsi"]
    assert rsi.vote is Vote.ABSTAIN and "RSI needs 250" in rsi.detail and memory.vix_rsi_on
    stale = inputs(vix_history=series(CALM_VIX, end=dt.date(2018, 2, 5)))  # ends 2018-02-02: 2 sessions missing
    v = vote("vix_rsi", stale)
    assert v.vote is Vote.ABSTAIN and "2 sessions missing" in v.detail
    bad = inputs(vix_history=series(np.append(CALM_VIX[:-1], np.nan)))
    assert vote("vix_rsi", bad).vote is Vote.ABSTAIN


def test_daily_staleness_counts_sessions_not_weekdays():
    # now is Tuesday after Presidents' Day (Mon 2018-02-19, no session): Friday's close is the previous session
    now = dt.datetime(2018, 2, 20, 21, 0, tzinfo=dt.UTC)
    hist = series(CALM_VIX, end=dt.date(2018, 2, 17))
    inp = inputs(now=now, vix=Timed(14.0, now), vix_history=hist)
    s = SignalSettings(daily_max_age_sessions=0)
    assert vote("vix_rsi", inp, settings=s).vote is not Vote.ABSTAIN


# ---- term_structure -------------------------------------------------------------------------------------------


def test_term_structure_backwardation_from_either_pair():
    assert vote("term_structure", inputs()).vote is Vote.AGAINST
    fut = vote("term_structure", inputs(f1=q(30.0), f2=q(27.0)))
    assert fut.vote is Vote.FOR and fut.value == pytest.approx(30 / 27)
    spot = vote("term_structure", inputs(vix=q(17.0), vix3m=q(16.0)))
    assert spot.vote is Vote.FOR


def test_term_structure_uses_whichever_pair_is_fresh():
    stale_futures = inputs(f1=q(30.0, age_s=1000), f2=q(27.0), vix=q(15.0), vix3m=q(16.0))
    v = vote("term_structure", stale_futures)
    assert v.vote is Vote.AGAINST and "F1/F2 unusable" in v.detail
    expiring = inputs(f1=q(30.0), f2=q(27.0), f1_dte_days=0.5, vix3m=None)
    v = vote("term_structure", expiring)
    assert v.vote is Vote.ABSTAIN and "settles in 0.5 days" in v.detail
    none = vote("term_structure", inputs(f1=None, vix3m=q(float("nan"))))
    assert none.vote is Vote.ABSTAIN and "no F1 quote" in none.detail


# ---- ts_macd --------------------------------------------------------------------------------------------------


def ratio_path(n_calm: int, stress: list[float]) -> np.ndarray:
    return np.concatenate([CALM_RATIO[:n_calm], stress])


def test_ts_macd_building_while_the_ratio_climbs():
    hist = ratio_path(200, [0.93, 0.98])  # the curve starts to invert; today's live ratio 1.05
    inp = inputs(ratio_history=series(hist), f1=q(1.05 * 20), f2=q(20.0))
    b = vote("ts_macd_building", inp)
    assert b.vote is Vote.FOR and b.value > 0 and "live bar" in b.detail
    assert vote("ts_macd_stabilizing", inp).vote is Vote.AGAINST


def test_ts_macd_stabilizing_after_the_peak():
    up = list(np.linspace(0.92, 1.10, 6))
    down = list(np.linspace(1.08, 0.95, 8))
    inp = inputs(ratio_history=series(ratio_path(200, up + down)), f1=q(0.94 * 20), f2=q(20.0))
    st = vote("ts_macd_stabilizing", inp)
    assert st.vote is Vote.FOR and st.value >= 0.3
    assert vote("ts_macd_building", inp).vote is Vote.AGAINST


def test_ts_macd_without_a_real_peak_is_not_stabilizing():
    inp = inputs(ratio_history=series(np.full(230, 0.9)), f1=q(18.0), f2=q(20.0))  # flat: z-score 0
    st = vote("ts_macd_stabilizing", inp)
    assert st.vote is Vote.AGAINST and "no histogram peak" in st.detail


def test_ts_macd_abstains_on_short_or_stale_ratio_history():
    short = vote("ts_macd_building", inputs(ratio_history=series(np.full(50, 0.9))))
    assert short.vote is Vote.ABSTAIN and f"needs {S.ratio_min_history}" in short.detail
    stale = inputs(ratio_history=series(np.full(200, 0.9), end=dt.date(2018, 1, 30)))
    assert vote("ts_macd_stabilizing", stale).vote is Vote.ABSTAIN


def test_ts_macd_can_use_the_vix_vix3m_ratio():
    s = SignalSettings(ts_ratio_source="vix_vix3m")
    hist = ratio_path(200, [0.93, 0.98])
    inp = inputs(ratio_history=series(hist), vix=q(21.0), vix3m=q(20.0), f1=None)
    assert vote("ts_macd_building", inp, settings=s).vote is Vote.FOR


# ---- macro_event ----------------------------------------------------------------------------------------------


def cal(*events: tuple[str, str]) -> MacroCalendar:
    return MacroCalendar(tuple(MacroEvent(dt.date.fromisoformat(d), e) for d, e in events))


@pytest.mark.parametrize(
    ("event_day", "expected"),
    [("2018-02-07", Vote.FOR), ("2018-02-08", Vote.FOR), ("2018-02-06", Vote.FOR), ("2018-02-09", Vote.AGAINST),
     ("2018-02-05", Vote.AGAINST)],
)  # fmt: skip
def test_macro_event_window_in_sessions(event_day, expected):
    v = vote("macro_event", inputs(macro=cal((event_day, "CPI"), ("2018-03-21", "FOMC"))))
    assert v.vote is expected, v.detail


def test_macro_event_counts_sessions_across_a_holiday_weekend():
    # Friday 2018-02-16; Monday 2018-02-19 is a holiday: Tuesday's CPI is 1 session ahead
    now = dt.datetime(2018, 2, 16, 21, 0, tzinfo=dt.UTC)
    v = vote("macro_event", inputs(now=now, vix=Timed(14.0, now), macro=cal(("2018-02-20", "CPI"))))
    assert v.vote is Vote.FOR and v.value == 1.0 and "in 1 session" in v.detail


def test_macro_event_ignores_other_kinds_and_abstains_without_a_maintained_calendar():
    assert vote("macro_event", inputs(macro=cal(("2018-02-07", "NFP")))).vote is Vote.ABSTAIN
    old = vote("macro_event", inputs(macro=cal(("2017-11-01", "FOMC"))))
    assert old.vote is Vote.ABSTAIN and "not maintained" in old.detail
    assert vote("macro_event", inputs()).vote is Vote.ABSTAIN


# ---- breadth --------------------------------------------------------------------------------------------------


def breadth_data(net: np.ndarray, end: dt.date = TODAY) -> Breadth:
    return Breadth(ad_line=series(np.cumsum(net), end), net=series(net, end))


def test_breadth_for_when_the_ad_line_sinks_below_its_average_or_net_is_very_negative():
    rising = np.full(40, 200.0)
    assert vote("breadth", inputs(breadth=breadth_data(rising))).vote is Vote.AGAINST
    sinking = np.concatenate([np.full(30, 200.0), np.full(10, -600.0)])
    assert vote("breadth", inputs(breadth=breadth_data(sinking))).vote is Vote.FOR
    crash_day = np.concatenate([np.full(39, 500.0), [-2000.0]])  # A/D line still above average
    v = vote("breadth", inputs(breadth=breadth_data(crash_day)))
    assert v.vote is Vote.FOR and "below -1500" in v.detail and v.value > 0


def test_breadth_abstains_when_missing_short_or_stale():
    assert vote("breadth", inputs()).vote is Vote.ABSTAIN
    assert vote("breadth", inputs(breadth=breadth_data(np.full(10, 1.0)))).vote is Vote.ABSTAIN
    stale = breadth_data(np.full(40, 1.0), end=dt.date(2016, 6, 18))
    v = vote("breadth", inputs(breadth=stale))
    assert v.vote is Vote.ABSTAIN and "sessions missing" in v.detail


# ---- external series ------------------------------------------------------------------------------------------


def ext(rule: ExternalRule, values, end: dt.date = TODAY):
    s = SignalSettings(externals=[rule])
    inp = inputs(externals=(ExternalSeries(rule.name, series(values, end)),))
    return vote(f"external:{rule.name}", inp, settings=s)


def test_external_threshold_above_and_below():
    above = ExternalRule(name="wacc", file="w.csv", direction="above", threshold=9.0)
    assert ext(above, [8.0, 9.5]).vote is Vote.FOR
    assert ext(above, [9.5, 9.0]).vote is Vote.AGAINST
    below = ExternalRule(name="pe", file="p.csv", direction="below", threshold=15.0)
    assert ext(below, [16.0, 14.0]).vote is Vote.FOR


def test_external_rate_of_change_percent_and_difference():
    comp = ExternalRule(name="pe", file="p.csv", kind="roc", direction="below", threshold=-0.05, roc_periods=2)
    v = ext(comp, [20.0, 19.5, 18.8])
    assert v.vote is Vote.FOR and v.value == pytest.approx(18.8 / 20.0 - 1)
    assert ext(comp, [20.0, 19.5, 19.2]).vote is Vote.AGAINST
    assert ext(comp, [20.0, 19.0]).vote is Vote.ABSTAIN  # needs 3 observations
    diff = ExternalRule(name="flows", file="f.csv", kind="roc", direction="above", threshold=5, roc_mode="difference")
    assert ext(diff, [100.0, 106.0]).value == pytest.approx(6.0)
    zero = ExternalRule(name="q", file="q.csv", kind="roc", direction="above", threshold=0.1)
    assert ext(zero, [0.0, 1.0]).vote is Vote.ABSTAIN


def test_external_has_its_own_staleness_limit():
    monthly = ExternalRule(name="reer", file="r.csv", direction="above", threshold=100.0, max_age_sessions=25)
    assert ext(monthly, [101.0], end=dt.date(2018, 1, 10)).vote is Vote.FOR
    v = ext(monthly, [101.0], end=dt.date(2017, 12, 1))
    assert v.vote is Vote.ABSTAIN and "limit 25" in v.detail


def test_settings_refuse_inconsistent_values():
    with pytest.raises(ValueError, match="rsi_off"):
        SignalSettings(rsi_on=50.0, rsi_off=60.0)
    with pytest.raises(ValueError, match="unique"):
        rule = ExternalRule(name="pe", file="p.csv", direction="below", threshold=1.0)
        SignalSettings(externals=[rule, rule])
    with pytest.raises(ValueError, match="must match"):
        ExternalRule(name="P/E", file="p.csv", direction="below", threshold=1.0)


def test_inputs_require_an_aware_now_and_ordered_series():
    with pytest.raises(ValueError, match="timezone-aware"):
        SignalInputs(now=dt.datetime(2018, 2, 7, 16, 0))
    with pytest.raises(ValueError, match="strictly increase"):
        DailySeries((TODAY, TODAY), np.array([1.0, 2.0]))
    s = series([1.0, 2.0])
    assert not s.values.flags.writeable


# ---- caches: the O(1) live path must equal a full recomputation ----------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=5, max_value=90), st.floats(min_value=0.7, max_value=1.3), st.integers(0, 10_000))
def test_cached_live_path_equals_full_recomputation(live_vix, live_ratio, seed):
    rng = np.random.default_rng(seed)
    vix_hist = 12 + np.abs(np.cumsum(rng.normal(0, 1, 260)))
    ratio_hist = 0.9 + np.cumsum(rng.normal(0, 0.01, 260)).clip(-0.3, 0.3)
    inp = inputs(vix=q(live_vix), vix_history=series(vix_hist), ratio_history=series(ratio_hist),
                 f1=q(live_ratio * 20.0), f2=q(20.0))  # fmt: skip
    fresh, memory = evaluate_signals(inp, SignalMemory(), S)
    again, _ = evaluate_signals(inp, memory, S)  # served from the caches
    assert memory.rsi_cache is not None and memory.macd_cache is not None
    assert again == fresh
    by_name = {v.name: v for v in fresh}
    assert by_name["vix_rsi"].value == pytest.approx(wilder_rsi(np.append(vix_hist, live_vix), 14)[-1], abs=1e-9)
    z = rolling_zscore(np.append(ratio_hist, live_ratio * 20.0 / 20.0), S.ts_zscore_window)
    hist = macd(z, S.macd_fast, S.macd_slow, S.macd_signal).histogram
    assert by_name["ts_macd_building"].value == pytest.approx(hist[-1], abs=1e-9)


def test_a_cache_from_another_history_is_not_reused():
    a = CALM_RATIO.copy()
    b = CALM_RATIO.copy()
    b[150] += 0.05  # a corrected bar in the middle: same length, same dates, same last value
    vix_b = CALM_VIX.copy()
    vix_b[100] += 3.0
    inp_a = inputs(ratio_history=series(a))
    inp_b = inputs(ratio_history=series(b), vix_history=series(vix_b))
    _, memory_a = evaluate_signals(inp_a, SignalMemory(), S)
    stale_cache, _ = evaluate_signals(inp_b, memory_a, S)
    fresh, _ = evaluate_signals(inp_b, SignalMemory(), S)
    assert [v.value for v in stale_cache] == [v.value for v in fresh]
    assert {v.name: v for v in fresh}["ts_macd_building"].value != {
        v.name: v for v in evaluate_signals(inp_a, SignalMemory(), S)[0]
    }["ts_macd_building"].value


def test_without_a_live_quote_the_last_close_decides():
    inp = inputs(vix=None, f1=None, vix3m=None)
    votes, _ = evaluate_signals(inp, SignalMemory(), S)
    by_name = {v.name: v for v in votes}
    assert by_name["vix_rsi"].value == pytest.approx(wilder_rsi(CALM_VIX, 14)[-1])
    hist = macd(rolling_zscore(CALM_RATIO, S.ts_zscore_window)).histogram
    assert by_name["ts_macd_building"].value == pytest.approx(hist[-1])
    assert "close of 2018-02-06" in by_name["ts_macd_building"].detail


def test_daily_series_before_cuts_at_a_date():
    s = series([1.0, 2.0, 3.0])
    assert s.before(TODAY) is s
    cut = s.before(s.dates[-1])
    assert cut.dates == s.dates[:2] and cut.values.tolist() == [1.0, 2.0] and not cut.values.flags.writeable
    assert len(s.before(s.dates[0])) == 0 and s.count_before(s.dates[1]) == 1


def test_ts_macd_stabilizing_needs_the_histogram_to_be_falling():
    up = list(np.linspace(0.92, 1.10, 6))
    down = list(np.linspace(1.08, 0.95, 8))
    hist = series(ratio_path(200, up + down))
    falling = vote("ts_macd_stabilizing", inputs(ratio_history=hist, f1=q(0.94 * 20), f2=q(20.0)))
    bounce = vote("ts_macd_stabilizing", inputs(ratio_history=hist, f1=q(1.06 * 20), f2=q(20.0)))  # curve re-inverts
    assert falling.vote is Vote.FOR and "falling" in falling.detail
    assert bounce.vote is Vote.AGAINST and "rising" in bounce.detail
    assert bounce.value >= S.macd_peak_retrace  # still far below the peak: only the direction says no

"""Fast paths of the core against the straightforward computation they replace: each would fail if they diverged."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pytest
from alvh_core_fixtures import NOW, condor_legs, snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.book.greeks import BROKER, greeks_table
from bot.book.report import _zero_missing
from bot.domain.intents import HedgeInstrument, HedgeKind
from bot.domain.market import MarketSnapshot, Quote, VixCallChain, VixOptionQuote, VxCurve, VxPoint
from bot.domain.votes import SignalVote, Vote
from bot.settings.book import BookSettings
from bot.settings.signals import SignalSettings
from bot.signals import sessions
from bot.signals.evaluate import evaluate_signals
from bot.signals.indicators import zscore_last
from bot.signals.inputs import DailySeries, SignalInputs, SignalMemory, Timed
from bot.signals.sessions import sessions_in
from bot.sizing import _last_common, estimate_beta
from bot.vx_calendar import _sessions_by_calendar, business_days_between

AT = dt.datetime(2018, 2, 5, 21, 20, tzinfo=dt.UTC)
START = dt.date(2003, 1, 1)


def _series(n: int) -> DailySeries:
    days = tuple(START + dt.timedelta(days=i) for i in range(n))
    return DailySeries(days, np.arange(n, dtype=float))


@given(st.integers(0, 30), st.integers(0, 40))
def test_tail_is_the_last_n_bars(n_bars: int, n: int) -> None:
    series = _series(n_bars)
    tail = series.tail(n)
    keep = min(n, n_bars)
    assert tail.dates == series.dates[n_bars - keep :]
    assert np.array_equal(tail.values, series.values[n_bars - keep :])
    assert not tail.values.flags.writeable


def test_tail_refuses_a_negative_count() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        _series(3).tail(-1)


@settings(max_examples=300)
@given(st.dates(dt.date(1999, 6, 1), dt.date(2027, 12, 31)), st.integers(-70, 70))
def test_business_days_equal_the_calendar_count(start: dt.date, offset: int) -> None:
    end = start + dt.timedelta(days=offset)
    try:
        expected: object = _sessions_by_calendar(start, end)
    except Exception as exc:  # outside the calendar: the fast path must fail the same way
        expected = type(exc)
    try:
        got: object = business_days_between(start, end)
    except Exception as exc:
        got = type(exc)
    assert got == expected


def _blocks(rng: np.random.Generator) -> list:
    blocks = []
    for e in range(int(rng.integers(0, 4))):
        n = int(rng.integers(0, 12))
        strikes = np.cumsum(rng.uniform(0.5, 3.0, n)) + 10.0
        mid = rng.uniform(0.05, 5.0, n)
        half = rng.uniform(0.0, 0.3, n)
        blocks.append((dt.date(2018, 2 + e, 14), strikes, np.maximum(mid - half, 0.0), mid + half, mid))
    return blocks


def _eager(blocks: list) -> tuple[VixOptionQuote, ...]:
    """What a shell builds without the chain: one VixOptionQuote per call."""
    return tuple(
        VixOptionQuote(HedgeInstrument(HedgeKind.VIX_OPTION, e, float(k), "C"), Quote(float(b), float(a), float(m), AT))
        for e, ks, bid, ask, mid in blocks
        for k, b, a, m in zip(ks, bid, ask, mid, strict=True)
    )


@pytest.mark.parametrize("seed", range(25))
def test_a_call_chain_reads_like_the_eager_tuple(seed: int) -> None:
    rng = np.random.default_rng(seed)
    blocks = _blocks(rng)
    chain, eager = VixCallChain(AT, blocks), _eager(blocks)
    assert len(chain) == len(eager) and tuple(chain) == eager and chain == eager
    assert [chain[i] for i in range(-len(eager), len(eager))] == [*eager, *eager]
    assert chain[1:4] == eager[1:4]
    lazy, plain = MarketSnapshot(AT, vix_options=chain), MarketSnapshot(AT, vix_options=eager)
    for e in {b[0] for b in blocks} | {dt.date(2019, 1, 16)}:
        assert lazy.calls(e) == plain.calls(e)
        for at_least in (0.0, 10.0, 12.5, 15.0, 40.0, *(k for k, _ in plain.calls(e))):  # on a strike, between them
            want = tuple((k, q) for k, q in plain.calls(e) if k >= at_least)
            assert tuple(lazy.calls_from(e, at_least)) == tuple(plain.calls_from(e, at_least)) == want
    probes = [o.instrument for o in eager] + [
        HedgeInstrument(HedgeKind.VIX_OPTION, dt.date(2018, 2, 14), 10.25, "C"),
        HedgeInstrument(HedgeKind.VIX_OPTION, dt.date(2018, 2, 14), 10.25, "P"),
        HedgeInstrument(HedgeKind.VIX_OPTION, None, None, None),
    ]
    for inst in probes:
        assert lazy.quote_for(inst) == plain.quote_for(inst)


def test_a_call_chain_rejects_bad_blocks() -> None:
    day = dt.date(2018, 2, 14)
    one = np.array([1.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        VixCallChain(AT, [(day, np.array([20.0, 20.0]), one.repeat(2), one.repeat(2), one.repeat(2))])
    with pytest.raises(ValueError, match="one length"):
        VixCallChain(AT, [(day, np.array([20.0, 21.0]), one, one, one)])
    with pytest.raises(ValueError, match="given twice"):
        VixCallChain(AT, [(day, one * 20, one, one, one), (day, one * 21, one, one, one)])
    with pytest.raises(ValueError, match="timezone-aware"):
        VixCallChain(dt.datetime(2018, 2, 5, 16), [])
    with pytest.raises(IndexError):
        VixCallChain(AT, [(day, one * 20, one, one, one)])[1]
    assert math.isfinite(VixCallChain(AT, [(day, one * 20, one, one, one)])[0].quote.bid)


# ---- signal caches stepped over the next day's bar -------------------------------------------------------------


def _random_market(seed: int) -> tuple[tuple[dt.date, ...], np.ndarray, np.ndarray]:
    """Two years of sessions with a random-walk VIX and VIX/VIX3M ratio (the same draws for the same seed)."""
    rng = np.random.default_rng(seed)
    days = sessions_in(dt.date(2016, 1, 4), dt.date(2017, 12, 29))
    vix = 12 + np.abs(np.cumsum(rng.normal(0, 1, len(days))))
    ratio = 0.9 + np.cumsum(rng.normal(0, 0.01, len(days))).clip(-0.3, 0.3)
    return days, vix, ratio


def _day_inputs(days: tuple[dt.date, ...], vix: np.ndarray, ratio: np.ndarray, k: int, first: int = 0) -> SignalInputs:
    """Inputs at 16:15 New York on days[k]: bars first..k-1 as history, bar k as the live quotes."""
    now = dt.datetime.combine(days[k], dt.time(21, 15), dt.UTC)
    hist_v = DailySeries(days[first:k], vix[first:k])
    hist_r = DailySeries(days[first:k], ratio[first:k])
    return SignalInputs(
        now=now,
        vix=Timed(float(vix[k]), now),
        f1=Timed(float(ratio[k]) * 20.0, now),
        f2=Timed(20.0, now),
        f1_dte_days=14.0,
        vix_history=hist_v,
        ratio_history=hist_r,
    )


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_caches_stepped_day_by_day_equal_full_recomputation(seed: int) -> None:
    days, vix, ratio = _random_market(seed)
    memory = SignalMemory()
    for k in range(300, 360):
        inp = _day_inputs(days, vix, ratio, k)
        latch = SignalMemory(vix_rsi_on=memory.vix_rsi_on)  # the same latch, no caches
        carried, memory = evaluate_signals(inp, memory, SignalSettings())
        fresh, _ = evaluate_signals(inp, latch, SignalSettings())
        assert [(v.name, v.vote) for v in carried] == [(v.name, v.vote) for v in fresh]
        for a, b in zip(carried, fresh, strict=True):
            assert (a.value is None) == (b.value is None)
            if a.value is not None:
                assert a.value == pytest.approx(b.value, rel=1e-9, abs=1e-9), a.name
        assert memory.rsi_cache is not None and memory.rsi_cache.key.length == k
        assert memory.macd_cache is not None and memory.macd_cache.key.length == k


def test_the_next_day_steps_the_cache_and_another_history_recomputes(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.signals import evaluate, indicators

    calls = {"rsi": 0, "macd": 0}
    real_rsi, real_macd = indicators.wilder_state, evaluate._macd_cache

    def count_rsi(*args, **kw):
        calls["rsi"] += 1
        return real_rsi(*args, **kw)

    def count_macd(*args, **kw):
        calls["macd"] += 1
        return real_macd(*args, **kw)

    monkeypatch.setattr(indicators, "wilder_state", count_rsi)
    monkeypatch.setattr(evaluate, "_macd_cache", count_macd)
    days, vix, ratio = _random_market(7)
    memory = SignalMemory()
    for k in range(300, 310):  # one full computation, then one step a day
        _, memory = evaluate_signals(_day_inputs(days, vix, ratio, k), memory, SignalSettings())
    assert calls == {"rsi": 1, "macd": 1}
    _, moved = evaluate_signals(_day_inputs(days, vix, ratio, 310, first=1), memory, SignalSettings())
    assert calls == {"rsi": 2, "macd": 2}  # another first bar: recomputed
    vix_fixed, ratio_fixed = vix.copy(), ratio.copy()
    vix_fixed[200] += 1.0  # an earlier bar corrected, plus the next day's bar: recomputed, not stepped
    ratio_fixed[250] += 0.01
    votes, _ = evaluate_signals(_day_inputs(days, vix_fixed, ratio_fixed, 310), memory, SignalSettings())
    assert calls == {"rsi": 3, "macd": 3}
    latch = SignalMemory(vix_rsi_on=memory.vix_rsi_on)
    fresh, _ = evaluate_signals(_day_inputs(days, vix_fixed, ratio_fixed, 310), latch, SignalSettings())
    assert votes == fresh
    assert moved is not memory


def _strip_live(memory: SignalMemory) -> SignalMemory:
    """The memory without the MACD cache's live step (what it would hold without the reuse)."""
    cache = memory.macd_cache
    assert cache is not None
    return memory.with_macd(dataclasses.replace(cache, live=None))


@pytest.mark.parametrize("live_is_next_bar", [True, False])
def test_the_live_macd_step_reused_as_the_next_bar_equals_a_fresh_step(
    monkeypatch: pytest.MonkeyPatch, live_is_next_bar: bool
) -> None:
    from bot.signals import indicators

    calls = {"z": 0}
    real_z = indicators.zscore_last

    def count_z(window: np.ndarray) -> float:
        calls["z"] += 1
        return real_z(window)

    monkeypatch.setattr(indicators, "zscore_last", count_z)
    days, vix, ratio = _random_market(11)
    memory = SignalMemory()
    for k in range(300, 330):
        inp = _day_inputs(days, vix, ratio, k)
        # F1/F2 = ratio[k] / 1 exactly (the next day's bar), or a live ratio the next bar does not repeat
        live = float(ratio[k]) if live_is_next_bar else float(ratio[k]) * 1.001
        inp = dataclasses.replace(inp, f1=Timed(live, inp.now), f2=Timed(1.0, inp.now))
        before = calls["z"]
        stripped, m_stripped = evaluate_signals(inp, _strip_live(memory) if k > 300 else memory, SignalSettings())
        stripped_calls = calls["z"] - before
        before = calls["z"]
        votes, memory = evaluate_signals(inp, memory, SignalSettings())
        if k > 300:  # the stripped run steps the new bar and the live bar; the reuse skips the new bar's step
            assert stripped_calls == 2
            assert calls["z"] - before == (1 if live_is_next_bar else 2)
        assert votes == stripped
        a, b = memory.macd_cache, m_stripped.macd_cache
        assert a is not None and b is not None and a.live is not None and b.live is not None
        assert a.state == b.state and a.live.state == b.live.state
        for x, y in ((a.ratio_tail, b.ratio_tail), (a.hist_tail, b.hist_tail), (a.live.hist_tail, b.live.hist_tail)):
            assert x.tobytes() == y.tobytes()


# ---- betas: the last common dates from the tails only ---------------------------------------------------------


def _all_common(x: DailySeries, y: DailySeries, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The straightforward alignment: every common date, then the last m."""
    common = sorted(set(x.dates) & set(y.dates))[-m:]
    ix = {d: i for i, d in enumerate(x.dates)}
    iy = {d: i for i, d in enumerate(y.dates)}
    return np.array([x.values[ix[d]] for d in common]), np.array([y.values[iy[d]] for d in common])


@settings(max_examples=200)
@given(
    st.integers(0, 10_000),
    st.integers(0, 300),
    st.integers(0, 300),
    st.floats(0.0, 0.95),
    st.integers(1, 80),
)
def test_last_common_dates_equal_the_full_intersection(seed: int, nx: int, ny: int, gaps: float, m: int) -> None:
    rng = np.random.default_rng(seed)
    pool = [START + dt.timedelta(days=i) for i in range(400)]

    def sparse(n: int) -> DailySeries:
        keep = sorted(rng.choice(len(pool), size=min(n, len(pool)), replace=False))
        keep = [i for i in keep if rng.random() >= gaps] or keep[:1]
        return DailySeries(tuple(pool[i] for i in keep), rng.normal(size=len(keep)))

    x, y = sparse(nx), sparse(ny)
    for a, b in ((x, y), (x, x), (y, x)):
        got, want = _last_common(a, b, m), _all_common(a, b, m)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def _reference_beta(xs: np.ndarray, ys: np.ndarray, pct: bool) -> tuple[float, float] | None:
    """Slope and R^2 as `estimate_beta` computed them with np.diff and .mean() (before the slicing rewrite)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        dx = np.diff(xs) / xs[:-1] if pct else np.diff(xs)
        dy = np.diff(ys) / ys[:-1] if pct else np.diff(ys)
    ok = np.isfinite(dx) & np.isfinite(dy)
    dx, dy = dx[ok], dy[ok]
    dxm, dym = dx - dx.mean(), dy - dy.mean()
    sxx, syy, sxy = float(dxm @ dxm), float(dym @ dym), float(dxm @ dym)
    return (sxy / sxx, sxy * sxy / (sxx * syy)) if sxx > 0 and syy > 0 else None


@settings(max_examples=200)
@given(st.integers(0, 10_000), st.booleans(), st.floats(0.0, 0.2))
def test_beta_regression_equals_the_reference_arithmetic(seed: int, pct: bool, nan_share: float) -> None:
    rng = np.random.default_rng(seed)
    x = 15 + np.cumsum(rng.normal(0, 1, 62))
    y = 0.8 * x + rng.normal(0, 0.5, 62)
    x[rng.random(62) < nan_share] = np.nan
    days = tuple(START + dt.timedelta(days=i) for i in range(62))
    got = estimate_beta(
        DailySeries(days, x), DailySeries(days, y), pct=pct, window=61, min_obs=2, min_r2=0.0,
        bounds=(-1e9, 1e9), fallback=-99.0,
    )  # fmt: skip
    want = _reference_beta(x, y, pct)
    assert (got.value, got.r2) == want if want is not None else got.source == "fallback"


def test_the_curve_answers_each_day_from_its_own_points() -> None:
    expiries = [dt.date(2018, 2, 14), dt.date(2018, 3, 21), dt.date(2018, 4, 18)]
    curve = VxCurve(tuple(VxPoint(e, Quote(last=20.0 + k, at=AT)) for k, e in enumerate(expiries)))
    for day in (dt.date(2018, 2, 1), dt.date(2018, 3, 1), dt.date(2018, 2, 1), dt.date(2018, 4, 18)):
        assert curve.listed(day) == tuple(p for p in curve.points if p.expiry > day)
    assert curve.nth(dt.date(2018, 3, 1), 1).expiry == expiries[1]
    assert curve == VxCurve(curve.points)  # the cache takes no part in equality


@settings(max_examples=300)
@given(st.integers(2, 300), st.integers(0, 10_000), st.floats(-6, 6), st.floats(1e-9, 1e3))
def test_zscore_last_equals_numpy_mean_and_std_bit_for_bit(n: int, seed: int, level: float, scale: float) -> None:
    window = level + scale * np.random.default_rng(seed).normal(size=n)
    mean, std = float(window.mean()), float(window.std())
    expected = (float(window[-1]) - mean) / std if std > 1e-12 else 0.0
    assert zscore_last(window) == expected
    assert zscore_last(np.full(n, level)) == 0.0  # a flat window


# ---- the book: broker greeks taken as they are -----------------------------------------------------------------


def _table(legs: list, spot: float | None = 5500.0):
    contracts = tuple(leg.contract for leg in legs)
    strikes = np.array([c.strike for c in contracts])
    is_call = np.array([c.right == "C" for c in contracts])
    t = np.array([(c.expiry - NOW.date()).days / 365.0 for c in contracts])
    return greeks_table(contracts, legs, strikes, is_call, t, NOW, BookSettings(), spot, 16.0)


@pytest.mark.parametrize("spot", [5500.0, None])
def test_all_broker_greeks_read_as_the_general_rules_read_them(spot: float | None) -> None:
    expiry = NOW.date() + dt.timedelta(days=30)
    legs = condor_legs(expiry, (5300.0, 5350.0, 5650.0, 5700.0), 2, with_greeks=True)
    bare = condor_legs(expiry, (5200.0, 5250.0, 5750.0, 5800.0), 1, with_greeks=False)[:1]
    fast = _table(legs, spot)  # every contract complete: the shortcut
    general = _table(legs + bare, spot)  # one contract without greeks: the full rules, row by row
    for name in ("source", "delta", "gamma", "vega", "theta", "iv", "mark", "und"):
        assert np.array_equal(getattr(fast, name), getattr(general, name)[:4]), name
        assert getattr(fast, name).dtype == getattr(general, name).dtype, name
    assert (fast.source == BROKER).all()


def test_zero_missing_is_nan_to_num() -> None:
    for values in (np.array([1.0, -2.0]), np.array([1.0, np.nan, np.inf]), np.empty(0)):
        assert np.array_equal(_zero_missing(values), np.nan_to_num(values))


@settings(max_examples=300)
@given(st.dates(dt.date(1960, 1, 1), dt.date(2040, 12, 31)), st.booleans())
def test_session_rank_equals_the_numpy_search(day: dt.date, right: bool) -> None:
    want = int(np.searchsorted(sessions._sessions(), np.datetime64(day, "D"), side="right" if right else "left"))
    assert sessions._rank.__wrapped__(day, right) == want


# ---- the book: stress repricing ----------------------------------------------------------------------------------


def _stress_reference(lay, table, t: np.ndarray, spot: float, settings: BookSettings) -> np.ndarray:
    """The stress prices written out as the spec reads: grid arrays built on every call, each leg's ATM level from
    its own ln(K/S), the clip, then Black-Scholes; NaN for unknown contracts."""
    from bot.pricing.black_scholes import bs_price_vec

    grid = settings.stress_grid
    known = table.known
    iv0 = np.where(known, table.iv, 0.2)
    atm0 = iv0 - settings.skew_slope * np.log(lay.strikes / spot)
    spots = spot * (1.0 + np.array([0.0, *(p.spx_pct / 100.0 for p in grid)]))[:, None]
    shift = np.array([0.0, *(p.iv_points / 100.0 for p in grid)])[:, None]
    days = np.array([0.0, *(p.days for p in grid)])[:, None]
    vol = np.clip(atm0 + shift + settings.skew_slope * np.log(lay.strikes / spots), settings.min_iv, settings.max_iv)
    tt = np.maximum(t - days / 365.0, 0.0)
    prices = bs_price_vec(spots, lay.strikes, tt, settings.risk_free_rate, vol, lay.is_call, settings.dividend_yield)
    return np.where(known, prices, math.nan)


@pytest.mark.parametrize("days_left", [2, 30])
def test_stress_prices_equal_the_reference_and_follow_an_edited_grid(days_left: int) -> None:
    from bot.book.grouping import layout
    from bot.book.report import _stress_prices
    from bot.settings.book import StressPoint

    expiry = NOW.date() + dt.timedelta(days=days_left)  # 2 days: the 5-day points price at intrinsic
    legs = condor_legs(expiry, (5300.0, 5350.0, 5650.0, 5700.0), 2, with_greeks=True)
    bare = condor_legs(expiry, (5200.0, 5250.0, 5750.0, 5800.0), 1, with_greeks=False)
    lay = layout(legs + bare)
    t = lay.years_to_expiry(NOW.date())
    plain = BookSettings()
    edited = BookSettings(stress_grid=[StressPoint(spx_pct=-20.0, iv_points=40.0, days=1.0, vix_points=40.0)])
    for s, bs_fallback in ((plain, True), (edited, True), (plain, False)):  # without the fallback: NaN rows
        s = s.model_copy(update={"bs_fallback": bs_fallback})
        table = greeks_table(
            lay.contracts, [(legs + bare)[i] for i in lay.leg_index], lay.strikes, lay.is_call, t, NOW, s, 5500.0, 16.0
        )
        got = _stress_prices(lay, table, t, 5500.0, s)
        want = _stress_reference(lay, table, t, 5500.0, s)
        assert got.shape == (len(s.stress_grid) + 1, len(lay.contracts))
        assert got.tobytes() == want.tobytes()
    assert not table.known.all()  # the last round did cover unknown contracts


def test_memory_with_rsi_or_macd_replaces_that_part_and_carries_every_other_field() -> None:
    import dataclasses

    from bot.signals.indicators import MacdState, WilderState
    from bot.signals.inputs import HistoryKey, MacdCache, RsiCache

    key = HistoryKey.of(_series(30), (14,))
    rsi, rsi2 = RsiCache(key, WilderState(14, 1.0, 2.0, 3.0)), RsiCache(key, WilderState(14, 4.0, 5.0, 6.0))
    tail = np.zeros(3)
    macd = MacdCache(key, MacdState(12, 26, 9, 0.1, 0.2, 0.3), tail, tail)
    macd2 = MacdCache(key, MacdState(12, 26, 9, 0.4, 0.5, 0.6), tail, tail)
    memory = SignalMemory(vix_rsi_on=True, rsi_cache=rsi, macd_cache=macd)
    assert len(dataclasses.fields(SignalMemory)) == 3  # a new field must be carried by with_rsi / with_macd too
    for got, want in (
        (memory.with_rsi(False, rsi2), dataclasses.replace(memory, vix_rsi_on=False, rsi_cache=rsi2)),
        (memory.with_macd(macd2), dataclasses.replace(memory, macd_cache=macd2)),
    ):
        for field in dataclasses.fields(SignalMemory):
            assert getattr(got, field.name) is getattr(want, field.name), field.name


def test_a_fully_marked_book_reads_as_the_general_rules_read_it() -> None:
    """The shortcut (every contract known and marked: no masks, no NaN filling) against the general rules written
    out, bit for bit, for structures' P&L, greeks and stress P&L; on many books, as the matrix product's rounding
    depends on the memory layout of its operands in about one book in ten."""
    from bot.book import read_book
    from bot.book.grouping import layout
    from bot.book.report import _stress_prices, _table

    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(60):
        legs = []
        for c in range(int(rng.integers(1, 4))):
            expiry = NOW.date() + dt.timedelta(days=int(rng.integers(10, 60)))
            k = float(5200 + 25 * int(rng.integers(0, 4)) + 25 * c)
            strikes = (k, k + 50.0, k + 500.0, k + 550.0)  # near enough to SPX 5500 to be quoted two-sided
            iv = rng.uniform(0.15, 0.4)
            legs += condor_legs(expiry, strikes, int(rng.integers(1, 9)), with_greeks=True, atm_iv=iv)
        snap = snapshot(legs, spx=float(rng.uniform(5450.0, 5550.0)))
        s = BookSettings()
        lay = layout(snap.legs)
        spot = snap.spx.last
        t = lay.years_to_expiry(snap.today)
        table = _table(snap, s, lay, t, spot, snap.vix.last)
        if not (np.isfinite(table.mark).all() and table.known.all()):
            continue  # not the shortcut's case
        checked += 1
        report = read_book(snap, s)
        prices = _stress_prices(lay, table, t, spot, s)
        marks = np.where(np.isfinite(table.mark), table.mark, prices[0])
        pnl = lay.qm @ np.nan_to_num(marks) - lay.cost
        greeks = lay.qm @ np.nan_to_num(np.column_stack((table.delta, table.gamma, table.vega, table.theta)))
        scen = np.maximum(((prices[1:] - prices[0]) @ lay.qm.T).T, -lay.max_loss[:, None])
        assert [st.pnl for st in report.structures] == [x if math.isfinite(x) else None for x in pnl.tolist()]
        assert [st.greeks.vega for st in report.structures] == greeks[:, 2].tolist()
        assert [list(st.scenario_pnl) for st in report.structures] == scen.tolist()
    assert checked >= 40


def test_the_book_s_stress_is_computed_once_and_only_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """`read_book` hands the stress over unread (`OnRead`): sizing reads it only while a layer holds a hedge. It
    must run once, when first read, and give the numbers an eager read gives."""
    import bot.book.report as report_module
    from bot.book import read_book

    snap = snapshot(condor_legs(NOW.date() + dt.timedelta(days=30), (5200.0, 5250.0, 5750.0, 5800.0), 3))
    eager = read_book(snap, BookSettings())
    want_total = [sc.pnl for sc in eager.scenarios]
    want_rows = [tuple(st.scenario_pnl) for st in eager.structures]
    calls = []
    real = report_module._stress_prices
    monkeypatch.setattr(report_module, "_stress_prices", lambda *a: calls.append(1) or real(*a))
    lazy = read_book(snap, BookSettings())
    assert calls == []
    assert [tuple(st.scenario_pnl) for st in lazy.structures] == want_rows
    assert [sc.pnl for sc in lazy.scenarios] == want_total and all(x is not None for x in want_total)
    assert calls == [1]
    assert lazy == eager and lazy.scenarios == tuple(eager.scenarios) and hash(lazy.scenarios) == hash(eager.scenarios)


def test_trusted_builders_give_the_checked_constructors_values() -> None:
    """The backtest's trusted builders skip the checks only: same values, equality and hash. The checked
    constructors (what the live engine uses for broker data) still refuse a naive time and a flat leg."""
    from bot.domain.market import (
        ModelGreeks,
        OptionContract,
        OptionLeg,
        trusted_curve,
        trusted_greeks,
        trusted_leg,
        trusted_quote,
        trusted_vx_point,
    )

    q = trusted_quote(1.0, 1.5, math.nan, AT)
    assert (q.bid, q.ask, q.at, math.isnan(q.last)) == (1.0, 1.5, AT, True) and q.mid == 1.25
    q2 = trusted_quote(1.0, 1.5, 1.2, AT)
    assert q2 == Quote(1.0, 1.5, 1.2, AT) and hash(q2) == hash(Quote(1.0, 1.5, 1.2, AT))
    points = tuple(trusted_vx_point(dt.date(2018, 2, 14) + dt.timedelta(days=28 * k), q2) for k in range(3))
    checked = VxCurve(tuple(VxPoint(p.expiry, p.quote) for p in reversed(points)))  # the checked one sorts
    curve = trusted_curve(points)
    assert curve == checked and curve.nth(AT.date(), 2) == checked.nth(AT.date(), 2) == points[1]
    g = trusted_greeks(0.1, 0.01, 2.0, -1.0, 0.2, AT, 2700.0)
    assert g == ModelGreeks(0.1, 0.01, 2.0, -1.0, 0.2, AT, 2700.0)
    contract = OptionContract("SPX", dt.date(2018, 3, 16), 2500.0, "P")
    leg = trusted_leg(contract, -2, 150.0, q2, g)
    assert leg == OptionLeg(contract, -2, 150.0, q2, g) and hash(leg) == hash(OptionLeg(contract, -2, 150.0, q2, g))
    with pytest.raises(ValueError, match="timezone-aware"):
        Quote(1.0, 1.5, 1.2, AT.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone-aware"):
        ModelGreeks(0.1, 0.01, 2.0, -1.0, 0.2, AT.replace(tzinfo=None))
    with pytest.raises(ValueError, match="quantity is 0"):
        OptionLeg(contract, 0, 150.0, q2, g)


def test_a_layer_s_strength_update_carries_every_other_field() -> None:
    """`_with_strength` spells out LayerState's fields for speed: it must equal `replace`, so a field added to
    LayerState and not carried over fails here (every field is set to a non-default value)."""
    import dataclasses

    from bot.domain.layers import LAYER_IDS, LayerId, LayerPhase, LayerState
    from bot.layers import _with_strength

    values = {
        "layer": LayerId.MID_CURVE,
        "phase": LayerPhase.HARVESTING,
        "since": AT,
        "cooldown_until": AT + dt.timedelta(hours=3),
        "strength": 0.25,
        "thickness": 0.5,
        "episode": 7,
        "near_kind": "VXM",
    }
    fields = [f.name for f in dataclasses.fields(LayerState)]
    assert fields == list(values), "LayerState's fields changed: update _with_strength and this test"
    state = LayerState(**values)
    assert all(getattr(state, f) != getattr(LayerState(LayerId.NEAR_TERM), f) for f in fields)
    assert _with_strength(state, 0.75) == dataclasses.replace(state, strength=0.75)
    assert tuple(LayerId) == LAYER_IDS


@pytest.mark.parametrize(
    "values",
    [
        [],
        [1.0, 2.0, 3.0],
        [1e308, 1e308],  # finite values whose sum overflows: the elementwise test decides
        [-1e308, -1e308, 5.0],
        [1.0, math.nan],
        [math.inf, -math.inf],  # sum NaN
        [math.inf, 1.0],
        [0.0, -0.0, -2.0],
    ],
)
def test_history_checks_equal_the_elementwise_tests(values: list[float]) -> None:
    from bot.signals.evaluate import _all_finite, _any_not_positive

    arr = np.array(values, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):  # the overflowing and inf - inf sums are expected here
        assert _all_finite(arr) is bool(np.isfinite(arr).all())
    if len(arr) and np.isfinite(arr).all():
        assert _any_not_positive(arr) is bool((arr <= 0).any())


def test_a_quote_s_mid_follows_the_usable_price_rule_on_every_edge() -> None:
    """`Quote.mid` tests both sides in one comparison chain: it must equal the rule it replaces (both sides usable
    prices, not crossed) on missing, NaN, infinite, zero, signed-zero, tiny and huge sides."""
    import itertools

    from bot.domain.market import usable_price

    edges = [None, math.nan, math.inf, -math.inf, 0.0, -0.0, -1.0, 1e-300, 0.5, 1.0, 2.0, 1e308]
    for bid, ask in itertools.product(edges, edges):
        want = 0.5 * (bid + ask) if usable_price(bid) and usable_price(ask) and bid <= ask else None
        assert Quote(bid, ask).mid == want, (bid, ask)


@pytest.mark.parametrize(
    ("vix_age_s", "f2_value", "vix3m"),
    [(0.0, 20.0, 21.0), (10_000.0, 20.0, 21.0), (0.0, math.nan, 21.0), (0.0, 20.0, None), (10_000.0, -1.0, None)],
)
def test_votes_from_quotes_checked_once_equal_each_vote_checking_its_own(
    vix_age_s: float, f2_value: float, vix3m: float | None
) -> None:
    from bot.signals.evaluate import term_structure, ts_macd, vix_level, vix_level_tail, vix_rsi
    from bot.signals.sessions import session_date

    days, vix, ratio = _random_market(3)
    inp = _day_inputs(days, vix, ratio, 320)
    inp = dataclasses.replace(
        inp,
        vix=Timed(float(vix[320]), inp.now - dt.timedelta(seconds=vix_age_s)),
        f2=Timed(f2_value, inp.now),
        vix3m=None if vix3m is None else Timed(vix3m, inp.now),
    )
    for source in ("f1_f2", "vix_vix3m"):
        s = SignalSettings(ts_ratio_source=source)
        votes, _ = evaluate_signals(inp, SignalMemory(), s)
        today = session_date(inp.now)
        own = (
            vix_rsi(inp, SignalMemory(), s, today)[0],
            vix_level(inp, s),
            vix_level_tail(inp, s),
            term_structure(inp, s),
            *ts_macd(inp, SignalMemory(), s, today)[:2],
        )
        by_name = {v.name: v for v in votes}
        assert [by_name[v.name] for v in own] == list(own)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 30), st.integers(0, 30))
def test_breadth_bars_equal_the_checked_breadth_of_both_slices(lo: int, hi: int) -> None:
    from bot.signals.inputs import Breadth

    days = sessions_in(dt.date(2019, 1, 2), dt.date(2019, 2, 15))
    full = Breadth(DailySeries(days, np.arange(len(days)) * 10.0), DailySeries(days, -np.arange(len(days)) * 1.0))
    cut = full.bars(lo, hi)
    assert cut == Breadth(full.ad_line.bars(lo, hi), full.net.bars(lo, hi))
    assert cut.ad_line.dates == days[lo:hi] and cut.net.values.tolist() == full.net.values[lo:hi].tolist()
    assert not cut.net.values.flags.writeable


def test_a_trusted_vote_is_the_constructed_vote() -> None:
    from bot.domain.votes import SignalVote, Vote, trusted_vote

    for args in (("vix_rsi", Vote.FOR, 63.2, 50.0, "RSI on"), ("breadth", Vote.ABSTAIN, None, 0.0, "")):
        made, trusted = SignalVote(*args), trusted_vote(*args)
        assert trusted == made and repr(trusted) == repr(made) and trusted.to_dict() == made.to_dict()
        with pytest.raises(dataclasses.FrozenInstanceError):
            trusted.detail = "changed"  # type: ignore[misc]


@settings(max_examples=200, deadline=None)
@given(st.dates(dt.date(1960, 1, 1), dt.date(2040, 1, 1)), st.dates(dt.date(1960, 1, 1), dt.date(2040, 1, 1)))
def test_cached_session_counts_equal_the_uncached_ones(a: dt.date, b: dt.date) -> None:
    assert sessions.sessions_strictly_between(a, b) == sessions.sessions_strictly_between.__wrapped__(a, b)
    assert sessions.session_distance(a, b) == sessions.session_distance.__wrapped__(a, b)


@pytest.mark.parametrize("bad", [math.nan, math.inf, 0.0, -1.0])
def test_with_a_cache_only_the_new_bars_are_checked_and_a_bad_one_still_abstains(bad: float) -> None:
    days, vix, ratio = _random_market(5)
    memory = SignalMemory()
    for k in range(300, 305):
        _, memory = evaluate_signals(_day_inputs(days, vix, ratio, k), memory, SignalSettings())
    vix_bad, ratio_bad = vix.copy(), ratio.copy()
    vix_bad[304], ratio_bad[304] = bad, bad  # the one bar the next day appends to the cached histories
    inp = _day_inputs(days, vix_bad, ratio_bad, 305)
    carried, _ = evaluate_signals(inp, memory, SignalSettings())
    fresh, _ = evaluate_signals(inp, SignalMemory(vix_rsi_on=memory.vix_rsi_on), SignalSettings())
    assert carried == fresh
    by_name = {v.name: v for v in carried}
    for name in ("vix_rsi", "ts_macd_building", "ts_macd_stabilizing"):
        assert by_name[name].vote is Vote.ABSTAIN
        assert ("non-finite" if not math.isfinite(bad) else "non-positive") in by_name[name].detail


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(list(HedgeKind)),
    st.none() | st.dates(dt.date(2004, 1, 1), dt.date(2030, 12, 31)),
    st.none() | st.floats(allow_nan=False, allow_infinity=False, min_value=-100, max_value=500),
    st.sampled_from([None, "C", "P"]),
)
def test_a_memoised_instrument_key_is_the_one_it_computes(kind, expiry, strike, right) -> None:
    inst = HedgeInstrument(kind, expiry, strike, right)
    assert inst.key == inst._key()
    assert inst.key == inst._key()  # the memoised answer, read twice


def test_instrument_keys_with_equal_but_differently_printed_strikes_stay_distinct() -> None:
    day = dt.date(2018, 3, 21)
    for a, b in ((0.0, -0.0), (25.0, 25)):
        first, second = (
            HedgeInstrument(HedgeKind.VIX_OPTION, day, a, "C"),
            HedgeInstrument(HedgeKind.VIX_OPTION, day, b, "C"),
        )
        assert (first.key, second.key) == (first._key(), second._key())


def test_an_instrument_s_stored_hash_is_the_generated_one_and_never_travels_in_a_pickle() -> None:
    import copy
    import pickle

    day = dt.date(2018, 3, 21)
    for inst in (HedgeInstrument(HedgeKind.VIXY), HedgeInstrument(HedgeKind.VIX_OPTION, day, 25.0, "C")):
        assert hash(inst) == hash((inst.kind, inst.expiry, inst.strike, inst.right))
        assert {inst: 1}[HedgeInstrument(inst.kind, inst.expiry, inst.strike, inst.right)] == 1
        stale = copy.copy(inst)
        object.__setattr__(stale, "_hash", 12345)  # as if hashed in another process (another string hash seed)
        for back in (pickle.loads(pickle.dumps(stale)), copy.deepcopy(stale)):
            assert back == inst and hash(back) == hash(inst) != 12345
        moved = dataclasses.replace(inst, strike=30.0)
        assert hash(moved) == hash((moved.kind, moved.expiry, 30.0, moved.right))


def test_the_regime_is_steward_exactly_while_a_layer_is_armed_active_or_harvesting() -> None:
    import itertools

    from bot.domain.layers import LayerBook, LayerId, LayerPhase, LayerState, Regime

    hot = {LayerPhase.ARMED, LayerPhase.ACTIVE, LayerPhase.HARVESTING}
    for phases in itertools.product(list(LayerPhase), repeat=3):
        book = LayerBook(tuple(LayerState(lid, p) for lid, p in zip(LayerId, phases, strict=True)))
        assert book.regime is (Regime.STEWARD if hot.intersection(phases) else Regime.PROMOTER)


def test_gate_texts_name_phases_and_votes_by_their_values() -> None:
    from bot.domain.layers import LayerBook, LayerId, LayerPhase, LayerState
    from bot.layers import _Ctx, _gate
    from bot.settings.layers import LayerSettings

    votes = (SignalVote("vix_level_tail", Vote.AGAINST, 18.0, 35.0, "VIX 18.00 <= 35"),)
    ctx = _Ctx(votes, NOW, LayerSettings())
    for phase in LayerPhase:
        book = LayerBook(
            (LayerState(LayerId.NEAR_TERM, phase), LayerState(LayerId.MID_CURVE), LayerState(LayerId.TAIL))
        )
        assert _gate(ctx, book, LayerId.MID_CURVE)[1].startswith(f"gate: layer 1 is {phase.value} (")
    assert _gate(ctx, LayerBook(), LayerId.TAIL) == (False, "gate: vix_level_tail against (VIX 18.00 <= 35)")

"""Fast paths of the core against the straightforward computation they replace: each would fail if they diverged."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.intents import HedgeInstrument, HedgeKind
from bot.domain.market import MarketSnapshot, Quote, VixCallChain, VixOptionQuote
from bot.signals.inputs import DailySeries
from bot.sizing import _business_days
from bot.vx_calendar import business_days_between

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
        expected: object = business_days_between(start, end)
    except Exception as exc:  # outside the calendar: the fast path must fail the same way
        expected = type(exc)
    try:
        got: object = _business_days(start, end)
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

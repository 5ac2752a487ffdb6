"""Property tests of the strategy core's safety rules (hypothesis)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import defaultdict

from alvh_core_fixtures import NOW, WORKED_STRIKES, condor_legs, snapshot, spike_market, vx_curve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.book import group_legs
from bot.domain.condors import BookReport, ScenarioResult, StructureKind
from bot.domain.intents import HedgeInstrument, HedgeKind
from bot.domain.layers import LayerBook, LayerId, LayerPhase, LayerState
from bot.domain.market import (
    HedgePosition,
    MarketSnapshot,
    ModelGreeks,
    OptionContract,
    OptionLeg,
    Quote,
    VixOptionQuote,
    VxCurve,
    VxPoint,
)
from bot.domain.state import StrategyState
from bot.planner import apply_intents, plan
from bot.settings.sizing import SizingSettings
from bot.sizing import LayerTarget, SizingResult, fallback_betas, size_layers, uncovered_short_calls
from bot.strategy import CoreSettings, History, decide

PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EXP = NOW.date() + dt.timedelta(days=45)
BAD = st.sampled_from([math.nan, math.inf, -math.inf, -1.0, 0.0])
PRICE = st.one_of(BAD, st.floats(0.01, 1e4))
PHASES = st.sampled_from(list(LayerPhase))


# ---- no NaN reaches a size or a price


@st.composite
def hostile_snapshots(draw) -> MarketSnapshot:
    base, _ = spike_market()
    at = draw(st.sampled_from([NOW, NOW - dt.timedelta(hours=3), None]))

    def q() -> Quote:
        return Quote(bid=draw(PRICE), ask=draw(PRICE), last=draw(PRICE), at=draw(st.sampled_from([NOW, at])))

    legs = []
    for leg in base.legs:
        g = leg.greeks
        greeks = ModelGreeks(draw(PRICE), draw(PRICE), draw(PRICE), draw(PRICE), draw(PRICE), NOW, draw(PRICE))
        legs.append(
            dataclasses.replace(leg, avg_cost=draw(PRICE), quote=q(), greeks=draw(st.sampled_from([g, greeks, None])))
        )
    curve = VxCurve(tuple(VxPoint(p.expiry, draw(st.sampled_from([p.quote, q()]))) for p in base.curve.points))
    options = tuple(VixOptionQuote(o.instrument, draw(st.sampled_from([o.quote, q()]))) for o in base.vix_options[::7])
    return dataclasses.replace(
        base,
        vix=draw(st.sampled_from([base.vix, q(), None])),
        spx=draw(st.sampled_from([base.spx, q(), None])),
        vixy=draw(st.sampled_from([base.vixy, q()])),
        curve=curve,
        vix_options=options,
        legs=tuple(legs),
        net_liquidation=draw(st.one_of(st.none(), BAD, st.just(1e6))),
    )


def holding_state(thickness: float) -> StrategyState:
    since = NOW - dt.timedelta(days=2)
    return StrategyState(
        layers=LayerBook(
            (
                LayerState(LayerId.NEAR_TERM, LayerPhase.ACTIVE, since, strength=1.0, episode=1),
                LayerState(
                    LayerId.MID_CURVE, LayerPhase.HARVESTING, since, strength=1.0, thickness=thickness, episode=1
                ),
                LayerState(LayerId.TAIL, LayerPhase.ACTIVE, since, strength=1.0, episode=1),
            )
        ),
        mid_curve_fraction=0.5,
    )


@PROPS
@given(hostile_snapshots(), st.floats(0, 1))
def test_no_nan_ever_reaches_a_size_or_a_price(snap, thickness):
    _, history = spike_market()
    d = decide(snap, holding_state(thickness), history, CoreSettings())
    for target in d.record.sizing.targets.values():
        assert all(isinstance(q, int) and q != 0 for _, q in target.positions)
    for i in d.intents:
        assert isinstance(i.quantity, int) and i.quantity > 0
        assert i.price is not None
        assert math.isfinite(i.price.reference) and i.price.reference > 0
        assert math.isfinite(i.price.limit) and i.price.limit > 0
    need = d.record.sizing.need
    if need is not None:
        assert all(math.isfinite(x) for x in (need.h, need.vega_usd_per_pt, need.effective_usd_per_pt))
    assert "NaN" not in d.record.to_json()


# ---- covered calls and caps


def report(e_vix: float, loss: float = -1e9) -> BookReport:
    return BookReport((), e_vix / 0.85, e_vix, 0.85, 100.0, (ScenarioResult(-7.0, 15.0, 5.0, 15.0, loss),))


@PROPS
@given(
    e_vix=st.floats(-200_000, 0),
    thickness=st.floats(0, 1),
    fraction=st.floats(0, 1),
    max_vx=st.integers(0, 6),
    max_vxm=st.integers(0, 60),
    allow_vx=st.booleans(),
    offset=st.floats(0, 10),
)
def test_short_vix_calls_never_exceed_the_long_futures_cover(
    e_vix, thickness, fraction, max_vx, max_vxm, allow_vx, offset
):
    s = SizingSettings(max_vx=max_vx, max_vxm=max_vxm, allow_vx=allow_vx, overwrite_strike_offset=offset)
    book = LayerBook(
        (
            LayerState(LayerId.NEAR_TERM, LayerPhase.ACTIVE, NOW, strength=1.0),
            LayerState(LayerId.MID_CURVE, LayerPhase.HARVESTING, NOW, strength=1.0, thickness=thickness),
            LayerState(LayerId.TAIL, LayerPhase.IDLE),
        )
    )
    res = size_layers(book, report(e_vix), snapshot(), fallback_betas(s), s, fraction)
    everything = [p for t in res.targets.values() for p in t.positions]
    assert uncovered_short_calls(everything) == {}
    for t in res.targets.values():
        assert uncovered_short_calls(t.positions) == {}  # each layer covers its own calls


def _equivalent_vxm(res: SizingResult) -> int:
    total = 0
    for t in res.targets.values():
        for inst, q in t.positions:
            total += q * (10 if inst.kind is HedgeKind.VX else 1) if inst.kind in (HedgeKind.VX, HedgeKind.VXM) else 0
    return total


@PROPS
@given(
    a=st.floats(0, 300_000),
    b=st.floats(0, 300_000),
    max_vx=st.integers(0, 6),
    max_vxm=st.integers(0, 60),
    allow_vx=st.booleans(),
    with_l2=st.booleans(),
)
def test_hedge_size_is_monotone_in_exposure_and_never_above_the_caps(a, b, max_vx, max_vxm, allow_vx, with_l2):
    s = SizingSettings(max_vx=max_vx, max_vxm=max_vxm, allow_vx=allow_vx, mid_curve_share=0.0)
    l2 = LayerPhase.ACTIVE if with_l2 else LayerPhase.IDLE
    book = LayerBook(
        (
            LayerState(LayerId.NEAR_TERM, LayerPhase.ACTIVE, NOW, strength=0.5),
            LayerState(LayerId.MID_CURVE, l2, NOW, strength=0.5),
            LayerState(LayerId.TAIL),
        )
    )
    lo, hi = sorted((a, b))
    small = size_layers(book, report(-lo), snapshot(), fallback_betas(s), s)
    large = size_layers(book, report(-hi), snapshot(), fallback_betas(s), s)
    assert _equivalent_vxm(small) <= _equivalent_vxm(large)
    for res in (small, large):
        totals: dict[HedgeKind, int] = defaultdict(int)
        for t in res.targets.values():
            for inst, q in t.positions:
                totals[inst.kind] += abs(q)
        assert totals[HedgeKind.VX] <= max_vx and totals[HedgeKind.VXM] <= max_vxm


# ---- idempotent planning

SNAP = snapshot()
F1, F2 = SNAP.curve.nth(SNAP.today, 1).expiry, SNAP.curve.nth(SNAP.today, 2).expiry
CALLS = [o.instrument for o in SNAP.vix_options if o.instrument.expiry == F2][5:9]
INSTRUMENTS = [
    HedgeInstrument(HedgeKind.VXM, F1),
    HedgeInstrument(HedgeKind.VXM, F2),
    HedgeInstrument(HedgeKind.VX, F1),
    HedgeInstrument(HedgeKind.VIXY),
    HedgeInstrument(HedgeKind.VIX_OPTION, F2, 99.0, "C"),  # never quoted: its intents are always skipped
    *CALLS,
]
BOOKS = st.dictionaries(st.sampled_from(INSTRUMENTS), st.integers(-20, 20).filter(bool), max_size=5)


@PROPS
@given(
    phases=st.tuples(PHASES, PHASES, PHASES),
    targets=st.tuples(BOOKS, BOOKS, BOOKS),
    held=BOOKS,
    band=st.sampled_from([0.0, 10.0, 50.0]),
)
def test_planning_is_idempotent(phases, targets, held, band):
    s = SizingSettings(rebalance_band_pct=band)
    layers = LayerBook(tuple(LayerState(lid, ph, NOW, episode=2) for lid, ph in zip(LayerId, phases, strict=True)))
    sized = SizingResult(
        {lid: LayerTarget(lid, tuple(t.items())) for lid, t in zip(LayerId, targets, strict=True)},
        (),
        None,
        fallback_betas(s),
        F1,
        0.0,
    )
    hedges = tuple(HedgePosition(i, q) for i, q in held.items())
    first = plan(layers, sized, dataclasses.replace(SNAP, hedges=hedges), (), s)
    after = apply_intents(hedges, first.intents)
    second = plan(first.layers, sized, dataclasses.replace(SNAP, hedges=after), (), s)  # layer 1's kind carried
    assert second.intents == ()
    assert len({i.id for i in first.intents}) == len(first.intents)


# ---- grouping keeps every leg

LEG = st.tuples(
    st.sampled_from(["SPX", "SPXW"]),
    st.sampled_from([EXP, EXP + dt.timedelta(days=7)]),
    st.sampled_from([5200.0, 5250.0, 5300.0, 5350.0, 5400.0, 5500.0, 5600.0, 5650.0, 5700.0, 5750.0]),
    st.sampled_from(["C", "P"]),
    st.integers(-6, 6).filter(bool),
)


@PROPS
@given(st.lists(LEG, max_size=24))
def test_condor_grouping_never_loses_a_leg(raw):
    legs = [OptionLeg(OptionContract(tc, e, k, r), q, 100.0) for tc, e, k, r, q in raw]
    expected: dict[OptionContract, int] = defaultdict(int)
    for leg in legs:
        expected[leg.contract] += leg.quantity
    got: dict[OptionContract, int] = defaultdict(int)
    for kind, structure_legs, n in group_legs(legs):
        for sl in structure_legs:
            got[sl.contract] += sl.quantity
        if kind is StructureKind.IRON_CONDOR:
            k1, k2, k3, k4 = (sl.contract for sl in structure_legs)
            assert k1.strike < k2.strike <= k3.strike < k4.strike
            assert (k1.right, k2.right, k3.right, k4.right) == ("P", "P", "C", "C")
            assert [sl.quantity for sl in structure_legs] == [n, -n, -n, n]
            assert len({(c.trading_class, c.expiry) for c in (k1, k2, k3, k4)}) == 1
    assert {c: q for c, q in got.items() if q} == {c: q for c, q in expected.items() if q}


# ---- ABSTAIN alone never activates a layer


@PROPS
@given(
    phases=st.tuples(
        st.sampled_from([LayerPhase.IDLE, LayerPhase.ARMED]),
        st.just(LayerPhase.IDLE),
        st.sampled_from([LayerPhase.IDLE, LayerPhase.ARMED]),
    ),
    hours_armed=st.floats(0, 500),
    strength=st.floats(0, 1),
    data=st.data(),
)
def test_abstain_alone_never_activates_a_layer(phases, hours_armed, strength, data):
    stale = NOW - dt.timedelta(days=3)
    missing = st.sampled_from(
        [None, Quote(), Quote(last=math.nan, at=NOW), Quote(last=40.0, at=stale), Quote(last=-5.0, at=NOW)]
    )
    legs = condor_legs(EXP, WORKED_STRIKES, 5, with_greeks=True)
    curve = data.draw(st.sampled_from([VxCurve(), vx_curve(now=stale, prices=(40.0, 36.0, 33.0, 31.0))]))
    snap = MarketSnapshot(
        now=NOW,
        vix=data.draw(missing),
        vix3m=data.draw(missing),
        vix9d=data.draw(missing),
        spx=Quote(last=5500.0, at=NOW),
        vixy=data.draw(missing),
        curve=curve,
        legs=tuple(legs),
        net_liquidation=1e6,
    )
    since = NOW - dt.timedelta(hours=hours_armed)
    state = StrategyState(
        layers=LayerBook(
            tuple(
                LayerState(lid, ph, since, strength=strength, episode=1)
                for lid, ph in zip(LayerId, phases, strict=True)
            )
        )
    )
    for step in range(3):
        now = NOW + dt.timedelta(hours=step)
        d = decide(dataclasses.replace(snap, now=now), state, History(), CoreSettings())
        assert all(v.vote.value != "for" for v in d.record.votes), d.record.votes
        assert all(s.phase in (LayerPhase.IDLE, LayerPhase.ARMED) for s in d.state.layers.layers)
        assert not any(i.opens_position for i in d.intents)
        state = d.state

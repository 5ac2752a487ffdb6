"""Layer 1 keeps one kind of hedge per episode: no VIXY <-> VXM flips on a quote gap, no VXM <-> VX flips at 1 VX.

Each scenario replays a short sequence of cycles the way the engine does (the state of one decision goes into the
next; "filled" cycles apply the intents to the held book, "pending" cycles leave it as it was). Before the rule,
every one of them switched layer 1's instrument back and forth.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from alvh_core_fixtures import NOW, spike_market
from test_planner import F1, SNAP, VX1, VXM1, S, book, held, sized

from bot.domain.intents import HedgeInstrument, HedgeKind, Intent
from bot.domain.layers import LayerBook, LayerId, LayerPhase, LayerState
from bot.domain.market import MarketSnapshot, VxCurve, VxPoint
from bot.domain.state import StrategyState
from bot.domain.votes import SignalVote, Vote
from bot.layers import step_layers
from bot.planner import apply_intents, plan
from bot.settings.layers import LayerSettings
from bot.settings.sizing import SizingSettings
from bot.sizing import LayerTarget, SizingResult, fallback_betas, vixy_units
from bot.strategy import CoreSettings, decide

VIXY = HedgeInstrument(HedgeKind.VIXY)
L1 = LayerId.NEAR_TERM


def _stale_near(snap: MarketSnapshot) -> MarketSnapshot:
    """The near future's last quote is two hours old (a quiet contract, a dropped tick): sizing falls back to VIXY."""
    first, *rest = snap.curve.points
    old = dataclasses.replace(first.quote, at=snap.now - dt.timedelta(hours=2))
    return dataclasses.replace(snap, curve=VxCurve((VxPoint(first.expiry, old), *rest)))


def _l1(intents: tuple[Intent, ...]) -> list[Intent]:
    return [i for i in intents if i.layer is L1]


def _active(settings: CoreSettings) -> tuple[MarketSnapshot, object, StrategyState]:
    """The spike after its first decision: layers 1-3 ACTIVE, layer 1 in VXM, nothing filled yet."""
    fresh, history = spike_market()
    d = decide(fresh, StrategyState(), history, settings)
    assert d.state.layers.get(L1).phase is LayerPhase.ACTIVE and d.state.layers.get(L1).near_kind == "VXM"
    return fresh, history, d


def test_a_stale_near_future_does_not_move_a_futures_hedge_into_vixy_and_back():
    settings = CoreSettings()
    fresh, history, first = _active(settings)
    hedges, state = apply_intents(fresh.hedges, first.intents), first.state
    later: list[tuple[Intent, ...]] = []
    for cycle in range(1, 7):
        snap = dataclasses.replace(_stale_near(fresh) if cycle % 2 else fresh, hedges=hedges)
        d = decide(snap, state, history, settings)
        assert d.record.sizing.targets or cycle % 2 == 0  # (the stale cycles are sized in VIXY, then kept)
        if cycle % 2:
            assert {a.layer for a in d.record.alerts if a.code == "near_kind_kept"} == {L1, LayerId.MID_CURVE}
        later.append(d.intents)
        hedges, state = apply_intents(hedges, d.intents), d.state
    # before: every stale cycle sold the near VXM of layers 1 and 2 for VIXY, and every fresh one bought them back
    assert later == [()] * 6
    assert VIXY not in {h.instrument for h in hedges} and state.layers.get(L1).near_kind == "VXM"


def test_while_the_open_is_still_working_a_stale_quote_does_not_plan_the_other_instrument():
    settings = CoreSettings()
    fresh, history, first = _active(settings)
    state, seen = first.state, {i.instrument.kind for i in _l1(first.intents)}
    for cycle in range(1, 7):  # nothing fills: in approval mode each new instrument would be a new question
        d = decide(_stale_near(fresh) if cycle % 2 else fresh, state, history, settings)
        seen |= {i.instrument.kind for i in d.intents if i.layer in (L1, LayerId.MID_CURVE)}
        state = d.state
    assert seen == {HedgeKind.VXM}


def _vixy_episode(settings: CoreSettings):
    """A layer-1 episode whose first sizing met a stale near future (kind not chosen yet): it opens in VIXY."""
    fresh, history, first = _active(settings)
    layers = first.state.layers.layers
    unchosen = dataclasses.replace(
        first.state, layers=LayerBook((dataclasses.replace(layers[0], near_kind=""), *layers[1:]))
    )
    d = decide(_stale_near(fresh), unchosen, history, settings)
    assert [i.instrument for i in _l1(d.intents)] == [VIXY] and d.state.layers.get(L1).near_kind == "VIXY"
    return fresh, history, d


def test_an_episode_that_started_in_vixy_stays_in_vixy_resized_from_the_need():
    settings = CoreSettings()
    fresh, history, first = _vixy_episode(settings)
    hedges = apply_intents(fresh.hedges, first.intents)
    second = decide(dataclasses.replace(fresh, hedges=hedges), first.state, history, settings)
    assert all(i.instrument == VIXY for i in _l1(second.intents))  # futures are quoted again: layer 1 stays VIXY
    sized = second.record.sizing.targets[L1]  # what sizing chose this cycle: the futures
    assert {i.kind for i in sized.as_map()} == {HedgeKind.VXM}
    s, vix = settings.sizing, fresh.vix.fresh_value(fresh.now, settings.sizing.hedge_quote_max_age_s)
    expected = vixy_units(sized.usd_per_pt, fresh.vixy.mid, vix, second.record.sizing.betas.pct.value, s)
    assert expected > 0 and second.record.plan.targets[L1] == {VIXY: expected}


def test_after_a_restart_the_kind_is_read_from_what_layer_1_holds():
    settings = CoreSettings()
    fresh, history, first = _vixy_episode(settings)
    hedges = apply_intents(fresh.hedges, first.intents)
    layers = first.state.layers.layers
    forgotten = dataclasses.replace(
        first.state, layers=LayerBook((dataclasses.replace(layers[0], near_kind=""), *layers[1:]))
    )
    again = decide(dataclasses.replace(fresh, hedges=hedges), forgotten, history, settings)
    assert again.state.layers.get(L1).near_kind == "VIXY"
    assert all(i.instrument == VIXY for i in _l1(again.intents))


# ---------------------------------------------------------------- VX vs VXM around whole contracts


def _run(targets: list[dict], start: tuple = (), s: SizingSettings = S, fill: bool = True, kind: str = ""):
    """Plan layer 1 (ACTIVE) against each sized target in turn; returns the intents of each cycle and the book."""
    first = book(LayerPhase.ACTIVE)
    layers = LayerBook((dataclasses.replace(first.layers[0], near_kind=kind), *first.layers[1:]))
    hedges = held(*start)
    cycles = []
    for t in targets:
        p = plan(layers, sized(NEAR_TERM=t), dataclasses.replace(SNAP, hedges=hedges), (), s)
        cycles.append(p.intents)
        layers = p.layers
        if fill:
            hedges = apply_intents(hedges, p.intents)
    return cycles, {h.instrument: h.quantity for h in hedges}, layers


def test_a_need_hovering_at_one_vx_stays_in_vxm():
    cycles, final, layers = _run([{VXM1: 9}, {VX1: 1}] * 3)
    assert {i.instrument for c in cycles for i in c} == {VXM1}  # before: sell 9 VXM / buy 1 VX, and back, each time
    assert final == {VXM1: 9} and layers.get(L1).near_kind == "VXM"  # 10 VXM is within the band of 9


def test_a_vx_start_switches_to_vxm_once_when_the_need_drops_below_one_vx_then_stays():
    cycles, final, layers = _run([{VX1: 1}, {VXM1: 9}, {VX1: 1}, {VXM1: 9}, {VX1: 1}])
    assert [{(i.instrument, i.side.value, i.quantity) for i in c} for c in cycles[:2]] == [
        {(VX1, "BUY", 1)},
        {(VX1, "SELL", 1), (VXM1, "BUY", 9)},
    ]
    assert cycles[2:] == [(), (), ()] and final == {VXM1: 9} and layers.get(L1).near_kind == "VXM"


def test_pending_vxm_open_is_not_replaced_by_a_vx_open_at_one_vx():
    cycles, _, _ = _run([{VXM1: 9}, {VX1: 1}, {VXM1: 9}, {VX1: 1}], fill=False)
    assert [[(i.instrument, i.quantity) for i in c] for c in cycles] == [[(VXM1, 9)], [(VXM1, 10)]] * 2


def test_whole_vx_held_are_kept_across_an_integer_edge():
    # 2.9 VX of need -> 2 VX + 9 VXM; 3.0 -> 3 VX: sizing's split swaps a VX for 9 VXM at every whole contract
    cycles, final, _ = _run([{VX1: 3}, {VX1: 2, VXM1: 9}] * 2, start=((VX1, 2), (VXM1, 9)), kind="VX")
    assert cycles == [(), (), (), ()] and final == {VX1: 2, VXM1: 9}


def test_vxm_adds_whole_vx_once_the_need_reaches_the_switch_level():
    below, _, _ = _run([{VX1: 1, VXM1: 9}], start=((VXM1, 9),), kind="VXM")  # 1.9 VX < vx_switch_at_vx 2
    assert [(i.instrument, i.quantity) for i in below[0]] == [(VXM1, 10)]
    above, final, layers = _run([{VX1: 2, VXM1: 5}], start=((VXM1, 9),), kind="VXM")  # 2.5 VX: +16 VXM-equivalents
    assert {(i.instrument, i.quantity) for i in above[0]} == {(VX1, 1), (VXM1, 6)}  # the held 9 VXM are not swapped
    assert final == {VX1: 1, VXM1: 15} and layers.get(L1).near_kind == "VX"


def test_a_shrinking_need_sells_held_vx_only_below_them():
    cycles, final, _ = _run([{VX1: 1, VXM1: 2}], start=((VX1, 2), (VXM1, 5)), kind="VX")
    assert {(i.instrument, i.side.value, i.quantity) for i in cycles[0]} == {(VX1, "SELL", 1), (VXM1, "SELL", 3)}
    assert final == {VX1: 1, VXM1: 2}


def test_a_kept_split_over_a_hard_cap_falls_back_to_sizings_split():
    capped = SizingSettings(max_vxm=12)
    _, final, layers = _run([{VX1: 1, VXM1: 3}], start=((VXM1, 9),), s=capped, kind="VXM")  # 13 VXM > 12
    assert final == {VX1: 1, VXM1: 3} and layers.get(L1).near_kind == "VX"


def test_vixy_kept_within_its_share_cap():
    s = SizingSettings(max_vixy_shares=100)
    first = book(LayerPhase.ACTIVE)
    layers = LayerBook((dataclasses.replace(first.layers[0], near_kind="VIXY"), *first.layers[1:]))
    t = {L1: LayerTarget(L1, ((VXM1, 8),), ("500 $/VIX pt",), 500.0)}
    p = plan(layers, SizingResult(t, (), None, fallback_betas(s), F1, 0.0), SNAP, (), s)
    assert p.targets[L1] == {VIXY: 100}  # 500 $/pt would be ~350 shares at VIXY 50, VIX 16


def test_sizing_abstaining_or_an_empty_target_keeps_the_kind():
    cycles, _, layers = _run([{}, {VX1: 1}], start=(), kind="VXM")
    assert [(i.instrument, i.quantity) for i in cycles[1]] == [(VXM1, 10)] and layers.get(L1).near_kind == "VXM"


def test_activation_clears_the_kind_of_the_previous_episode():
    votes = tuple(SignalVote(n, Vote.FOR, 1.0, 0.0, "for") for n in ("vix_rsi", "vix_level", "term_structure"))
    armed = LayerState(L1, LayerPhase.ARMED, NOW - dt.timedelta(days=1), episode=2, near_kind="VIXY")
    step = step_layers(
        LayerBook((armed, LayerState(LayerId.MID_CURVE), LayerState(LayerId.TAIL))), votes, NOW, LayerSettings(), {}
    )
    new = step.book.get(L1)
    assert new.phase is LayerPhase.ACTIVE and new.episode == 3 and new.near_kind == ""

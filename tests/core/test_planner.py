"""Planner: attribution, intents (ids, prices, reasons, votes), rolls, closes, idempotence, band, break-evens."""

from __future__ import annotations

import dataclasses
import datetime as dt

from alvh_core_fixtures import NOW, quote, snapshot

from bot.domain.intents import HedgeInstrument, HedgeKind, Side
from bot.domain.layers import LayerBook, LayerId, LayerPhase, LayerState
from bot.domain.market import HedgePosition, Quote, VixOptionQuote
from bot.domain.votes import SignalVote, Vote
from bot.planner import (
    MAX_ID_LEN,
    apply_intents,
    attribute,
    flat_layers,
    hedge_break_evens,
    intent_id,
    plan,
    role_layer,
)
from bot.settings.sizing import SizingSettings
from bot.sizing import LayerTarget, SizingResult, fallback_betas

S = SizingSettings()
SNAP = snapshot()
F1 = SNAP.curve.nth(SNAP.today, 1).expiry
F2 = SNAP.curve.nth(SNAP.today, 2).expiry
VXM1, VXM2 = HedgeInstrument(HedgeKind.VXM, F1), HedgeInstrument(HedgeKind.VXM, F2)
VX1 = HedgeInstrument(HedgeKind.VX, F1)
CALL2 = HedgeInstrument(HedgeKind.VIX_OPTION, F2, 22.0, "C")
VOTES = (SignalVote("vix_level", Vote.FOR, 24.0, 20.0, "VIX 24 >= 20"),)


def book(p1=LayerPhase.IDLE, p2=LayerPhase.IDLE, p3=LayerPhase.IDLE, episode=3) -> LayerBook:
    return LayerBook(
        tuple(LayerState(lid, ph, NOW, episode=episode) for lid, ph in zip(LayerId, (p1, p2, p3), strict=True))
    )


def sized(**targets: dict) -> SizingResult:
    t = {
        LayerId[name]: LayerTarget(LayerId[name], tuple(positions.items()), ("test target",))
        for name, positions in targets.items()
    }
    return SizingResult(t, (), None, fallback_betas(S), F1, 0.0)


def held(*positions: tuple[HedgeInstrument, int]) -> tuple[HedgePosition, ...]:
    return tuple(HedgePosition(i, q, 1700.0 if i.kind is HedgeKind.VXM else 100.0) for i, q in positions)


def test_attribution_fills_targeting_layers_in_order_and_uses_roles_otherwise():
    h = {VXM1: 7, VXM2: 3, CALL2: -2}
    a = attribute(h, {LayerId.NEAR_TERM: {VXM1: 5}, LayerId.MID_CURVE: {VXM1: 1}}, S, F1)
    assert a[LayerId.NEAR_TERM] == {VXM1: 5}
    assert a[LayerId.MID_CURVE] == {VXM1: 2, VXM2: 3, CALL2: -2}  # excess to the last targeting layer; roles
    roles = attribute(h, {}, S, F1)
    assert roles[LayerId.NEAR_TERM] == {VXM1: 7} and roles[LayerId.TAIL] == {}
    assert sum(q for b in a.values() for q in b.values()) == sum(h.values())


def test_role_of_vix_options_and_vixy():
    long_c = HedgeInstrument(HedgeKind.VIX_OPTION, F2, 30.0, "C")
    short_c = HedgeInstrument(HedgeKind.VIX_OPTION, F2, 40.0, "C")
    h = {long_c: 5, short_c: -5}
    assert role_layer(long_c, 5, h, S, F1) is LayerId.TAIL
    assert role_layer(short_c, -5, h, S, F1) is LayerId.TAIL  # spread against a lower long call
    assert role_layer(CALL2, -5, {CALL2: -5}, S, F1) is LayerId.MID_CURVE  # covered call
    vixy = HedgeInstrument(HedgeKind.VIXY)
    assert role_layer(vixy, 100, {}, S, F1) is LayerId.NEAR_TERM
    assert role_layer(vixy, 100, {}, SizingSettings(tail_instrument="vixy"), F1) is LayerId.TAIL


def test_flat_layers_by_role():
    flat = flat_layers(dataclasses.replace(SNAP, hedges=held((VXM2, 2))), S)
    assert flat == {LayerId.NEAR_TERM: True, LayerId.MID_CURVE: False, LayerId.TAIL: True}  # F2 -> layer 2
    flat1 = flat_layers(dataclasses.replace(SNAP, hedges=held((VXM1, 2))), S)
    assert flat1 == {LayerId.NEAR_TERM: False, LayerId.MID_CURVE: True, LayerId.TAIL: True}


def test_futures_role_follows_the_roll_window_not_other_positions():
    assert role_layer(VXM2, 1, {VXM2: 1}, S, F1) is LayerId.MID_CURVE  # alone, F2 is still layer 2's
    assert role_layer(VXM2, 1, {VXM2: 1}, S, F2) is LayerId.NEAR_TERM  # inside the roll window layer 1 holds F2
    assert role_layer(VXM1, 1, {}, S, None) is LayerId.NEAR_TERM


def test_opening_intents_carry_price_guidance_reason_votes_and_a_short_stable_id():
    p = plan(book(LayerPhase.ACTIVE), sized(NEAR_TERM={VXM1: 4}), SNAP, VOTES, S)
    (i,) = p.intents
    q = SNAP.quote_for(VXM1)
    assert (i.side, i.quantity, i.layer, i.opens_position, i.group) == (Side.BUY, 4, LayerId.NEAR_TERM, True, None)
    assert i.price.reference == q.mid and i.price.limit == q.ask + 0.01 * q.mid
    assert "layer 1 active open" in i.reason and "test target" in i.reason and i.votes == VOTES
    assert len(i.id) <= MAX_ID_LEN and i.id.startswith("alvh-L1e3-open-")
    again = plan(book(LayerPhase.ACTIVE), sized(NEAR_TERM={VXM1: 4}), SNAP, VOTES, S)
    assert again.intents[0].id == i.id
    other_episode = plan(book(LayerPhase.ACTIVE, episode=4), sized(NEAR_TERM={VXM1: 4}), SNAP, VOTES, S)
    assert other_episode.intents[0].id != i.id


def test_intent_ids_fit_order_ref_even_for_long_keys():
    inst = HedgeInstrument(HedgeKind.VIX_OPTION, F2, 123.5, "C")
    assert len(intent_id(LayerId.TAIL, 10**9, "close", inst, -999999, 0)) <= MAX_ID_LEN


def test_applying_a_plan_then_planning_again_gives_nothing():
    layers = book(LayerPhase.ACTIVE, LayerPhase.HARVESTING)
    s = sized(NEAR_TERM={VXM1: 4}, MID_CURVE={VXM2: 3, CALL2: -3})
    hedges = held((VXM1, 1), (VXM2, 5))
    first = plan(layers, s, dataclasses.replace(SNAP, hedges=hedges), VOTES, S)
    assert first.intents
    after = apply_intents(hedges, first.intents)
    assert plan(layers, s, dataclasses.replace(SNAP, hedges=after), VOTES, S).intents == ()


def test_unwinding_layer_closes_everything_with_non_opening_intents():
    hedges = held((VXM1, 4))
    p = plan(book(LayerPhase.UNWINDING), sized(), dataclasses.replace(SNAP, hedges=hedges), VOTES, S)
    (i,) = p.intents
    assert (i.side, i.quantity, i.opens_position) == (Side.SELL, 4, False) and "close" in i.id
    assert i.price.limit == SNAP.quote_for(VXM1).bid - 0.01 * SNAP.quote_for(VXM1).mid


def test_idle_layer_holding_a_position_is_reported_not_traded():
    hedges = held((VXM1, 4))
    p = plan(book(), sized(), dataclasses.replace(SNAP, hedges=hedges), VOTES, S)
    assert p.intents == () and p.alerts[0].code == "unmanaged_hedge"


def test_roll_is_a_close_and_an_open_sharing_a_group():
    hedges = held((VXM1, 5))
    p = plan(book(LayerPhase.ACTIVE), sized(NEAR_TERM={VXM2: 5}), dataclasses.replace(SNAP, hedges=hedges), VOTES, S)
    close, open_ = p.intents  # closes sort first
    assert close.instrument == VXM1 and not close.opens_position and close.side is Side.SELL
    assert open_.instrument == VXM2 and open_.opens_position and open_.side is Side.BUY
    assert close.group == open_.group and close.group.startswith("roll-")
    assert close.reason.startswith(f"roll {F1} -> {F2}")


def test_no_fresh_quote_means_no_intent_and_an_alert():
    stale_curve = dataclasses.replace(SNAP, vixy=Quote(bid=50.0, ask=50.1, at=NOW - dt.timedelta(hours=1)))
    p = plan(book(LayerPhase.ACTIVE), sized(NEAR_TERM={HedgeInstrument(HedgeKind.VIXY): 100}), stale_curve, VOTES, S)
    assert p.intents == () and p.alerts[0].code == "no_quote"
    crossed = dataclasses.replace(SNAP, vixy=Quote(bid=50.2, ask=50.1, at=NOW))
    p2 = plan(book(LayerPhase.ACTIVE), sized(NEAR_TERM={HedgeInstrument(HedgeKind.VIXY): 100}), crossed, VOTES, S)
    assert p2.intents == ()


def test_crossing_zero_splits_into_a_close_and_an_open():
    hedges = held((VXM1, -2))  # a short future (role: layer 1), while layer 1 wants to be long 3
    p = plan(book(LayerPhase.ACTIVE), sized(NEAR_TERM={VXM1: 3}), dataclasses.replace(SNAP, hedges=hedges), VOTES, S)
    got = [(i.side, i.quantity, i.opens_position) for i in p.intents]
    assert got == [(Side.BUY, 2, False), (Side.BUY, 3, True)]
    assert len({i.id for i in p.intents}) == 2


def test_small_drift_inside_the_rebalance_band_is_not_traded():
    hedges = held((VXM1, 10))
    snap = dataclasses.replace(SNAP, hedges=hedges)
    assert plan(book(LayerPhase.ACTIVE), sized(NEAR_TERM={VXM1: 11}), snap, VOTES, S).intents == ()
    (i,) = plan(book(LayerPhase.ACTIVE), sized(NEAR_TERM={VXM1: 13}), snap, VOTES, S).intents
    assert i.quantity == 3 and "add" in i.id
    no_band = SizingSettings(rebalance_band_pct=0.0)
    assert plan(book(LayerPhase.ACTIVE), sized(NEAR_TERM={VXM1: 11}), snap, VOTES, no_band).intents != ()


def test_abstained_holding_layer_keeps_what_it_holds():
    hedges = held((VXM1, 4))
    abstained = SizingResult({}, (LayerId.NEAR_TERM,), None, fallback_betas(S), F1, 0.0)
    p = plan(book(LayerPhase.ACTIVE), abstained, dataclasses.replace(SNAP, hedges=hedges), VOTES, S)
    assert p.intents == () and p.targets[LayerId.NEAR_TERM] == {VXM1: 4}


def test_hedge_break_evens():
    long_c = HedgeInstrument(HedgeKind.VIX_OPTION, F2, 30.0, "C")
    short_c = HedgeInstrument(HedgeKind.VIX_OPTION, F2, 40.0, "C")
    hedges = (
        HedgePosition(VXM1, 2, 1700.0),  # entry 17.00
        HedgePosition(VX1, 1, 18_000.0),  # entry 18.00
        HedgePosition(long_c, 4, 250.0),
        HedgePosition(short_c, -4, 50.0),
    )
    attributed = attribute({h.instrument: h.quantity for h in hedges}, {}, S, F1)
    be = hedge_break_evens(attributed, hedges)
    assert be[f"L1:{F1}"] == f"future at {(2 * 1700 + 18000) / 1200:.2f}"
    assert be[f"L3:{F2}"] == "VIX settlement at 32.00"  # 30 + (2.50 - 0.50)


def test_buys_are_listed_before_sells_so_covers_come_first():
    long_c = HedgeInstrument(HedgeKind.VIX_OPTION, F2, 100.0, "C")  # key sorts before the short's "22"
    short_c = HedgeInstrument(HedgeKind.VIX_OPTION, F2, 22.0, "C")
    quoted = dataclasses.replace(SNAP, vix_options=(*SNAP.vix_options, VixOptionQuote(long_c, quote(0.5))))
    layers = book(LayerPhase.ACTIVE, LayerPhase.HARVESTING, LayerPhase.ACTIVE)
    s = sized(MID_CURVE={VXM2: 3, short_c: -3}, TAIL={long_c: 2})
    p = plan(layers, s, quoted, VOTES, S)
    assert [i.side for i in p.intents] == [Side.BUY, Side.BUY, Side.SELL]
    filled = apply_intents((), p.intents)
    unwind = book(LayerPhase.ACTIVE, LayerPhase.UNWINDING, LayerPhase.IDLE)
    closes = plan(unwind, sized(), dataclasses.replace(quoted, hedges=filled), VOTES, S).intents
    assert [(i.instrument, i.side) for i in closes][:1] == [(short_c, Side.BUY)]  # the short call goes first

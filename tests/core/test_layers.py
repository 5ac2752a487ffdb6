"""Layer state machine: each transition, its guards, and the alerts."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.domain.layers import LayerBook, LayerId, LayerPhase, LayerState
from bot.domain.votes import SignalVote, Vote
from bot.layers import step_layers
from bot.settings.layers import LayerSettings

T0 = dt.datetime(2018, 2, 5, 21, 15, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
S = LayerSettings()
L1, L2, L3 = LayerId.NEAR_TERM, LayerId.MID_CURVE, LayerId.TAIL

ALL = (
    "vix_rsi",
    "vix_level",
    "vix_level_tail",
    "term_structure",
    "ts_macd_building",
    "ts_macd_stabilizing",
    "macro_event",
    "breadth",
)


def votes(default: str = "against", values: dict[str, float] | None = None, **kinds: str) -> tuple[SignalVote, ...]:
    values = values or {}
    return tuple(SignalVote(n, Vote(kinds.get(n, default)), values.get(n)) for n in ALL)


def book(**phases: LayerState) -> LayerBook:
    states = [phases.get(f"l{i}", LayerState(LayerId(i))) for i in (1, 2, 3)]
    return LayerBook(layers=(states[0], states[1], states[2]))


SPIKE = dict(vix_rsi="for", vix_level="for", term_structure="for")


def test_quiet_market_changes_nothing():
    step = step_layers(LayerBook(), votes(), T0, S, {})
    assert step.book == LayerBook() and step.transitions == () and step.alerts == ()


def test_spike_arms_and_activates_layer_1_in_one_step_and_counts_the_episode():
    step = step_layers(LayerBook(), votes(**SPIKE), T0, S, {})
    l1 = step.book.get(L1)
    assert [t.name for t in step.transitions if t.layer == L1] == ["arm", "activate"]
    assert l1.phase is LayerPhase.ACTIVE and l1.episode == 1 and l1.since == T0
    assert l1.strength == pytest.approx(3 / 5)
    act = step.transitions[1]
    assert act.rule.startswith("activate: l1_activate: 3 of 5 [vix_rsi, vix_level, term_structure, macro_event")
    assert {v.name for v in act.votes} == {"vix_rsi", "vix_level", "term_structure", "macro_event", "breadth"}
    assert step.book.regime.value == "steward"


def test_two_signals_arm_but_do_not_activate_layer_1():
    step = step_layers(LayerBook(), votes(vix_rsi="for", vix_level="for"), T0, S, {})
    assert step.book.get(L1).phase is LayerPhase.ARMED
    assert [t.name for t in step.transitions] == ["arm"]


def test_min_armed_time_delays_activation():
    s = S.model_copy(update={"layer1": S.layer1.model_copy(update={"min_armed_hours": 12.0})})
    first = step_layers(LayerBook(), votes(**SPIKE), T0, s, {})
    assert first.book.get(L1).phase is LayerPhase.ARMED
    early = step_layers(first.book, votes(**SPIKE), T0 + dt.timedelta(hours=6), s, {})
    assert early.book.get(L1).phase is LayerPhase.ARMED
    later = step_layers(first.book, votes(**SPIKE), T0 + dt.timedelta(hours=12), s, {})
    assert later.book.get(L1).phase is LayerPhase.ACTIVE


def test_armed_layer_disarms_on_calm_or_timeout():
    armed = book(l1=LayerState(L1, LayerPhase.ARMED, since=T0))
    calm = step_layers(armed, votes(), T0 + DAY, S, {})
    assert calm.book.get(L1).phase is LayerPhase.IDLE
    assert calm.transitions[0].name == "disarm" and calm.transitions[0].rule.startswith("disarm: calm: 2 of 3")
    # not calm (RSI on, curve inverted) but no activation quorum: disarm only after the timeout
    hot = votes(vix_rsi="for", term_structure="for", vix_level="abstain")
    stays = step_layers(armed, hot, T0 + DAY, S, {})
    assert stays.book.get(L1).phase is LayerPhase.ARMED
    timeout = step_layers(armed, hot, T0 + dt.timedelta(hours=S.layer1.arm_timeout_hours), S, {})
    assert timeout.book.get(L1).phase is LayerPhase.IDLE


def test_unwind_needs_calm_confirmation_and_minimum_holding_time():
    active = book(l1=LayerState(L1, LayerPhase.ACTIVE, since=T0, episode=1, strength=0.6))
    too_soon = step_layers(active, votes(), T0 + dt.timedelta(hours=S.layer1.min_hold_hours - 1), S, {})
    assert too_soon.book.get(L1).phase is LayerPhase.ACTIVE and too_soon.transitions == ()
    held = step_layers(active, votes(), T0 + dt.timedelta(hours=S.layer1.min_hold_hours), S, {})
    assert held.book.get(L1).phase is LayerPhase.UNWINDING
    assert held.transitions[0].rule.startswith("unwind: calm: 2 of 3 [!vix_rsi, !vix_level, !term_structure]")
    one_calm = step_layers(active, votes(**{"vix_rsi": "for", "term_structure": "for"}), T0 + 3 * DAY, S, {})
    assert one_calm.book.get(L1).phase is LayerPhase.ACTIVE


def test_reset_only_when_flat_then_cooldown_blocks_rearming():
    unwinding = book(l1=LayerState(L1, LayerPhase.UNWINDING, since=T0, episode=1))
    not_flat = step_layers(unwinding, votes(**SPIKE), T0 + DAY, S, {L1: False})
    assert not_flat.book.get(L1).phase is LayerPhase.UNWINDING
    missing = step_layers(unwinding, votes(**SPIKE), T0 + DAY, S, {})
    assert missing.book.get(L1).phase is LayerPhase.UNWINDING
    flat = step_layers(unwinding, votes(), T0 + DAY, S, {L1: True})
    l1 = flat.book.get(L1)
    assert l1.phase is LayerPhase.IDLE and l1.episode == 1
    assert l1.cooldown_until == T0 + DAY + dt.timedelta(hours=S.layer1.cooldown_hours)
    blocked = step_layers(flat.book, votes(**SPIKE), T0 + 2 * DAY, S, {})
    assert blocked.book.get(L1).phase is LayerPhase.IDLE
    again = step_layers(flat.book, votes(**SPIKE), l1.cooldown_until, S, {})
    assert again.book.get(L1).phase is LayerPhase.ACTIVE and again.book.get(L1).episode == 2


def test_insufficient_data_holds_and_alerts():
    step = step_layers(LayerBook(), votes(default="abstain", vix_rsi="for"), T0, S, {})
    assert step.book == LayerBook() and step.transitions == ()
    assert [(a.code, a.layer) for a in step.alerts] == [
        ("quorum_data_insufficient", L1),
        ("quorum_data_insufficient", L3),
    ]
    assert "l1_arm: 2 of 5" in step.alerts[0].message and "insufficient data" in step.alerts[0].message
    assert "tail gate has no data" in step.alerts[1].message


def test_layer_2_needs_layer_1_holding():
    building = votes(ts_macd_building="for", term_structure="for", vix_rsi="for", values={"ts_macd_building": 0.3})
    alone = step_layers(book(), building, T0, S, {})
    assert alone.book.get(L2).phase is LayerPhase.IDLE
    with_l1 = book(l1=LayerState(L1, LayerPhase.ACTIVE, since=T0, episode=1))
    step = step_layers(with_l1, building, T0, S, {})
    l2 = step.book.get(L2)
    assert l2.phase is LayerPhase.ACTIVE and l2.episode == 1
    assert l2.thickness == 0.75  # floor(0.3 / 0.4 / 0.25) * 0.25
    armed_l2 = book(
        l1=LayerState(L1, LayerPhase.UNWINDING, since=T0, episode=1), l2=LayerState(L2, LayerPhase.ARMED, since=T0)
    )
    lost = step_layers(armed_l2, building, T0 + DAY, S, {})
    assert lost.book.get(L2).phase is LayerPhase.IDLE and lost.transitions[-1].name == "disarm"


def test_layer_3_needs_the_tail_gate_whatever_else_votes():
    others = dict(vix_rsi="for", term_structure="for", ts_macd_building="for", breadth="for")
    below = step_layers(book(), votes(vix_level_tail="against", **others), T0, S, {})
    assert below.book.get(L3).phase is LayerPhase.IDLE
    above = step_layers(book(), votes(vix_level_tail="for", **others), T0, S, {})
    assert above.book.get(L3).phase is LayerPhase.ACTIVE
    assert "gate: vix_level_tail for" in [t for t in above.transitions if t.layer == L3][-1].rule


def test_reverse_order_unwind_waits_for_higher_layers():
    held = T0 - 10 * DAY
    b = book(
        l1=LayerState(L1, LayerPhase.ACTIVE, since=held, episode=1),
        l2=LayerState(L2, LayerPhase.HARVESTING, since=held, episode=1, thickness=0.5),
        l3=LayerState(L3, LayerPhase.UNWINDING, since=T0, episode=1),
    )
    calm = votes()
    step = step_layers(b, calm, T0, S, {L3: False})
    assert step.book.get(L1).phase is LayerPhase.ACTIVE
    assert step.book.get(L2).phase is LayerPhase.HARVESTING
    assert {a.code for a in step.alerts} == {"unwind_waiting"}
    step2 = step_layers(step.book, calm, T0 + DAY, S, {L3: True})
    assert step2.book.get(L3).phase is LayerPhase.IDLE
    assert step2.book.get(L2).phase is LayerPhase.HARVESTING  # layer 2 was stepped before layer 3 reset
    step3 = step_layers(step2.book, calm, T0 + 2 * DAY, S, {})
    assert step3.book.get(L2).phase is LayerPhase.UNWINDING and step3.book.get(L1).phase is LayerPhase.ACTIVE
    step4 = step_layers(step3.book, calm, T0 + 3 * DAY, S, {L2: True})
    step5 = step_layers(step4.book, calm, T0 + 4 * DAY, S, {})
    assert step5.book.get(L1).phase is LayerPhase.UNWINDING


def test_harvest_and_layer_2_overwrite_thickness_follow_the_retrace():
    b = book(
        l1=LayerState(L1, LayerPhase.ACTIVE, since=T0, episode=1),
        l2=LayerState(L2, LayerPhase.ACTIVE, since=T0, episode=1, thickness=0.75),
    )
    stab = votes(ts_macd_stabilizing="for", vix_rsi="for", term_structure="for", values={"ts_macd_stabilizing": 0.4})
    step = step_layers(b, stab, T0 + DAY, S, {})
    assert step.book.get(L1).phase is LayerPhase.HARVESTING
    l2 = step.book.get(L2)
    assert l2.phase is LayerPhase.HARVESTING and l2.thickness == 0.25
    deeper = votes(ts_macd_stabilizing="for", vix_rsi="for", term_structure="for", values={"ts_macd_stabilizing": 0.8})
    step2 = step_layers(step.book, deeper, T0 + 2 * DAY, S, {})
    assert step2.book.get(L2).thickness == 0.75 and step2.transitions[-1].name == "thicken"
    rebuilding = votes(
        ts_macd_building="for",
        ts_macd_stabilizing="against",
        vix_rsi="for",
        term_structure="for",
        values={"ts_macd_stabilizing": 0.1, "ts_macd_building": 0.2},
    )
    step3 = step_layers(step2.book, rebuilding, T0 + 3 * DAY, S, {})
    # thin rounds the retrace up (0.1 -> 0.25): a one-step deadband against churning the same calls
    assert step3.book.get(L2).thickness == 0.25 and step3.transitions[-1].name == "thin"
    hovering = votes(
        ts_macd_building="for",
        ts_macd_stabilizing="for",
        vix_rsi="for",
        term_structure="for",
        values={"ts_macd_stabilizing": 0.74, "ts_macd_building": 0.2},
    )
    assert step_layers(step2.book, hovering, T0 + 3 * DAY, S, {}).book.get(L2).thickness == 0.75


def test_active_layer_2_thickens_with_the_histogram_but_never_thins():
    b = book(
        l1=LayerState(L1, LayerPhase.ACTIVE, since=T0, episode=1),
        l2=LayerState(L2, LayerPhase.ACTIVE, since=T0, episode=1, thickness=0.25),
    )
    up = votes(ts_macd_building="for", vix_rsi="for", term_structure="for", values={"ts_macd_building": 0.41})
    step = step_layers(b, up, T0 + DAY, S, {})
    assert step.book.get(L2).thickness == 1.0 and step.transitions[-1].name == "thicken"
    down = votes(ts_macd_building="against", vix_rsi="for", term_structure="for", values={"ts_macd_building": 0.1})
    assert step_layers(step.book, down, T0 + 2 * DAY, S, {}).book.get(L2).thickness == 1.0


def test_no_arming_while_the_calm_quorum_also_holds():
    # an FOMC day with RSI latched on but VIX low and the curve in contango: arm (2 of 5) and calm (2 of 3) both hold
    mixed = votes(vix_rsi="for", macro_event="for")
    step = step_layers(LayerBook(), mixed, T0, S, {})
    assert step.book == LayerBook() and step.transitions == ()
    # once the curve inverts, calm no longer holds and the layer arms
    hot = votes(vix_rsi="for", term_structure="for")
    assert step_layers(LayerBook(), hot, T0, S, {}).book.get(L1).phase is LayerPhase.ARMED


def test_a_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        step_layers(LayerBook(), votes(), dt.datetime(2018, 2, 5, 16, 0), S, {})

"""Property tests of the layer state machine: what no combination of votes, times and flats can make it do."""

from __future__ import annotations

import datetime as dt

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.domain.layers import LayerBook, LayerId, LayerPhase, LayerState
from bot.domain.votes import SignalVote, Vote
from bot.layers import step_layers
from bot.settings.layers import LayerSettings
from bot.settings.signals import FIXED_SIGNALS, SignalSettings
from bot.signals.evaluate import vix_level_tail
from bot.signals.inputs import SignalInputs, Timed

NOW = dt.datetime(2020, 3, 16, 20, 0, tzinfo=dt.UTC)
S = LayerSettings()
L1, L2, L3 = LayerId.NEAR_TERM, LayerId.MID_CURVE, LayerId.TAIL
HOLDING = {LayerPhase.ACTIVE, LayerPhase.HARVESTING}
HEDGED = HOLDING | {LayerPhase.UNWINDING}

# the only edges the machine may take (thicken/thin keep the phase)
EDGES = {
    "arm": {(LayerPhase.IDLE, LayerPhase.ARMED)},
    "activate": {(LayerPhase.ARMED, LayerPhase.ACTIVE)},
    "disarm": {(LayerPhase.ARMED, LayerPhase.IDLE)},
    "harvest": {(LayerPhase.ACTIVE, LayerPhase.HARVESTING)},
    "unwind": {(LayerPhase.ACTIVE, LayerPhase.UNWINDING), (LayerPhase.HARVESTING, LayerPhase.UNWINDING)},
    "reset": {(LayerPhase.UNWINDING, LayerPhase.IDLE)},
    "thicken": {(LayerPhase.ACTIVE, LayerPhase.ACTIVE), (LayerPhase.HARVESTING, LayerPhase.HARVESTING)},
    "thin": {(LayerPhase.HARVESTING, LayerPhase.HARVESTING)},
}

hours = st.floats(min_value=0, max_value=400, allow_nan=False)
values = st.one_of(st.none(), st.floats(min_value=-2, max_value=2, allow_nan=False))


@st.composite
def layer_states(draw, layer: LayerId) -> LayerState:
    phase = draw(st.sampled_from(list(LayerPhase)))
    since = None if phase is LayerPhase.IDLE and draw(st.booleans()) else NOW - dt.timedelta(hours=draw(hours))
    cooldown = draw(st.one_of(st.none(), hours.map(lambda h: NOW + dt.timedelta(hours=h - 100))))
    thick = draw(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])) if layer is L2 and phase in HOLDING else 0.0
    strength = draw(st.floats(min_value=0, max_value=1)) if phase is not LayerPhase.IDLE else 0.0
    return LayerState(layer, phase, since, cooldown, strength, thick, draw(st.integers(0, 5)))


books = st.builds(lambda a, b, c: LayerBook(layers=(a, b, c)), layer_states(L1), layer_states(L2), layer_states(L3))


def votes_from(kinds: st.SearchStrategy[Vote]) -> st.SearchStrategy[tuple[SignalVote, ...]]:
    return st.tuples(*[st.builds(SignalVote, st.just(n), kinds, values) for n in FIXED_SIGNALS])


any_votes = votes_from(st.sampled_from(list(Vote)))
no_for = votes_from(st.sampled_from([Vote.AGAINST, Vote.ABSTAIN]))
flats = st.fixed_dictionaries({L1: st.booleans(), L2: st.booleans(), L3: st.booleans()})


@settings(max_examples=300, deadline=None)
@given(books, no_for, flats)
def test_abstain_and_against_never_arm_activate_harvest_or_thicken(book, votes, flat):
    step = step_layers(book, votes, NOW, S, flat)
    assert {t.name for t in step.transitions} <= {"disarm", "unwind", "reset"}
    for before, after in zip(book.layers, step.book.layers, strict=True):
        if before.phase is not LayerPhase.ACTIVE:
            assert after.phase is not LayerPhase.ACTIVE


@settings(max_examples=300, deadline=None)
@given(books, st.sampled_from(["vix_rsi", "macro_event", "breadth", None]))
def test_fewer_than_m_signals_with_data_changes_nothing_and_alerts(book, lone_for):
    # every rule that could pass lacks data: at most one signal (a FOR) has any, and the timers are fresh; an armed
    # layer 2 without layer 1 holding is disarmed by state, not by data, so such books are left out
    assume(not (book.get(L2).phase is LayerPhase.ARMED and book.get(L1).phase not in HOLDING))
    fresh = LayerBook(layers=tuple(LayerState(s.layer, s.phase, NOW, s.cooldown_until, s.strength, s.thickness,
                                              s.episode) for s in book.layers))  # fmt: skip
    votes = tuple(SignalVote(n, Vote.FOR if n == lone_for else Vote.ABSTAIN) for n in FIXED_SIGNALS)
    step = step_layers(fresh, votes, NOW, S, {L1: False, L2: False, L3: False})
    assert step.book == fresh and step.transitions == ()
    assert {a.code for a in step.alerts} <= {"quorum_data_insufficient"}
    l1 = fresh.get(L1)
    if l1.phase in (LayerPhase.IDLE, LayerPhase.ARMED, LayerPhase.ACTIVE) and not (
        l1.cooldown_until and l1.cooldown_until > NOW
    ):
        assert any(a.layer == L1 for a in step.alerts)


@settings(max_examples=300, deadline=None)
@given(books, any_votes, flats, st.data())
def test_no_transition_while_holding_time_or_cooldown_forbids_it(book, votes, flat, data):
    layer = data.draw(st.sampled_from([L1, L2, L3]))
    rules = {L1: S.layer1, L2: S.layer2, L3: S.layer3}[layer]
    state = book.get(layer)
    if state.phase is LayerPhase.IDLE:
        forced = LayerState(layer, LayerPhase.IDLE, since=NOW, cooldown_until=NOW + dt.timedelta(minutes=1))
        forbidden = {"arm"}
    elif state.phase in HOLDING and rules.min_hold_hours > 0:
        held = data.draw(st.floats(min_value=0, max_value=rules.min_hold_hours * 0.999))
        forced = LayerState(layer, state.phase, NOW - dt.timedelta(hours=held), None, 0.5, state.thickness, 1)
        forbidden = {"unwind"}
    else:
        return
    layers = list(book.layers)
    layers[int(layer) - 1] = forced
    step = step_layers(LayerBook(layers=tuple(layers)), votes, NOW, S, flat)
    assert not any(t.layer == layer and t.name in forbidden for t in step.transitions)


@settings(max_examples=300, deadline=None)
@given(books, any_votes, flats, st.one_of(st.none(), st.floats(min_value=-10, max_value=35.0)))
def test_layer_3_never_arms_or_activates_with_vix_at_or_below_35(book, votes, flat, vix):
    quote = None if vix is None else Timed(vix, NOW)
    tail = vix_level_tail(SignalInputs(now=NOW, vix=quote), SignalSettings())
    assert tail.vote is not Vote.FOR
    votes = tuple(tail if v.name == "vix_level_tail" else v for v in votes)
    step = step_layers(book, votes, NOW, S, flat)
    assert not any(t.layer == L3 and t.name in ("arm", "activate") for t in step.transitions)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(any_votes, flats, st.floats(min_value=0.5, max_value=72)), min_size=1, max_size=40))
def test_random_walks_stay_inside_the_state_graph(path):
    book, now = LayerBook(), NOW
    for votes, flat, step_hours in path:
        now += dt.timedelta(hours=step_hours)
        step = step_layers(book, votes, now, S, flat)
        activations = {t.layer for t in step.transitions if t.name == "activate"}
        for t in step.transitions:
            assert (t.from_phase, t.to_phase) in EDGES[t.name], t
            assert t.at == now and t.rule.startswith(t.name)
        for before, after in zip(book.layers, step.book.layers, strict=True):
            assert after.phase in set(LayerPhase)
            assert 0.0 <= after.strength <= 1.0 and 0.0 <= after.thickness <= 1.0
            assert after.layer is L2 or after.thickness == 0.0
            assert after.phase in HOLDING or after.thickness == 0.0 or after.phase is LayerPhase.UNWINDING
            assert after.episode == before.episode + (1 if after.layer in activations else 0)
        # reverse order: a hedged layer always has its lower layers holding (layer 2 needs layer 1; 3 stands alone)
        if step.book.get(L2).phase in HEDGED | {LayerPhase.ARMED}:
            assert step.book.get(L1).phase in HOLDING
        book = step.book

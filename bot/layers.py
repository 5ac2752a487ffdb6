"""The layer state machine (spec section 5): votes + quorum rules move each layer between phases.

Phases and transitions (each guarded by the rules named in LayerSettings; ALL listed rules must pass):

    IDLE --arm--> ARMED --activate--> ACTIVE --harvest--> HARVESTING
    ARMED --disarm--> IDLE            ACTIVE/HARVESTING --unwind--> UNWINDING --reset (flat)--> IDLE
    layer 2 only, within ACTIVE/HARVESTING: thicken / thin (phase unchanged, thickness changes)

Guards, in addition to the quorum rules:
- no `arm` while the layer's `disarm` rules pass as well: contradictory evidence (say an FOMC day with a calm
  curve) would otherwise arm and disarm on alternate steps and flip the regime label;
- cooldown: no `arm` before `cooldown_until` (set by `reset` to now + cooldown_hours), so a layer cannot flap;
- min_armed_hours before `activate` (0 = arm and activate in the same step: a one-day spike must not wait a day);
- arm_timeout_hours: an ARMED layer that did not activate disarms;
- min_hold_hours: time spent in the current ACTIVE or HARVESTING phase before `unwind` may start;
- reverse order: a layer starts unwinding only when every higher layer holds no hedge (IDLE or ARMED), so layer 3
  closes before 2 before 1; a passed unwind quorum that has to wait raises the alert `unwind_waiting`;
- layer 2 arms and activates only while layer 1 is ACTIVE or HARVESTING, and an ARMED layer 2 disarms when that
  stops; layer 3 arms and activates only while `vix_level_tail` votes FOR (VIX above the tail level): this gate is
  code, not configuration, so no rule set can open a tail hedge below it;
- `reset` happens only when the caller reports the layer flat (`flat[layer]` True; a missing key means not flat).

A rule with fewer than M signals having data is `insufficient`: its transition does not happen and an Alert
`quorum_data_insufficient` says which layer, transition and rule. Other transitions are still evaluated, so a
missing calm-confirmation feed never blocks a protective activation.

Values sizing reads:
- `strength`: share of the activation rules' signals that confirm now (recomputed every step while ARMED, ACTIVE
  or HARVESTING; 0 when IDLE or UNWINDING).
- `thickness` (layer 2 only, steps of `thickness_step`):
  ACTIVE: share of layer 2's target held out the curve (F2). It follows the `ts_macd_building` histogram h as
  floor(min(h / thickness_full_histogram, 1) / step) * step, at least one step, and only ratchets up (thicken): rolling
  back and forth would pay the spread twice.
  HARVESTING: share of layer 2's long futures overwritten with covered calls. It follows the `ts_macd_stabilizing`
  retrace r (share the histogram fell below its peak) as floor(min(r, 1) * max_overwrite / step) * step, at least one
  step at harvest; it thickens as the retrace deepens and thins (to the ceiling of the same mapping: a one-step
  deadband) when stress builds again (`thin` rules).
- `episode`: +1 on each activation, so intent ids of a new episode never collide with an old one.
- `near_kind` (layer 1): cleared on activation; the planner records the hedge instrument the episode uses.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.domain.layers import Alert, LayerBook, LayerId, LayerPhase, LayerState, Transition
from bot.domain.votes import SignalVote, Vote
from bot.settings.layers import LayerRules, LayerSettings
from bot.signals.quorum import QuorumResult, evaluate_quorum, index_votes

HEDGED = frozenset({LayerPhase.ACTIVE, LayerPhase.HARVESTING, LayerPhase.UNWINDING})
HOLDING = frozenset({LayerPhase.ACTIVE, LayerPhase.HARVESTING})
TAIL_GATE = "vix_level_tail"
BUILDING = "ts_macd_building"
STABILIZING = "ts_macd_stabilizing"


@dataclass(frozen=True, slots=True)
class LayerStep:
    book: LayerBook
    transitions: tuple[Transition, ...]
    alerts: tuple[Alert, ...]


@dataclass(frozen=True, slots=True)
class _Check:
    """The outcome of the rules guarding one transition."""

    passed: bool
    results: tuple[QuorumResult, ...]

    @property
    def insufficient(self) -> tuple[QuorumResult, ...]:
        return tuple(r for r in self.results if r.insufficient)

    def text(self, extra: str = "") -> str:
        parts = [r.text for r in self.results]
        if extra:
            parts.append(extra)
        return "; ".join(parts)

    def votes(self) -> tuple[SignalVote, ...]:
        seen: dict[str, SignalVote] = {}
        for r in self.results:
            for v in r.votes:
                seen.setdefault(v.name, v)
        return tuple(seen.values())


class _Ctx:
    """What one step needs: votes by name, rules by name, settings, time; collects transitions and alerts."""

    def __init__(self, votes: tuple[SignalVote, ...], now: dt.datetime, settings: LayerSettings) -> None:
        self.votes = index_votes(votes)
        self.now = now
        self.settings = settings
        self.rules = settings.quorum_rules
        self.transitions: list[Transition] = []
        self.alerts: list[Alert] = []

    def check(self, layer: LayerId, transition: str, names: list[str], alert: bool = True) -> _Check:
        """All named rules must pass; an empty list never passes. Insufficient rules raise an alert (if `alert`)."""
        if not names:
            return _Check(False, ())
        results = tuple(evaluate_quorum(self.rules[n], self.votes) for n in names)
        check = _Check(all(r.passed for r in results), results)
        for r in check.insufficient if alert else ():
            self.alerts.append(
                Alert(
                    code="quorum_data_insufficient",
                    message=f"layer {int(layer)} {transition}: {r.text}; no change",
                    layer=layer,
                )
            )
        return check

    def record(
        self, layer: LayerId, name: str, old: LayerState, new: LayerState, rule: str, votes: tuple[SignalVote, ...]
    ) -> None:
        self.transitions.append(Transition(layer, name, old.phase, new.phase, self.now, f"{name}: {rule}", votes))

    def vote(self, name: str) -> SignalVote | None:
        return self.votes.get(name)


def _hours_since(state: LayerState, now: dt.datetime) -> float:
    if state.since is None:
        return math.inf
    return (now - state.since).total_seconds() / 3600.0


def _quantize(x: float, step: float, up: bool = False) -> float:
    """x clipped to [0, 1] on the grid of `step`: rounded down, or up with `up` (thin uses up: a one-step deadband)."""
    x = min(max(x, 0.0), 1.0)
    k = math.ceil(x / step - 1e-9) if up else math.floor(x / step + 1e-9)
    return min(1.0, k * step)


def _active_target(ctx: _Ctx) -> float | None:
    v = ctx.vote(BUILDING)
    if v is None or v.vote is Vote.ABSTAIN or v.value is None or not math.isfinite(v.value):
        return None
    s = ctx.settings
    return _quantize(v.value / s.thickness_full_histogram, s.thickness_step)


def _overwrite_target(ctx: _Ctx, up: bool = False) -> float | None:
    v = ctx.vote(STABILIZING)
    if v is None or v.vote is Vote.ABSTAIN or v.value is None or not math.isfinite(v.value):
        return None
    s = ctx.settings
    return _quantize(min(max(v.value, 0.0), 1.0) * s.max_overwrite, s.thickness_step, up)


def _strength(ctx: _Ctx, rules: LayerRules, previous: float) -> float:
    """Share of the activation rules' signals confirming now; unchanged when those rules lack data (an outage must
    not resize the hedge)."""
    results = [evaluate_quorum(ctx.rules[n], ctx.votes) for n in rules.activate]
    total = sum(r.n for r in results)
    if not total or any(r.insufficient for r in results):
        return previous
    return sum(r.for_count for r in results) / total


def _with_strength(state: LayerState, strength: float) -> LayerState:
    """`replace(state, strength=strength)` without `replace`'s generic field walk: every step of an armed or
    hedged layer updates its strength (a test checks it against `replace` field by field)."""
    return LayerState(
        state.layer,
        state.phase,
        state.since,
        state.cooldown_until,
        strength,
        state.thickness,
        state.episode,
        state.near_kind,
    )


def _rules_for(settings: LayerSettings, layer: LayerId) -> LayerRules:
    return (settings.layer1, settings.layer2, settings.layer3)[layer - 1]


def _gate(ctx: _Ctx, book: LayerBook, layer: LayerId) -> tuple[bool, str]:
    """Spec-fixed preconditions for arming and activating (not configurable)."""
    if layer is LayerId.MID_CURVE:
        l1 = book.get(LayerId.NEAR_TERM).phase
        ok = l1 in HOLDING
        # a StrEnum formats as its value: `{l1}` is `{l1.value}` without the enum's Python-level property
        return ok, f"gate: layer 1 is {l1} ({'ok' if ok else 'needs active or harvesting'})"
    if layer is LayerId.TAIL:
        v = ctx.vote(TAIL_GATE)
        ok = v is not None and v.vote is Vote.FOR
        shown = v.detail if v is not None else "no vote"
        return ok, f"gate: {TAIL_GATE} {v.vote if v else 'missing'} ({shown})"
    return True, ""


def _has_data(vote: SignalVote | None) -> bool:
    return vote is not None and vote.vote is not Vote.ABSTAIN


def _no_hedge_above(book: LayerBook, layer: LayerId) -> tuple[bool, str]:
    busy = [s for s in book.layers if s.layer > layer and s.phase in HEDGED]
    if not busy:
        return True, ""
    return False, ", ".join(f"layer {int(s.layer)} {s.phase.value}" for s in busy)


def _step_one(book: LayerBook, layer: LayerId, ctx: _Ctx, flat: Mapping[LayerId, bool]) -> LayerState:
    s = ctx.settings
    rules = _rules_for(s, layer)
    state = book.get(layer)
    now = ctx.now

    if state.phase is LayerPhase.UNWINDING:
        if flat.get(layer, False):
            new = LayerState(
                layer,
                LayerPhase.IDLE,
                since=now,
                cooldown_until=now + dt.timedelta(hours=rules.cooldown_hours),
                episode=state.episode,
            )
            ctx.record(
                layer, "reset", state, new, f"layer {int(layer)} reported flat; cooldown {rules.cooldown_hours:g} h", ()
            )
            return new
        return state

    if state.phase is LayerPhase.IDLE:
        if state.cooldown_until is not None and now < state.cooldown_until:
            return state
        gate_ok, gate_text = _gate(ctx, book, layer)
        if not gate_ok:
            if layer is LayerId.TAIL and not _has_data(ctx.vote(TAIL_GATE)):
                ctx.alerts.append(
                    Alert("quorum_data_insufficient", f"layer 3 arm: {gate_text}: the tail gate has no data", layer)
                )
            return state
        check = ctx.check(layer, "arm", rules.arm)
        if not check.passed:
            return state
        calm = ctx.check(layer, "arm", rules.disarm, alert=False)
        if calm.passed:
            return state  # the disarm quorum holds too: arming now would only be undone on the next step
        new = replace(state, phase=LayerPhase.ARMED, since=now, strength=_strength(ctx, rules, 0.0), thickness=0.0)
        ctx.record(layer, "arm", state, new, check.text(gate_text), check.votes())
        if rules.min_armed_hours > 0:
            return new
        state = new  # fall through: arm and activate in one step when allowed

    if state.phase is LayerPhase.ARMED:
        gate_ok, gate_text = _gate(ctx, book, layer)
        if layer is LayerId.MID_CURVE and not gate_ok:
            new = replace(state, phase=LayerPhase.IDLE, since=now, strength=0.0, thickness=0.0)
            ctx.record(layer, "disarm", state, new, gate_text, ())
            return new
        if gate_ok and _hours_since(state, now) >= rules.min_armed_hours:
            check = ctx.check(layer, "activate", rules.activate)
            if check.passed:
                thickness = 0.0
                if layer is LayerId.MID_CURVE:
                    thickness = max(s.thickness_step, _active_target(ctx) or 0.0)
                new = replace(
                    state,
                    phase=LayerPhase.ACTIVE,
                    since=now,
                    strength=_strength(ctx, rules, state.strength),
                    thickness=thickness,
                    episode=state.episode + 1,
                    near_kind="",  # a new episode chooses its hedge instrument afresh (bot/planner.py)
                )
                ctx.record(layer, "activate", state, new, check.text(gate_text), check.votes())
                return new
        check = ctx.check(layer, "disarm", rules.disarm)
        if check.passed:
            new = replace(state, phase=LayerPhase.IDLE, since=now, strength=0.0, thickness=0.0)
            ctx.record(layer, "disarm", state, new, check.text(), check.votes())
            return new
        if _hours_since(state, now) >= rules.arm_timeout_hours:
            new = replace(state, phase=LayerPhase.IDLE, since=now, strength=0.0, thickness=0.0)
            ctx.record(layer, "disarm", state, new, f"armed {rules.arm_timeout_hours:g} h without activation", ())
            return new
        return _with_strength(state, _strength(ctx, rules, state.strength))

    # ACTIVE or HARVESTING
    state = _with_strength(state, _strength(ctx, rules, state.strength))
    if _hours_since(state, now) >= rules.min_hold_hours:
        check = ctx.check(layer, "unwind", rules.unwind)
        if check.passed:
            free, busy = _no_hedge_above(book, layer)
            if free:
                new = replace(state, phase=LayerPhase.UNWINDING, since=now, strength=0.0)
                ctx.record(layer, "unwind", state, new, check.text(), check.votes())
                return new
            ctx.alerts.append(
                Alert("unwind_waiting", f"layer {int(layer)} unwind confirmed but waits for {busy}", layer)
            )
    if state.phase is LayerPhase.ACTIVE:
        check = ctx.check(layer, "harvest", rules.harvest)
        if check.passed:
            thickness = state.thickness
            if layer is LayerId.MID_CURVE:
                thickness = max(s.thickness_step, _overwrite_target(ctx) or 0.0)
            new = replace(state, phase=LayerPhase.HARVESTING, since=now, thickness=thickness)
            ctx.record(layer, "harvest", state, new, check.text(), check.votes())
            return new
    if layer is LayerId.MID_CURVE:
        return _thickness_step(state, rules, ctx)
    return state


def _thickness_step(state: LayerState, rules: LayerRules, ctx: _Ctx) -> LayerState:
    layer = state.layer
    if state.phase is LayerPhase.ACTIVE:
        target = _active_target(ctx)
        if target is None or target <= state.thickness:
            return state  # ACTIVE only ratchets up
        check = ctx.check(layer, "thicken", rules.thicken)
        if not check.passed:
            return state
        new = replace(state, thickness=target)
        ctx.record(
            layer, "thicken", state, new, check.text(f"thickness {state.thickness:g} -> {target:g}"), check.votes()
        )
        return new
    # HARVESTING: thicken on the floor of the retrace, thin on its ceiling, so a retrace hovering at a grid line
    # cannot buy back and re-sell the same calls on alternate cycles
    up, down = _overwrite_target(ctx), _overwrite_target(ctx, up=True)
    if up is not None and up > state.thickness:
        name, names, target = "thicken", rules.thicken, up
    elif down is not None and down < state.thickness:
        name, names, target = "thin", rules.thin, down
    else:
        return state
    check = ctx.check(layer, name, names)
    if not check.passed:
        return state
    new = replace(state, thickness=target)
    ctx.record(layer, name, state, new, check.text(f"overwrite {state.thickness:g} -> {target:g}"), check.votes())
    return new


def step_layers(
    book: LayerBook,
    votes: tuple[SignalVote, ...],
    now: dt.datetime,
    settings: LayerSettings,
    flat: Mapping[LayerId, bool],
) -> LayerStep:
    """One step of all three layers, lowest first, each seeing the layers below as already updated."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("step_layers: `now` must be timezone-aware (phase times are compared across restarts)")
    ctx = _Ctx(votes, now, settings)
    current = book
    for layer in (LayerId.NEAR_TERM, LayerId.MID_CURVE, LayerId.TAIL):
        new_state = _step_one(current, layer, ctx, flat)
        if new_state is current.layers[int(layer) - 1]:
            continue  # unchanged (the usual step of an idle layer): the book stays as it is
        layers = list(current.layers)
        layers[int(layer) - 1] = new_state
        current = LayerBook(layers=(layers[0], layers[1], layers[2]))
    return LayerStep(book=current, transitions=tuple(ctx.transitions), alerts=tuple(ctx.alerts))

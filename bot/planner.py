"""Planner: layer targets vs the current hedge book -> intents (spec section 6).

The broker reports net positions only, so existing hedges are attributed to layers deterministically:
1. held quantity of an instrument goes first to the sized layers that target that instrument with the same sign,
   lowest layer first, each up to its target; any excess goes to the last of those layers, or, when only
   opposite-sign targets exist, to the last layer targeting it (a layer that targets an instrument owns it: a net
   position cannot be long for one layer and short for another);
2. an instrument no sized layer targets goes to its role layer: futures expiring no later than layer 1's contract
   (F1, or F2 inside the roll window; from the curve, not from what is held, so the role of a position never
   changes because another one was closed) -> layer 1, later futures -> layer 2; long VIX options -> layer 3;
   short VIX calls -> layer 3 while it holds call spreads at that expiry (hedged phase with a call-spread tail),
   else layer 2; VIXY -> layer 3 when the tail uses VIXY and the near hedge uses futures, else layer 1.
Final target per layer: ACTIVE/HARVESTING -> its sized target (or, if sizing abstained, what it holds); UNWINDING
-> nothing; IDLE/ARMED -> what it holds (never trade a position the layer did not open; it is reported).
An instrument whose summed target is within `rebalance_band_pct` of the held position (same sign) is not traded
(no churn of single contracts as E_VIX drifts).

Intents are the per-instrument difference between the summed targets and the held positions, so applying a
plan and planning again gives no intents. Ids are deterministic: layer, episode, action and a hash of
(instrument, held, target), so the same decision re-planned after a restart yields the same orderRef.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, PriceGuidance, Side
from bot.domain.layers import Alert, LayerBook, LayerId, LayerPhase
from bot.domain.market import HedgePosition, MarketSnapshot, finite
from bot.domain.votes import SignalVote
from bot.settings.sizing import SizingSettings
from bot.sizing import HOLDING, SizingResult, near_expiry

MAX_ID_LEN = 40
FUTURES = (HedgeKind.VX, HedgeKind.VXM)
Book = dict[HedgeInstrument, int]


def held_positions(hedges: Iterable[HedgePosition]) -> Book:
    return {h.instrument: h.quantity for h in hedges if h.quantity != 0}


SpreadRule = Callable[[HedgeInstrument], bool]


def role_layer(
    inst: HedgeInstrument,
    qty: int,
    held: Mapping[HedgeInstrument, int],
    s: SizingSettings,
    near: dt.date | None,
    tail_short_call: SpreadRule | None = None,
) -> LayerId:
    """The layer an instrument belongs to when no layer targets it (see the module docstring).

    Short calls: `tail_short_call` decides when given (the planner's rule, which must not depend on what is held,
    or a plan could re-attribute a position after its own fills); otherwise a short call spread against a lower
    held long call of the same expiry is layer 3's (the holdings view `flat_layers` uses).
    """
    if inst.kind in FUTURES:
        if near is None or inst.expiry is None or inst.expiry <= near:
            return LayerId.NEAR_TERM
        return LayerId.MID_CURVE
    if inst.kind is HedgeKind.VIX_OPTION:
        if qty > 0:
            return LayerId.TAIL
        if tail_short_call is not None:
            return LayerId.TAIL if tail_short_call(inst) else LayerId.MID_CURVE
        spread = any(
            i.kind is HedgeKind.VIX_OPTION
            and i.right == inst.right == "C"
            and i.expiry == inst.expiry
            and q > 0
            and (i.strike or 0.0) < (inst.strike or 0.0)
            for i, q in held.items()
        )
        return LayerId.TAIL if spread else LayerId.MID_CURVE
    if s.tail_instrument == "vixy" and s.near_instrument == "futures":
        return LayerId.TAIL
    return LayerId.NEAR_TERM


def attribute(
    held: Mapping[HedgeInstrument, int],
    sized: Mapping[LayerId, Book],
    s: SizingSettings,
    near: dt.date | None,
    tail_short_call: SpreadRule | None = None,
) -> dict[LayerId, Book]:
    """Split each held position across layers (rule in the module docstring). Quantities are preserved."""
    out: dict[LayerId, Book] = {lid: {} for lid in LayerId}
    for inst in sorted(held, key=lambda i: i.key):
        qty = held[inst]
        sign = 1 if qty > 0 else -1
        same_sign = [lid for lid in LayerId if sized.get(lid, {}).get(inst, 0) * sign > 0]
        any_sign = [lid for lid in LayerId if sized.get(lid, {}).get(inst, 0) != 0]
        rest = abs(qty)
        for lid in same_sign:
            take = min(rest, abs(sized[lid][inst]))
            if take:
                out[lid][inst] = sign * take
            rest -= take
        if rest:
            owners = same_sign or any_sign
            lid = owners[-1] if owners else role_layer(inst, qty, held, s, near, tail_short_call)
            out[lid][inst] = out[lid].get(inst, 0) + sign * rest
    return out


def flat_layers(snapshot: MarketSnapshot, s: SizingSettings) -> dict[LayerId, bool]:
    """Which layers hold nothing, by role attribution alone (what the layer machine needs to reset UNWINDING)."""
    by_layer = attribute(held_positions(snapshot.hedges), {}, s, near_expiry(snapshot, s))
    return {lid: not by_layer[lid] for lid in LayerId}


@dataclass(frozen=True, slots=True)
class Plan:
    intents: tuple[Intent, ...]
    targets: dict[LayerId, Book]  # final per-layer targets
    attribution: dict[LayerId, Book]  # held positions per layer
    alerts: tuple[Alert, ...] = ()

    def target_book(self) -> Book:
        total: Book = {}
        for book in self.targets.values():
            for inst, q in book.items():
                total[inst] = total.get(inst, 0) + q
        return {k: v for k, v in total.items() if v != 0}

    def to_dict(self) -> dict[str, object]:
        def keyed(book: Book) -> dict[str, int]:
            return {i.key: q for i, q in sorted(book.items(), key=lambda kv: kv[0].key)}

        return {
            "intents": [intent_to_dict(i) for i in self.intents],
            "targets": {str(int(k)): keyed(v) for k, v in sorted(self.targets.items())},
            "attribution": {str(int(k)): keyed(v) for k, v in sorted(self.attribution.items())},
        }


def intent_to_dict(i: Intent) -> dict[str, object]:
    return {
        "id": i.id,
        "layer": int(i.layer),
        "instrument": i.instrument.key,
        "side": i.side.value,
        "quantity": i.quantity,
        "reference": i.price.reference if i.price else None,
        "limit": i.price.limit if i.price else None,
        "reason": i.reason,
        "group": i.group,
        "opens_position": i.opens_position,
        "votes": [v.name + ":" + v.vote.value for v in i.votes],
    }


def intent_id(layer: LayerId, episode: int, action: str, inst: HedgeInstrument, held: int, target: int) -> str:
    """Deterministic id for IB's orderRef (<= 40 chars of [A-Za-z0-9.-])."""
    digest = hashlib.sha1(f"{int(layer)}|{episode}|{action}|{inst.key}|{held}|{target}".encode()).hexdigest()[:12]
    ident = f"alvh-L{int(layer)}e{episode}-{action}-{digest}"
    if len(ident) > MAX_ID_LEN:  # only with an absurd episode count; keep the hash, which carries the identity
        ident = f"alvh-L{int(layer)}-{action}-{digest}"
    return ident


def layer_targets(
    layers: LayerBook, sizing: SizingResult, attributed: Mapping[LayerId, Book], s: SizingSettings
) -> tuple[dict[LayerId, Book], list[Alert]]:
    """Final per-layer targets by phase (module docstring)."""
    out: dict[LayerId, Book] = {}
    alerts: list[Alert] = []
    for lid in LayerId:
        state = layers.get(lid)
        held = dict(attributed.get(lid, {}))
        if state.phase in HOLDING and lid in sizing.targets:
            out[lid] = sizing.targets[lid].as_map()
        elif state.phase is LayerPhase.UNWINDING:
            out[lid] = {}
        else:
            out[lid] = held
            if held and state.phase in (LayerPhase.IDLE, LayerPhase.ARMED):
                keys = ", ".join(f"{i.key} {q:+d}" for i, q in sorted(held.items(), key=lambda kv: kv[0].key))
                alerts.append(
                    Alert(
                        "unmanaged_hedge", f"layer {int(lid)} is {state.phase.value} but holds {keys}; left as is", lid
                    )
                )
    return out, alerts


def plan(
    layers: LayerBook,
    sizing: SizingResult,
    snapshot: MarketSnapshot,
    votes: tuple[SignalVote, ...],
    s: SizingSettings,
) -> Plan:
    """Intents that move the held hedge book to the layers' targets.

    Order: closes before opens, and buys before sells within each, so that a short call is never listed before
    the long future or long call covering it, and is bought back before its cover is sold.
    """
    held = held_positions(snapshot.hedges)
    sized = {lid: t.as_map() for lid, t in sizing.targets.items() if layers.get(lid).phase in HOLDING}
    attributed = attribute(held, sized, s, near_expiry(snapshot, s), _tail_short_call_rule(layers, sized, s))
    targets, alerts = layer_targets(layers, sizing, attributed, s)
    total: Book = {}
    for book in targets.values():
        for inst, q in book.items():
            total[inst] = total.get(inst, 0) + q
    intents: list[Intent] = []
    for inst in sorted(set(total) | set(held), key=lambda i: i.key):
        h, t = held.get(inst, 0), total.get(inst, 0)
        if h == t or (h * t > 0 and abs(t - h) <= s.rebalance_band_pct / 100.0 * abs(t)):
            continue
        lid = _responsible(inst, t - h, targets, attributed)
        state = layers.get(lid)
        legs = [(h, 0), (0, t)] if h * t < 0 else [(h, t)]  # crossing zero: close, then open the other side
        for frm, to in legs:
            intent = _intent(lid, state.episode, state.phase, inst, frm, to, snapshot, votes, s, sizing)
            if isinstance(intent, Alert):
                alerts.append(intent)
            else:
                intents.append(intent)
    intents = _group_rolls(intents)
    intents.sort(key=lambda i: (i.opens_position, i.side is not Side.BUY, int(i.layer), i.instrument.key))
    return Plan(tuple(intents), targets, attributed, tuple(alerts))


def _tail_short_call_rule(layers: LayerBook, sized: Mapping[LayerId, Book], s: SizingSettings) -> SpreadRule:
    """Untargeted short VIX calls belong to layer 3 while it holds call spreads (hedged phase, call-spread tail)
    at that expiry: the expiries of its targeted long calls, or any expiry when it is unwinding or abstained."""
    tail = layers.get(LayerId.TAIL)
    if s.tail_instrument != "call_spread" or tail.phase not in (*HOLDING, LayerPhase.UNWINDING):
        return lambda inst: False
    if LayerId.TAIL not in sized:
        return lambda inst: True
    expiries = {i.expiry for i, q in sized[LayerId.TAIL].items() if i.kind is HedgeKind.VIX_OPTION and q > 0}
    return lambda inst: inst.expiry in expiries


def _responsible(
    inst: HedgeInstrument, delta: int, targets: Mapping[LayerId, Book], attributed: Mapping[LayerId, Book]
) -> LayerId:
    best, best_size = LayerId.NEAR_TERM, 0
    for lid in LayerId:
        change = targets.get(lid, {}).get(inst, 0) - attributed.get(lid, {}).get(inst, 0)
        if change * delta > 0 and abs(change) > best_size:
            best, best_size = lid, abs(change)
    return best


def _intent(
    lid: LayerId,
    episode: int,
    phase: LayerPhase,
    inst: HedgeInstrument,
    held: int,
    target: int,
    snapshot: MarketSnapshot,
    votes: tuple[SignalVote, ...],
    s: SizingSettings,
    sizing: SizingResult,
) -> Intent | Alert:
    delta = target - held
    reduces = abs(target) < abs(held)
    action = ("close" if target == 0 else "cut") if reduces else ("open" if held == 0 else "add")
    side = Side.BUY if delta > 0 else Side.SELL
    quote = snapshot.quote_for(inst)
    mid = quote.mid if quote is not None and quote.is_fresh(snapshot.now, s.hedge_quote_max_age_s) else None
    if mid is None or quote is None:
        return Alert(
            "no_quote", f"layer {int(lid)} {action} {inst.key} {held:+d} -> {target:+d}: no fresh two-sided quote", lid
        )
    collar = s.limit_beyond_far_pct / 100.0 * mid
    limit = quote.ask + collar if side is Side.BUY else quote.bid - collar
    if not (finite(limit) and limit > 0):
        return Alert("no_price", f"layer {int(lid)} {action} {inst.key}: limit {limit} is not a positive price", lid)
    target_note = sizing.targets[lid].notes if lid in sizing.targets else ()
    reason = f"layer {int(lid)} {phase.value} {action} {inst.key}: {held:+d} -> {target:+d}"
    if target_note:
        reason += " (" + "; ".join(target_note) + ")"
    return Intent(
        id=intent_id(lid, episode, action, inst, held, target),
        layer=lid,
        instrument=inst,
        side=side,
        quantity=abs(delta),
        price=PriceGuidance(reference=mid, limit=limit),
        reason=reason,
        votes=votes,
        opens_position=not reduces,
    )


def _group_rolls(intents: list[Intent]) -> list[Intent]:
    """A futures close and a futures open of one layer at different expiries form a roll: they share `group`."""
    out = list(intents)
    for lid in LayerId:
        closes = [i for i in out if i.layer == lid and i.instrument.kind in FUTURES and not i.opens_position]
        opens = [i for i in out if i.layer == lid and i.instrument.kind in FUTURES and i.opens_position]
        for c in closes:
            partner = next((o for o in opens if o.instrument.expiry != c.instrument.expiry and o.group is None), None)
            if partner is None or c.instrument.expiry is None or partner.instrument.expiry is None:
                continue
            group = f"roll-{c.id[-12:]}-{partner.id[-12:]}"
            reason = f"roll {c.instrument.expiry} -> {partner.instrument.expiry}: "
            for old in (c, partner):
                idx = out.index(old)
                out[idx] = _with(old, group, reason + old.reason)
            opens = [o for o in opens if o is not partner]
    return out


def _with(i: Intent, group: str, reason: str) -> Intent:
    return Intent(i.id, i.layer, i.instrument, i.side, i.quantity, i.price, reason, i.votes, group, i.opens_position)


def apply_intents(hedges: Iterable[HedgePosition], intents: Iterable[Intent]) -> tuple[HedgePosition, ...]:
    """The hedge book after every intent filled in full (for tests, dry runs and the backtest)."""
    held = held_positions(hedges)
    for i in intents:
        held[i.instrument] = held.get(i.instrument, 0) + (i.quantity if i.side is Side.BUY else -i.quantity)
    return tuple(HedgePosition(inst, q) for inst, q in sorted(held.items(), key=lambda kv: kv[0].key) if q != 0)


def hedge_break_evens(attributed: Mapping[LayerId, Book], hedges: Iterable[HedgePosition]) -> dict[str, str]:
    """Break-even per layer and expiry at the hedge's expiry: futures at their entry price (less covered-call
    premium per covered point), VIXY at its average cost, call spreads at the lower strike plus the debit."""
    cost = {h.instrument: h.avg_cost for h in hedges}
    out: dict[str, str] = {}
    for lid, book in sorted(attributed.items()):
        by_exp: dict[dt.date | None, list[tuple[HedgeInstrument, int]]] = {}
        for inst, q in book.items():
            by_exp.setdefault(inst.expiry, []).append((inst, q))
        for exp, items in sorted(by_exp.items(), key=lambda kv: kv[0] or dt.date.min):
            text = _break_even(items, cost)
            if text:
                out[f"L{int(lid)}:{exp.isoformat() if exp else 'VIXY'}"] = text
    return out


def _break_even(items: list[tuple[HedgeInstrument, int]], cost: Mapping[HedgeInstrument, float]) -> str | None:
    fut_pts = sum(q * (1000 if i.kind is HedgeKind.VX else 100) for i, q in items if i.kind in FUTURES)
    fut_cost = sum(q * cost.get(i, math.nan) for i, q in items if i.kind in FUTURES)
    calls = [(i, q) for i, q in items if i.kind is HedgeKind.VIX_OPTION and i.right == "C"]
    premium = -sum(q * cost.get(i, math.nan) for i, q in calls)  # + received
    if fut_pts:
        be = (fut_cost - premium) / fut_pts
        return f"future at {be:.2f}" if math.isfinite(be) else "unknown (no average cost)"
    longs = [(i, q) for i, q in calls if q > 0]
    if longs:
        low = min(i.strike or 0.0 for i, _ in longs)
        n = sum(q for _, q in longs)
        be = low - premium / (100.0 * n)
        return f"VIX settlement at {be:.2f}" if math.isfinite(be) else "unknown (no average cost)"
    for i, q in items:
        if i.kind is HedgeKind.VIXY and q:
            c = cost.get(i, math.nan)
            return f"VIXY at {c:.2f}" if math.isfinite(c) else "unknown (no average cost)"
    return None

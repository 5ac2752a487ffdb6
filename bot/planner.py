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
Layer 1 keeps one kind of hedge per episode (`LayerState.near_kind`, cleared on activation). Sizing picks the
instrument afresh every cycle from thresholds that a live market straddles (VIXY when the near future's quote is
stale for a moment, VX as soon as the need reaches one VX), which would close one hedge and open the other on
alternate cycles, and re-ask a person in approval mode. So the planner re-expresses layer 1's sized target:
- the first sized target of the episode (or, after a restart, what the layer holds) fixes the kind;
- VIXY stays VIXY, re-sized from the same $/VIX pt need; futures stay futures. When the kept kind has no usable
  quote now, the layer keeps what it holds (alert `near_kind_kept`) instead of switching: a switch is a round trip
  caused by a quote gap, not by the hedge;
- VX and VXM of one expiry are one exposure at 10:1: the layer keeps the VX it holds (fewer only when the target
  is below them), trades only the difference, and puts an increase into whole VX only when the kind is VX or the
  need reached `vx_switch_at_vx` VX (a need hovering near 1 VX stays in VXM);
- a re-expressed target that would break a hard cap is not used: sizing's own (capped) split is.
Layer 1's share of a held instrument is the net position less the other layers' sized targets on it. When layer 1
keeps futures while sizing fell back to VIXY, layer 2 (whose near part took the same fallback) keeps what it holds
too, as both do when sizing has no near quote at all.

Final target per layer: ACTIVE/HARVESTING -> its sized target (or, if sizing abstained, what it holds); UNWINDING
-> nothing; IDLE/ARMED -> what it holds (never trade a position the layer did not open; it is reported).
An instrument whose summed target is within `rebalance_band_pct` of the held position (same sign) is not traded
(no churn of single contracts as E_VIX drifts).

Intents are the per-instrument difference between the summed targets and the held positions, so applying a
plan and planning again gives no intents. Ids are deterministic: layer, episode, action and a hash of
(instrument, held, target), so the same decision re-planned after a restart yields the same orderRef.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, PriceGuidance, Side
from bot.domain.layers import LAYER_IDS, Alert, LayerBook, LayerId, LayerPhase
from bot.domain.market import HedgePosition, MarketSnapshot, finite
from bot.domain.votes import SignalVote
from bot.settings.sizing import SizingSettings
from bot.sizing import CALLS_PER_VX, HOLDING, LayerTarget, SizingResult, near_expiry, vixy_units

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
    out: dict[LayerId, Book] = {lid: {} for lid in LAYER_IDS}
    for inst in sorted(held, key=lambda i: i.key):
        qty = held[inst]
        sign = 1 if qty > 0 else -1
        same_sign = [lid for lid in LAYER_IDS if sized.get(lid, {}).get(inst, 0) * sign > 0]
        any_sign = [lid for lid in LAYER_IDS if sized.get(lid, {}).get(inst, 0) != 0]
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
    held = held_positions(snapshot.hedges)
    if not held:  # (the usual case: nothing to attribute, so no need for the near contract)
        return dict.fromkeys(LAYER_IDS, True)
    by_layer = attribute(held, {}, s, near_expiry(snapshot, s))
    return {lid: not by_layer[lid] for lid in LAYER_IDS}


@dataclass(frozen=True, slots=True)
class Plan:
    intents: tuple[Intent, ...]
    targets: dict[LayerId, Book]  # final per-layer targets
    attribution: dict[LayerId, Book]  # held positions per layer
    alerts: tuple[Alert, ...] = ()
    layers: LayerBook = field(default_factory=LayerBook)  # the layers planned for, with layer 1's near_kind set

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
    for lid in LAYER_IDS:
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
    layers, sizing, kind_alerts = keep_near_kind(layers, sizing, snapshot, held, s)
    sized = {lid: t.as_map() for lid, t in sizing.targets.items() if layers.get(lid).phase in HOLDING}
    near = near_expiry(snapshot, s) if held else None  # only attribution of held positions reads it
    attributed = attribute(held, sized, s, near, _tail_short_call_rule(layers, sized, s))
    targets, alerts = layer_targets(layers, sizing, attributed, s)
    alerts = kind_alerts + alerts
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
    return Plan(tuple(intents), targets, attributed, tuple(alerts), layers)


NEAR_KINDS = (HedgeKind.VIXY, HedgeKind.VX, HedgeKind.VXM)


def keep_near_kind(
    layers: LayerBook,
    sizing: SizingResult,
    snapshot: MarketSnapshot,
    held: Mapping[HedgeInstrument, int],
    s: SizingSettings,
) -> tuple[LayerBook, SizingResult, list[Alert]]:
    """Layer 1's sized target in the kind of hedge its episode uses (module docstring), and the layers with that
    kind recorded. A target the kept kind cannot price now is dropped, so the layer keeps what it holds; so is
    layer 2's when it took the VIXY fallback that layer 1 refused."""
    lid = LayerId.NEAR_TERM
    state, target = layers.get(lid), sizing.targets.get(lid)
    if state.phase not in HOLDING or target is None:
        return layers, sizing, []
    sized = target.as_map()
    others: Book = {}
    for other, t in sizing.targets.items():
        if other is not lid and layers.get(other).phase in HOLDING:
            for inst, q in t.as_map().items():
                others[inst] = others.get(inst, 0) + q
    mine = {i: q - others.get(i, 0) for i, q in held.items() if i.kind in NEAR_KINDS and q - others.get(i, 0) > 0}
    kind = state.near_kind or _kind_of(mine, prefer=_kind_of(sized))
    new, kind, why = _in_kind(kind, sized, mine, target.usd_per_pt, snapshot, sizing, s)
    vixy = HedgeInstrument(HedgeKind.VIXY)
    if new is not None and new.get(vixy, 0) > 0:  # the VIXY cap binds on shares: fewer shares, same kind
        room = max(s.max_vixy_shares - sum(abs(q) for i, q in others.items() if i.kind is HedgeKind.VIXY), 0)
        new = {i: (min(q, room) if i == vixy else q) for i, q in new.items() if i != vixy or room}
    if new is not None and _over_caps(new, others, s):  # VX/VXM: sizing's own split respects the caps
        new, kind = sized, _kind_of(sized) or kind
    alerts: list[Alert] = []
    targets = dict(sizing.targets)
    abstained = sizing.abstained
    if new is None:
        del targets[lid]
        abstained = (*abstained, lid)
        alerts.append(Alert("near_kind_kept", f"layer 1 keeps its {kind} hedge as it is: {why}", lid))
    elif new != sized:
        note = f"kept in {kind} this episode (sized as {_keys(sized) or 'nothing'})"
        targets[lid] = LayerTarget(
            lid, tuple(sorted(new.items(), key=lambda kv: kv[0].key)), (*target.notes, note), target.usd_per_pt
        )
    l2 = LayerId.MID_CURVE
    if new is None and kind != HedgeKind.VIXY and l2 in targets and layers.get(l2).phase in HOLDING:
        # the same VIXY fallback sized layer 2's near part: like sizing without a near quote, it keeps its hedge
        del targets[l2]
        abstained = (*abstained, l2)
        alerts.append(Alert("near_kind_kept", f"layer 2 keeps its hedge as it is: {why}", l2))
    if kind != state.near_kind:
        states = tuple(dataclasses.replace(x, near_kind=kind) if x.layer is lid else x for x in layers.layers)
        layers = LayerBook(states)  # type: ignore[arg-type]
    return layers, dataclasses.replace(sizing, targets=targets, abstained=abstained), alerts


def _kind_of(book: Mapping[HedgeInstrument, int], prefer: str = "") -> str:
    """The kind of a layer-1 book: VX when it has VX (VXM then only carries the remainder), else VXM, else VIXY;
    with both futures and VIXY long (left over from an earlier flip), `prefer`'s family when it is one of them."""
    kinds = {i.kind for i, q in book.items() if q > 0 and i.kind in NEAR_KINDS}
    futures = HedgeKind.VX.value if HedgeKind.VX in kinds else HedgeKind.VXM.value if HedgeKind.VXM in kinds else ""
    vixy = HedgeKind.VIXY.value if HedgeKind.VIXY in kinds else ""
    if futures and vixy:
        return vixy if prefer == vixy else futures
    return futures or vixy


def _in_kind(
    kind: str,
    sized: Book,
    mine: Mapping[HedgeInstrument, int],
    usd_per_pt: float | None,
    snapshot: MarketSnapshot,
    sizing: SizingResult,
    s: SizingSettings,
) -> tuple[Book | None, str, str]:
    """(target, kind, why): `sized` re-expressed in `kind`; target None = hold (why says the reason)."""
    sized_kind = _kind_of(sized)
    if not sized_kind or not kind:
        return sized, kind or sized_kind, ""
    if kind == HedgeKind.VIXY:
        if sized_kind == HedgeKind.VIXY:
            return sized, kind, ""
        shares = _vixy_shares(usd_per_pt, snapshot, sizing, s)
        if shares is None:
            return (
                None,
                kind,
                "no usable VIXY/VIX quote (or need) to re-size it, and switching to futures is a round trip",
            )
        return ({HedgeInstrument(HedgeKind.VIXY): shares} if shares else {}), kind, ""
    if sized_kind == HedgeKind.VIXY:
        return None, kind, "the near future has no usable quote, and switching to VIXY is a round trip"
    return _split_futures(kind, sized, mine, s)


def _split_futures(
    kind: str, sized: Book, mine: Mapping[HedgeInstrument, int], s: SizingSettings
) -> tuple[Book, str, str]:
    """Sized VX/VXM of one expiry as VXM-equivalents, split to keep the VX held and trade only the difference."""
    expiries = {i.expiry for i in sized}
    if len(expiries) != 1 or any(i.kind not in FUTURES or q < 0 for i, q in sized.items()):
        return sized, _kind_of(sized), ""
    (expiry,) = expiries
    vx, vxm = HedgeInstrument(HedgeKind.VX, expiry), HedgeInstrument(HedgeKind.VXM, expiry)
    total = CALLS_PER_VX * sized.get(vx, 0) + sized.get(vxm, 0)  # in VXM (10 VXM = 1 VX)
    held_vx = mine.get(vx, 0)
    growth = max(total - (CALLS_PER_VX * held_vx + mine.get(vxm, 0)), 0) // CALLS_PER_VX
    if kind == HedgeKind.VXM and total < CALLS_PER_VX * s.vx_switch_at_vx:
        growth = 0
    n_vx = min(held_vx + growth, total // CALLS_PER_VX) if s.allow_vx else 0
    n_vxm = total - CALLS_PER_VX * n_vx
    if n_vx and n_vxm and not s.vxm_remainder:
        return sized, _kind_of(sized), ""  # VX only once VX is used: sizing's split is the only one allowed
    out = {i: q for i, q in ((vx, n_vx), (vxm, n_vxm)) if q}
    return out, (HedgeKind.VX.value if n_vx else HedgeKind.VXM.value), ""


def _vixy_shares(
    usd_per_pt: float | None, snapshot: MarketSnapshot, sizing: SizingResult, s: SizingSettings
) -> int | None:
    """VIXY shares for layer 1's need, as sizing would size them; None when VIXY or VIX has no usable quote."""
    if usd_per_pt is None:
        return None
    q = snapshot.vixy
    price = q.mid if q is not None and q.is_fresh(snapshot.now, s.hedge_quote_max_age_s) else None
    vix = snapshot.vix.fresh_value(snapshot.now, s.hedge_quote_max_age_s) if snapshot.vix else None
    if price is None or vix is None:
        return None
    return vixy_units(usd_per_pt, price, vix, sizing.betas.pct.value, s)


def _over_caps(layer1: Book, others: Mapping[HedgeInstrument, int], s: SizingSettings) -> bool:
    """Whether layer 1's target plus the other layers' breaks a hard cap (sizing's own split never does)."""
    caps = {HedgeKind.VX: s.max_vx, HedgeKind.VXM: s.max_vxm, HedgeKind.VIXY: s.max_vixy_shares}
    used = dict.fromkeys(caps, 0)
    for book in (layer1, others):
        for inst, q in book.items():
            if inst.kind in caps:
                used[inst.kind] += abs(q)
    return any(used[k] > caps[k] for k in caps)


def _keys(book: Mapping[HedgeInstrument, int]) -> str:
    return ", ".join(f"{i.key} {q:+d}" for i, q in sorted(book.items(), key=lambda kv: kv[0].key))


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
    for lid in LAYER_IDS:
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
    if not any(i.instrument.kind in FUTURES for i in out):
        return out  # no futures trade: nothing to pair (the usual plan)
    for lid in LAYER_IDS:
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
        held[i.instrument] = held.get(i.instrument, 0) + i.side.signed(i.quantity)
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

"""Grouping option positions into iron condors, verticals and single legs, with each structure's economics.

Rule (per trading class and expiry): repeatedly take the quadruple long put K1 < short put K2 <= short call K3 <
long call K4 with the narrowest total wing width (ties: lower strikes first), for the smallest quantity among its
four legs, until none is left; then pair what remains into put and call verticals (nearest strikes first), and
report the rest as single legs. Every contract's quantity is preserved across structures; nothing is dropped.

Memoized on the positions (contract, quantity, average cost), which change far less often than a decision runs;
the `Layout` adds the matrices that let `report.read_book` value every structure with a few numpy operations.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bot.domain.condors import StructureKind, StructureLeg, StructureShape
from bot.domain.market import OptionContract, OptionLeg

Position = tuple[OptionContract, int, float]  # contract, signed quantity, avg cost
Grouped = tuple[tuple[StructureKind, tuple[StructureLeg, ...], int], ...]
Economics = tuple[float, tuple[float, ...], float | None, tuple[float, ...]]  # credit, widths, max loss, BEs


def _merge(positions: Iterable[Position]) -> dict[OptionContract, tuple[int, float]]:
    """Net quantity and quantity-weighted avg cost per contract (the broker may report one contract twice)."""
    qty: dict[OptionContract, int] = defaultdict(int)
    cost: dict[OptionContract, float] = defaultdict(float)
    for contract, quantity, avg_cost in positions:
        qty[contract] += quantity
        cost[contract] += quantity * avg_cost
    return {c: (q, cost[c] / q) for c, q in qty.items() if q != 0}


def _find_condor(remaining: dict[OptionContract, int]) -> tuple[OptionContract, ...] | None:
    """The quadruple with the narrowest total wings, or None. Deterministic: ties broken by strikes."""
    puts_long = sorted((c for c, q in remaining.items() if q > 0 and c.right == "P"), key=lambda c: c.strike)
    calls_long = sorted((c for c, q in remaining.items() if q > 0 and c.right == "C"), key=lambda c: c.strike)
    put_sides = []  # (short put, its nearest long put below)
    for k2 in (c for c, q in remaining.items() if q < 0 and c.right == "P"):
        below = [c for c in puts_long if c.strike < k2.strike]
        if below:
            put_sides.append((k2, below[-1]))
    call_sides = []  # (short call, its nearest long call above)
    for k3 in (c for c, q in remaining.items() if q < 0 and c.right == "C"):
        above = next((c for c in calls_long if c.strike > k3.strike), None)
        if above is not None:
            call_sides.append((k3, above))
    best: tuple[tuple[float, float, float, float, float], tuple[OptionContract, ...]] | None = None
    for k2, k1 in put_sides:
        for k3, k4 in call_sides:
            if k3.strike < k2.strike:
                continue
            rank = (k2.strike - k1.strike + k4.strike - k3.strike, k1.strike, k2.strike, k3.strike, k4.strike)
            if best is None or rank < best[0]:
                best = (rank, (k1, k2, k3, k4))
    return best[1] if best else None


def _find_vertical(remaining: dict[OptionContract, int], right: str) -> tuple[OptionContract, OptionContract] | None:
    """Nearest long/short pair of one right, as (lower strike, higher strike)."""
    same = sorted((c for c, q in remaining.items() if q != 0 and c.right == right), key=lambda c: c.strike)
    best: tuple[tuple[float, float], tuple[OptionContract, OptionContract]] | None = None
    for i, lo in enumerate(same):
        for hi in same[i + 1 :]:
            if hi.strike > lo.strike and (remaining[lo] > 0) != (remaining[hi] > 0):
                rank = (hi.strike - lo.strike, lo.strike)
                if best is None or rank < best[0]:
                    best = (rank, (lo, hi))
                break  # nearest opposite-signed partner above `lo` found; farther ones rank worse
    return best[1] if best else None


def _take(
    remaining: dict[OptionContract, int],
    merged: dict[OptionContract, tuple[int, float]],
    contracts: tuple[OptionContract, ...],
    n: int,
) -> tuple[StructureLeg, ...]:
    """Move `n` units of each contract (keeping its sign) from `remaining` into a structure."""
    taken = []
    for c in contracts:
        sign = 1 if remaining[c] > 0 else -1
        remaining[c] -= sign * n
        taken.append(StructureLeg(c, sign * n, merged[c][1]))
    return tuple(taken)


def group_legs(legs: Sequence[OptionLeg]) -> Grouped:
    """Split option positions into condors, verticals and singles. Quantities per contract are preserved."""
    return layout(legs).grouped


def _group_positions(positions: tuple[Position, ...]) -> Grouped:
    by_class: dict[tuple[str, dt.date], list[Position]] = defaultdict(list)
    for pos in positions:
        by_class[(pos[0].trading_class, pos[0].expiry)].append(pos)
    out: list[tuple[StructureKind, tuple[StructureLeg, ...], int]] = []
    for key in sorted(by_class):
        merged = _merge(by_class[key])
        remaining = {c: q for c, (q, _) in merged.items()}

        while (quad := _find_condor(remaining)) is not None:
            n = min(abs(remaining[c]) for c in quad)
            out.append((StructureKind.IRON_CONDOR, _take(remaining, merged, quad, n), n))
        for right, kind in (("P", StructureKind.PUT_VERTICAL), ("C", StructureKind.CALL_VERTICAL)):
            while (pair := _find_vertical(remaining, right)) is not None:
                n = min(abs(remaining[c]) for c in pair)
                out.append((kind, _take(remaining, merged, pair, n), n))
        for c in sorted((c for c, q in remaining.items() if q != 0), key=lambda c: (c.right, c.strike)):
            n = abs(remaining[c])
            out.append((StructureKind.SINGLE, _take(remaining, merged, (c,), n), n))
    return tuple(out)


def economics(kind: StructureKind, legs: tuple[StructureLeg, ...], n: int) -> Economics:
    """credit ($, + received), wing widths, max loss ($ or None = unbounded or unknown), break-evens.

    IB reports average cost as a positive price x multiplier for long and short legs alike; a missing, non-finite
    or negative one leaves credit NaN, max loss None (stress losses are then not capped: the conservative side)
    and no break-evens, instead of inventing numbers.
    """
    credit = -sum(leg.quantity * leg.avg_cost for leg in legs)
    mult = legs[0].contract.multiplier
    strikes = [leg.contract.strike for leg in legs]
    if not all(math.isfinite(leg.avg_cost) and leg.avg_cost >= 0 for leg in legs):
        widths = tuple(b - a for a, b in zip(strikes[::2], strikes[1::2], strict=True)) if len(legs) > 1 else ()
        return math.nan, widths, None, ()
    if kind is StructureKind.IRON_CONDOR:
        k1, k2, k3, k4 = strikes
        widths = (k2 - k1, k4 - k3)
        per_point = credit / (mult * n)
        return credit, widths, max(widths) * mult * n - credit, (k2 - per_point, k3 + per_point)
    if kind in (StructureKind.PUT_VERTICAL, StructureKind.CALL_VERTICAL):
        lo, hi = legs
        width = hi.contract.strike - lo.contract.strike
        max_loss = width * mult * n - credit if credit > 0 else -credit
        per_point = abs(credit) / (mult * n)
        # credit or debit alike: puts break even below the upper strike, calls above the lower strike
        be = hi.contract.strike - per_point if kind is StructureKind.PUT_VERTICAL else lo.contract.strike + per_point
        return credit, (width,), max_loss, (be,)
    (leg,) = legs
    premium = leg.avg_cost / mult
    be = leg.contract.strike + premium if leg.contract.right == "C" else leg.contract.strike - premium
    max_loss = leg.avg_cost * abs(leg.quantity) if leg.quantity > 0 else None
    return credit, (), max_loss, (be,)


@dataclass(frozen=True, slots=True, eq=False)
class Layout:
    """Structures of one set of positions, and the matrices that value them.

    `q[s, j]` is the signed quantity of contract `contracts[j]` in structure `s`; `mult` is per contract.
    `max_loss` is +inf for unbounded structures (a naked short leg).
    """

    grouped: Grouped
    econ: tuple[Economics, ...]
    shapes: tuple[StructureShape, ...]
    contracts: tuple[OptionContract, ...]
    q: np.ndarray
    qm: np.ndarray  # q x multiplier: $ per point of each contract in each structure
    held: np.ndarray  # q != 0
    mult: np.ndarray
    cost: np.ndarray  # per structure: sum(qty * avg cost) = -credit
    max_loss: np.ndarray
    strikes: np.ndarray
    is_call: np.ndarray
    expiry_ordinal: np.ndarray  # date.toordinal() per contract: time to expiry without a Python loop
    loss_floor: np.ndarray  # -max_loss as a column: the cap of each structure's stress P&L
    none: np.ndarray  # all False, one per structure (no structure unknown)
    every: np.ndarray  # all True, one per structure (every structure marked)
    leg_index: tuple[int, ...]  # per contract, the index of its first leg in the positions (greeks and quotes)

    def years_to_expiry(self, today: dt.date) -> np.ndarray:
        return np.maximum(self.expiry_ordinal - today.toordinal(), 0) / 365.0


_LAST: list[tuple[tuple[Position, ...], Layout]] = []  # the last answer: consecutive decisions hold the same book


def layout(legs: Sequence[OptionLeg]) -> Layout:
    """The layout of these positions, memoized (see the module docstring). The last answer is checked first by
    equality, which short-cuts on identical contract objects, before the LRU cache hashes every contract."""
    positions = tuple((leg.contract, leg.quantity, leg.avg_cost) for leg in legs)
    if _LAST and _LAST[0][0] == positions:
        return _LAST[0][1]
    found = _layout(positions)
    _LAST[:] = [(positions, found)]
    return found


@lru_cache(maxsize=16)
def _layout(positions: tuple[Position, ...]) -> Layout:
    grouped = _group_positions(positions)
    contracts = tuple(dict.fromkeys(sl.contract for _, legs, _ in grouped for sl in legs))
    first: dict[OptionContract, int] = {}
    for i, pos in enumerate(positions):
        first.setdefault(pos[0], i)
    index = {c: j for j, c in enumerate(contracts)}
    q = np.zeros((len(grouped), len(contracts)))
    for s, (_, legs, _) in enumerate(grouped):
        for sl in legs:
            q[s, index[sl.contract]] += sl.quantity
    econ = tuple(economics(kind, legs, n) for kind, legs, n in grouped)
    mult = np.array([c.multiplier for c in contracts], dtype=float)
    arrays = {
        "q": q,
        "qm": q * mult,
        "held": q != 0,
        "mult": mult,
        "cost": np.array([-e[0] for e in econ], dtype=float),
        "max_loss": np.array([e[2] if e[2] is not None else np.inf for e in econ], dtype=float),
        "strikes": np.array([c.strike for c in contracts], dtype=float),
        "is_call": np.array([c.right == "C" for c in contracts], dtype=bool),
        "expiry_ordinal": np.array([c.expiry.toordinal() for c in contracts], dtype=float),
        "none": np.zeros(len(grouped), dtype=bool),
        "every": np.ones(len(grouped), dtype=bool),
    }
    arrays["loss_floor"] = -arrays["max_loss"][:, None]
    for arr in arrays.values():
        arr.flags.writeable = False  # shared by every decision that hits the cache
    leg_index = tuple(first[c] for c in contracts)
    shapes = tuple(
        StructureShape(kind, legs[0].contract.trading_class, legs[0].contract.expiry, legs, n, *e)
        for (kind, legs, n), e in zip(grouped, econ, strict=True)
    )
    return Layout(grouped=grouped, econ=econ, shapes=shapes, contracts=contracts, leg_index=leg_index, **arrays)

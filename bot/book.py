"""Reading the condor book: option legs -> iron condors (+ verticals and single legs), greeks, exposure, stress.

Grouping (per trading class and expiry): repeatedly take the quadruple long put K1 < short put K2 <= short call K3
< long call K4 with the narrowest total wing width (ties: lower strikes first), for the smallest quantity among its
four legs, until none is left; then pair what remains into put and call verticals (nearest strikes first), and
report the rest as single legs. Every contract's quantity is preserved across structures; nothing is dropped.

Greeks per contract: fresh complete broker model greeks; else Black-Scholes from the leg's own fresh IV; else from
a VIX-derived IV with a skew term; else unknown. A structure with an unknown leg has unknown exposure, and the book
is then `known=False`: sizing abstains rather than size from a NaN.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

from bot.domain.condors import (
    BookReport,
    GreeksSource,
    LegGreeks,
    ScenarioResult,
    Structure,
    StructureGreeks,
    StructureKind,
    StructureLeg,
)
from bot.domain.market import MarketSnapshot, OptionContract, OptionLeg, finite, usable_price
from bot.pricing.black_scholes import bs_greeks, bs_price_vec
from bot.settings.book import BookSettings, StressPoint

_YEAR_DAYS = 365.0
_BASE_POINT = StressPoint(spx_pct=0.0, iv_points=0.0, days=0.0, vix_points=1.0)  # no shock: the stress base


def years_to_expiry(expiry: dt.date, today: dt.date) -> float:
    return max((expiry - today).days, 0) / _YEAR_DAYS


def model_iv(strike: float, spot: float, atm_iv: float, settings: BookSettings) -> float:
    """VIX-derived IV with a skew term, clamped to the configured band."""
    iv = atm_iv + settings.skew_slope * math.log(strike / spot)
    return min(max(iv, settings.min_iv), settings.max_iv)


def _leg_mark(leg: OptionLeg, now: dt.datetime, settings: BookSettings) -> float | None:
    if leg.quote is None or not leg.quote.is_fresh(now, settings.quote_max_age_s):
        return None
    return leg.quote.mid


def leg_greeks(
    leg: OptionLeg, snapshot: MarketSnapshot, settings: BookSettings, spot: float | None, vix: float | None
) -> LegGreeks:
    """Per-contract greeks of one leg by the source order in the module docstring."""
    c = leg.contract
    now = snapshot.now
    mark = _leg_mark(leg, now, settings)
    t = years_to_expiry(c.expiry, snapshot.today)
    g = leg.greeks
    fresh = g is not None and g.is_fresh(now, settings.greeks_max_age_s)
    leg_iv = g.iv if fresh and g is not None and usable_price(g.iv) else None
    und = spot
    if und is None and fresh and g is not None and usable_price(g.und_price):
        und = g.und_price
    if fresh and g is not None and g.complete and und is not None:
        iv = leg_iv if leg_iv is not None else _atm_from_vix(c, und, vix, settings)
        if iv is not None:  # model price (stress base, mark fallback) comes from read_book's vectorised pass
            return LegGreeks(
                GreeksSource.BROKER, g.delta, g.gamma, g.vega, g.theta, iv, math.nan, math.nan if mark is None else mark
            )
    if not settings.bs_fallback or und is None:
        return LegGreeks(GreeksSource.UNKNOWN, mark=mark if mark is not None else math.nan)
    if leg_iv is not None:
        source, iv = GreeksSource.BS_LEG_IV, leg_iv
    else:
        iv_vix = _atm_from_vix(c, und, vix, settings)
        if iv_vix is None:
            return LegGreeks(GreeksSource.UNKNOWN, mark=mark if mark is not None else math.nan)
        source, iv = GreeksSource.BS_VIX, iv_vix
    bs = bs_greeks(und, c.strike, t, settings.risk_free_rate, iv, c.right, settings.dividend_yield)
    return LegGreeks(
        source, bs.delta, bs.gamma, bs.vega, bs.theta, iv, bs.price, mark if mark is not None else bs.price
    )


def _atm_from_vix(c: OptionContract, spot: float, vix: float | None, settings: BookSettings) -> float | None:
    if vix is None:
        return None
    return model_iv(c.strike, spot, vix / 100.0 * settings.atm_iv_per_vix, settings)


# ---------------------------------------------------------------- grouping


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


Position = tuple[OptionContract, int, float]  # contract, signed quantity, avg cost
Grouped = tuple[tuple[StructureKind, tuple[StructureLeg, ...], int], ...]


def group_legs(legs: Sequence[OptionLeg]) -> Grouped:
    """Split option positions into condors, verticals and singles. Quantities per contract are preserved.

    Memoized on the positions (not the quotes or greeks), which change far less often than a decision runs.
    """
    return _group_positions(tuple((leg.contract, leg.quantity, leg.avg_cost) for leg in legs))


@lru_cache(maxsize=16)
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


# ---------------------------------------------------------------- per-structure figures


def _economics(kind: StructureKind, legs: tuple[StructureLeg, ...], n: int) -> tuple:
    """credit ($, + received), wing widths, max loss ($ or None), break-evens."""
    credit = -sum(leg.quantity * leg.avg_cost for leg in legs)
    mult = legs[0].contract.multiplier
    strikes = [leg.contract.strike for leg in legs]
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


def read_book(snapshot: MarketSnapshot, settings: BookSettings) -> BookReport:
    """Group, value and stress the option book of `snapshot` (pure; `now` comes from the snapshot)."""
    now, today = snapshot.now, snapshot.today
    spot = snapshot.spx.fresh_value(now, settings.quote_max_age_s) if snapshot.spx else None
    vix = snapshot.vix.fresh_value(now, settings.quote_max_age_s) if snapshot.vix else None
    grouped = group_legs(snapshot.legs)
    legs_by_contract: dict[OptionContract, OptionLeg] = {}
    for leg in snapshot.legs:
        legs_by_contract.setdefault(leg.contract, leg)
    greeks = {c: leg_greeks(leg, snapshot, settings, spot, vix) for c, leg in legs_by_contract.items()}
    grid = settings.stress_grid
    stress = _stress_prices(greeks, spot, today, settings) if spot is not None else {}

    structures: list[Structure] = []
    unknown: list[str] = []
    total_vega = total_theta = 0.0
    scen_totals = [0.0] * len(grid)
    scen_known = spot is not None
    for kind, legs, n in grouped:
        credit, widths, max_loss, bes = _economics(kind, legs, n)
        lg = [greeks[leg.contract] for leg in legs]
        known = all(g.known for g in lg)
        mult = legs[0].contract.multiplier
        if known:
            sg = StructureGreeks(
                delta=sum(leg.quantity * g.delta for leg, g in zip(legs, lg, strict=True)) * mult,
                gamma=sum(leg.quantity * g.gamma for leg, g in zip(legs, lg, strict=True)) * mult,
                vega=sum(leg.quantity * g.vega for leg, g in zip(legs, lg, strict=True)) * mult,
                theta=sum(leg.quantity * g.theta for leg, g in zip(legs, lg, strict=True)) * mult,
            )
        else:
            sg = StructureGreeks()
        marks = [
            g.mark if finite(g.mark) else stress.get(leg.contract, (math.nan,))[0]
            for leg, g in zip(legs, lg, strict=True)
        ]
        marks_ok = all(finite(m) for m in marks)
        pnl = sum(leg.quantity * (m * mult - leg.avg_cost) for leg, m in zip(legs, marks, strict=True))
        scen: tuple[float, ...] | None = None
        if known and stress:
            base = sum(leg.quantity * stress[leg.contract][0] for leg in legs) * mult
            values = []
            for i in range(1, len(grid) + 1):
                shocked = sum(leg.quantity * stress[leg.contract][i] for leg in legs) * mult
                change = shocked - base
                values.append(max(change, -max_loss) if max_loss is not None else change)
            scen = tuple(values)
        s = Structure(
            kind=kind,
            trading_class=legs[0].contract.trading_class,
            expiry=legs[0].contract.expiry,
            legs=legs,
            quantity=n,
            credit=credit,
            wing_widths=widths,
            max_loss=max_loss,
            break_evens=bes,
            dte=(legs[0].contract.expiry - today).days,
            pnl=pnl if marks_ok else None,
            greeks=sg,
            scenario_pnl=scen,
        )
        structures.append(s)
        if not known:
            missing = [leg.contract.key for leg, g in zip(legs, lg, strict=True) if not g.known]
            unknown.append(f"{s.label}: no usable greeks for {', '.join(missing)}")
            scen_known = False
            continue
        total_vega += sg.vega or 0.0
        total_theta += sg.theta or 0.0
        if scen is None:
            scen_known = False
        else:
            scen_totals = [a + b for a, b in zip(scen_totals, scen, strict=True)]
    all_known = not unknown
    if spot is None and structures:
        unknown.append("SPX quote missing or stale: no stress repricing")
    v_ic = total_vega if all_known else None
    scenarios = tuple(
        ScenarioResult(p.spx_pct, p.iv_points, p.days, p.vix_points, scen_totals[i] if scen_known else None)
        for i, p in enumerate(grid)
    )
    return BookReport(
        structures=tuple(structures),
        v_ic=v_ic,
        e_vix=settings.beta_iv * v_ic if v_ic is not None else None,
        beta_iv=settings.beta_iv,
        theta=total_theta if all_known else None,
        scenarios=scenarios,
        unknown=tuple(unknown),
    )


def _stress_prices(
    greeks: dict[OptionContract, LegGreeks], spot: float, today: dt.date, settings: BookSettings
) -> dict[OptionContract, list[float]]:
    """Per-contract [base price, price under each stress point], in one vectorised call (sticky moneyness skew)."""
    contracts = [c for c, g in greeks.items() if g.known and finite(g.iv)]
    if not contracts:
        return {}
    grid = [_BASE_POINT, *settings.stress_grid]
    strikes = np.array([c.strike for c in contracts])
    t0 = np.array([years_to_expiry(c.expiry, today) for c in contracts])
    is_call = np.array([c.right == "C" for c in contracts])
    iv0 = np.array([greeks[c].iv for c in contracts])
    atm0 = iv0 - settings.skew_slope * np.log(strikes / spot)  # each leg's own ATM level, so its smile is kept
    spots = np.array([spot * (1.0 + p.spx_pct / 100.0) for p in grid])[:, None]
    shift = np.array([p.iv_points / 100.0 for p in grid])[:, None]
    days = np.array([p.days for p in grid])[:, None]
    vol = np.clip(atm0 + shift + settings.skew_slope * np.log(strikes / spots), settings.min_iv, settings.max_iv)
    t = np.maximum(t0 - days / _YEAR_DAYS, 0.0)
    prices = bs_price_vec(spots, strikes, t, settings.risk_free_rate, vol, is_call, settings.dividend_yield)
    return {c: prices[:, j].tolist() for j, c in enumerate(contracts)}

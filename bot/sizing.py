"""Hedge sizing (spec section 5): how much VIX exposure each layer should hold, in whole contracts or shares.

All needs are first expressed in dollars per VIX point, then converted per instrument:
- vega need      D_vega = h * |E_VIX|, h = h_min + (h_max - h_min) * strength;
- scenario need  D_scen = max over losing stress points of h * |L_s| / dVIX_s * beta_F / beta_F_stress,
  which makes `D_scen / (beta_F * mult)` exactly the spec's `h * L / (beta_F_stress * dVIX * mult)`;
- the layer-1/2 need is the smaller of the two (vega alone overstates the need in a crash).
Conversion: futures `N = D / (beta_F * mult)`, VIXY `N = D / (P * beta_pct / VIX)`.

Rounding rule: whole units rounded DOWN (never more hedge than computed), except that a need of at least
`min_fraction_for_one` of a unit (and below one) gives 1. With VX allowed and at least one VX needed, whole VX
contracts are used and the remainder goes to VXM (when `vxm_remainder`).

Layers: 1 holds the near part (F1 futures, or F2 within `roll_business_days` of F1's expiry, or VIXY); 2 takes over
`mid_curve_share` of the need, a fraction of it (its thickness while ACTIVE, frozen at harvest) in the next contract
out, and while HARVESTING sells covered calls (at most 10 per long VX and 1 per long VXM of the same expiry) on
that share of its own longs; 3 buys VIX call spreads (or VIXY) inside a hard premium budget of net liquidation,
never more payoff than the worst stress loss. Hard caps apply to the totals per kind. Non-finite inputs never
reach a quantity: a need that cannot be computed makes the layer abstain (hold what it has) with an alert.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from bot.domain.condors import BookReport
from bot.domain.intents import HedgeInstrument, HedgeKind
from bot.domain.layers import Alert, LayerBook, LayerId, LayerPhase, Regime
from bot.domain.market import MarketSnapshot, Quote, VxPoint, multiplier_of, usable_price
from bot.pricing.black_scholes import black76_greeks, implied_vol
from bot.settings.sizing import SizingSettings
from bot.signals.inputs import DailySeries
from bot.vx_calendar import business_days_between

HOLDING = frozenset({LayerPhase.ACTIVE, LayerPhase.HARVESTING})
CALLS_PER_VX = 10  # 1 VX = $1000/pt = 10 VIX calls at $100/pt
CALLS_PER_VXM = 1

Position = tuple[HedgeInstrument, int]


# ---------------------------------------------------------------- betas


@dataclass(frozen=True, slots=True)
class BetaEstimate:
    value: float
    source: str  # "regression" or "fallback"
    n: int = 0
    r2: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"value": self.value, "source": self.source, "n": self.n, "r2": self.r2, "note": self.note}


def estimate_beta(
    x: DailySeries,
    y: DailySeries,
    *,
    pct: bool,
    window: int,
    min_obs: int,
    min_r2: float,
    bounds: tuple[float, float],
    fallback: float,
) -> BetaEstimate:
    """OLS slope of y's daily changes on x's (percent changes when `pct`) over the last `window` common dates.

    Falls back to `fallback` when there are fewer than `min_obs` usable pairs, R^2 < `min_r2` or the slope is
    outside `bounds`: a poor fit must not size real money. Dates are matched exactly; NaN days are dropped.
    """
    xs, ys = _last_common(x, y, window + 1)
    if len(xs) < 2:
        return BetaEstimate(fallback, "fallback", 0, None, "no common history")
    with np.errstate(divide="ignore", invalid="ignore"):  # slices, not np.diff / .mean(): the same arithmetic,
        dx = xs[1:] - xs[:-1]  # without their Python overhead (this runs three times per decision)
        dy = ys[1:] - ys[:-1]
        if pct:
            dx, dy = dx / xs[:-1], dy / ys[:-1]
    ok = np.isfinite(dx) & np.isfinite(dy)
    if not ok.all():
        dx, dy = dx[ok], dy[ok]
    n = len(dx)
    if n < min_obs:
        return BetaEstimate(fallback, "fallback", n, None, f"only {n} usable daily changes (< {min_obs})")
    dxm, dym = dx - np.add.reduce(dx) / n, dy - np.add.reduce(dy) / n  # == dx.mean(): the same pairwise sum / n
    sxx, syy = float(dxm @ dxm), float(dym @ dym)
    if sxx <= 0.0 or syy <= 0.0:
        return BetaEstimate(fallback, "fallback", n, None, "no variation in history")
    sxy = float(dxm @ dym)
    slope, r2 = sxy / sxx, sxy * sxy / (sxx * syy)
    if r2 < min_r2:
        return BetaEstimate(fallback, "fallback", n, r2, f"poor fit R^2 {r2:.2f} < {min_r2}")
    if not bounds[0] <= slope <= bounds[1]:
        return BetaEstimate(fallback, "fallback", n, r2, f"slope {slope:.3f} outside [{bounds[0]}, {bounds[1]}]")
    return BetaEstimate(slope, "regression", n, r2)


def _last_common(x: DailySeries, y: DailySeries, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Values of x and y on their last `m` common dates (fewer when they share fewer), oldest first.

    Intersects only the last k dates of each series, doubling k until m common dates are found: a common date
    outside both tails is older than every common date inside them, so when the tails share at least m dates the
    last m common dates are among them. A decision then costs O(m), not O(history)."""
    if x.dates[-m:] == y.dates[-m:]:  # the usual case: the same last m dates (or the same whole, shorter, series)
        return x.values[-m:], y.values[-m:]
    if not x.dates or not y.dates:  # e.g. VIXY before its launch: nothing in common, nothing to search
        return np.empty(0), np.empty(0)
    k = m
    while True:
        tail_x, tail_y = x.dates[-k:], y.dates[-k:]
        common = sorted(set(tail_x) & set(tail_y))
        if len(common) >= m or (k >= len(x.dates) and k >= len(y.dates)):
            break
        k *= 2
    common = common[-m:]
    ix = {d: i for i, d in enumerate(tail_x)}
    iy = {d: i for i, d in enumerate(tail_y)}
    vx, vy = x.values[-k:], y.values[-k:]
    return (
        np.array([vx[ix[d]] for d in common], dtype=float),
        np.array([vy[iy[d]] for d in common], dtype=float),
    )


class Betas:
    """F1 and F2 points per VIX point (`f1`, `f2`) and VIXY % per VIX % (`pct`): an immutable value.

    `Betas.on_read(fit)` defers the fit to the first read of any of the three. Why: `decide` fits the betas from the
    history on every call, but sizing reads them only while a layer holds a hedge (a quarter of the days of
    2004-2019); otherwise they only appear in the decision record, which fits them when it is serialised. `fit`
    must be a pure function of immutable inputs (the daily series are read-only), so when it runs does not change
    what it returns, and it runs at most once.
    """

    __slots__ = ("_fit", "_values")

    def __init__(self, f1: BetaEstimate, f2: BetaEstimate, pct: BetaEstimate) -> None:
        self._values: tuple[BetaEstimate, BetaEstimate, BetaEstimate] | None = (f1, f2, pct)
        self._fit: Callable[[], Betas] | None = None

    @classmethod
    def on_read(cls, fit: Callable[[], Betas]) -> Betas:
        """Betas fitted by `fit()` when first read (see the class docstring)."""
        betas = cls.__new__(cls)
        betas._values = None
        betas._fit = fit
        return betas

    def _estimates(self) -> tuple[BetaEstimate, BetaEstimate, BetaEstimate]:
        if self._values is None:
            assert self._fit is not None
            self._values = self._fit()._estimates()
            self._fit = None  # the inputs it holds are no longer needed
        return self._values

    @property
    def f1(self) -> BetaEstimate:
        return self._estimates()[0]

    @property
    def f2(self) -> BetaEstimate:
        return self._estimates()[1]

    @property
    def pct(self) -> BetaEstimate:
        return self._estimates()[2]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Betas):
            return NotImplemented
        return self._estimates() == other._estimates()

    def __hash__(self) -> int:
        return hash(self._estimates())

    def __repr__(self) -> str:
        f1, f2, pct = self._estimates()
        return f"Betas(f1={f1!r}, f2={f2!r}, pct={pct!r})"

    def to_dict(self) -> dict[str, object]:
        return {"beta_f1": self.f1.to_dict(), "beta_f2": self.f2.to_dict(), "beta_pct": self.pct.to_dict()}


def estimate_betas(vix: DailySeries, f1: DailySeries, f2: DailySeries, vixy: DailySeries, s: SizingSettings) -> Betas:
    """F1/F2 points per VIX point and VIXY % per VIX %. `f1`/`f2` must be constant-position series whose daily
    change never spans a roll (e.g. the day's change of the contract that was F1 that day)."""

    def fit(y: DailySeries, pct: bool, bounds: tuple[float, float], fallback: float) -> BetaEstimate:
        return estimate_beta(
            vix,
            y,
            pct=pct,
            window=s.beta_window_days,
            min_obs=s.beta_min_obs,
            min_r2=s.beta_min_r2,
            bounds=bounds,
            fallback=fallback,
        )

    return Betas(
        f1=fit(f1, False, s.beta_f_bounds, s.beta_f1_fallback),
        f2=fit(f2, False, s.beta_f_bounds, s.beta_f2_fallback),
        pct=fit(vixy, True, s.beta_pct_bounds, s.beta_pct_fallback),
    )


def fallback_betas(s: SizingSettings) -> Betas:
    return Betas(
        BetaEstimate(s.beta_f1_fallback, "fallback", note="no history given"),
        BetaEstimate(s.beta_f2_fallback, "fallback", note="no history given"),
        BetaEstimate(s.beta_pct_fallback, "fallback", note="no history given"),
    )


# ---------------------------------------------------------------- needs and units


def hedge_ratio(strength: float, s: SizingSettings) -> float:
    """h in [h_min, h_max], linear in the layer's confirmation strength (clamped to [0, 1]; NaN counts as 0)."""
    st = min(max(strength, 0.0), 1.0) if math.isfinite(strength) else 0.0
    return s.h_min + (s.h_max - s.h_min) * st


@dataclass(frozen=True, slots=True)
class Need:
    """Dollars per VIX point the layer-1/2 hedge should carry, and which sizing bound it."""

    h: float
    vega_usd_per_pt: float
    scenario_usd_per_pt: float | None  # None: no stress point loses (no scenario bound)
    effective_usd_per_pt: float
    binding: str  # "vega" or "scenario"

    def to_dict(self) -> dict[str, object]:
        return {
            "h": self.h,
            "vega_usd_per_pt": self.vega_usd_per_pt,
            "scenario_usd_per_pt": self.scenario_usd_per_pt,
            "effective_usd_per_pt": self.effective_usd_per_pt,
            "binding": self.binding,
        }


def hedge_need(book: BookReport, strength: float, beta_f: float, s: SizingSettings) -> Need | None:
    """The smaller of vega and scenario sizing, or None when the book's exposure is unknown (sizing abstains)."""
    if not book.known or book.e_vix is None or not math.isfinite(book.e_vix):
        return None
    stress = [(sc.pnl, sc.vix_points) for sc in book.scenarios if sc.pnl is not None and math.isfinite(sc.pnl)]
    if len(stress) != len(book.scenarios):
        return None
    h = hedge_ratio(strength, s)
    vega = h * max(-book.e_vix, 0.0)
    losses = [h * -pnl / vix_points * beta_f / s.beta_f_stress for pnl, vix_points in stress if pnl < 0]
    scen = max(losses) if losses else None
    if scen is not None and scen < vega:
        return Need(h, vega, scen, scen, "scenario")
    return Need(h, vega, scen, vega, "vega")


def round_units(need: float, min_fraction: float) -> int:
    """Whole units, rounded down; a need in [min_fraction, 1) gives 1. Non-finite or negative needs give 0."""
    if not math.isfinite(need) or need <= 0.0:
        return 0
    whole = math.floor(need + 1e-9)
    if whole == 0 and need >= min_fraction:
        return 1
    return int(whole)


def futures_units(need_usd: float, expiry: dt.date, beta_f: float, s: SizingSettings) -> list[Position]:
    """VX and/or VXM for a need in $ per VIX point on contract `expiry` (see the module's rounding rule)."""
    if not (math.isfinite(need_usd) and need_usd > 0 and math.isfinite(beta_f) and beta_f > 0):
        return []
    in_vx = need_usd / (beta_f * multiplier_of(HedgeKind.VX))
    out: list[Position] = []
    if s.allow_vx and in_vx >= 1.0:
        n_vx = round_units(in_vx, s.min_fraction_for_one)
        out.append((HedgeInstrument(HedgeKind.VX, expiry), n_vx))
        if not s.vxm_remainder:
            return out
        in_vxm = (in_vx - n_vx) * CALLS_PER_VX
        n_vxm = math.floor(in_vxm + 1e-9)  # the remainder is never rounded up: the VX part already covers most
    else:
        n_vxm = round_units(in_vx * CALLS_PER_VX, s.min_fraction_for_one)
    if n_vxm > 0:
        out.append((HedgeInstrument(HedgeKind.VXM, expiry), n_vxm))
    return out


def vixy_units(need_usd: float, price: float, vix: float, beta_pct: float, s: SizingSettings) -> int:
    """N_VIXY = D / (P * beta_pct / VIX): one share gains P * beta_pct / VIX dollars per VIX point."""
    if not all(math.isfinite(v) and v > 0 for v in (price, vix, beta_pct)):
        return 0
    return round_units(need_usd / (price * beta_pct / vix), s.min_fraction_for_one)


# ---------------------------------------------------------------- layer targets


@dataclass(frozen=True, slots=True)
class LayerTarget:
    """What a holding layer should hold. `positions` are signed quantities per instrument (no zero entries)."""

    layer: LayerId
    positions: tuple[Position, ...]
    notes: tuple[str, ...] = ()
    usd_per_pt: float | None = None  # layer 1: the need it was sized for (the planner re-sizes in a held instrument)

    def as_map(self) -> dict[HedgeInstrument, int]:
        out: dict[HedgeInstrument, int] = {}
        for inst, q in self.positions:
            out[inst] = out.get(inst, 0) + q
        return {k: v for k, v in out.items() if v != 0}

    def to_dict(self) -> dict[str, object]:
        return {
            "layer": int(self.layer),
            "positions": {inst.key: q for inst, q in self.positions},
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class SizingResult:
    """Targets of the holding layers. A holding layer missing from `targets` abstained: it keeps what it holds."""

    targets: dict[LayerId, LayerTarget]
    abstained: tuple[LayerId, ...]
    need: Need | None
    betas: Betas
    near_expiry: dt.date | None
    mid_curve_fraction: float
    alerts: tuple[Alert, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        return {
            "targets": {str(int(k)): v.to_dict() for k, v in sorted(self.targets.items())},
            "abstained": [int(x) for x in self.abstained],
            "need": self.need.to_dict() if self.need else None,
            "betas": self.betas.to_dict(),
            "near_expiry": self.near_expiry.isoformat() if self.near_expiry else None,
            "mid_curve_fraction": self.mid_curve_fraction,
            "notes": list(self.notes),
        }


def _fresh_mid(quote: Quote | None, snapshot: MarketSnapshot, s: SizingSettings) -> float | None:
    if quote is None or not quote.is_fresh(snapshot.now, s.hedge_quote_max_age_s):
        return None
    return quote.mid


def _near_and_far(snapshot: MarketSnapshot, s: SizingSettings) -> tuple[VxPoint | None, VxPoint | None, bool]:
    """Layer 1's contract (F1, or F2 inside the roll window) and the next one out; and whether we rolled."""
    today = snapshot.today
    f1 = snapshot.curve.nth(today, 1)
    f2 = snapshot.curve.nth(today, 2)
    f3 = snapshot.curve.nth(today, 3)
    if f1 is not None and business_days_between(today, f1.expiry) <= s.roll_business_days:
        return f2, f3, True
    return f1, f2, False


def near_expiry(snapshot: MarketSnapshot, s: SizingSettings) -> dt.date | None:
    """Expiry of layer 1's futures contract now: F1, or F2 inside the roll window; None without a curve."""
    near, _, _ = _near_and_far(snapshot, s)
    return near.expiry if near else None


def _calls_for(
    longs: Iterable[Position], thickness: float, snapshot: MarketSnapshot, s: SizingSettings
) -> tuple[list[Position], list[str]]:
    """Covered calls on `longs` (futures) per expiry: floor(thickness * coverable), strike = first >= F + offset."""
    cover: dict[dt.date, int] = {}
    for inst, q in longs:
        if q > 0 and inst.expiry is not None and inst.kind in (HedgeKind.VX, HedgeKind.VXM):
            per = CALLS_PER_VX if inst.kind is HedgeKind.VX else CALLS_PER_VXM
            cover[inst.expiry] = cover.get(inst.expiry, 0) + per * q
    out: list[Position] = []
    notes: list[str] = []
    th = min(max(thickness, 0.0), 1.0) if math.isfinite(thickness) else 0.0
    for expiry in sorted(cover):
        n = min(math.floor(th * cover[expiry] + 1e-9), s.max_vix_options)
        if n <= 0:
            continue
        point = snapshot.curve.point(expiry)
        fwd = _fresh_mid(point.quote, snapshot, s) if point else None
        if fwd is None:
            notes.append(f"no covered calls on {expiry}: the future has no usable quote")
            continue
        strike = _first_strike(snapshot, expiry, fwd + s.overwrite_strike_offset, s)
        if strike is None:
            notes.append(
                f"no covered calls on {expiry}: no quoted call strike at or above {fwd + s.overwrite_strike_offset:g}"
            )
            continue
        out.append((HedgeInstrument(HedgeKind.VIX_OPTION, expiry, strike, "C"), -n))
        notes.append(f"{n} covered calls {expiry} {strike:g}C on {cover[expiry]} coverable ({th:g} overwrite)")
    return out, notes


def _first_strike(snapshot: MarketSnapshot, expiry: dt.date, at_least: float, s: SizingSettings) -> float | None:
    """Lowest call strike >= `at_least` of `expiry` with a fresh two-sided quote (so a positive bid to sell)."""
    for strike, quote in snapshot.calls_from(expiry, at_least - 1e-9):
        if _fresh_mid(quote, snapshot, s) is not None:
            return strike
    return None


def _option_quote(snapshot: MarketSnapshot, expiry: dt.date, strike: float) -> Quote | None:
    return snapshot.quote_for(HedgeInstrument(HedgeKind.VIX_OPTION, expiry, strike, "C"))


def size_layers(
    layers: LayerBook,
    book: BookReport,
    snapshot: MarketSnapshot,
    betas: Betas,
    s: SizingSettings,
    previous_mid_curve_fraction: float = 0.0,
) -> SizingResult:
    """Targets of every ACTIVE/HARVESTING layer; see the module docstring for the rules."""
    l1, l2, l3 = layers.get(LayerId.NEAR_TERM), layers.get(LayerId.MID_CURVE), layers.get(LayerId.TAIL)
    hold1, hold2, hold3 = l1.phase in HOLDING, l2.phase in HOLDING, l3.phase in HOLDING
    if l2.phase is LayerPhase.ACTIVE:
        frac = min(max(l2.thickness, 0.0), 1.0) if math.isfinite(l2.thickness) else 0.0
    elif l2.phase is LayerPhase.HARVESTING:
        frac = previous_mid_curve_fraction
    else:
        frac = 0.0
    if not (hold1 or hold2 or hold3):
        return SizingResult({}, (), None, betas, None, frac)

    alerts: list[Alert] = []
    notes: list[str] = []
    targets: dict[LayerId, LayerTarget] = {}
    abstained: list[LayerId] = []
    near, far, rolled = _near_and_far(snapshot, s)
    if rolled and near is not None:
        notes.append(f"inside the roll window: near contract is {near.expiry}")
    beta_near = (betas.f2 if rolled else betas.f1).value
    need = hedge_need(book, l1.strength if hold1 else l2.strength, beta_near, s)

    if (hold1 or hold2) and need is None:
        reason = "; ".join(book.unknown) or "book exposure or stress losses unknown"
        for lid in (LayerId.NEAR_TERM, LayerId.MID_CURVE):
            if layers.get(lid).phase in HOLDING:
                abstained.append(lid)
                alerts.append(Alert("sizing_abstain", f"layer {int(lid)} keeps its hedge: {reason}", lid))
    elif hold1 or hold2:
        assert need is not None
        d = need.effective_usd_per_pt
        d2 = s.mid_curve_share * d if hold2 else 0.0
        d1 = d - d2 if hold1 else 0.0
        near_part = _near_positions(snapshot, near, beta_near, betas, s, notes)
        if near_part is None:
            for lid in (LayerId.NEAR_TERM, LayerId.MID_CURVE):
                if layers.get(lid).phase in HOLDING:
                    abstained.append(lid)
                    alerts.append(Alert("no_hedge_quote", f"layer {int(lid)}: no usable near hedge quote", lid))
        else:
            if hold1:
                targets[LayerId.NEAR_TERM] = LayerTarget(
                    LayerId.NEAR_TERM, tuple(near_part(d1)), (f"{d1:.0f} $/VIX pt",), d1
                )
            if hold2:
                far_usable = far is not None and _fresh_mid(far.quote, snapshot, s) is not None
                if not far_usable and frac > 0:
                    notes.append("layer 2 far contract has no usable quote: its share stays near")
                f_share = frac if far_usable else 0.0
                pos = list(near_part(d2 * (1.0 - f_share)))
                if far is not None and f_share > 0:
                    pos += futures_units(d2 * f_share, far.expiry, betas.f2.value, s)
                l2notes = [f"{d2:.0f} $/VIX pt, {f_share:g} in the far contract"]
                if l2.phase is LayerPhase.HARVESTING:
                    calls, cnotes = _calls_for(pos, l2.thickness, snapshot, s)
                    pos += calls
                    l2notes += cnotes
                targets[LayerId.MID_CURVE] = LayerTarget(LayerId.MID_CURVE, tuple(pos), tuple(l2notes))

    if hold3:
        tail = _tail(book, snapshot, betas, s)
        if isinstance(tail, str):
            abstained.append(LayerId.TAIL)
            alerts.append(Alert("sizing_abstain", f"layer 3 keeps its hedge: {tail}", LayerId.TAIL))
        else:
            targets[LayerId.TAIL] = tail

    capped, cap_alerts = _apply_caps(targets, s)
    alerts += cap_alerts
    return SizingResult(
        capped, tuple(abstained), need, betas, near.expiry if near else None, frac, tuple(alerts), tuple(notes)
    )


def _near_positions(
    snapshot: MarketSnapshot, near: VxPoint | None, beta_near: float, betas: Betas, s: SizingSettings, notes: list[str]
) -> Callable[[float], list[Position]] | None:
    """A function need -> positions on the near instrument, or None when neither futures nor VIXY is usable."""
    futures_ok = near is not None and _fresh_mid(near.quote, snapshot, s) is not None
    if s.near_instrument == "futures" and futures_ok:
        assert near is not None
        return lambda d: futures_units(d, near.expiry, beta_near, s)
    if s.near_instrument == "vixy" or s.vixy_when_no_futures:
        price = _fresh_mid(snapshot.vixy, snapshot, s)
        vix = snapshot.vix.fresh_value(snapshot.now, s.hedge_quote_max_age_s) if snapshot.vix else None
        if price is not None and vix is not None:
            if s.near_instrument == "futures":
                notes.append("near futures unusable: VIXY used instead")
            inst = HedgeInstrument(HedgeKind.VIXY)

            def vixy(d: float) -> list[Position]:
                n = vixy_units(d, price, vix, betas.pct.value, s)
                return [(inst, n)] if n > 0 else []

            return vixy
    return None


def _tail(book: BookReport, snapshot: MarketSnapshot, betas: Betas, s: SizingSettings) -> LayerTarget | str:
    """Layer 3 target inside the premium budget, or the reason it cannot be sized."""
    nlv = snapshot.net_liquidation
    if nlv is None or not usable_price(nlv):
        return "net liquidation unknown: no premium budget"
    if not book.known or book.e_vix is None:
        return "; ".join(book.unknown) or "book exposure unknown"
    budget = s.tail_budget_pct_nlv / 100.0 * nlv
    worst = max((-sc.pnl for sc in book.scenarios if sc.pnl is not None and sc.pnl < 0), default=0.0)
    if s.tail_instrument == "vixy":
        price = _fresh_mid(snapshot.vixy, snapshot, s)
        ask = snapshot.vixy.ask if snapshot.vixy else math.nan
        vix = snapshot.vix.fresh_value(snapshot.now, s.hedge_quote_max_age_s) if snapshot.vix else None
        if price is None or vix is None:
            return "no usable VIXY or VIX quote"
        n = min(vixy_units(s.tail_h * max(-book.e_vix, 0.0), price, vix, betas.pct.value, s), math.floor(budget / ask))
        pos = ((HedgeInstrument(HedgeKind.VIXY), n),) if n > 0 else ()
        return LayerTarget(LayerId.TAIL, pos, (f"{n} VIXY within budget ${budget:,.0f}",))
    point = snapshot.curve.nth(snapshot.today, s.tail_contract)
    fwd = _fresh_mid(point.quote, snapshot, s) if point else None
    if point is None or fwd is None:
        return f"no usable F{s.tail_contract} quote for the tail spread"
    k_long = _first_strike(snapshot, point.expiry, fwd + s.tail_long_offset, s)
    k_short = _first_strike(snapshot, point.expiry, k_long + s.tail_spread_width, s) if k_long is not None else None
    if k_long is None or k_short is None:
        return f"no quoted call strikes for a {s.tail_spread_width:g}-wide spread above {fwd + s.tail_long_offset:g}"
    q_long, q_short = _option_quote(snapshot, point.expiry, k_long), _option_quote(snapshot, point.expiry, k_short)
    assert q_long is not None and q_short is not None  # _first_strike only returns quoted strikes
    debit = q_long.ask - q_short.bid  # pay the far sides: the budget must hold at the worst fill
    if not (math.isfinite(debit) and debit > 0):
        return f"tail spread {k_long:g}/{k_short:g} has no positive debit ({debit})"
    width = k_short - k_long
    n = min(
        math.floor(budget / (debit * 100.0) + 1e-9),
        math.floor(worst / (width * 100.0) + 1e-9),
        s.max_vix_options,
    )
    note = (
        f"{n} x {point.expiry} {k_long:g}/{k_short:g}C at {debit:.2f} debit, budget ${budget:,.0f}, "
        f"worst stress loss ${worst:,.0f}"
    )
    if n <= 0:
        return LayerTarget(LayerId.TAIL, (), (note,))
    long_i = HedgeInstrument(HedgeKind.VIX_OPTION, point.expiry, k_long, "C")
    short_i = HedgeInstrument(HedgeKind.VIX_OPTION, point.expiry, k_short, "C")
    return LayerTarget(LayerId.TAIL, ((long_i, n), (short_i, -n)), (note,))


def _apply_caps(
    targets: dict[LayerId, LayerTarget], s: SizingSettings
) -> tuple[dict[LayerId, LayerTarget], list[Alert]]:
    """Hard caps on the totals per kind, filled lowest layer first; covered calls shrink with the futures.

    VX above its cap moves to VXM of the same expiry (10 each, within the VXM cap), so that a larger need never
    yields a smaller hedge when the VX cap binds (the size stays monotone in exposure).
    """
    caps = {HedgeKind.VX: s.max_vx, HedgeKind.VXM: s.max_vxm, HedgeKind.VIXY: s.max_vixy_shares}
    used = dict.fromkeys(caps, 0)
    out: dict[LayerId, LayerTarget] = {}
    alerts: list[Alert] = []
    for lid in sorted(targets):
        t = targets[lid]
        merged: dict[HedgeInstrument, int] = {}
        for inst, q in t.positions:
            merged[inst] = merged.get(inst, 0) + q
        for inst in [i for i in merged if i.kind is HedgeKind.VX]:
            allowed = max(caps[HedgeKind.VX] - used[HedgeKind.VX], 0)
            excess = abs(merged[inst]) - allowed
            if excess > 0:
                sign = 1 if merged[inst] > 0 else -1
                merged[inst] = sign * allowed
                mini = HedgeInstrument(HedgeKind.VXM, inst.expiry)
                merged[mini] = merged.get(mini, 0) + sign * CALLS_PER_VX * excess
                alerts.append(
                    Alert("cap_binding", f"layer {int(lid)} {inst.key}: {excess} over the VX cap -> VXM", lid)
                )
            used[HedgeKind.VX] += abs(merged[inst])
        positions: list[Position] = []
        for inst, q in merged.items():
            if inst.kind in caps and inst.kind is not HedgeKind.VX:
                allowed = max(caps[inst.kind] - used[inst.kind], 0)
                if abs(q) > allowed:
                    alerts.append(
                        Alert("cap_binding", f"layer {int(lid)} {inst.key}: {abs(q)} capped to {allowed}", lid)
                    )
                    q = allowed if q > 0 else -allowed
                used[inst.kind] += abs(q)
            if q != 0:
                positions.append((inst, q))
        positions = _enforce_cover(positions)
        out[lid] = LayerTarget(lid, tuple(positions), t.notes, t.usd_per_pt)
    return out, alerts


def _enforce_cover(positions: list[Position]) -> list[Position]:
    """Short calls never exceed, per expiry, the futures cover plus the long calls they are spread against."""
    room: dict[dt.date, int] = {}
    for inst, q in positions:
        if inst.expiry is not None and not _is_short_call((inst, q)):
            if inst.kind in (HedgeKind.VX, HedgeKind.VXM) and q > 0:
                per = CALLS_PER_VX if inst.kind is HedgeKind.VX else CALLS_PER_VXM
                room[inst.expiry] = room.get(inst.expiry, 0) + q * per
            elif inst.kind is HedgeKind.VIX_OPTION and inst.right == "C" and q > 0:
                room[inst.expiry] = room.get(inst.expiry, 0) + q
    out: list[Position] = []
    for inst, q in positions:
        if _is_short_call((inst, q)):
            assert inst.expiry is not None
            allowed = min(-q, room.get(inst.expiry, 0))
            room[inst.expiry] = room.get(inst.expiry, 0) - allowed
            q = -allowed
        if q != 0:
            out.append((inst, q))
    return out


def _is_short_call(p: Position) -> bool:
    inst, q = p
    return inst.kind is HedgeKind.VIX_OPTION and inst.right == "C" and q < 0 and inst.expiry is not None


def uncovered_short_calls(positions: Iterable[Position]) -> dict[dt.date, int]:
    """Per expiry, short VIX calls beyond (10 x long VX + long VXM + long VIX calls); empty when all covered."""
    cover: dict[dt.date, int] = {}
    short: dict[dt.date, int] = {}
    for inst, q in positions:
        if inst.expiry is None:
            continue
        if inst.kind in (HedgeKind.VX, HedgeKind.VXM) and q > 0:
            cover[inst.expiry] = cover.get(inst.expiry, 0) + q * (CALLS_PER_VX if inst.kind is HedgeKind.VX else 1)
        elif inst.kind is HedgeKind.VIX_OPTION and inst.right == "C":
            if q > 0:
                cover[inst.expiry] = cover.get(inst.expiry, 0) + q
            else:
                short[inst.expiry] = short.get(inst.expiry, 0) - q
    return {e: n - cover.get(e, 0) for e, n in short.items() if n > cover.get(e, 0)}


# ---------------------------------------------------------------- carry budget and cash press


@dataclass(frozen=True, slots=True)
class CarryCheck:
    """Expected monthly (30-day) carry of a hedge book, negative = cost, against the condors' monthly premium."""

    monthly_carry_usd: float | None  # None: some position could not be valued
    condor_premium_usd: float | None  # book theta x 30 (positive for short premium)
    budget_usd: float | None
    within_budget: bool | None
    parts: dict[str, float]

    def to_dict(self) -> dict[str, object]:
        return {
            "monthly_carry_usd": self.monthly_carry_usd,
            "condor_premium_usd": self.condor_premium_usd,
            "budget_usd": self.budget_usd,
            "within_budget": self.within_budget,
            "parts": dict(self.parts),
        }


def carry_check(
    positions: Iterable[Position], book: BookReport, snapshot: MarketSnapshot, s: SizingSettings
) -> CarryCheck:
    """Futures roll toward spot, VIXY decay (F1->F2 roll yield plus expenses), option theta (Black-76)."""
    today = snapshot.today
    vix = snapshot.vix.fresh_value(snapshot.now, s.hedge_quote_max_age_s) if snapshot.vix else None
    parts: dict[str, float] = {}
    total: float | None = 0.0
    for inst, q in positions:
        if q == 0:
            continue
        value = _monthly_carry(inst, q, snapshot, vix, today, s)
        if value is None:
            total = None
            continue
        parts[inst.key] = value
        if total is not None:
            total += value
    premium = (
        30.0 * book.theta if book.theta is not None and book.theta > 0 else (0.0 if book.theta is not None else None)
    )
    budget = s.carry_budget_share * premium if premium is not None else None
    # a Python bool even from numpy-typed prices: `decide` tests `within_budget is False` (numpy's False is not)
    within = None if total is None or budget is None else bool(-total <= budget + 1e-9)
    return CarryCheck(total, premium, budget, within, parts)


def _monthly_carry(
    inst: HedgeInstrument, q: int, snapshot: MarketSnapshot, vix: float | None, today: dt.date, s: SizingSettings
) -> float | None:
    mult = multiplier_of(inst.kind)
    if inst.kind in (HedgeKind.VX, HedgeKind.VXM):
        point = snapshot.curve.point(inst.expiry) if inst.expiry else None
        price = _fresh_mid(point.quote, snapshot, s) if point else None
        if price is None or vix is None or point is None:
            return None
        dte = max(point.dte(today), 1)
        return q * mult * (vix - price) * min(1.0, 30.0 / dte)
    if inst.kind is HedgeKind.VIXY:
        price = _fresh_mid(snapshot.vixy, snapshot, s)
        if price is None:
            return None
        f1, f2 = snapshot.curve.nth(today, 1), snapshot.curve.nth(today, 2)
        p1 = _fresh_mid(f1.quote, snapshot, s) if f1 else None
        p2 = _fresh_mid(f2.quote, snapshot, s) if f2 else None
        roll = (p2 / p1 - 1.0) if p1 is not None and p2 is not None else s.vixy_decay_pct_month / 100.0
        return -q * price * (roll + s.vixy_expense_pct_year / 1200.0)
    point = snapshot.curve.point(inst.expiry) if inst.expiry else None
    fwd = _fresh_mid(point.quote, snapshot, s) if point else None
    mid = _fresh_mid(snapshot.quote_for(inst), snapshot, s)
    if fwd is None or mid is None or inst.expiry is None or inst.strike is None or inst.right not in ("C", "P"):
        return None
    t = max((inst.expiry - today).days, 0) / 365.0
    right: Literal["C", "P"] = "C" if inst.right == "C" else "P"
    iv = _black76_iv(mid, fwd, inst.strike, t, right)
    if iv is None:
        return None
    theta = black76_greeks(fwd, inst.strike, t, 0.0, iv, right).theta
    return q * mult * theta * min(30.0, max((inst.expiry - today).days, 0))


def _black76_iv(price: float, fwd: float, strike: float, t: float, right: Literal["C", "P"]) -> float | None:
    """Implied vol of a VIX option (rate 0): a few Newton steps from the Brenner-Subrahmanyam guess, and the
    shared bisection when Newton leaves the sane range (deep wings), so the answer never depends on the guess."""
    if not (t > 0 and price > 0):
        return None
    vol = max(math.sqrt(2.0 * math.pi / t) * price / fwd, 0.05)
    for _ in range(12):
        g = black76_greeks(fwd, strike, t, 0.0, vol, right)
        diff = g.price - price
        if abs(diff) < 1e-7:
            return vol
        if g.vega <= 1e-10:
            break
        vol -= diff / (100.0 * g.vega)  # vega is per vol point
        if not 1e-3 < vol < 5.0:
            break
    return implied_vol(price, fwd, strike, t, 0.0, right)


@dataclass(frozen=True, slots=True)
class CashPress:
    """A proposal only: new condors the harvested cash could back. The bot never places condors."""

    cash_usd: float
    max_loss_per_condor_usd: float
    condors: int
    note: str

    def to_dict(self) -> dict[str, object]:
        return {
            "cash_usd": self.cash_usd,
            "max_loss_per_condor_usd": self.max_loss_per_condor_usd,
            "condors": self.condors,
            "note": self.note,
        }


def cash_press(book: BookReport, harvested_usd: float, realized_usd: float, regime: Regime) -> CashPress | None:
    """Once the spike has subsided (regime promoter), capacity = harvested cash / max loss per condor, rounded down."""
    cash = harvested_usd + realized_usd
    condors = book.condors
    qty = sum(c.quantity for c in condors)
    if regime is not Regime.PROMOTER or not math.isfinite(cash) or cash <= 0 or qty <= 0:
        return None
    per = sum(c.max_loss or 0.0 for c in condors) / qty
    if not (math.isfinite(per) and per > 0):
        return None
    n = math.floor(cash / per)
    return CashPress(cash, per, n, f"${cash:,.0f} harvested / ${per:,.0f} max loss per condor = {n} condors")

"""`read_book`: the condor book at one instant: structures, greeks, P&L, exposure and stress losses.

Book exposure: `V_IC = 100 * sum(qty * vega)` ($ per vol point), `E_VIX = beta_IV * V_IC` ($ per VIX point).
Stress: every contract is fully repriced (Black-Scholes) on each grid point with SPX moved, time passed and IV
shifted; the skew moves with SPX (sticky moneyness: each leg keeps its own smile offset). Each structure's stress
P&L is capped at its max loss. A structure with an unknown contract has unknown greeks and stress P&L; the book is
then unknown (`BookReport.known` False) and the reasons are listed.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from bot.book.greeks import GreeksTable, greeks_table
from bot.book.grouping import Layout, layout
from bot.domain.condors import BookReport, OnRead, ScenarioResult, Structure, StructureGreeks
from bot.domain.market import MarketSnapshot
from bot.pricing.black_scholes import bs_price_vec
from bot.settings.book import BookSettings


def _inputs(snapshot: MarketSnapshot, settings: BookSettings) -> tuple[float | None, float | None]:
    now = snapshot.now
    spot = snapshot.spx.fresh_value(now, settings.quote_max_age_s) if snapshot.spx else None
    vix = snapshot.vix.fresh_value(now, settings.quote_max_age_s) if snapshot.vix else None
    return spot, vix


def book_greeks(snapshot: MarketSnapshot, settings: BookSettings, lay: Layout | None = None) -> GreeksTable:
    """Per-contract greeks and their sources for the snapshot's option legs (for inspection and status)."""
    lay = lay or layout(snapshot.legs)
    spot, vix = _inputs(snapshot, settings)
    return _table(snapshot, settings, lay, lay.years_to_expiry(snapshot.today), spot, vix)


def _table(
    snapshot: MarketSnapshot,
    settings: BookSettings,
    lay: Layout,
    t: np.ndarray,
    spot: float | None,
    vix: float | None,
) -> GreeksTable:
    legs = [snapshot.legs[i] for i in lay.leg_index]
    return greeks_table(lay.contracts, legs, lay.strikes, lay.is_call, t, snapshot.now, settings, spot, vix)


_UNKNOWN_GREEKS = StructureGreeks()


def read_book(snapshot: MarketSnapshot, settings: BookSettings) -> BookReport:
    """Group, value and stress the option book of `snapshot` (pure; `now` comes from the snapshot)."""
    today = snapshot.today
    spot, vix = _inputs(snapshot, settings)
    grid = settings.stress_grid
    lay = layout(snapshot.legs)
    if not lay.grouped:
        zero = tuple(ScenarioResult(p.spx_pct, p.iv_points, p.days, p.vix_points, 0.0) for p in grid)
        return BookReport((), 0.0, 0.0, settings.beta_iv, 0.0, zero)
    t = lay.years_to_expiry(today)
    table = _table(snapshot, settings, lay, t, spot, vix)
    qm, held = lay.qm, lay.held
    known = table.known
    # (the usual book has every contract known and marked: its masks are then the layout's all-False/all-True ones)
    unknown_s = lay.none if known.all() else (held & ~known).any(axis=1)
    # unknown contracts carry NaN greeks: zero them for the product (their structures are reported unknown)
    # `np.column_stack` of the four columns, built as a C-ordered copy of the stacked rows (the same array, the same
    # layout, so the same product; column_stack's generic path costs twice as much)
    greeks = np.array((table.delta, table.gamma, table.vega, table.theta)).T.copy()
    per_structure = qm @ _zero_missing(greeks)
    delta_s, gamma_s, vega_s, theta_s = per_structure.T
    marks = table.mark
    stressed = spot is not None
    prices: np.ndarray | None = None
    if np.isfinite(marks).all():  # every contract has a two-sided mark: nothing to fill from the model
        marks_ok_s = lay.every
        if stressed:  # a contiguous copy, as `np.where` gave: the product's rounding depends on the layout
            marks = np.ascontiguousarray(marks)
    else:
        if stressed:  # model prices fill the missing marks: the stress base row is needed now
            prices = _stress_prices(lay, table, t, spot, settings)
            marks = np.where(np.isfinite(marks), marks, prices[0])
        marks_ok_s = ~(held & ~np.isfinite(marks)).any(axis=1)
        marks = _zero_missing(marks)
    pnl_s = qm @ marks - lay.cost  # NaN when an average cost is unusable: reported as None

    unknown = [] if unknown_s is lay.none else [_why_unknown(s, lay, table) for s in np.flatnonzero(unknown_s)]
    all_known = not unknown
    stress: _Stress | None = None
    if stressed:
        stress = _Stress(lay, table, t, spot, settings, prices, all_known)
    structures = _structures(lay, today, unknown_s, marks_ok_s, pnl_s, delta_s, gamma_s, vega_s, theta_s, stress)
    if not stressed:
        unknown.append("SPX quote missing or stale: no stress repricing")
    v_ic = float(vega_s.sum()) if all_known else None
    return BookReport(
        structures=structures,
        v_ic=v_ic,
        e_vix=settings.beta_iv * v_ic if v_ic is not None else None,
        beta_iv=settings.beta_iv,
        theta=float(theta_s.sum()) if all_known else None,
        scenarios=OnRead(stress.scenarios) if stress is not None else _scenarios(grid, None),
        unknown=tuple(unknown),
    )


class _Stress:
    """The book's stress P&L per structure and in total, computed on first read (see `OnRead`): from the
    repriced grid, each structure capped at its max loss (`lay.loss_floor`)."""

    __slots__ = ("_all_known", "_args", "_per_structure", "_prices", "_settings", "_total")

    def __init__(self, lay, table, t, spot, settings: BookSettings, prices: np.ndarray | None, all_known: bool):
        self._args = (lay, table, t, spot)
        self._settings = settings
        self._prices = prices
        self._all_known = all_known
        self._per_structure: list[list[float]] | None = None
        self._total: list[float] | None = None

    def per_structure(self) -> list[list[float]]:
        if self._per_structure is None:
            lay, table, t, spot = self._args
            prices = self._prices if self._prices is not None else _stress_prices(lay, table, t, spot, self._settings)
            scen_s = np.maximum(((prices[1:] - prices[0]) @ lay.qm.T).T, lay.loss_floor)
            self._per_structure = scen_s.tolist()
            self._total = scen_s.sum(axis=0).tolist() if self._all_known else None
        return self._per_structure

    def row(self, s: int) -> tuple[float, ...]:
        return tuple(self.per_structure()[s])

    def scenarios(self) -> tuple[ScenarioResult, ...]:
        self.per_structure()
        return _scenarios(self._settings.stress_grid, self._total)


def _scenarios(grid, total: list[float] | None) -> tuple[ScenarioResult, ...]:
    return tuple(
        ScenarioResult(p.spx_pct, p.iv_points, p.days, p.vix_points, total[i] if total else None)
        for i, p in enumerate(grid)
    )


def _zero_missing(values: np.ndarray) -> np.ndarray:
    """`np.nan_to_num(values)`, skipped when every value is finite (the usual case; it costs more than the check)."""
    return values if np.isfinite(values).all() else np.nan_to_num(values)


def _structures(lay: Layout, today, unknown_s, marks_ok_s, pnl_s, delta_s, gamma_s, vega_s, theta_s, stress):
    """Structure values from the per-structure arrays (converted to Python floats once)."""
    unknown_l, marks_l, pnl_l = unknown_s.tolist(), marks_ok_s.tolist(), pnl_s.tolist()
    d_l, g_l, v_l, t_l = delta_s.tolist(), gamma_s.tolist(), vega_s.tolist(), theta_s.tolist()
    today_ordinal = today.toordinal()
    out = []
    for s, shape in enumerate(lay.shapes):
        known = not unknown_l[s]
        pnl = pnl_l[s]
        out.append(
            Structure(
                shape,
                shape.expiry.toordinal() - today_ordinal,
                pnl if marks_l[s] and math.isfinite(pnl) else None,
                StructureGreeks(d_l[s], g_l[s], v_l[s], t_l[s]) if known else _UNKNOWN_GREEKS,
                OnRead(partial(stress.row, s)) if known and stress is not None else None,
            )
        )
    return tuple(out)


def _why_unknown(s: int, lay: Layout, table: GreeksTable) -> str:
    missing = [c.key for j, c in enumerate(lay.contracts) if lay.q[s, j] != 0 and not table.known[j]]
    return f"{lay.shapes[s].label}: no usable greeks for {', '.join(missing)}"


def _stress_prices(lay: Layout, table: GreeksTable, t: np.ndarray, spot: float, settings: BookSettings) -> np.ndarray:
    """Prices per (grid point incl. a no-shock base row first, contract); NaN for unknown contracts."""
    factor, shift, years = _grid_columns(settings)
    known = table.known
    all_known = bool(known.all())
    iv0 = table.iv if all_known else np.where(known, table.iv, 0.2)
    spots = spot * factor
    # log-moneyness per row; the base row's spot is spot x 1.0 == spot, so its row is each leg's own ln(K/S)
    moneyness = np.log(lay.strikes / spots)
    atm0 = iv0 - settings.skew_slope * moneyness[0]  # each leg's own ATM level: its smile is kept
    vol = np.minimum(np.maximum(atm0 + shift + settings.skew_slope * moneyness, settings.min_iv), settings.max_iv)
    tt = np.maximum(t - years, 0.0)
    prices = bs_price_vec(spots, lay.strikes, tt, settings.risk_free_rate, vol, lay.is_call, settings.dividend_yield)
    return prices if all_known else np.where(known, prices, math.nan)


_GRID_CACHE: dict[tuple[tuple[float, float, float], ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _grid_columns(settings: BookSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(1 + SPX move, IV shift, years passed) per grid row as columns, a no-shock base row first. Built once per
    distinct grid (keyed by its values, so an edited grid is never served stale) and shared read-only."""
    key = tuple((p.spx_pct, p.iv_points, p.days) for p in settings.stress_grid)
    columns = _GRID_CACHE.get(key)
    if columns is None:
        factor = (1.0 + np.array([0.0, *(p[0] / 100.0 for p in key)]))[:, None]
        shift = np.array([0.0, *(p[1] / 100.0 for p in key)])[:, None]
        years = np.array([0.0, *(p[2] for p in key)])[:, None] / 365.0
        for arr in (factor, shift, years):
            arr.flags.writeable = False
        if len(_GRID_CACHE) >= 64:  # a few grids at most in practice (config reloads); never grow without bound
            _GRID_CACHE.clear()
        columns = _GRID_CACHE[key] = (factor, shift, years)
    return columns

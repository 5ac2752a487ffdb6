"""One backtest run: the condor book once, then each hedge competitor on the same condors and capital.

Strategies (columns of equity.csv):
- `unhedged`: the condors alone;
- `alvh`: the live decision path, `bot.strategy.decide`, day by day (`bot.backtest.alvh`, passed in as
  `alvh_leg` so that this module stays free of the strategy core);
- `vixy_constant`: a constant VIXY notional, matched so that its calm-time bleed equals ALVH's;
- `vxth_calls`: VXTH-style monthly 30-delta VIX calls;
- `futures_always`: always-on front-month VX sized at h x the condors' VIX exposure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.backtest import metrics as m
from bot.backtest.condors import CondorEngine, CondorResult
from bot.backtest.data import MarketData
from bot.backtest.hedges import VX_MULTIPLIER, LegResult, futures_leg, vixy_leg, vxth_calls_leg
from bot.settings.backtest import BacktestSettings

STRATEGIES = ("unhedged", "alvh", "vixy_constant", "vxth_calls", "futures_always")

# (data, settings, condor result) -> (hedge leg, layers active per day, signals per day, notes)
AlvhLeg = Callable[
    [MarketData, BacktestSettings, CondorResult],
    tuple[LegResult, np.ndarray, dict[str, np.ndarray], list[str]],
]


@dataclass
class RunResult:
    data: MarketData
    settings: BacktestSettings
    condor: CondorResult
    legs: dict[str, LegResult]
    equity: dict[str, np.ndarray]  # strategy -> dollars per day (NaN column when the strategy could not run)
    layers: np.ndarray  # ALVH layers active per day (0 when ALVH did not run)
    alvh_signals: dict[str, np.ndarray]  # "alvh" (any layer armed/active) and "alvh:<signal>" (voted FOR)
    notes: list[str] = field(default_factory=list)


def futures_target(condor: CondorResult, s: BacktestSettings, h: float) -> np.ndarray:
    """VX contracts = h * |E_VIX| / (beta_F * 1000), E_VIX = beta_IV * condor vega (ALVH spec section 5)."""
    comp = s.competitors
    return h * comp.beta_iv * np.abs(condor.vega) / (comp.beta_f * VX_MULTIPLIER)


def run_backtest(
    data: MarketData,
    s: BacktestSettings,
    alvh_leg: AlvhLeg | None = None,
    progress: Callable[[str], None] | None = None,
    only: frozenset[str] | None = None,
    held: np.ndarray | None = None,
) -> RunResult:
    """Run the condors once and every competitor in `only` (default: all). `held` is an optional precomputed
    front-contract schedule for futures_always (see `hedges.hold_contract`)."""
    step = progress or (lambda _name: None)
    wanted = frozenset(STRATEGIES) if only is None else only
    capital = s.condor.capital
    condor = CondorEngine(data, s.condor, s.vol_model, s.costs).run()
    step("condors")
    notes: list[str] = []
    if (data.vx.f1 < 0).all():
        notes.append("no VX futures in this period: every hedge stays flat (VX started 2004-03-26)")
    base = capital + np.cumsum(condor.pnl)
    legs: dict[str, LegResult] = {}
    comp = s.competitors
    if "futures_always" in wanted:
        target = futures_target(condor, s, comp.futures_hedge_ratio)
        legs["futures_always"] = futures_leg(data, target, s.costs, comp.roll_days, comp.contract_step, held=held)
    step("futures_always")
    if "vxth_calls" in wanted:
        legs["vxth_calls"] = vxth_calls_leg(data, comp, s.costs, capital)
    step("vxth_calls")
    layers = np.zeros(data.n)
    alvh_signals: dict[str, np.ndarray] = {}
    alvh = alvh_leg(data, s, condor) if alvh_leg is not None and "alvh" in wanted else None
    if alvh is None:
        if "alvh" in wanted:
            notes.append("alvh: not run (no ALVH leg was given to this run); its column is empty")
    else:
        legs["alvh"], layers, alvh_signals, alvh_notes = alvh
        notes.extend(alvh_notes)
    step("alvh")
    if "vixy_constant" not in wanted:
        return _finish(data, s, condor, legs, layers, alvh_signals, notes, base, progress=step)
    unit = vixy_leg(data, np.full(data.n, capital), s.costs)  # notional = 1 x capital; every term scales linearly
    calm = m.outside_windows(data.dates, list(zip(s.windows.starts, s.windows.ends, strict=True)))
    share = comp.vixy_budget_share
    if share == 0.0:
        alvh_calm = float(legs["alvh"].pnl[calm].sum()) if "alvh" in legs else 0.0
        unit_calm = float(unit.pnl[calm].sum())
        if alvh_calm < 0 and unit_calm < 0:
            share = alvh_calm / unit_calm
            notes.append(f"vixy_constant: notional {share:.2%} of capital matches ALVH's calm-time hedge cost")
        else:
            share = comp.vixy_fallback_share
            notes.append(f"vixy_constant: nothing to match (ALVH calm cost >= 0 or absent); {share:.2%} of capital")
    legs["vixy_constant"] = LegResult(unit.pnl * share, unit.costs * share, unit.exposure * share)
    return _finish(data, s, condor, legs, layers, alvh_signals, notes, base, progress=step)


def _finish(
    data: MarketData,
    s: BacktestSettings,
    condor: CondorResult,
    legs: dict[str, LegResult],
    layers: np.ndarray,
    alvh_signals: dict[str, np.ndarray],
    notes: list[str],
    base: np.ndarray,
    progress: Callable[[str], None],
) -> RunResult:
    progress("vixy_constant")
    equity = {"unhedged": base}
    for name in STRATEGIES[1:]:
        equity[name] = base + np.cumsum(legs[name].pnl) if name in legs else np.full(data.n, np.nan)
    return RunResult(data, s, condor, legs, equity, layers, alvh_signals, notes)


def compute_metrics(result: RunResult) -> dict[str, Any]:
    """Everything metrics.json holds; plain JSON types only."""
    d, s = result.data, result.settings
    capital = s.condor.capital
    windows = list(zip(s.windows.names, s.windows.starts, s.windows.ends, strict=True))
    total_credit = float(result.condor.credit.sum())
    strategies = strategy_metrics(result)
    years = max((d.dates[-1] - d.dates[0]).astype(int) / 365.25, 1e-9)
    ev = s.events
    onsets = m.spike_events(d.vix, ev.spike_vix_rise, ev.spike_min_vix, ev.decluster_days)
    ratio = d.vix / d.vix3m
    signals = {
        "vix_above_20": d.vix > 20,
        "vix_over_vix3m_above_1": np.where(np.isfinite(ratio), ratio > 1, False),
    }
    signals.update(result.alvh_signals)
    scored = {name: m.score_signal(sig, onsets, ev.lead_window_days, years).to_dict() for name, sig in signals.items()}
    for name, sig in list(signals.items()):
        rnd = m.random_like(sig, ev.random_seed)
        scored[f"random_like_{name}"] = m.score_signal(rnd, onsets, ev.lead_window_days, years).to_dict()
    covered = {wname: m.window_covered(d.dates, a, b) for wname, a, b in windows}
    condor_window_pnl = {
        wname: float(result.condor.pnl[m.window_mask(d.dates, a, b)].sum()) if covered[wname] else None
        for wname, a, b in windows
    }
    return {
        "period": {"start": str(d.dates[0]), "end": str(d.dates[-1]), "trading_days": int(d.n)},
        "capital": capital,
        "condors": {
            "trades": len(result.condor.trades),
            "skipped_entries": result.condor.skipped_entries,
            "total_credit": total_credit,
            "total_costs": float(result.condor.costs.sum()),
            "window_pnl": condor_window_pnl,
            "mean_vega_usd_per_vol_point": float(result.condor.vega.mean()),
            "exits": {
                reason: sum(1 for t in result.condor.trades if t.reason == reason)
                for reason in ("take_profit", "stop", "exit_dte", "expiry", "open_at_end")
            },
        },
        "cndr_check": cndr_check(result),
        "windows_covered": covered,
        "strategies": strategies,
        "signal_events": {"spike_onsets": [str(d.dates[i]) for i in onsets], "scores": scored},
        "notes": list(result.notes) + list(d.warnings),
    }


def strategy_metrics(result: RunResult) -> dict[str, dict[str, Any]]:
    """Per strategy: returns, drawdowns (overall and per window), CVaR, time under water, hedge cost, income kept."""
    d, s = result.data, result.settings
    capital = s.condor.capital
    windows = list(zip(s.windows.names, s.windows.starts, s.windows.ends, strict=True))
    calm = m.outside_windows(d.dates, [(a, b) for _, a, b in windows])
    unhedged_pnl = np.diff(result.equity["unhedged"], prepend=capital)
    total_credit = float(result.condor.credit.sum())
    strategies: dict[str, dict[str, Any]] = {}
    for name, eq in result.equity.items():
        if np.isnan(eq).all():
            strategies[name] = {"ran": False}
            continue
        pnl = np.diff(eq, prepend=capital)
        total, per_year = m.annual_return(d.dates, eq, capital)
        uw = m.time_under_water(eq)
        hedge_pnl = pnl - unhedged_pnl
        strategies[name] = {
            "ran": True,
            "final_equity": float(eq[-1]),
            "total_return": total,
            "annual_return": per_year,
            "max_drawdown": m.max_drawdown(eq),
            "max_drawdown_dollars": m.max_drawdown_dollars(eq),
            "cvar_5pct_daily": m.cvar(pnl[1:] / capital, 0.05),
            "time_under_water_share": uw.share_of_days,
            "longest_under_water_days": uw.longest_days,
            "hedge_pnl": float(hedge_pnl.sum()),
            "hedge_costs": float(result.legs[name].costs.sum()) if name in result.legs else 0.0,
            "hedge_cost_share_of_credit": (
                float(-hedge_pnl.sum() / total_credit) if total_credit > 0 and name != "unhedged" else 0.0
            ),
            "income_preserved": m.income_preserved(pnl, unhedged_pnl, calm),
            "windows": {wname: m.window_drawdown(d.dates, eq, a, b) for wname, a, b in windows},
            "window_hedge_pnl": {
                wname: float(hedge_pnl[m.window_mask(d.dates, a, b)].sum()) if m.window_covered(d.dates, a, b) else None
                for wname, a, b in windows
            },
        }
    base = strategies["unhedged"]["windows"]
    for values in strategies.values():
        if values.get("ran"):
            values["drawdown_cut"] = {w: m.drawdown_cut(values["windows"][w], base[w]) for w in base}
    return strategies


def cndr_check(result: RunResult) -> dict[str, Any]:
    """Monthly-return correlation and drawdowns of the unhedged engine vs Cboe's CNDR over their common days."""
    d = result.data
    ok = np.isfinite(d.cndr)
    if ok.sum() < 60:
        return {"available": False}
    eq = result.equity["unhedged"]
    months = d.dates.astype("datetime64[M]")
    last_of_month = np.flatnonzero(np.concatenate((months[1:] != months[:-1], [True])))
    idx = [i for i in last_of_month if ok[i]]
    ours = np.diff(eq[idx]) / result.settings.condor.capital
    theirs = np.diff(d.cndr[idx]) / d.cndr[idx][:-1]
    corr = float(np.corrcoef(ours, theirs)[0, 1]) if len(ours) > 2 else None
    cndr = d.cndr[ok]
    span_days = int((d.dates[ok][-1] - d.dates[ok][0]).astype(int))
    return {
        "available": True,
        "from": str(d.dates[ok][0]),
        "to": str(d.dates[ok][-1]),
        "monthly_return_correlation": corr,
        "months": len(ours),
        "engine_max_drawdown": m.max_drawdown(eq[ok]),
        "cndr_max_drawdown": m.max_drawdown(cndr),
        "engine_annual_return": m.annual_return(d.dates[ok], eq[ok], result.settings.condor.capital)[1],
        "cndr_annual_return": float(cndr[-1] / cndr[0] - 1) * 365.25 / max(span_days, 1),  # simple, like ours
    }

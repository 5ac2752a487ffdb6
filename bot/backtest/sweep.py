"""Parameter sweep: every combination of a grid, run in parallel, every set counted, summarised as sensitivity.

Why a sensitivity table and not a best run: with dozens of sets, the best one is mostly luck (ALVH spec section 8,
"count every parameter set tried"). For each parameter value the table shows the median (and the worst) of each
metric across all the other parameters, so a reader sees which knobs move the result and how much.

Grid keys are dotted settings: relative to `backtest` (`condor.short_delta`) or absolute (`backtest.condor.x`,
`sizing.h_max`, `signals....`). Data is loaded once per worker process (pool initializer). A set runs the condor
engine and `futures_always` (fast, ~10 sets/s per core); ALVH goes through `bot.strategy.decide` day by day (seconds
per set), so it is included only on request (`with_alvh`), e.g. to sweep the strategy's own settings.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.backtest.condors import CondorResult
from bot.backtest.data import MarketData, load_directory
from bot.backtest.hedges import LegResult, hold_contract
from bot.backtest.run import run_backtest, strategy_metrics
from bot.config import AppConfig, ConfigError, config_from_mapping
from bot.settings.backtest import BacktestSettings

FAST = frozenset({"unhedged", "futures_always"})
WITH_ALVH = FAST | {"alvh"}


@dataclass(frozen=True)
class SweepResult:
    keys: tuple[str, ...]
    rows: list[dict[str, Any]]  # one per set: parameters, then "<strategy>.<metric>", then "error"
    tried: int
    failed: int
    strategies: frozenset[str]


def absolute_key(key: str) -> str:
    """`condor.short_delta` -> `backtest.condor.short_delta`; keys naming a top-level section stay as they are."""
    return key if key.split(".", 1)[0] in AppConfig.model_fields else f"backtest.{key}"


def config_with(base: AppConfig, overrides: dict[str, float]) -> AppConfig:
    """`base` with dotted overrides applied and validated like a config file (ConfigError on a bad key/value)."""
    raw = base.model_dump(mode="json")
    for key, value in overrides.items():
        full = absolute_key(key)
        node = raw
        parts = full.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(_unknown(full))
            node = node[part]
        if parts[-1] not in node or isinstance(node[parts[-1]], dict):
            raise ConfigError(_unknown(full))
        node[parts[-1]] = value
    return config_from_mapping(raw, source="sweep grid")


def _unknown(key: str) -> str:
    return f"sweep grid: `{key}` is not a setting. Fix: use a dotted key from config/default.toml"


def combinations(grid: dict[str, tuple[float, ...]]) -> Iterator[dict[str, float]]:
    keys = list(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        yield dict(zip(keys, values, strict=True))


def evaluate(
    data: MarketData, config: AppConfig, held: np.ndarray | None = None, with_alvh: bool = False
) -> dict[str, Any]:
    """Key metrics of one parameter set (the sweep's row, without the parameters)."""
    alvh_leg = None
    if with_alvh:
        from bot.backtest.alvh import alvh_leg as leg

        def alvh_leg(
            d: MarketData, _s: BacktestSettings, c: CondorResult
        ) -> tuple[LegResult, np.ndarray, dict[str, np.ndarray], list[str]]:
            return leg(d, config, c)

    only = WITH_ALVH if with_alvh else FAST
    result = run_backtest(data, config.backtest, alvh_leg=alvh_leg, only=only, held=held)
    row: dict[str, Any] = {}
    for name, values in strategy_metrics(result).items():
        if not values.get("ran"):
            continue
        windows = [v for v in values["windows"].values() if v is not None]
        row[f"{name}.annual_return"] = values["annual_return"]
        row[f"{name}.max_drawdown"] = values["max_drawdown"]
        row[f"{name}.worst_window_drawdown"] = min(windows) if windows else None
        row[f"{name}.income_preserved"] = values["income_preserved"]
        row[f"{name}.hedge_cost_share_of_credit"] = values["hedge_cost_share_of_credit"]
    return row


# ---- worker side: data loaded once per process ------------------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _prepare(data: MarketData, start: str, end: str, base: AppConfig, with_alvh: bool) -> None:
    """Set the process-wide sweep context; forked workers inherit it (copy-on-write, data loaded once)."""
    _WORKER["data"] = data.slice(max(start, str(data.dates[0])), min(end, str(data.dates[-1])))
    _WORKER["base"] = base
    _WORKER["held"] = {}
    _WORKER["with_alvh"] = with_alvh


def _run_one(overrides: dict[str, float]) -> dict[str, Any]:
    data: MarketData = _WORKER["data"]
    try:
        config = config_with(_WORKER["base"], overrides)
        roll = config.backtest.competitors.roll_days
        held = _WORKER["held"].get(roll)
        if held is None:
            held = _WORKER["held"][roll] = hold_contract(data, roll)
        return {**overrides, **evaluate(data, config, held, _WORKER["with_alvh"]), "error": ""}
    except Exception as exc:  # a set that breaks is counted and reported, never silently dropped
        return {**overrides, "error": f"{type(exc).__name__}: {exc}"}


def run_sweep(
    directory: str,
    start: str,
    end: str,
    base: AppConfig,
    grid: dict[str, tuple[float, ...]],
    workers: int = 0,
    progress: Callable[[int], None] | None = None,
    with_alvh: bool = False,
) -> SweepResult:
    sets = list(combinations(grid))
    for overrides in sets:
        config_with(base, overrides)  # fail fast on a bad key or value, before starting processes
    n_workers = workers or os.cpu_count() or 1
    # Loaded here, in the parent: a bad directory raises DataError to the caller (loading it in a pool initializer
    # made multiprocessing respawn failing workers forever), and forked workers share the parent's copy.
    _prepare(load_directory(directory), start, end, base, with_alvh)
    rows: list[dict[str, Any]] = []
    if n_workers == 1:
        for overrides in sets:
            rows.append(_run_one(overrides))
            if progress:
                progress(1)
    else:
        with mp.get_context("fork").Pool(n_workers) as pool:
            for row in pool.imap(_run_one, sets, chunksize=max(1, len(sets) // (n_workers * 8))):
                rows.append(row)
                if progress:
                    progress(1)
    failed = sum(1 for r in rows if r.get("error"))
    return SweepResult(tuple(grid), rows, len(sets), failed, WITH_ALVH if with_alvh else FAST)


def sensitivity(result: SweepResult) -> list[dict[str, Any]]:
    """Per parameter value: median and worst of each metric over every set with that value."""
    ok = [r for r in result.rows if not r.get("error")]
    metric_keys = sorted({k for r in ok for k in r if k.split(".", 1)[0] in result.strategies and k not in result.keys})
    table: list[dict[str, Any]] = []
    for key in result.keys:
        for value in sorted({r[key] for r in ok}):
            group = [r for r in ok if r[key] == value]
            entry: dict[str, Any] = {"parameter": key, "value": value, "sets": len(group)}
            for mk in metric_keys:
                vals = np.array([r[mk] for r in group if r.get(mk) is not None], dtype=float)
                entry[f"{mk}.median"] = float(np.median(vals)) if len(vals) else None
                entry[f"{mk}.worst"] = float(vals.min()) if len(vals) else None
            table.append(entry)
    return table


def sensitivity_markdown(result: SweepResult, table: list[dict[str, Any]]) -> str:
    hedged = "alvh" if "alvh" in result.strategies else "futures_always"
    cols = [
        ("unhedged.annual_return.median", "unhedged per year (median)"),
        ("unhedged.max_drawdown.median", "unhedged max DD (median)"),
        ("unhedged.max_drawdown.worst", "unhedged max DD (worst)"),
        (f"{hedged}.annual_return.median", f"{hedged} per year (median)"),
        (f"{hedged}.max_drawdown.median", f"{hedged} max DD (median)"),
        (f"{hedged}.worst_window_drawdown.median", f"{hedged} worst window DD (median)"),
        (f"{hedged}.income_preserved.median", f"{hedged} income kept (median)"),
    ]
    out = [
        f"Parameter sets tried: {result.tried} (failed: {result.failed}). Every set counts; no set is singled out.",
        "",
        "| parameter | value | sets | " + " | ".join(title for _, title in cols) + " |",
        "|---|---|---|" + "---|" * len(cols),
    ]
    for entry in table:
        cells = ["n/a" if entry.get(k) is None else f"{entry[k] * 100:.1f}%" for k, _ in cols]
        out.append(f"| {entry['parameter']} | {entry['value']:g} | {entry['sets']} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"

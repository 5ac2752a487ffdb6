"""Output files of `alvh backtest --out DIR`: equity.csv, metrics.json, report.md and PNG plots.

equity.csv: `date`, then exactly `unhedged, alvh, vixy_constant, vxth_calls, futures_always` (account equity in
dollars on the fixed capital base, one row per trading day; a strategy that could not run is an empty column).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from bot.backtest import metrics as m
from bot.backtest.run import STRATEGIES, RunResult


def write_equity_csv(result: RunResult, path: Path) -> None:
    lines = ["date," + ",".join(STRATEGIES)]
    columns = [result.equity[name] for name in STRATEGIES]
    for i, day in enumerate(result.data.dates):
        cells = ["" if math.isnan(col[i]) else f"{col[i]:.2f}" for col in columns]
        lines.append(f"{day}," + ",".join(cells))
    path.write_text("\n".join(lines) + "\n")


def _clean(obj: object) -> object:
    """JSON-safe: NaN/inf -> None, numpy scalars -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def metrics_json(metrics: dict[str, Any]) -> str:
    return json.dumps(_clean(metrics), indent=2, sort_keys=False)


def _pct(x: float | None) -> str:
    if x is None:
        return "n/a"
    value = float(x)
    return "0.0%" if abs(value) < 5e-4 else f"{value * 100:.1f}%"


def _usd(x: float | None) -> str:
    if x is None:
        return "n/a"
    value = float(x)
    return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"


def report_markdown(metrics: dict[str, Any], command: str) -> str:
    period = metrics["period"]
    strategies: dict[str, dict[str, Any]] = metrics["strategies"]
    ran = {k: v for k, v in strategies.items() if v.get("ran")}
    out = [
        "# Backtest report",
        "",
        f"Period {period['start']} to {period['end']} ({period['trading_days']} trading days), "
        f"capital ${metrics['capital']:,.0f}. Command: `{command}`",
        "",
        "## Strategies",
        "",
        "| strategy | total | per year | max DD | CVaR 5% (daily) | under water | hedge cost / credit | income kept |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, v in ran.items():
        out.append(
            f"| {name} | {_pct(v['total_return'])} | {_pct(v['annual_return'])} | {_pct(v['max_drawdown'])} | "
            f"{_pct(v['cvar_5pct_daily'])} | {_pct(v['time_under_water_share'])} | "
            f"{_pct(v['hedge_cost_share_of_credit'])} | {_pct(v['income_preserved'])} |"
        )
    for name, v in strategies.items():
        if not v.get("ran"):
            out.append(f"| {name} | not run | | | | | | |")
    out += ["", "## Max drawdown inside stress windows", ""]
    names = list(metrics["windows_covered"])
    out.append("| strategy | " + " | ".join(names) + " |")
    out.append("|---|" + "---|" * len(names))
    for name, v in ran.items():
        cells = [_pct(v["windows"][w]) if metrics["windows_covered"][w] else "not covered" for w in names]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += [
        "",
        "## Drawdown cut against the unhedged book (the seed claims > 50% in spikes, with the income kept)",
        "",
        "| strategy | " + " | ".join(names) + " | windows with a cut > 50% | income kept |",
        "|---|" + "---|" * (len(names) + 2),
    ]
    for name, v in ran.items():
        if name == "unhedged":
            continue
        cuts = v["drawdown_cut"]
        scored = [cuts[w] for w in names if cuts[w] is not None]
        met = sum(1 for c in scored if c > 0.5)
        cells = [_pct(cuts[w]) if cuts[w] is not None else "n/a" for w in names]
        out.append(f"| {name} | " + " | ".join(cells) + f" | {met} of {len(scored)} | {_pct(v['income_preserved'])} |")
    condor_pnl = metrics["condors"]["window_pnl"]
    out += ["", "## P&L inside the windows: the condors, and what each hedge added", ""]
    out.append("| | " + " | ".join(names) + " |")
    out.append("|---|" + "---|" * len(names))
    out.append("| condors | " + " | ".join(_usd(condor_pnl[w]) for w in names) + " |")
    for name, v in ran.items():
        if name != "unhedged":
            out.append(f"| {name} hedge | " + " | ".join(_usd(v["window_hedge_pnl"][w]) for w in names) + " |")
    cndr = metrics["cndr_check"]
    out += ["", "## Realism check against Cboe CNDR", ""]
    if cndr.get("available"):
        out.append(
            f"Over {cndr['from']} to {cndr['to']}: monthly return correlation "
            f"{cndr['monthly_return_correlation']:.2f} ({cndr['months']} months); max drawdown engine "
            f"{_pct(cndr['engine_max_drawdown'])} vs CNDR {_pct(cndr['cndr_max_drawdown'])}; "
            f"per year engine {_pct(cndr['engine_annual_return'])} vs CNDR {_pct(cndr['cndr_annual_return'])}."
        )
    else:
        out.append("CNDR not in the data directory (or under 60 common days): no comparison.")
    out += ["", "## Signals as spike predictors", ""]
    sig = metrics["signal_events"]
    out.append(f"{len(sig['spike_onsets'])} spike events (de-clustered).")
    out += ["", "| signal | episodes | precision | recall | median lead (days) | false alarms / year | on share |"]
    out.append("|---|---|---|---|---|---|---|")
    for name, s in sig["scores"].items():
        lead = "n/a" if s["median_lead_days"] is None else f"{s['median_lead_days']:.0f}"
        out.append(
            f"| {name} | {s['episodes']} | {_pct(s['precision'])} | {_pct(s['recall'])} | {lead} | "
            f"{s['false_alarms_per_year']:.1f} | {_pct(s['on_share'])} |"
        )
    out += ["", "## Notes", ""] + [f"- {note}" for note in metrics["notes"]]
    return "\n".join(out) + "\n"


def write_plots(result: RunResult, metrics: dict[str, Any], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dates = result.data.dates.astype("datetime64[D]").astype(object)
    written: list[Path] = []
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=(2, 1))
    for name in STRATEGIES:
        eq = result.equity[name]
        if np.isnan(eq).all():
            continue
        ax1.plot(dates, eq, label=name, lw=0.9)
        ax2.plot(dates, m.drawdown(eq) * 100, label=name, lw=0.8)
    ax1.set_ylabel("equity ($)")
    ax1.legend(loc="upper left", fontsize=8)
    ax2.set_ylabel("drawdown (%)")
    fig.tight_layout()
    path = out / "equity_drawdown.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    fig, ax = plt.subplots(figsize=(11, 4))
    ax.plot(dates, result.data.vix, color="black", lw=0.7, label="VIX")
    ax.set_ylabel("VIX")
    ax2b = ax.twinx()
    ax2b.fill_between(dates, 0, result.layers, step="post", alpha=0.3, color="tab:red", label="ALVH layers active")
    ax2b.set_ylim(0, 3.5)
    ax2b.set_ylabel("layers active")
    ax.set_title("ALVH layer activity over VIX" + ("" if result.layers.any() else " (ALVH did not run)"))
    fig.tight_layout()
    path = out / "layers_vix.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    cndr = result.data.cndr
    ok = np.isfinite(cndr)
    if ok.sum() >= 60:
        base = result.equity["unhedged"][ok]
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
        shown = np.asarray(dates)[ok]
        ax1.plot(shown, base / base[0], label="condor engine, unhedged", lw=0.9)
        ax1.plot(shown, cndr[ok] / cndr[ok][0], label="Cboe CNDR", lw=0.9)
        ax1.set_ylabel("growth of 1")
        ax1.legend(loc="upper left", fontsize=8)
        ax2.plot(shown, m.drawdown(base) * 100, lw=0.8, label="engine")
        ax2.plot(shown, m.drawdown(cndr[ok]) * 100, lw=0.8, label="CNDR")
        ax2.set_ylabel("drawdown (%)")
        ax2.legend(loc="lower left", fontsize=8)
        fig.tight_layout()
        path = out / "cndr_check.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    strategies: dict[str, dict[str, Any]] = metrics["strategies"]
    names = list(metrics["windows_covered"])
    rows = [n for n, v in strategies.items() if v.get("ran")]
    cells = [
        [_pct(strategies[r]["windows"][w]) if metrics["windows_covered"][w] else "not covered" for w in names]
        for r in rows
    ]
    fig, ax = plt.subplots(figsize=(11, 0.5 + 0.4 * (len(rows) + 1)))
    ax.axis("off")
    table = ax.table(cellText=cells, rowLabels=rows, colLabels=names, loc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    ax.set_title("Max drawdown inside stress windows")
    fig.tight_layout()
    path = out / "window_table.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def write_outputs(result: RunResult, metrics: dict[str, Any], out: Path, command: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    write_equity_csv(result, out / "equity.csv")
    (out / "metrics.json").write_text(metrics_json(metrics) + "\n")
    (out / "report.md").write_text(report_markdown(metrics, command))
    return [out / "equity.csv", out / "metrics.json", out / "report.md", *write_plots(result, metrics, out)]

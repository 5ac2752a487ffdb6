"""Time one full `decide`: 50 condors, every signal (RSI, level, tail, term structure, MACD, macro, breadth, one
external series), 250 daily bars, all three layers holding (sizing, covered calls, tail spreads and planning all run).

Run: python benchmarks/decision.py [--runs 2000]. Prints one JSON line (target: median <= 1 ms):
- `median_ms`, `p99_ms`: steady state, each call reusing the signal memory the previous one returned (the live
  loop between two daily bars: the RSI and MACD states are cached);
- `cold_median_ms`, `cold_p99_ms`: every call from an empty memory (the first decision after a restart);
- `first_call_ms`: the very first call in the process (it also materialises the exchange calendars once).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "core"))  # the same builders the core tests use

from alvh_core_fixtures import NOW, condor_legs, daily, snapshot, vix_path, vx_curve  # noqa: E402

from bot.domain.intents import HedgeInstrument, HedgeKind  # noqa: E402
from bot.domain.layers import LayerBook, LayerId, LayerPhase, LayerState  # noqa: E402
from bot.domain.market import HedgePosition  # noqa: E402
from bot.domain.state import StrategyState  # noqa: E402
from bot.settings.signals import ExternalRule, SignalSettings  # noqa: E402
from bot.signals.inputs import Breadth, ExternalSeries, MacroCalendar, MacroEvent  # noqa: E402
from bot.strategy import CoreSettings, History, decide  # noqa: E402


def build() -> tuple:
    legs = []
    for i in range(50):
        expiry = NOW.date() + dt.timedelta(days=30 + 7 * (i // 10))
        off = 5 * (i % 10)
        legs += condor_legs(expiry, (5310 - off, 5360 - off, 5655 + off, 5705 + off), 2, with_greeks=True)
    bars = 250
    vix = vix_path(bars)
    vix[-15:] *= np.linspace(1.0, 2.2, 15)  # a spike in progress
    end = NOW.date()
    ratio = np.linspace(0.9, 1.12, bars)
    ad = np.cumsum(np.sin(np.arange(bars) / 9.0) * 300.0)
    macro = MacroCalendar(tuple(MacroEvent(end + dt.timedelta(days=d), "CPI") for d in (-30, 1, 30)))
    history = History(
        vix=daily(vix, end),
        ratio=daily(ratio, end),
        f1=daily(vix * 0.8 + 3.0, end),
        f2=daily(vix * 0.6 + 6.0, end),
        vixy=daily(vix * 2.5, end),
        macro=macro,
        breadth=Breadth(daily(ad, end), daily(np.diff(ad, prepend=0.0), end)),
        externals=(ExternalSeries("pe", daily(np.linspace(22.0, 18.0, bars), end)),),
    )
    curve = vx_curve(prices=(36.0, 33.0, 30.0, 28.5))
    f1, f2 = curve.points[0].expiry, curve.points[1].expiry
    hedges = (
        HedgePosition(HedgeInstrument(HedgeKind.VXM, f1), 4, 3000.0),
        HedgePosition(HedgeInstrument(HedgeKind.VXM, f2), 2, 2900.0),
    )
    snap = snapshot(legs, vix=float(vix[-1]), curve=curve, hedges=hedges)
    signals = SignalSettings(
        externals=[ExternalRule(name="pe", file=Path("pe.csv"), direction="below", threshold=19.0)]
    )
    since = NOW - dt.timedelta(days=3)
    layers = LayerBook(
        (
            LayerState(LayerId.NEAR_TERM, LayerPhase.ACTIVE, since, strength=0.8, episode=1),
            LayerState(LayerId.MID_CURVE, LayerPhase.HARVESTING, since, strength=0.6, thickness=0.5, episode=1),
            LayerState(LayerId.TAIL, LayerPhase.ACTIVE, since, strength=1.0, episode=1),
        )
    )
    state = StrategyState(layers=layers, mid_curve_fraction=0.5)
    return snap, state, history, CoreSettings(signals=signals)


def _timed(snap, state, history, settings, runs: int, reuse_memory: bool) -> list[float]:
    """Milliseconds per `decide`. With `reuse_memory` each call gets the signal memory the previous one returned,
    as the live loop does (the layers stay as built, so every call runs the full path); without it every call
    starts from an empty memory, as after a restart."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        decision = decide(snap, state, history, settings)
        times.append((time.perf_counter() - t0) * 1000.0)
        if reuse_memory:
            state = dataclasses.replace(state, memory=decision.state.memory)
    return sorted(times)


def _p99(times: list[float]) -> float:
    return times[min(len(times) - 1, int(0.99 * len(times)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    snap, state, history, settings = build()
    t0 = time.perf_counter()
    first = decide(snap, state, history, settings)
    first_ms = (time.perf_counter() - t0) * 1000.0
    if not first.record.sizing.targets:
        raise SystemExit("benchmark setup error: no layer was sized, the benchmark would not time the full path")
    _timed(snap, state, history, settings, 50, reuse_memory=True)  # warm-up
    steady = _timed(snap, state, history, settings, args.runs, reuse_memory=True)
    cold = _timed(snap, state, history, settings, args.runs, reuse_memory=False)
    result = {
        "median_ms": round(statistics.median(steady), 4),
        "p99_ms": round(_p99(steady), 4),
        "cold_median_ms": round(statistics.median(cold), 4),
        "cold_p99_ms": round(_p99(cold), 4),
        "first_call_ms": round(first_ms, 2),
        "runs": args.runs,
        "condors": len(first.record.book.condors),
        "votes": len(first.record.votes),
        "intents": len(first.intents),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

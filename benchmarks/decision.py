"""Time one full `decide`: 50 condors, every signal (RSI, level, tail, term structure, MACD, macro, breadth, one
external series), 250 daily bars, all three layers holding (sizing, covered calls, tail spreads and planning all run).

Run: python benchmarks/decision.py [--runs 2000]. Prints one JSON line: median_ms, p99_ms (target: median <= 1 ms).
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    snap, state, history, settings = build()
    first = decide(snap, state, history, settings)
    if not first.record.sizing.targets:
        raise SystemExit("benchmark setup error: no layer was sized, the benchmark would not time the full path")
    for _ in range(50):
        decide(snap, state, history, settings)
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        decide(snap, state, history, settings)
        times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
    result = {
        "median_ms": round(statistics.median(times), 4),
        "p99_ms": round(p99, 4),
        "runs": args.runs,
        "condors": len(first.record.book.condors),
        "votes": len(first.record.votes),
        "intents": len(first.intents),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Market model speed: what the simulator pays per tick cycle of ~50 instruments, and the one-off costs.

A cycle asks quote() and greeks() for 50 instruments (the 4 condor legs, 9 VX, 4 VXM, VIXY, 4 indices and 28 SPX/VIX
options) at one instant; the clock then moves 60 simulated seconds (a 20,000x clock ticking every 3 ms of real
time). Target: tens of microseconds per call. Also timed: building the spike scenario, the first 300 daily bars.

Run: python benchmarks/sim_market.py [--cycles 2000]. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time

from bot.sim.market import catalog
from bot.sim.market.api import ContractQuery
from bot.sim.market.factory import build_market


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=2000)
    args = parser.parse_args()

    t0 = time.perf_counter()
    market = build_market("spike", seed=0)
    build_ms = (time.perf_counter() - t0) * 1e3
    start = market.info.start
    ids = [e.instrument.con_id for e in market.starting_book()]
    ids += [i.con_id for i in market.find(ContractQuery(symbol="VIX", sec_type="FUT"), start)]
    ids += [i.con_id for i in market.find(ContractQuery(symbol="VXM", sec_type="FUT"), start)]
    ids += [catalog.FIXED_IDS[s] for s in ("VIXY", "SPX", "VIX", "VIX3M", "VIX9D")]
    spx_exp, vix_exp = catalog.listed_expiries("SPX", start)[1], catalog.listed_expiries("VIX", start)[1]
    ids += [catalog.con_id_of(catalog.OptKey("SPX", spx_exp, r, k)) for r in "CP" for k in range(5200, 5800, 50)]
    ids += [catalog.con_id_of(catalog.OptKey("VIX", vix_exp, "C", float(k))) for k in (15, 20, 25, 30)]
    ids = ids[:50]

    per_call_us: list[float] = []
    t = start
    for _ in range(args.cycles):
        a = time.perf_counter()
        for con_id in ids:
            market.quote(con_id, t)
            market.greeks(con_id, t)
        per_call_us.append((time.perf_counter() - a) / (2 * len(ids)) * 1e6)
        t += dt.timedelta(seconds=60)
        if t >= market.info.end:
            t = start
    per_call_us.sort()

    a = time.perf_counter()
    bars = market.daily_bars(catalog.FIXED_IDS["VIX"], start, 300)
    bars_ms = (time.perf_counter() - a) * 1e3
    assert len(bars) == 300
    print(
        json.dumps(
            {
                "instruments": len(ids),
                "cycles": args.cycles,
                "call_p50_us": round(statistics.median(per_call_us), 1),
                "call_p99_us": round(per_call_us[int(0.99 * (len(per_call_us) - 1))], 1),
                "build_spike_ms": round(build_ms, 1),
                "first_300_bars_ms": round(bars_ms, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

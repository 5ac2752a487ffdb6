"""Latency of the shell on the tick-to-order path: the pre-trade risk check, and what the journal costs before
placeOrder (record_intent, begin_submit, record_order_sending, each a synchronous=FULL commit) and per broker
evidence message. Run on demand:

    python benchmarks/journal_latency.py [N]

Prints one JSON line (milliseconds). The journal lives in a fresh private temp directory on the same disk as /tmp.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, PriceGuidance, Side
from bot.domain.layers import LayerId
from bot.journal import Journal, OrderEvidence
from bot.risk import Quote, RiskContext, TradingState, check_intent
from bot.settings.risk import RiskSettings


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(n: int = 500) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal.open(Path(tmp) / "bench.sqlite")
        instrument = HedgeInstrument(HedgeKind.VX, dt.date(2026, 4, 15))
        pre_send, evidence, risk = [], [], []
        settings = RiskSettings()
        now = dt.datetime(2026, 3, 4, 15, 0, tzinfo=dt.UTC)  # CFE open
        ctx = RiskContext(now, "paper", "DU1234567", False, None, TradingState.ACTIVE, Quote(17.0, 17.2, now))
        for i in range(n):
            intent = Intent(f"bench-{i}", LayerId.NEAR_TERM, instrument, Side.BUY, 1, PriceGuidance(17.0, 17.2), "b")
            tr = time.perf_counter()
            if not check_intent(intent, ctx, settings).accepted:
                raise SystemExit("benchmark intent was denied; fix the benchmark context")
            t0 = time.perf_counter()
            risk.append((t0 - tr) * 1000)
            rec = journal.record_intent(intent, mode="paper", needs_approval=False)
            journal.begin_submit(rec.id, rec.fingerprint, client_id=1, order_id=i + 1)
            journal.record_order_sending(
                rec.id, order_id=i + 1, step=1, con_id=1, action="BUY", quantity=1, limit_price=17.1,
                at=dt.datetime.now(dt.UTC),
            )  # fmt: skip
            t1 = time.perf_counter()
            journal.record_order(OrderEvidence(rec.id, "Submitted", 10_000 + i, i + 1, 1, quantity=1))
            t2 = time.perf_counter()
            pre_send.append((t1 - t0) * 1000)
            evidence.append((t2 - t1) * 1000)
        journal.close()
    print(
        json.dumps(
            {
                "n": n,
                "risk_check_p50_ms": round(statistics.median(risk), 4),
                "risk_check_p99_ms": round(_pct(risk, 0.99), 4),
                "pre_send_p50_ms": round(statistics.median(pre_send), 3),
                "pre_send_p99_ms": round(_pct(pre_send, 0.99), 3),
                "evidence_p50_ms": round(statistics.median(evidence), 3),
                "evidence_p99_ms": round(_pct(evidence, 0.99), 3),
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)

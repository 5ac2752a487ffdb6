"""`--orders-log FILE`: one JSON line per order event the simulator receives or emits, flushed at once.

This file is the audit trail ("what reached the exchange") that end-to-end and fault tests read to prove that no
intent was sent twice, so every line carries who (clientId, orderId, permId, orderRef), what (conId, localSymbol,
action, qty, lmtPrice) and when (a monotonic sequence number, wall-clock and simulated timestamps).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import IO, Any


class OrdersLog:
    """Append-only JSONL writer; safe to share between the server loop and a test thread reading it."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path is not None else None
        self._file: IO[str] | None = None
        self._seq = 0
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")

    def write(self, event: str, sim_time: dt.datetime, **fields: Any) -> None:
        if self._file is None:
            return
        with self._lock:
            self._seq += 1
            record = {
                "seq": self._seq,
                "event": event,
                "ts": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
                "sim_time": sim_time.isoformat(),
                **fields,
            }
            self._file.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_orders_log(path: Path | str) -> list[dict[str, Any]]:
    """Every record of an orders log, in order (for tests and audits)."""
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]

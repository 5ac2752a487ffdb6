"""Audit export: every journal table as CSV or JSON lines, read inside one snapshot so the files agree."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from bot.journal.store import Journal

TABLES = (
    "schema_version",
    "cycles",
    "decisions",
    "intents",
    "intent_transitions",
    "approvals",
    "orders",
    "order_status_history",
    "fills",
    "events",
    "trading_state",
)


def export_journal(journal: Journal, out_dir: Path, fmt: str = "csv") -> dict[str, int]:
    """Write `<table>.csv` or `<table>.jsonl` (mode 0600, they hold account ids) into out_dir; returns row counts."""
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown export format {fmt!r}; use csv or jsonl")
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    conn = journal._conn  # the export is part of the journal package
    counts: dict[str, int] = {}
    conn.execute("BEGIN")  # one read snapshot for all tables
    try:
        for table in TABLES:
            cur = conn.execute(f"SELECT * FROM {table} ORDER BY rowid")
            columns = [d[0] for d in cur.description]
            path = out_dir / f"{table}.{fmt}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            n = 0
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
                if fmt == "csv":
                    writer = csv.writer(fh)
                    writer.writerow(columns)
                    for row in cur:
                        writer.writerow(row)
                        n += 1
                else:
                    for row in cur:
                        fh.write(json.dumps(dict(zip(columns, row, strict=True)), sort_keys=True) + "\n")
                        n += 1
            counts[table] = n
    finally:
        conn.execute("COMMIT")
    return counts

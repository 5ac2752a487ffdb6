"""SIGKILL at random moments of a sending loop, then restart: no intent ever reaches the broker twice, every order
the broker has is tracked in the journal, and the database stays intact. Counted from the broker's log."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.journal import IntentStatus, Journal

from .kill_child import broker_orders

CHILD = Path(__file__).with_name("kill_child.py")
ROOT = Path(__file__).resolve().parents[2]


def run_kills(journal_path: Path, log: Path, kills: int, seed: int) -> int:
    rng = random.Random(seed)
    killed = 0
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(journal_path), str(log), "100000"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        killed += proc.returncode == -signal.SIGKILL
    # a last, clean restart that finishes a few more intents
    done = subprocess.run(
        [sys.executable, str(CHILD), str(journal_path), str(log), "3"], cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return killed


def check_invariants(journal_path: Path, log: Path) -> None:
    sent = Counter(o["order_ref"] for o in broker_orders(log))
    duplicates = {ref: n for ref, n in sent.items() if n > 1}
    assert duplicates == {}, f"intents sent twice: {duplicates}"
    with Journal.open(journal_path) as journal:
        assert journal._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        records = {r.id: r for r in journal.list_intents()}
        for ref in sent:  # every order at the broker is tracked, none is marked 'not sent'
            assert records[ref].status is IntentStatus.WORKING, (ref, records[ref].status)
        for rec in records.values():
            assert rec.submit_count <= 1
            if rec.id not in sent:  # journaled but never reached the broker: never sendable again
                assert rec.status in (IntentStatus.EXPIRED, IntentStatus.PLANNED), (rec.id, rec.status)
        assert len(sent) >= 3
        expired = sum(r.status is IntentStatus.EXPIRED for r in records.values())
        print(
            f"sigkill: {len(sent)} orders at the broker, {expired} journaled-but-unsent intents expired, 0 duplicates"
        )


@pytest.mark.timeout(120)
def test_sigkill_during_sends_never_duplicates(private_dir, tmp_path):
    journal_path, log = private_dir / "alvh.sqlite", tmp_path / "broker.jsonl"
    assert run_kills(journal_path, log, kills=6, seed=1) >= 5
    check_invariants(journal_path, log)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sigkill_many_times(private_dir, tmp_path):
    journal_path, log = private_dir / "alvh.sqlite", tmp_path / "broker.jsonl"
    assert run_kills(journal_path, log, kills=60, seed=7) >= 55
    check_invariants(journal_path, log)

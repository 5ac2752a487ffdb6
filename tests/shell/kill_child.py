"""An 'engine' for the SIGKILL test: on start it reconciles with the broker log, then plans and sends intents in a
loop (record -> begin_submit -> send -> record evidence) until it is killed.

The broker log (JSON lines, one per order the broker received) is written with O_APPEND before the evidence is
journaled, like a real gateway that has the order before the bot hears back.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for helpers.py

from helpers import make_intent  # type: ignore[import-not-found]

from bot.journal import BrokerEvidence, Journal, NotSendable, OrderEvidence


def broker_orders(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]  # one small O_APPEND write per line


def send(journal: Journal, log_fd: int, intent_id: str, fingerprint: str, perm: int) -> None:
    try:
        journal.begin_submit(intent_id, fingerprint, client_id=1, order_id=perm)
    except NotSendable:
        return
    os.write(log_fd, (json.dumps({"order_ref": intent_id, "perm_id": perm}) + "\n").encode())
    journal.record_order(OrderEvidence(intent_id, "Submitted", perm, perm, 1, quantity=2))


def main(journal_path: str, broker_log: str, limit: str) -> None:
    log = Path(broker_log)
    journal = Journal.open(journal_path)
    known = broker_orders(log)
    evidence = [OrderEvidence(o["order_ref"], "Submitted", o["perm_id"], o["perm_id"], 1, quantity=2) for o in known]
    journal.reconcile(BrokerEvidence(orders=evidence, complete=True))
    perm = 1 + max((o["perm_id"] for o in known), default=0)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    print("ready", flush=True)
    for i in range(int(limit)):
        rec = journal.record_intent(make_intent(f"k-{i}"), mode="paper", needs_approval=False)
        send(journal, fd, rec.id, rec.fingerprint, perm)
        perm += 1
    journal.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])

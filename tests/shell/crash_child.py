"""Child process for the crash tests: runs the send protocol for one intent and dies (os._exit) at a named point.

The "broker" is a JSON-lines file standing in for the simulator's orders log: a line is appended when an order
is sent, which is what the parent checks for duplicates.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for helpers.py

from helpers import make_intent  # type: ignore[import-not-found]

from bot.journal import Journal, OrderEvidence
from bot.journal.store import Journal as _J


def main(journal_path: str, broker_log: str, crash_at: str, intent_id: str) -> None:
    journal = Journal.open(journal_path)

    def crash(point: str) -> None:
        if point == crash_at:
            os._exit(17)  # no cleanup, no commit, no flush: like SIGKILL at this line

    if crash_at == "inside_begin_submit":  # die after the UPDATE, before COMMIT
        original = _J._log_transition

        def dying(self, intent, old, new, source, reason):
            original(self, intent, old, new, source, reason)
            if new.value == "submitting":
                os._exit(17)

        _J._log_transition = dying  # type: ignore[method-assign]

    intent = make_intent(intent_id)
    rec = journal.record_intent(intent, mode="paper", needs_approval=False)
    crash("after_record_intent")
    journal.begin_submit(rec.id, rec.fingerprint, client_id=17, order_id=101)
    crash("after_begin_submit")
    with open(broker_log, "a") as fh:  # placeOrder: the broker now has it
        fh.write(json.dumps({"order_ref": rec.id, "perm_id": 5000, "order_id": 101}) + "\n")
    crash("after_send")
    journal.record_order(
        OrderEvidence(order_ref=rec.id, status="Submitted", perm_id=5000, order_id=101, client_id=17, quantity=2)
    )
    crash("after_evidence")
    journal.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])

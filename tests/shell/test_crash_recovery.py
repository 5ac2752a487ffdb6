"""A process killed at any line of the send protocol restarts without sending any intent twice.

The child runs record_intent -> begin_submit -> send -> record evidence and dies at one point; the parent then
restarts like the engine does (reconcile against broker evidence, then try to send every sendable intent) and
counts sends in the broker's own log, not in the journal.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from bot.journal import (
    BrokerEvidence,
    FillEvidence,
    IntentStatus,
    Journal,
    NotSendable,
    OrderEvidence,
    RecoveryAction,
    decide_recovery,
)

from .helpers import T0

CHILD = Path(__file__).with_name("crash_child.py")
ROOT = Path(__file__).resolve().parents[2]
S = IntentStatus


def _broker_orders(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _evidence_from(log: Path, outcome: str) -> BrokerEvidence:
    """What the gateway reports after the restart, for the orders it really received."""
    orders, fills = [], []
    for o in _broker_orders(log):
        if outcome == "working":
            orders.append(OrderEvidence(o["order_ref"], "Submitted", o["perm_id"], o["order_id"], 17, quantity=2))
        else:  # filled while the bot was down: a completed order (orderId 0) plus its execution
            orders.append(OrderEvidence(o["order_ref"], "Filled", o["perm_id"], 0, 17, quantity=2, filled=2,
                                        is_open=False))  # fmt: skip
            fills.append(FillEvidence("x1", "VX:2026-04-15", "BUY", 2, 17.1, T0, o["order_ref"], o["perm_id"]))
    return BrokerEvidence(orders=orders, fills=fills, complete=True)


def _restart_and_send_all(journal_path: Path, log: Path, outcome: str) -> Journal:
    journal = Journal.open(journal_path)
    journal.reconcile(_evidence_from(log, outcome))
    for rec in journal.list_intents():
        try:
            journal.begin_submit(rec.id, rec.fingerprint)
        except NotSendable:
            continue
        with log.open("a") as fh:
            fh.write(json.dumps({"order_ref": rec.id, "perm_id": 6000, "order_id": 102}) + "\n")
    return journal


CASES = [
    # crash point, sends the broker sees in total, status after restart if the broker keeps it working / filled it
    ("after_record_intent", 1, S.SUBMITTING, S.SUBMITTING),  # never sent before: the restart sends it, once
    ("inside_begin_submit", 1, S.SUBMITTING, S.SUBMITTING),  # the transaction rolled back: as if never started
    ("after_begin_submit", 0, S.EXPIRED, S.EXPIRED),  # journaled, not sent: expired, never (re)sent
    ("after_send", 1, S.WORKING, S.FILLED),  # at the broker, the journal did not hear: adopted from evidence
    ("after_evidence", 1, S.WORKING, S.FILLED),
    ("no_crash", 1, S.WORKING, S.FILLED),
]


@pytest.mark.parametrize("outcome", ["working", "filled"])
@pytest.mark.parametrize(("crash_at", "sends_expected", "if_working", "if_filled"), CASES)
def test_killed_at_any_point_never_sends_twice(
    private_dir, tmp_path, crash_at, sends_expected, if_working, if_filled, outcome
):
    journal_path, log = private_dir / "alvh.sqlite", tmp_path / "broker_orders.jsonl"
    proc = subprocess.run(
        [sys.executable, str(CHILD), str(journal_path), str(log), crash_at, "L1-e1-VX-open"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == (0 if crash_at == "no_crash" else 17), proc.stderr

    journal = _restart_and_send_all(journal_path, log, outcome)
    sends = Counter(o["order_ref"] for o in _broker_orders(log))
    assert sends["L1-e1-VX-open"] == sends_expected, f"sent {sends['L1-e1-VX-open']} times"
    status = journal.get_intent("L1-e1-VX-open").status
    # A fresh send in the restart shows as submitting (evidence would come from the broker next).
    assert status is (if_working if outcome == "working" else if_filled) or (
        status is S.SUBMITTING and crash_at in ("after_record_intent", "inside_begin_submit")
    )

    # A second restart with the same evidence changes nothing and sends nothing.
    journal.close()
    _restart_and_send_all(journal_path, log, outcome).close()
    assert Counter(o["order_ref"] for o in _broker_orders(log))["L1-e1-VX-open"] == sends_expected


def _o(ref="A", status="Submitted", perm=1, filled=0.0, is_open=True, order_id=1) -> OrderEvidence:
    return OrderEvidence(ref, status, perm, order_id, 17, quantity=4, filled=filled, is_open=is_open)


@pytest.mark.parametrize(
    ("evidence", "action"),
    [
        (BrokerEvidence(), RecoveryAction.MARK_NOT_SENT),
        (BrokerEvidence(complete=False), RecoveryAction.WAIT),
        (BrokerEvidence(orders=[_o()]), RecoveryAction.KEEP_WORKING),
        (BrokerEvidence(orders=[_o()], complete=False), RecoveryAction.KEEP_WORKING),
        (BrokerEvidence(orders=[_o(status="Filled", filled=4, is_open=False)]), RecoveryAction.MARK_FILLED),
        (BrokerEvidence(orders=[_o(status="Cancelled", is_open=False)]), RecoveryAction.MARK_CANCELLED),
        (BrokerEvidence(orders=[_o(status="Inactive", is_open=False)]), RecoveryAction.MARK_REJECTED),
        (BrokerEvidence(orders=[_o(ref="B")]), RecoveryAction.MARK_NOT_SENT),  # someone else's order
        # a ladder: step 1 cancelled after 1 filled, step 2 filled the other 3 -> the intent is filled
        (
            BrokerEvidence(
                orders=[
                    _o(status="Cancelled", perm=1, filled=1, is_open=False),
                    _o(status="Filled", perm=2, filled=3, is_open=False, order_id=2),
                ]
            ),
            RecoveryAction.MARK_FILLED,
        ),
        (
            BrokerEvidence(fills=[FillEvidence("e1", "VX", "BUY", 1, 17, T0, "A", 1)]),
            RecoveryAction.MARK_CANCELLED,
        ),
    ],
)
def test_recovery_decision_from_evidence(evidence: BrokerEvidence, action: RecoveryAction):
    decision = decide_recovery("A", 4, evidence)
    assert decision.action is action, decision.reason
    assert decision.may_resend is False


def test_recovery_matches_by_perm_id_when_order_ref_is_missing():
    evidence = BrokerEvidence(orders=[_o(ref=None, perm=77)])
    assert decide_recovery("A", 4, evidence, known_perm_ids=[77]).action is RecoveryAction.KEEP_WORKING
    assert decide_recovery("A", 4, evidence).action is RecoveryAction.MARK_NOT_SENT


def test_incomplete_evidence_leaves_submitting_untouched(journal: Journal):
    from .helpers import make_intent

    rec = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    journal.begin_submit(rec.id, rec.fingerprint)
    decisions = journal.reconcile(BrokerEvidence(complete=False))
    assert [d.action for d in decisions] == [RecoveryAction.WAIT]
    assert journal.get_intent(rec.id).status is S.SUBMITTING
    with pytest.raises(NotSendable):
        journal.begin_submit(rec.id, rec.fingerprint)


def test_in_flight_intents_are_left_to_their_executor(journal: Journal):
    from .helpers import make_intent

    rec = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    journal.begin_submit(rec.id, rec.fingerprint)
    assert journal.reconcile(BrokerEvidence(), in_flight={rec.id}) == []
    assert journal.get_intent(rec.id).status is S.SUBMITTING


def test_late_evidence_for_an_intent_marked_not_sent_is_tracked(journal: Journal):
    from .helpers import make_intent

    rec = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    journal.begin_submit(rec.id, rec.fingerprint)
    journal.reconcile(BrokerEvidence())
    assert journal.get_intent(rec.id).status is S.EXPIRED
    update = journal.record_order(OrderEvidence(rec.id, "Submitted", 42, 101, 17, quantity=2))
    assert update.intent_status is S.WORKING and update.anomaly and "marked not sent" in update.anomaly

"""Approval mode end to end: nothing reaches the exchange until a person approves, and a rejected or expired
intent never does. The person acts from another process through the journal, as `alvh approve` does; the bot is a
real process; what was sent is read from the simulator's orders log."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.journal import IntentStatus, Journal

from .helpers import SLOW_SPEED, SLOW_START, alvh, places, private_dir, start_bot, stop, wait_for

pytestmark = pytest.mark.timeout(90)
APPROVAL = {"approval": {"pending_expiry_s": 3.0, "approved_expiry_s": 30.0, "max_price_move_pct": 50.0}}


def pending(journal: Path) -> list:
    if not journal.exists():
        return []
    with Journal.open(journal, create=False) as j:
        return j.pending_approvals()


def statuses(journal: Path) -> dict[str, IntentStatus]:
    with Journal.open(journal, create=False) as j:
        return {r.id: r.status for r in j.list_intents()}


def test_approval_mode_sends_only_what_a_person_approved(slow_sim, tmp_path: Path) -> None:
    thread, anchor, log = slow_sim
    d = private_dir(tmp_path)
    journal = d / "alvh.sqlite"
    sections = json.dumps(APPROVAL)
    bot = start_bot(thread.port, anchor, journal, tmp_path / "bot.out", "approval", sections, SLOW_START, SLOW_SPEED)
    try:
        wait_for(lambda: bool(pending(journal)), 40, "a first intent awaiting approval")
        assert places(log) == [], "an order went out before any approval"

        shown = {}
        for _ in range(10):  # while the bot runs; a pending intent may expire or be re-planned between two looks
            status = alvh("status", "--json", "--journal", str(journal))
            assert status.returncode == 0, status.stderr
            shown = json.loads(status.stdout)
            if shown["pending_approvals"]:
                break
        assert shown["running"] is True and shown["mode"] == "approval"
        assert [row["layer"] for row in shown["layers"]] == [1, 2, 3]
        assert shown["pending_approvals"] and shown["pending_approvals"][0]["fingerprint"]

        first = pending(journal)[0]
        with Journal.open(journal, create=False) as j:
            j.reject(first.id, by="test", reason="not now")
        rejected = first.id

        wait_for(lambda: any(p.id != rejected for p in pending(journal)), 30, "another intent awaiting approval")
        chosen = next(p for p in pending(journal) if p.id != rejected)
        with Journal.open(journal, create=False) as j:
            j.approve(chosen.id, chosen.short_fingerprint, by="test")
        wait_for(lambda: chosen.id in {p["orderRef"] for p in places(log)}, 30, "the approved intent to be sent")

        # whatever else is pending is left alone: it must expire (3 s) and never be sent
        time.sleep(4)
    finally:
        assert stop(bot) == 0
    final = statuses(journal)
    sent = {p["orderRef"] for p in places(log)}
    expired = {i for i, s in final.items() if s is IntentStatus.EXPIRED}
    assert final[rejected] is IntentStatus.REJECTED and rejected not in sent
    assert expired, "no pending intent expired during the test"
    assert not expired & sent, f"expired intents were sent: {expired & sent}"
    with Journal.open(journal, create=False) as j:
        approved = {i for i in final if j.approval_of(i) and j.approval_of(i)["decision"] == "approved"}
    assert sent <= approved, f"sent without an approval: {sent - approved}"

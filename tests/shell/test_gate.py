"""gate_intent: the engine's single pre-send call behaves per mode and never sends an intent twice."""

from __future__ import annotations

import dataclasses
import datetime as dt

from bot.approvals import gate_intent
from bot.journal import IntentStatus, Journal
from bot.risk import Quote, RiskContext, TradingState
from bot.settings.approval import ApprovalSettings
from bot.settings.risk import RiskSettings

from .helpers import T0, make_intent

S = IntentStatus
RISK, APPROVAL = RiskSettings(), ApprovalSettings()


def ctx(mode: str = "paper", **kw) -> RiskContext:
    base = RiskContext(T0, mode, "DU1234567", False, None, TradingState.ACTIVE, Quote(17.0, 17.2, T0),
                       net_liquidation=1e6)  # fmt: skip
    return dataclasses.replace(base, **kw)


def test_paper_sends_once(journal: Journal):
    first = gate_intent(journal, make_intent(), ctx(), RISK, APPROVAL, order_id=7)
    assert first.send and first.record.status is S.SUBMITTING and first.record.order_id == 7
    again = gate_intent(journal, make_intent(), ctx(), RISK, APPROVAL)
    assert not again.send and again.codes == ("not_sendable",)


def test_paper_denial_stays_planned_and_passes_later(journal: Journal):
    saturday = dt.datetime(2026, 3, 7, 15, 0, tzinfo=dt.UTC)
    denied = gate_intent(journal, make_intent(), ctx(now=saturday, quote=Quote(17.0, 17.2, saturday)), RISK, APPROVAL)
    assert not denied.send and denied.codes == ("market_closed",)
    assert journal.get_intent(denied.record.id).status is S.PLANNED
    assert journal.events(kind="risk_denied")[0]["code"] == "market_closed"
    assert gate_intent(journal, make_intent(), ctx(), RISK, APPROVAL).send


def test_dry_run_never_sends(journal: Journal):
    decision = gate_intent(journal, make_intent(), ctx("dry-run"), RISK, APPROVAL)
    assert not decision.send and decision.codes[0] == "dry_run"
    assert journal.get_intent(decision.record.id).status is S.PLANNED and decision.record.submit_count == 0


def test_approval_waits_then_sends_what_was_approved(journal: Journal):
    waiting = gate_intent(journal, make_intent(), ctx("approval"), RISK, APPROVAL)
    assert not waiting.send and waiting.codes == ("pending_approval",)
    journal.approve(waiting.record.id, waiting.record.short_fingerprint, by="alice")
    sent = gate_intent(journal, make_intent(), ctx("approval"), RISK, APPROVAL)
    assert sent.send and sent.record.status is S.SUBMITTING


def test_approval_with_a_changed_plan_goes_back_to_waiting(journal: Journal):
    waiting = gate_intent(journal, make_intent(), ctx("approval"), RISK, APPROVAL)
    journal.approve(waiting.record.id, waiting.record.short_fingerprint, by="alice")
    changed = gate_intent(journal, make_intent(quantity=3), ctx("approval"), RISK, APPROVAL)
    assert not changed.send and changed.codes == ("pending_approval",)


def test_rejected_intent_is_never_sent_and_new_content_is_a_conflict(journal: Journal):
    waiting = gate_intent(journal, make_intent(), ctx("approval"), RISK, APPROVAL)
    journal.reject(waiting.record.id, by="bob")
    assert gate_intent(journal, make_intent(), ctx("approval"), RISK, APPROVAL).codes == ("not_sendable",)
    assert gate_intent(journal, make_intent(quantity=3), ctx("approval"), RISK, APPROVAL).codes == ("conflict",)

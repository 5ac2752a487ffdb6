"""Approvals bind to content, expire, are final, and are re-checked against prices and risk before sending."""

from __future__ import annotations

import dataclasses

import pytest

from bot.approvals import recheck_approved, send_approved
from bot.journal import ApprovalError, ApprovalRefusal, IntentStatus, Journal, NotSendable
from bot.risk import Quote, RiskContext, TradingState
from bot.settings.approval import ApprovalSettings
from bot.settings.risk import RiskSettings

from .helpers import T0, make_intent

S = IntentStatus
APPROVAL = ApprovalSettings()
RISK = RiskSettings()


def pending(journal: Journal, **kw):
    return journal.record_intent(
        make_intent(**kw),
        mode="approval",
        needs_approval=True,
        pending_expiry_s=APPROVAL.pending_expiry_s,
        approved_ttl_s=APPROVAL.approved_expiry_s,
    )


def ctx(**changes) -> RiskContext:
    base = RiskContext(
        now=T0, mode="approval", account="DU1234567", live_flag=False, live_account=None,
        trading_state=TradingState.ACTIVE, quote=Quote(17.0, 17.2, T0), net_liquidation=1e6,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_approve_binds_to_the_fingerprint_shown(journal: Journal):
    rec = pending(journal)
    approved = journal.approve(rec.id, rec.short_fingerprint, by="alice")
    assert approved.status is S.APPROVED
    assert journal.approval_of(rec.id)["decided_by"] == "alice"
    sent = journal.begin_submit(rec.id, rec.fingerprint)
    assert sent.status is S.SUBMITTING


def test_changed_intent_refuses_the_old_fingerprint(journal: Journal):
    seen = pending(journal)
    pending(journal, quantity=5)  # the bot re-planned the same id with a new quantity
    with pytest.raises(ApprovalError) as err:
        journal.approve(seen.id, seen.short_fingerprint, by="alice")
    assert err.value.code is ApprovalRefusal.FINGERPRINT_MISMATCH
    assert journal.get_intent(seen.id).status is S.PENDING_APPROVAL


def test_replacing_an_approved_intent_voids_the_approval(journal: Journal):
    seen = pending(journal)
    journal.approve(seen.id, seen.short_fingerprint, by="alice")
    replaced = pending(journal, limit=17.5)  # new price after the approval
    assert replaced.status is S.PENDING_APPROVAL
    with pytest.raises(NotSendable):
        journal.begin_submit(replaced.id, replaced.fingerprint)


@pytest.mark.parametrize("shown", ["", "abc", "0" * 12])
def test_short_or_wrong_fingerprints_are_refused(journal: Journal, shown: str):
    rec = pending(journal)
    with pytest.raises(ApprovalError) as err:
        journal.approve(rec.id, shown, by="alice")
    assert err.value.code is ApprovalRefusal.FINGERPRINT_MISMATCH


def test_unknown_id_is_refused(journal: Journal):
    with pytest.raises(ApprovalError) as err:
        journal.approve("nope", "0" * 12, by="alice")
    assert err.value.code is ApprovalRefusal.UNKNOWN
    with pytest.raises(ApprovalError):
        journal.reject("nope", by="alice")


def test_expired_pending_is_refused_and_stays_expired(journal: Journal, clock):
    rec = pending(journal)
    clock.advance(APPROVAL.pending_expiry_s)
    assert journal.pending_approvals() == []
    with pytest.raises(ApprovalError) as err:
        journal.approve(rec.id, rec.short_fingerprint, by="alice")
    assert err.value.code is ApprovalRefusal.EXPIRED
    assert journal.get_intent(rec.id).status is S.EXPIRED  # the refusal committed the expiry
    with pytest.raises(NotSendable):
        journal.begin_submit(rec.id, rec.fingerprint)


def test_approved_but_not_sent_in_time_expires(journal: Journal, clock):
    rec = pending(journal)
    journal.approve(rec.id, rec.short_fingerprint, by="alice")
    clock.advance(APPROVAL.approved_expiry_s + 1)
    with pytest.raises(NotSendable, match="expired"):
        journal.begin_submit(rec.id, rec.fingerprint)
    assert journal.get_intent(rec.id).status is S.EXPIRED


def test_expire_due_sweeps_pending_and_approved(journal: Journal, clock):
    a = pending(journal)
    b = pending(journal, intent_id="L1-b")
    journal.approve(b.id, b.short_fingerprint, by="alice")
    clock.advance(max(APPROVAL.pending_expiry_s, APPROVAL.approved_expiry_s) + 1)
    assert sorted(journal.expire_due()) == sorted([a.id, b.id])
    assert journal.expire_due() == []


def test_already_decided_is_refused_and_decisions_are_final(journal: Journal):
    rec = pending(journal)
    journal.reject(rec.id, by="bob", reason="too big")
    for attempt in (
        lambda: journal.approve(rec.id, rec.short_fingerprint, by="alice"),
        lambda: journal.reject(rec.id, by="alice"),
    ):
        with pytest.raises(ApprovalError) as err:
            attempt()
        assert err.value.code is ApprovalRefusal.ALREADY_DECIDED
    with pytest.raises(NotSendable):
        journal.begin_submit(rec.id, rec.fingerprint)
    # the planner coming back with the same id cannot resurrect it
    assert pending(journal).status is S.REJECTED


def test_rejected_or_expired_intents_never_become_sendable_by_any_path(journal: Journal, clock):
    rejected = pending(journal)
    journal.reject(rejected.id, by="bob")
    expired = pending(journal, intent_id="L1-x")
    clock.advance(APPROVAL.pending_expiry_s + 1)
    journal.expire_due()
    for rec in (rejected, expired):
        with pytest.raises(NotSendable):
            journal.begin_submit(rec.id, rec.fingerprint)
        decision = send_approved(journal, rec.id, ctx(now=clock()), RISK, APPROVAL)
        assert not decision.send
        with pytest.raises(ApprovalError):
            journal.approve(rec.id, rec.short_fingerprint, by="alice")
        with pytest.raises(Exception, match="never reused"):
            journal.record_intent(make_intent(rec.id, quantity=9), mode="approval", needs_approval=True,
                                  pending_expiry_s=60, approved_ttl_s=60)  # fmt: skip


def test_paper_intents_are_not_awaiting_approval(journal: Journal):
    rec = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    with pytest.raises(ApprovalError) as err:
        journal.approve(rec.id, rec.short_fingerprint, by="alice")
    assert err.value.code is ApprovalRefusal.NOT_AWAITING


def test_recheck_sends_when_nothing_changed(journal: Journal, clock):
    rec = pending(journal)
    journal.approve(rec.id, rec.short_fingerprint, by="alice")
    decision = send_approved(journal, rec.id, ctx(), RISK, APPROVAL, client_id=17, order_id=5)
    assert decision.send and decision.record.status is S.SUBMITTING and decision.record.order_id == 5
    again = send_approved(journal, rec.id, ctx(), RISK, APPROVAL)
    assert not again.send  # submitted once, never twice


def test_recheck_refuses_when_the_price_moved(journal: Journal):
    rec = pending(journal)  # reference 17.0
    journal.approve(rec.id, rec.short_fingerprint, by="alice")
    moved = 17.0 * (1 + APPROVAL.max_price_move_pct / 100) + 0.1
    decision = send_approved(journal, rec.id, ctx(quote=Quote(moved - 0.05, moved + 0.05, T0)), RISK, APPROVAL)
    assert not decision.send and "price_moved" in decision.codes
    assert journal.get_intent(rec.id).status is S.APPROVED  # may still go if the price comes back in time
    assert journal.events(kind="approval_recheck")
    inside = 17.0 * (1 + APPROVAL.max_price_move_pct / 100) - 0.01
    within = recheck_approved(
        journal.get_intent(rec.id), ctx(quote=Quote(inside - 0.005, inside + 0.005, T0)),
        RiskSettings(collar_beyond_far_pct=10), APPROVAL,
    )  # fmt: skip
    assert "price_moved" not in within.codes


def test_recheck_applies_current_risk(journal: Journal):
    rec = pending(journal)
    journal.approve(rec.id, rec.short_fingerprint, by="alice")
    halted = send_approved(journal, rec.id, ctx(trading_state=TradingState.HALTED), RISK, APPROVAL)
    assert not halted.send and "trading_halted" in halted.codes
    assert not recheck_approved(journal.get_intent(rec.id), ctx(quote=None), RISK, APPROVAL).send


def test_recheck_refuses_unapproved(journal: Journal):
    rec = pending(journal)
    decision = recheck_approved(rec, ctx(), RISK, APPROVAL)
    assert not decision.send and decision.codes == ("not_approved",)

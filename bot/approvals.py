"""The gate before sending, in every mode: journal the intent, check risk, wait for (or re-check) an approval,
then commit `submitting`. What a person sees of an intent also lives here.

The journal makes approvals bind to content (`Journal.approve` checks the fingerprint the person saw).
This module adds the re-check the engine runs before sending: the approval must still be valid, prices must not
have moved away from what the person saw, and every risk check must pass now, not when it was planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.intents import Intent
from bot.journal import IntentConflict, IntentRecord, IntentStatus, Journal, NotSendable
from bot.journal.states import SENT, TERMINAL
from bot.risk import RiskContext, check_intent
from bot.settings.approval import ApprovalSettings
from bot.settings.risk import RiskSettings


@dataclass(frozen=True, slots=True)
class SendDecision:
    send: bool
    reasons: tuple[str, ...]  # empty when send is True
    codes: tuple[str, ...] = ()  # risk reason codes and "not_approved" / "price_moved"
    record: IntentRecord | None = None  # the `submitting` record when send is True


def recheck_approved(
    record: IntentRecord, ctx: RiskContext, risk: RiskSettings, approval: ApprovalSettings
) -> SendDecision:
    """Pure re-check of an approved intent against the current quote and risk state."""
    if record.status is not IntentStatus.APPROVED:
        return SendDecision(False, (f"intent {record.id} is {record.status.value}, not approved",), ("not_approved",))
    intent = record.intent
    reasons: list[str] = []
    codes: list[str] = []
    mid = ctx.quote.mid if ctx.quote is not None else None
    if intent.price is not None and mid is not None and intent.price.reference > 0:
        move = abs(mid - intent.price.reference) / intent.price.reference * 100
        if move > approval.max_price_move_pct:
            reasons.append(
                f"mid {mid:g} moved {move:.1f}% from the {intent.price.reference:g} the person approved "
                f"(limit {approval.max_price_move_pct:g}%)"
            )
            codes.append("price_moved")
    decision = check_intent(intent, ctx, risk)
    reasons += [f"{d.code.value}: {d.message}" for d in decision.denials]
    codes += [d.code.value for d in decision.denials]
    return SendDecision(not reasons, tuple(reasons), tuple(codes))


def send_approved(
    journal: Journal, intent_id: str, ctx: RiskContext, risk: RiskSettings, approval: ApprovalSettings, **order: Any
) -> SendDecision:
    """The engine's call before sending an approved intent: re-check, then commit `submitting`.

    Returns send=True with the `submitting` record: place the order now with orderRef = intent id. Returns send=False
    with reasons otherwise; the intent stays approved until its approval expires (a refusal caused by a passing
    condition, like a stale quote, may clear next cycle), and the refusal is journaled as an event.
    `order` passes client_id / order_id through to `Journal.begin_submit`.
    """
    record = journal.get_intent(intent_id)
    if record is None:
        return SendDecision(False, (f"no intent {intent_id!r}",), ("not_approved",))
    decision = recheck_approved(record, ctx, risk, approval)
    if not decision.send:
        journal.record_event(
            "approval_recheck",
            f"{intent_id} not sent: {'; '.join(decision.reasons)}",
            "refused",
            {"codes": decision.codes},
        )
        return decision
    try:
        submitted = journal.begin_submit(intent_id, record.fingerprint, **order)
    except NotSendable as exc:  # rejected, expired or replaced between the re-check and now
        return SendDecision(False, (str(exc),), ("not_approved",))
    return SendDecision(True, (), (), submitted)


def describe(record: IntentRecord) -> dict[str, Any]:
    """Everything a person needs to decide, as plain data (for `alvh pending` and `alvh status`)."""
    c = record.content
    price = c.get("price") or {}
    return {
        "id": record.id,
        "fingerprint": record.short_fingerprint,
        "layer": c["layer"],
        "instrument": c["instrument"]["key"],
        "side": c["side"],
        "quantity": c["quantity"],
        "reference_price": price.get("reference"),
        "limit_price": price.get("limit"),
        "reason": c["reason"],
        "opens_position": c["opens_position"],
        "group": c.get("group"),
        "votes": c.get("votes", []),
        "created_at": record.created_at.isoformat(),
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
        "status": record.status.value,
    }


def gate_intent(
    journal: Journal,
    intent: Intent,
    ctx: RiskContext,
    risk: RiskSettings,
    approval: ApprovalSettings,
    *,
    cycle_id: int | None = None,
    **order: Any,
) -> SendDecision:
    """The engine's one call per planned intent per cycle, in every mode. send=True: place the order now with
    orderRef = intent.id (the `submitting` record is committed). send=False: `codes` say why; nothing to do.

    - dry-run: journaled and checked, never sent (code "dry_run", plus what risk would have said).
    - approval: journaled as pending; "pending_approval" until a person decides; once approved, re-checked
      (`send_approved`) and submitted.
    - paper / live: risk-checked now; a denial leaves the intent planned (conditions like a stale quote or closed
      market pass) and is journaled as an event; accepted -> submitted.
    An intent already sent or finished is never sent again ("not_sendable"); the same id with new content after
    that is refused ("conflict": the planner must use a new id).
    """
    mode = ctx.mode
    try:
        record = journal.record_intent(
            intent,
            mode=mode,
            needs_approval=mode == "approval",
            cycle_id=cycle_id,
            pending_expiry_s=approval.pending_expiry_s,
            approved_ttl_s=approval.approved_expiry_s,
        )
    except IntentConflict as exc:
        return SendDecision(False, (str(exc),), ("conflict",))
    if record.status in TERMINAL or record.status in SENT:
        return SendDecision(False, (f"intent {record.id} is {record.status.value}",), ("not_sendable",), record)
    if mode == "approval":
        if record.status is IntentStatus.PENDING_APPROVAL:
            return SendDecision(False, ("waiting for a person: `alvh pending`",), ("pending_approval",), record)
        return send_approved(journal, record.id, ctx, risk, approval, **order)
    decision = check_intent(record.intent, ctx, risk)
    if mode == "dry-run":
        would = decision.explain() if not decision.accepted else "would send"
        return SendDecision(False, (f"dry-run: never sent ({would})",), ("dry_run", *decision.codes), record)
    if not decision.accepted:
        journal.record_event(
            "risk_denied", f"{record.id}: {decision.explain()}", decision.denials[0].code.value,
            {"codes": [c.value for c in decision.codes]},
        )  # fmt: skip
        return SendDecision(False, tuple(d.message for d in decision.denials), tuple(c.value for c in decision.codes),
                            record)  # fmt: skip
    try:
        submitted = journal.begin_submit(record.id, record.fingerprint, **order)
    except NotSendable as exc:
        return SendDecision(False, (str(exc),), ("not_sendable",), record)
    return SendDecision(True, (), (), submitted)

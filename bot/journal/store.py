"""The journal: everything the bot decided, asked, sent and was told, in SQLite (see bot/journal/__init__.py).

Each public method is one short transaction (BEGIN IMMEDIATE ... COMMIT), so `alvh approve` in another terminal
waits at most a few milliseconds for the bot and vice versa. Rows that move money (intents, approvals, orders,
fills) are committed with synchronous=FULL; cycles, decisions and events with NORMAL (WAL keeps them consistent,
a power cut may lose the last few). `begin_submit` is NORMAL too: the FULL commit of the order it leads to, made
before placeOrder, syncs it (the WAL is one file, synced as a whole), so a first send costs one fsync.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from bot.domain.intents import Intent
from bot.journal.codec import SHORT_FINGERPRINT, fingerprint, intent_from_dict, intent_to_dict, short
from bot.journal.db import JournalError, connect, migrate
from bot.journal.evidence import BrokerEvidence, FillEvidence, OrderEvidence
from bot.journal.recovery import RecoveryAction, RecoveryDecision, decide_recovery
from bot.journal.states import ALLOWED, NOT_YET_SENT, SENT, TERMINAL, IntentStatus, status_from_broker
from bot.risk import TradingState

S = IntentStatus
Clock = Callable[[], dt.datetime]
_FINAL_IB = {"Filled", "Cancelled", "ApiCancelled", "Inactive"}
SENDING = "Sending"  # our own marker for an order journaled before placeOrder; never an IB status
_OUTCOME_STATUS = {
    "filled": IntentStatus.FILLED,
    "partial": IntentStatus.CANCELLED,
    "unfilled": IntentStatus.CANCELLED,
    "rejected": IntentStatus.REJECTED,
}
OPERATOR = "operator:"  # set_by prefix of a person's command
_STRICTNESS = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}
_FINAL_OUTCOMES = {"filled", "partial", "unfilled", "rejected", "skipped"}


def wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ApprovalRefusal(StrEnum):
    UNKNOWN = "unknown"
    NOT_AWAITING = "not_awaiting_approval"
    ALREADY_DECIDED = "already_decided"
    EXPIRED = "expired"
    FINGERPRINT_MISMATCH = "fingerprint_mismatch"


class ApprovalError(JournalError):
    def __init__(self, code: ApprovalRefusal, message: str) -> None:
        super().__init__(message)
        self.code = code


class NotSendable(JournalError):
    """begin_submit refused: the intent is not in a state from which it may be sent (or was sent already)."""


class IntentConflict(JournalError):
    """An intent id that was already sent or finished came back with different content: use a new id."""


@dataclass(frozen=True, slots=True)
class IntentRecord:
    id: str
    fingerprint: str
    status: IntentStatus
    status_reason: str | None
    mode: str
    needs_approval: bool
    content: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    expires_at: dt.datetime | None
    submit_count: int
    submitted_at: dt.datetime | None
    client_id: int | None
    order_id: int | None
    filled_qty: float
    cycle_id: int | None
    approved_ttl_s: float | None = None

    @property
    def intent(self) -> Intent:
        return intent_from_dict(self.content)

    @property
    def short_fingerprint(self) -> str:
        return short(self.fingerprint)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view used by `alvh pending --json` and the export."""
        return {
            "id": self.id,
            "status": self.status.value,
            "status_reason": self.status_reason,
            "fingerprint": self.short_fingerprint,
            "fingerprint_full": self.fingerprint,
            "mode": self.mode,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "filled_qty": self.filled_qty,
            **{k: v for k, v in self.content.items() if k != "id"},
        }


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    order_row: int
    intent_id: str | None
    intent_status: IntentStatus | None
    anomaly: str | None  # evidence the journal did not expect (an order for an intent it never sent)


@dataclass(frozen=True, slots=True)
class TradingStateRecord:
    state: TradingState
    reason: str
    set_by: str
    set_at: dt.datetime | None


def _ts(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise JournalError(f"naive timestamp {value!r}: the journal stores timezone-aware UTC instants")
    # Fixed width (always microseconds, always +00:00) so that SQL compares the text in time order.
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _dt(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _json(value: Any) -> str:
    """Strict JSON (NaN/inf become null: SQLite's json_valid and other readers reject them)."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, Mapping):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(value), default=str, allow_nan=False, sort_keys=True)


class Journal:
    """One connection to the journal. Not shared across threads; open one per process (or per asyncio loop)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock = wall_clock) -> None:
        self._conn = conn
        self.path = path
        self._clock = clock

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True, clock: Clock = wall_clock) -> Journal:
        """Open (create with `create`) and migrate. Raises JournalError with a fix for unsafe or unusable files."""
        path = Path(path)
        conn = connect(path, create=create)
        try:
            migrate(conn)
        except Exception:
            conn.close()
            raise
        return cls(conn, path, clock)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> dt.datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise JournalError("the journal clock returned a naive datetime; pass a timezone-aware clock")
        return now.astimezone(dt.UTC)

    @contextmanager
    def _write(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        self._conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ---- cycles and decisions -------------------------------------------------------------------------------
    def start_cycle(self, mode: str, trigger: str, market_time: dt.datetime | None = None) -> int:
        with self._write(durable=False) as c:
            cur = c.execute(
                "INSERT INTO cycles(started_at, market_time, mode, trigger) VALUES (?, ?, ?, ?)",
                (_ts(self.now()), _ts(market_time), mode, trigger),
            )
            return int(cur.lastrowid)  # type: ignore[arg-type]

    def record_decision(self, cycle_id: int, record: Mapping[str, Any]) -> int:
        with self._write(durable=False) as c:
            cur = c.execute(
                "INSERT INTO decisions(cycle_id, created_at, record) VALUES (?, ?, ?)",
                (cycle_id, _ts(self.now()), _json(record)),
            )
            return int(cur.lastrowid)  # type: ignore[arg-type]

    def record_cycle(self, mode: str, trigger: str, market_time: dt.datetime | None, record: Mapping[str, Any]) -> int:
        """A cycle and its decision record in one transaction (the engine's per-cycle write); returns the cycle id."""
        with self._write(durable=False) as c:
            now = _ts(self.now())
            cur = c.execute(
                "INSERT INTO cycles(started_at, market_time, mode, trigger) VALUES (?, ?, ?, ?)",
                (now, _ts(market_time), mode, trigger),
            )
            cycle_id = int(cur.lastrowid)  # type: ignore[arg-type]
            c.execute(
                "INSERT INTO decisions(cycle_id, created_at, record) VALUES (?, ?, ?)", (cycle_id, now, _json(record))
            )
            return cycle_id

    def complete_decision(self, cycle_id: int, record: Mapping[str, Any]) -> None:
        """Replace a cycle's provisional decision record (`complete: false`, see DecisionRecord.provisional_dict)
        with the full one. A process killed in between leaves the provisional record: its state is still what a
        restart restores, and the cycle's intents and orders are journaled on their own."""
        with self._write(durable=False) as c:
            cur = c.execute("UPDATE decisions SET record = ? WHERE cycle_id = ?", (_json(record), cycle_id))
            if cur.rowcount != 1:
                raise JournalError(f"cycle {cycle_id} has no decision record to complete (found {cur.rowcount})")

    def last_decision(self) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT record FROM decisions ORDER BY id DESC LIMIT 1").fetchone()
        return json.loads(row["record"]) if row else None

    # ---- intents ----------------------------------------------------------------------------------------------
    def record_intent(
        self,
        intent: Intent,
        *,
        mode: str,
        needs_approval: bool,
        cycle_id: int | None = None,
        pending_expiry_s: float | None = None,
        approved_ttl_s: float | None = None,
    ) -> IntentRecord:
        """Journal a planned intent; idempotent by id and content.

        Same id and fingerprint: returns the stored record unchanged. Same id, new content, not yet sent: the content
        is replaced and the intent goes back to planned / pending_approval (an approval of the old content no longer
        counts). Same id, new content, already sent or finished: IntentConflict (the planner must use a new id).
        """
        fp = fingerprint(intent)
        content = intent_to_dict(intent)
        status = S.PENDING_APPROVAL if needs_approval else S.PLANNED
        if needs_approval and not (pending_expiry_s and approved_ttl_s):
            raise JournalError(
                "an intent that needs approval needs pending_expiry_s and approved_ttl_s (approval settings)"
            )
        # NORMAL sync: a planned intent lost to a power cut was never sent, and the next cycle plans it again;
        # the fsync that matters is the one of the first order's row (record_order_sending), before placeOrder.
        with self._write(durable=False) as c:
            now = self.now()
            expires = _ts(now + dt.timedelta(seconds=pending_expiry_s)) if needs_approval else None
            old = self._get(intent.id)
            if old is not None and old.fingerprint == fp:
                return old
            if old is not None and old.status not in NOT_YET_SENT:
                raise IntentConflict(
                    f"intent {intent.id} is {old.status.value} with content {old.short_fingerprint}; the new plan "
                    f"has content {short(fp)}. An intent id is never reused once sent or finished: plan a new id"
                )
            price = intent.price
            values = (
                fp, int(intent.layer), intent.instrument.key, intent.side.value, intent.quantity,
                price.reference if price else None, price.limit if price else None, intent.reason, intent.group,
                int(intent.opens_position), _json(content), mode, int(needs_approval), status.value, _ts(now),
                expires, approved_ttl_s, cycle_id,
            )  # fmt: skip
            if old is None:
                c.execute(
                    "INSERT INTO intents(fingerprint, layer, instrument, side, quantity, ref_price, limit_price,"
                    " reason, group_id, opens_position, content, mode, needs_approval, status, updated_at, expires_at,"
                    " approved_ttl_s, cycle_id, id, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (*values, intent.id, _ts(now)),
                )
                self._log_transition(intent.id, None, status, "bot", f"planned {short(fp)}")
            else:
                c.execute(
                    "UPDATE intents SET fingerprint=?, layer=?, instrument=?, side=?, quantity=?, ref_price=?,"
                    " limit_price=?, reason=?, group_id=?, opens_position=?, content=?, mode=?, needs_approval=?,"
                    " status=?, updated_at=?, expires_at=?, approved_ttl_s=?, cycle_id=?, status_reason=NULL"
                    " WHERE id=?",
                    (*values, intent.id),
                )
                why = f"replaced: content {old.short_fingerprint} -> {short(fp)}"
                self._log_transition(intent.id, old.status, status, "bot", why)
            return self._get(intent.id)  # type: ignore[return-value]

    def get_intent(self, intent_id: str) -> IntentRecord | None:
        return self._get(intent_id)

    def list_intents(self, statuses: Iterable[IntentStatus] | None = None) -> list[IntentRecord]:
        if statuses is None:
            rows = self._conn.execute("SELECT * FROM intents ORDER BY created_at, id").fetchall()
        else:
            wanted = [S(s).value for s in statuses]
            marks = ",".join("?" * len(wanted))
            rows = self._conn.execute(
                f"SELECT * FROM intents WHERE status IN ({marks}) ORDER BY created_at, id", wanted
            ).fetchall()
        return [self._record(r) for r in rows]

    def pending_approvals(self) -> list[IntentRecord]:
        """Intents waiting for a person and not yet past their expiry."""
        now = self.now()
        return [r for r in self.list_intents([S.PENDING_APPROVAL]) if r.expires_at is None or r.expires_at > now]

    def expire_due(self) -> list[str]:
        """Pending or approved-but-unsent intents past their expiry become expired (the engine calls this per cycle)."""
        due = self._conn.execute(  # most cycles have nothing to expire: look before taking the write lock
            "SELECT 1 FROM intents WHERE status IN (?, ?) AND expires_at IS NOT NULL AND expires_at <= ? LIMIT 1",
            (S.PENDING_APPROVAL.value, S.APPROVED.value, _ts(self.now())),
        ).fetchone()
        if due is None:
            return []
        with self._write() as c:
            now = self.now()
            rows = c.execute(
                "SELECT id, status FROM intents WHERE status IN (?, ?) AND expires_at IS NOT NULL AND expires_at <= ?",
                (S.PENDING_APPROVAL.value, S.APPROVED.value, _ts(now)),
            ).fetchall()
            for row in rows:
                self._set_status(row["id"], S(row["status"]), S.EXPIRED, "bot", "approval window passed")
            return [row["id"] for row in rows]

    def withdraw(self, intent_id: str, reason: str) -> IntentRecord:
        """A newer plan no longer wants this unsent intent."""
        return self._change(intent_id, S.WITHDRAWN, "bot", reason)

    def deny(self, intent_id: str, reason: str) -> IntentRecord:
        """Risk refused the intent; it is finished and never sent."""
        return self._change(intent_id, S.DENIED, "risk", reason)

    def _change(self, intent_id: str, to: IntentStatus, source: str, reason: str) -> IntentRecord:
        with self._write():
            rec = self._get(intent_id)
            if rec is None:
                raise JournalError(f"no intent {intent_id!r} in the journal")
            if to not in ALLOWED.get(rec.status, frozenset()):
                raise JournalError(f"intent {intent_id} is {rec.status.value}; it cannot become {to.value}")
            self._set_status(intent_id, rec.status, to, source, reason)
            return self._get(intent_id)  # type: ignore[return-value]

    # ---- approvals --------------------------------------------------------------------------------------------
    def approve(self, intent_id: str, fingerprint_shown: str, *, by: str) -> IntentRecord:
        """Approve exactly the content whose fingerprint the person saw (a prefix of at least 12 hex chars).

        The approval is valid for the `approved_ttl_s` the bot stored with the intent: the engine must send it
        within that time or it expires.
        """
        return self._decide(intent_id, fingerprint_shown, by=by, approve=True, reason=None)

    def reject(self, intent_id: str, *, by: str, reason: str | None = None) -> IntentRecord:
        """Reject a pending intent: final, it can never be sent."""
        return self._decide(intent_id, None, by=by, approve=False, reason=reason)

    def _decide(
        self, intent_id: str, fp_shown: str | None, *, by: str, approve: bool, reason: str | None
    ) -> IntentRecord:
        refusal: ApprovalError | None = None
        with self._write() as c:
            now = self.now()
            rec = self._get(intent_id)
            if rec is None:
                raise ApprovalError(ApprovalRefusal.UNKNOWN, f"no intent {intent_id!r}. Run `alvh pending` for ids")
            if rec.status is S.PENDING_APPROVAL and rec.expires_at is not None and rec.expires_at <= now:
                self._set_status(intent_id, rec.status, S.EXPIRED, "bot", "approval window passed")
                refusal = ApprovalError(
                    ApprovalRefusal.EXPIRED,
                    f"intent {intent_id} expired at {rec.expires_at:%Y-%m-%d %H:%M:%S} UTC; it will not be sent. "
                    "The bot plans a new intent if it still wants the trade",
                )
            elif rec.status is not S.PENDING_APPROVAL:
                code = ApprovalRefusal.NOT_AWAITING if rec.status is S.PLANNED else ApprovalRefusal.ALREADY_DECIDED
                refusal = ApprovalError(
                    code,
                    f"intent {intent_id} is {rec.status.value}"
                    f"{f' ({rec.status_reason})' if rec.status_reason else ''}, not awaiting approval",
                )
            elif approve and not _fingerprint_matches(rec.fingerprint, fp_shown):
                refusal = ApprovalError(
                    ApprovalRefusal.FINGERPRINT_MISMATCH,
                    f"intent {intent_id} now has content {rec.short_fingerprint}, not {fp_shown!r}: the bot changed "
                    "it since you looked (or the fingerprint is mistyped). Nothing approved. Run `alvh pending` "
                    "again and approve what it shows",
                )
            else:
                ttl = rec.approved_ttl_s
                valid_until = now + dt.timedelta(seconds=ttl) if approve and ttl else None
                c.execute(
                    "INSERT INTO approvals(intent_id, fingerprint, decision, decided_at, decided_by, reason, "
                    "valid_until) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (intent_id, rec.fingerprint, "approved" if approve else "rejected", _ts(now), by, reason,
                     _ts(valid_until)),
                )  # fmt: skip
                to = S.APPROVED if approve else S.REJECTED
                why = f"{to.value} by {by}" + (f": {reason}" if reason else "")
                self._set_status(intent_id, rec.status, to, "person", why)
                if approve:
                    c.execute("UPDATE intents SET expires_at=? WHERE id=?", (_ts(valid_until), intent_id))
        if refusal is not None:  # raised after COMMIT so that an expiry found here is kept
            raise refusal
        return self._get(intent_id)  # type: ignore[return-value]

    def approval_of(self, intent_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT a.* FROM approvals a JOIN intents i ON i.id = a.intent_id AND i.fingerprint = a.fingerprint "
            "WHERE a.intent_id = ?",
            (intent_id,),
        ).fetchone()
        return dict(row) if row else None

    # ---- sending ----------------------------------------------------------------------------------------------
    def begin_submit(
        self, intent_id: str, fingerprint_expected: str, *, client_id: int | None = None, order_id: int | None = None
    ) -> IntentRecord:
        """Commit `submitting` BEFORE placeOrder. Raises NotSendable unless the intent may be sent exactly now.

        Sendable: `planned` without approval, or `approved` with an unexpired approval of the current content, and
        the content equals what the caller is about to send. An intent is submitted at most once (submit_count).

        Committed without its own fsync (synchronous=NORMAL): a process crash cannot lose it (WAL), and the first
        order's `record_order_sending` commits with synchronous=FULL before placeOrder, which syncs the WAL and so
        this transition with it. Only a power cut before that first fsync can undo it, and then nothing was sent:
        the intent is planned again. One fsync per first send instead of two.
        """
        expired = False
        with self._write(durable=False) as c:
            now = self.now()
            rec = self._get(intent_id)
            if rec is None:
                raise NotSendable(f"no intent {intent_id!r} in the journal: journal it before sending")
            if rec.fingerprint != fingerprint_expected:
                raise NotSendable(f"intent {intent_id}: the journal holds different content ({rec.short_fingerprint})")
            if rec.submit_count:
                raise NotSendable(f"intent {intent_id} was already submitted at {rec.submitted_at}; never twice")
            if rec.status is S.PLANNED and rec.needs_approval:
                raise NotSendable(f"intent {intent_id} needs an approval")
            if rec.status is S.APPROVED:
                approval = c.execute(
                    "SELECT valid_until FROM approvals WHERE intent_id=? AND fingerprint=? AND decision='approved'",
                    (intent_id, rec.fingerprint),
                ).fetchone()
                if approval is None:
                    raise NotSendable(f"intent {intent_id}: no approval of its current content")
                until = _dt(approval["valid_until"])
                if until is not None and until <= now:
                    self._set_status(intent_id, rec.status, S.EXPIRED, "bot", "approved but not sent in time")
                    expired = True
            elif rec.status is not S.PLANNED:
                raise NotSendable(f"intent {intent_id} is {rec.status.value}; it cannot be sent")
            if not expired:  # an expiry found here is committed, then refused below
                c.execute(
                    "UPDATE intents SET submit_count = submit_count + 1, submitted_at=?, client_id=?, order_id=? "
                    "WHERE id=?",
                    (_ts(now), client_id, order_id, intent_id),
                )
                self._set_status(intent_id, rec.status, S.SUBMITTING, "bot", "about to send")
        if expired:
            raise NotSendable(f"intent {intent_id}: its approval expired before it was sent; it is now expired")
        rec = self._get(intent_id)
        if rec is None or rec.status is not S.SUBMITTING:  # pragma: no cover - defensive
            raise NotSendable(f"intent {intent_id} could not be marked submitting")
        return rec

    def mark_not_sent(self, intent_id: str, reason: str) -> IntentRecord:
        """A `submitting` intent that certainly never reached the broker becomes expired (never resent)."""
        return self._change(intent_id, S.EXPIRED, "bot", f"not sent: {reason}")

    def submissions_since(self, since: dt.datetime) -> int:
        """Intents submitted at or after `since` (transitions to submitting): RiskContext.orders_today."""
        row = self._conn.execute(
            "SELECT COUNT(*) FROM intent_transitions WHERE to_status=? AND at >= ?", (S.SUBMITTING.value, _ts(since))
        ).fetchone()
        return int(row[0])

    def orders_placed_since(self, since: dt.datetime) -> int:
        """Ladder orders journaled as sent at or after `since` (several per intent when the ladder steps)."""
        row = self._conn.execute("SELECT COUNT(*) FROM orders WHERE sent_at >= ?", (_ts(since),)).fetchone()
        return int(row[0])

    # ---- execution (one intent may be worked by several orders: the limit ladder) ---------------------------------
    def record_order_sending(
        self,
        intent_id: str,
        *,
        order_id: int,
        step: int,
        con_id: int,
        action: str,
        quantity: float,
        limit_price: float,
        at: dt.datetime,
        client_id: int | None = None,
    ) -> int:
        """Commit one ladder order BEFORE placeOrder (synchronous=FULL: this fsync also makes the intent's
        `submitting` transition durable); only for an intent already `submitting` or `working`.

        Refusing other states here makes the journal the last gate: an order for a planned, pending, rejected or
        finished intent cannot be journaled, so the executor never reaches placeOrder for it. Idempotent by
        (intent, orderId). Returns the order row id.
        """
        with self._write() as c:
            rec = self._get(intent_id)
            if rec is None:
                raise NotSendable(f"no intent {intent_id!r} in the journal: journal it and call begin_submit first")
            if rec.status not in SENT:
                raise NotSendable(f"intent {intent_id} is {rec.status.value}: only a submitted intent may send orders")
            row = c.execute("SELECT id FROM orders WHERE order_ref=? AND order_id=?", (intent_id, order_id)).fetchone()
            if row is not None:
                return int(row["id"])
            now = _ts(self.now())
            cur = c.execute(
                "INSERT INTO orders(order_ref, intent_id, client_id, order_id, contract, side, quantity,"
                " limit_price, status, filled, first_seen, updated_at, step, con_id, sent_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,0,?,?,?,?,?)",
                (intent_id, intent_id, client_id, order_id, rec.content["instrument"]["key"], action, quantity,
                 limit_price, SENDING, now, now, step, con_id, _ts(at)),
            )  # fmt: skip
            return int(cur.lastrowid)  # type: ignore[arg-type]

    def sending_records(self, intent_id: str) -> list[dict[str, Any]]:
        """Every order journaled as about to be sent for the intent, oldest first."""
        rows = self._conn.execute(
            "SELECT * FROM orders WHERE intent_id=? AND step IS NOT NULL ORDER BY id", (intent_id,)
        ).fetchall()
        return [dict(r) for r in rows]

    def record_outcome(
        self,
        intent_id: str,
        kind: str,
        *,
        filled: float,
        quantity: float,
        average_price: float | None,
        orders_sent: int,
        reason: str,
        error_code: int | None = None,
    ) -> IntentRecord | None:
        """How execution of an intent ended (kinds of bot.execution.journal.OutcomeKind); final kinds settle it."""
        target = _OUTCOME_STATUS.get(kind)
        with self._write() as c:
            rec = self._get(intent_id)
            if rec is None:
                raise JournalError(f"no intent {intent_id!r} in the journal")
            c.execute(
                "INSERT INTO outcomes(intent_id, at, kind, filled, quantity, average_price, orders_sent, reason, "
                "error_code) VALUES (?,?,?,?,?,?,?,?,?)",
                (intent_id, _ts(self.now()), kind, filled, quantity, average_price, orders_sent, reason, error_code),
            )
            if kind == "skipped":
                target = S.WITHDRAWN if rec.status in NOT_YET_SENT else S.EXPIRED
            if kind == "unresolved":
                self._event("anomaly", f"{intent_id}: {reason}", "execution_unresolved", {"intent_id": intent_id})
            if target is not None and rec.status is not S.FILLED and rec.status is not target:
                self._set_status(intent_id, rec.status, target, "execution", f"{kind}: {reason}")
        return self._get(intent_id)

    def latest_outcome(self, intent_id: str) -> dict[str, Any] | None:
        """The last recorded outcome, or one derived from a finished intent (recovered, rejected, expired...), so
        that an executor asking after a restart learns the intent is done and never works it again."""
        row = self._conn.execute(
            "SELECT * FROM outcomes WHERE intent_id=? ORDER BY id DESC LIMIT 1", (intent_id,)
        ).fetchone()
        rec = self._get(intent_id)
        stored = dict(row) if row is not None else None
        if rec is None or rec.status not in TERMINAL or (stored and stored["kind"] in _FINAL_OUTCOMES):
            return stored
        if rec.status is S.FILLED:
            kind = "filled"
        elif rec.status is S.CANCELLED:
            kind = "partial" if rec.filled_qty > 0 else "unfilled"
        elif rec.status is S.REJECTED and rec.submit_count:
            kind = "rejected"
        else:
            kind = "skipped"  # never sent: expired, denied, withdrawn, rejected by a person
        sent = self._conn.execute("SELECT COUNT(*) FROM orders WHERE intent_id=?", (intent_id,)).fetchone()[0]
        return {
            "intent_id": intent_id,
            "kind": kind,
            "filled": rec.filled_qty,
            "quantity": float(rec.content["quantity"]),
            "average_price": None,
            "orders_sent": int(sent),
            "reason": f"intent {rec.status.value}: {rec.status_reason or ''}".strip(),
            "error_code": None,
        }

    # ---- broker evidence --------------------------------------------------------------------------------------
    def record_order(self, ev: OrderEvidence) -> OrderUpdate:
        """Upsert an order by permId, else (clientId, orderId, orderRef); replaying the same evidence is a no-op."""
        with self._write() as c:
            return self._record_order(c, ev)

    def _find_order(self, c: sqlite3.Connection, ev: OrderEvidence) -> sqlite3.Row | None:
        """Natural keys, strongest first: permId; (orderId, orderRef[, clientId]); the one unconfirmed send of the
        same orderRef (completed orders arrive with orderId 0, so a crash before any status left only orderRef)."""
        perm = ev.perm_id or None
        if perm is not None:
            row = c.execute("SELECT * FROM orders WHERE perm_id=?", (perm,)).fetchone()
            if row is not None:
                return row
        if ev.order_id:
            row = c.execute(
                "SELECT * FROM orders WHERE order_id=? AND order_ref IS ? AND (client_id IS NULL OR ? IS NULL OR "
                "client_id=?) AND (? IS NULL OR perm_id IS NULL OR perm_id=?) ORDER BY id DESC LIMIT 1",
                (ev.order_id, ev.order_ref, ev.client_id, ev.client_id, perm, perm),
            ).fetchone()
            if row is not None:
                return row
        if perm is not None and ev.order_ref:
            rows = c.execute(
                "SELECT * FROM orders WHERE order_ref=? AND perm_id IS NULL AND (? IS NULL OR order_id=? OR "
                "order_id IS NULL)",
                (ev.order_ref, ev.order_id or None, ev.order_id),
            ).fetchall()
            if len(rows) == 1:
                return rows[0]
        return None

    def _record_order(self, c: sqlite3.Connection, ev: OrderEvidence) -> OrderUpdate:
        now = _ts(self.now())
        perm = ev.perm_id or None
        row = self._find_order(c, ev)
        intent = self._get(ev.order_ref) if ev.order_ref else None
        if row is None:
            cur = c.execute(
                "INSERT INTO orders(order_ref, intent_id, client_id, order_id, perm_id, account, contract, side, "
                "quantity, limit_price, status, filled, remaining, avg_fill_price, first_seen, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (ev.order_ref, intent.id if intent else None, ev.client_id, ev.order_id or None, perm, ev.account,
                 ev.contract, ev.side, ev.quantity, ev.limit_price, ev.status, ev.filled, ev.remaining,
                 ev.avg_fill_price, now, now),
            )  # fmt: skip
            order_row = int(cur.lastrowid)  # type: ignore[arg-type]
            status, filled, limit = ev.status, ev.filled, ev.limit_price
        else:
            order_row = int(row["id"])
            # An order that reached a final status never becomes active again (replayed or reordered evidence).
            status = row["status"] if row["status"] in _FINAL_IB and ev.status not in _FINAL_IB else ev.status
            filled = max(float(row["filled"]), ev.filled)
            limit = ev.limit_price if ev.limit_price is not None else row["limit_price"]
            c.execute(
                "UPDATE orders SET perm_id=COALESCE(perm_id, ?), client_id=COALESCE(?, client_id), "
                "order_id=COALESCE(?, order_id), account=COALESCE(?, account), contract=COALESCE(?, contract), "
                "side=COALESCE(?, side), quantity=COALESCE(?, quantity), limit_price=?, status=?, filled=?, "
                "remaining=COALESCE(?, remaining), avg_fill_price=COALESCE(?, avg_fill_price), updated_at=? "
                "WHERE id=?",
                (perm, ev.client_id, ev.order_id or None, ev.account, ev.contract, ev.side, ev.quantity, limit,
                 status, filled, ev.remaining, ev.avg_fill_price, now, order_row),
            )  # fmt: skip
        last = c.execute(
            "SELECT status, filled, limit_price FROM order_status_history WHERE order_row=? ORDER BY id DESC LIMIT 1",
            (order_row,),
        ).fetchone()
        if last is None or (last["status"], float(last["filled"]), last["limit_price"]) != (status, filled, limit):
            c.execute(
                "INSERT INTO order_status_history(order_row, at, status, filled, remaining, limit_price) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (order_row, now, status, filled, ev.remaining, limit),
            )
        if intent is None:
            return OrderUpdate(order_row, None, None, None)
        live = status_from_broker(status, 0, 0) is S.WORKING
        return self._intent_evidence(c, intent, status, order_row, live=live, first_seen=row is None)

    def _intent_evidence(
        self, c: sqlite3.Connection, rec: IntentRecord, ib_status: str, order_row: int, *, live: bool, first_seen: bool
    ) -> OrderUpdate:
        """What one piece of order evidence means for its intent.

        A ladder sends several orders per intent, so one order ending (cancelled, inactive) does not end the
        intent: that is decided by the execution outcome or by recovery. Evidence moves `submitting` to `working`,
        and the intent to `filled` once its orders' fills cover the quantity. Evidence for an intent this journal
        never sent is an anomaly: it is tracked (so it can never be sent) and an event is written.
        """
        quantity = rec.content["quantity"]
        by_orders = c.execute("SELECT COALESCE(SUM(filled), 0) FROM orders WHERE intent_id=?", (rec.id,)).fetchone()[0]
        by_fills = c.execute("SELECT COALESCE(SUM(quantity), 0) FROM fills WHERE intent_id=?", (rec.id,)).fetchone()[0]
        filled = max(float(by_orders), float(by_fills))
        if filled != rec.filled_qty:
            c.execute("UPDATE intents SET filled_qty=? WHERE id=?", (filled, rec.id))
        finished = rec.status in (S.FILLED, S.CANCELLED, S.REJECTED) and rec.submit_count > 0
        if filled >= quantity:
            new = S.FILLED
        elif live and not finished:
            new = S.WORKING
        elif rec.submit_count == 0 and rec.status in NOT_YET_SENT:
            new = S.CANCELLED  # an order this journal never sent, already finished at the broker
        else:
            new = rec.status
        changed = new is not rec.status and rec.status is not S.FILLED
        anomaly = None
        if rec.submit_count == 0 and (changed or first_seen):
            anomaly = f"broker shows an order for intent {rec.id}, which this journal never sent ({rec.status})"
        elif rec.status is S.EXPIRED and changed:
            anomaly = f"intent {rec.id} was marked not sent, but the broker has its order: tracking it"
        if changed:
            self._set_status(rec.id, rec.status, new, "broker", f"broker: {ib_status}, filled {filled:g}")
        if anomaly:
            self._event("anomaly", anomaly, "order_evidence_unexpected", {"intent_id": rec.id})
        current = self._get(rec.id)
        return OrderUpdate(order_row, rec.id, current.status if current else None, anomaly)

    def record_fill(self, ev: FillEvidence) -> bool:
        """Insert an execution once (by execId); returns False for a replay. Updates the intent's filled quantity."""
        with self._write() as c:
            return self._record_fill(c, ev)

    def _record_fill(self, c: sqlite3.Connection, ev: FillEvidence) -> bool:
        if c.execute("SELECT 1 FROM fills WHERE exec_id=?", (ev.exec_id,)).fetchone():
            return False
        order = None
        if ev.perm_id:
            order = c.execute("SELECT id, order_ref FROM orders WHERE perm_id=?", (ev.perm_id,)).fetchone()
        if order is None and ev.order_ref:
            order = c.execute(
                "SELECT id, order_ref FROM orders WHERE order_ref=? ORDER BY id DESC LIMIT 1", (ev.order_ref,)
            ).fetchone()
        ref = ev.order_ref or (order["order_ref"] if order else None)
        intent = self._get(ref) if ref else None
        c.execute(
            "INSERT INTO fills(exec_id, order_row, intent_id, order_ref, perm_id, order_id, client_id, account, "
            "contract, side, quantity, price, time, recorded_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (ev.exec_id, order["id"] if order else None, intent.id if intent else None, ref, ev.perm_id or None,
             ev.order_id, ev.client_id, ev.account, ev.contract, ev.side, ev.quantity, ev.price, _ts(ev.time),
             _ts(self.now())),
        )  # fmt: skip
        if intent is not None:
            self._intent_evidence(c, intent, "execution", order["id"] if order else 0, live=True, first_seen=True)
        return True

    def record_commission(
        self, exec_id: str, commission: float, currency: str, realized_pnl: float | None = None
    ) -> bool:
        """Attach a commission report to its execution; False if the execution is not (yet) journaled."""
        pnl = realized_pnl if realized_pnl is not None and math.isfinite(realized_pnl) else None
        with self._write() as c:
            cur = c.execute(
                "UPDATE fills SET commission=?, commission_currency=?, realized_pnl=? WHERE exec_id=?",
                (commission, currency, pnl, exec_id),
            )
            return cur.rowcount == 1

    def fills_for(self, intent_id: str) -> list[dict[str, Any]]:
        rows = self._conn.execute("SELECT * FROM fills WHERE intent_id=? ORDER BY time", (intent_id,)).fetchall()
        return [dict(r) for r in rows]

    def net_fills(self, since: dt.datetime | None = None) -> dict[str, float]:
        """Signed filled quantity per contract key since `since` (for the expected hedge positions)."""
        rows = self._conn.execute(
            "SELECT contract, SUM(CASE side WHEN 'BUY' THEN quantity ELSE -quantity END) q FROM fills "
            "WHERE time >= ? GROUP BY contract",
            (_ts(since) if since else "",),
        ).fetchall()
        return {r["contract"]: float(r["q"]) for r in rows if r["q"]}

    # ---- recovery ---------------------------------------------------------------------------------------------
    def reconcile(self, evidence: BrokerEvidence, in_flight: Collection[str] = ()) -> list[RecoveryDecision]:
        """At start-up (before any executor runs): record all evidence, then settle every intent that may be at the
        broker. Never sends anything; intents with no evidence (complete evidence only) become expired ("not sent").

        After a reconnect, pass the ids an executor is still working in `in_flight`: they reconcile themselves.
        """
        decisions = []
        for rec in self.list_intents(SENT):
            if rec.id in in_flight:
                continue
            perms = [
                r[0]
                for r in self._conn.execute(
                    "SELECT perm_id FROM orders WHERE intent_id=? AND perm_id IS NOT NULL", (rec.id,)
                )
            ]
            decisions.append(decide_recovery(rec.id, rec.content["quantity"], evidence, perms))
        with self._write() as c:
            for order in evidence.orders:
                self._record_order(c, order)
            for fill in evidence.fills:
                self._record_fill(c, fill)
        for decision in decisions:
            self.apply_recovery(decision)
        return decisions

    def apply_recovery(self, decision: RecoveryDecision) -> IntentRecord | None:
        target = {
            RecoveryAction.KEEP_WORKING: S.WORKING,
            RecoveryAction.MARK_FILLED: S.FILLED,
            RecoveryAction.MARK_CANCELLED: S.CANCELLED,
            RecoveryAction.MARK_REJECTED: S.REJECTED,
            RecoveryAction.MARK_NOT_SENT: S.EXPIRED,
        }.get(decision.action)
        with self._write():
            rec = self._get(decision.intent_id)
            if rec is None or target is None or rec.status not in SENT or rec.status is target:
                return rec
            self._set_status(rec.id, rec.status, target, "recovery", decision.reason)
            self._event("recovery", f"{rec.id}: {decision.action.value}: {decision.reason}", decision.action.value)
        return self._get(decision.intent_id)

    # ---- events and trading state -----------------------------------------------------------------------------
    def record_event(self, kind: str, message: str, code: str | None = None, data: Mapping | None = None) -> int:
        """Connection changes, broker errors, faults, halts, mode: one row each."""
        with self._write(durable=False):
            return self._event(kind, message, code, data)

    def _event(self, kind: str, message: str, code: str | None = None, data: Mapping | None = None) -> int:
        cur = self._conn.execute(
            "INSERT INTO events(at, kind, code, message, data) VALUES (?, ?, ?, ?, ?)",
            (_ts(self.now()), kind, code, message, _json(data) if data is not None else None),
        )
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def events(self, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        sql = "SELECT * FROM events" + (" WHERE kind=?" if kind else "") + " ORDER BY id DESC LIMIT ?"
        args: tuple[Any, ...] = (kind, limit) if kind else (limit,)
        return [dict(r) for r in self._conn.execute(sql, args)]

    def trading_state(self) -> TradingStateRecord:
        """The state the engine must obey this cycle (ACTIVE when never set)."""
        row = self._conn.execute("SELECT * FROM trading_state WHERE id=1").fetchone()
        if row is None:
            return TradingStateRecord(TradingState.ACTIVE, "initial state", "default", None)
        return TradingStateRecord(TradingState(row["state"]), row["reason"], row["set_by"], _dt(row["set_at"]))

    def set_trading_state(self, state: TradingState, reason: str, by: str) -> TradingStateRecord:
        """Set by a person (`by='operator:<user>'`, from `alvh halt` / `alvh resume`) or by the bot (anything else).

        The bot may only tighten (active -> reducing -> halted): loosening, and so resuming after an automatic
        halt, takes a person's explicit command. Raises JournalError when the bot tries.
        """
        state = TradingState(state)
        if not reason.strip():
            raise JournalError("a trading state change needs a reason")
        with self._write():
            current = self.trading_state()
            if _STRICTNESS[state] < _STRICTNESS[current.state] and not by.startswith(OPERATOR):
                raise JournalError(
                    f"only a person may loosen the trading state ({current.state.value} -> {state.value}); "
                    f"it was set by {current.set_by}: {current.reason}. Fix: `alvh resume`"
                )
            now = _ts(self.now())
            self._conn.execute(
                "INSERT INTO trading_state(id, state, reason, set_by, set_at) VALUES (1, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET state=excluded.state, reason=excluded.reason, "
                "set_by=excluded.set_by, set_at=excluded.set_at",
                (state.value, reason, by, now),
            )
            self._event("trading_state", f"{state.value} by {by}: {reason}", state.value)
        return self.trading_state()

    def auto_halt(self, code: str, message: str) -> TradingStateRecord:
        """The engine's call on an anomaly (risk.AnomalyMonitor's HaltReason): HALTED, reason journaled and kept.

        An existing halt keeps its first reason (the cause, not the echo); the new one is journaled as an event.
        """
        current = self.trading_state()
        if current.state is TradingState.HALTED:
            self.record_event("halt", f"{code}: {message} (already halted: {current.reason})", code)
            return current
        return self.set_trading_state(TradingState.HALTED, f"{code}: {message}", by="auto")

    # ---- internals --------------------------------------------------------------------------------------------
    def _get(self, intent_id: str) -> IntentRecord | None:
        row = self._conn.execute("SELECT * FROM intents WHERE id=?", (intent_id,)).fetchone()
        return self._record(row) if row else None

    @staticmethod
    def _record(row: sqlite3.Row) -> IntentRecord:
        return IntentRecord(
            id=row["id"],
            fingerprint=row["fingerprint"],
            status=S(row["status"]),
            status_reason=row["status_reason"],
            mode=row["mode"],
            needs_approval=bool(row["needs_approval"]),
            content=json.loads(row["content"]),
            created_at=_dt(row["created_at"]),  # type: ignore[arg-type]
            updated_at=_dt(row["updated_at"]),  # type: ignore[arg-type]
            expires_at=_dt(row["expires_at"]),
            submit_count=int(row["submit_count"]),
            submitted_at=_dt(row["submitted_at"]),
            client_id=row["client_id"],
            order_id=row["order_id"],
            filled_qty=float(row["filled_qty"]),
            cycle_id=row["cycle_id"],
            approved_ttl_s=row["approved_ttl_s"],
        )

    def _set_status(self, intent_id: str, old: IntentStatus, new: IntentStatus, source: str, reason: str) -> None:
        self._conn.execute(
            "UPDATE intents SET status=?, status_reason=?, updated_at=? WHERE id=?",
            (new.value, reason, _ts(self.now()), intent_id),
        )
        self._log_transition(intent_id, old, new, source, reason)

    def _log_transition(
        self, intent_id: str, old: IntentStatus | None, new: IntentStatus, source: str, reason: str
    ) -> None:
        self._conn.execute(
            "INSERT INTO intent_transitions(intent_id, at, from_status, to_status, source, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (intent_id, _ts(self.now()), old.value if old else None, new.value, source, reason),
        )


def _fingerprint_matches(full: str, shown: str | None) -> bool:
    shown = (shown or "").strip().lower()
    return len(shown) >= SHORT_FINGERPRINT and full.startswith(shown)

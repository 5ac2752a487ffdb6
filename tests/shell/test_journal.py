"""Journal: safe file, WAL, schema migrations, idempotent evidence, intent lifecycle rules, export."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.journal import (
    FillEvidence,
    IntentConflict,
    IntentStatus,
    Journal,
    JournalError,
    NotSendable,
    OrderEvidence,
    fingerprint,
)
from bot.journal.db import MIGRATIONS, connect, migrate, schema_version
from bot.journal.export import TABLES, export_journal

from .helpers import T0, make_intent

S = IntentStatus


def test_wal_mode_foreign_keys_and_private_file(journal: Journal, private_dir: Path):
    conn = journal._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    journal.record_event("connection", "connected")  # makes SQLite create -wal and -shm
    for name in ("alvh.sqlite", "alvh.sqlite-wal", "alvh.sqlite-shm"):
        mode = stat.S_IMODE((private_dir / name).stat().st_mode)
        assert mode & 0o077 == 0, f"{name} has mode {oct(mode)}"
    assert stat.S_IMODE((private_dir / "alvh.sqlite").stat().st_mode) == 0o600


def test_creates_missing_directory_private(tmp_path: Path):
    path = tmp_path / "new" / "runs" / "alvh.sqlite"
    Journal.open(path).close()
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o1777])
def test_refuses_a_directory_others_can_write(tmp_path: Path, mode: int):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    with pytest.raises(JournalError, match=r"writable by other users.*chmod 700"):
        Journal.open(shared / "alvh.sqlite")
    assert not (shared / "alvh.sqlite").exists()


def test_refuses_a_journal_file_others_can_write(private_dir: Path):
    path = private_dir / "alvh.sqlite"
    Journal.open(path).close()
    path.chmod(0o666)
    with pytest.raises(JournalError, match="chmod 600"):
        Journal.open(path)


def test_commands_never_create_a_journal(private_dir: Path):
    with pytest.raises(JournalError, match="no journal at"):
        Journal.open(private_dir / "typo.sqlite", create=False)
    assert not (private_dir / "typo.sqlite").exists()


def test_schema_version_from_an_empty_database(private_dir: Path):
    conn = connect(private_dir / "j.sqlite", create=True)
    assert schema_version(conn) == 0
    latest = max(v for v, _ in MIGRATIONS)
    assert migrate(conn) == latest
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert set(TABLES) | {"outcomes"} <= tables
    versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, latest + 1))
    assert migrate(conn) == latest  # idempotent: nothing re-applied
    assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == latest


def test_forward_migration_keeps_existing_rows(private_dir: Path):
    conn = connect(private_dir / "j.sqlite", create=True)
    migrate(conn, MIGRATIONS[:1])  # a journal written by the first release
    conn.execute(
        "INSERT INTO orders(order_ref, status, first_seen, updated_at, perm_id) VALUES ('x', 'Submitted', 'a', 'a', 7)"
    )
    assert migrate(conn) == 2
    row = conn.execute("SELECT order_ref, perm_id, step FROM orders").fetchone()
    assert tuple(row) == ("x", 7, None)  # the v2 column exists and the old row survived


def test_newer_schema_is_refused(private_dir: Path):
    conn = connect(private_dir / "j.sqlite", create=True)
    migrate(conn)
    conn.execute("INSERT INTO schema_version VALUES (99, 'future')")
    with pytest.raises(JournalError, match="newer than this alvh"):
        migrate(conn)


def test_failed_migration_rolls_back(private_dir: Path):
    conn = connect(private_dir / "j.sqlite", create=True)
    broken = ((1, "CREATE TABLE a(x INTEGER);\nCREATE TABLE a(y INTEGER);"),)
    with pytest.raises(JournalError, match="migration to schema version 1 failed"):
        migrate(conn, broken)
    assert schema_version(conn) == 0
    assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name='a'").fetchone()[0] == 0


def test_record_intent_is_idempotent_and_replaces_unsent_content(journal: Journal):
    first = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    again = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    assert again == first
    changed = journal.record_intent(make_intent(quantity=3), mode="paper", needs_approval=False)
    assert changed.fingerprint != first.fingerprint and changed.content["quantity"] == 3
    assert len(journal.list_intents()) == 1


def test_sent_intent_cannot_get_new_content(journal: Journal):
    rec = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    journal.begin_submit(rec.id, rec.fingerprint)
    with pytest.raises(IntentConflict, match="never reused"):
        journal.record_intent(make_intent(quantity=3), mode="paper", needs_approval=False)


def test_begin_submit_happens_once(journal: Journal):
    rec = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    sent = journal.begin_submit(rec.id, rec.fingerprint, client_id=17, order_id=101)
    assert sent.status is S.SUBMITTING and sent.submit_count == 1 and sent.order_id == 101
    with pytest.raises(NotSendable, match="already submitted"):
        journal.begin_submit(rec.id, rec.fingerprint)


def test_a_first_send_costs_exactly_one_durable_commit_and_it_carries_the_order_row(journal: Journal):
    """The order's row commits with synchronous=FULL before placeOrder; that fsync also syncs `submitting` (one
    WAL file), so begin_submit must not pay a second one, and nothing before the order row may be FULL either."""
    modes: list[tuple[str, str]] = []  # (synchronous mode in force, statement) for every COMMIT
    sync = ["?"]

    def trace(sql: str) -> None:
        text = " ".join(sql.split()).upper()
        if text.startswith("PRAGMA SYNCHRONOUS"):
            sync[0] = text.rsplit("=", 1)[1].strip()
        elif text == "COMMIT":
            modes.append((sync[0], last[0]))
        elif not text.startswith(("BEGIN", "SELECT")):
            last[0] = text.split("(")[0][:40]

    last = [""]
    journal._conn.set_trace_callback(trace)
    rec = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    journal.begin_submit(rec.id, rec.fingerprint, client_id=17)
    journal.record_order_sending(
        rec.id, order_id=101, step=0, con_id=7, action="BUY", quantity=5, limit_price=17.2, at=T0, client_id=17
    )
    journal._conn.set_trace_callback(None)
    durable = [stmt for mode, stmt in modes if mode in ("FULL", "2")]
    assert len(modes) == 3 and durable == ["INSERT INTO ORDERS"]
    assert journal.get_intent(rec.id).status is S.SUBMITTING and len(journal.sending_records(rec.id)) == 1


def test_begin_submit_refuses_other_content_and_unapproved(journal: Journal):
    rec = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    with pytest.raises(NotSendable, match="different content"):
        journal.begin_submit(rec.id, fingerprint(make_intent(quantity=5)))
    pending = journal.record_intent(
        make_intent("L1-other"), mode="approval", needs_approval=True, pending_expiry_s=60, approved_ttl_s=60
    )
    with pytest.raises(NotSendable, match="pending_approval"):
        journal.begin_submit(pending.id, pending.fingerprint)
    with pytest.raises(NotSendable, match="no intent"):
        journal.begin_submit("nope", rec.fingerprint)


def _order(status: str, filled: float = 0, perm: int | None = 9001, **kw) -> OrderEvidence:
    base = dict(
        order_ref="L1-e1-VX-open", status=status, perm_id=perm, order_id=101, client_id=17, contract="VX:2026-04-15",
        side="BUY", quantity=2, limit_price=17.1, filled=filled, remaining=2 - filled,
    )  # fmt: skip
    base.update(kw)
    return OrderEvidence(**base)


def _fill(exec_id: str, qty: float = 1) -> FillEvidence:
    return FillEvidence(
        exec_id=exec_id, contract="VX:2026-04-15", side="BUY", quantity=qty, price=17.1, time=T0,
        order_ref="L1-e1-VX-open", perm_id=9001, order_id=101, client_id=17,
    )  # fmt: skip


def _counts(journal: Journal) -> tuple[int, int, int]:
    c = journal._conn
    return tuple(
        c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("orders", "order_status_history", "fills")
    )


def test_replaying_broker_evidence_never_duplicates(journal: Journal):
    rec = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    journal.begin_submit(rec.id, rec.fingerprint, client_id=17, order_id=101)
    evidence = [_order("PreSubmitted", perm=None), _order("Submitted"), _order("Submitted", 1), _fill("e.1")]
    evidence += [_order("Filled", 2), _fill("e.2")]
    for item in evidence:
        (journal.record_fill if isinstance(item, FillEvidence) else journal.record_order)(item)
    once = _counts(journal)
    assert once == (1, 4, 2)  # one order, four distinct states, two executions
    assert journal.get_intent(rec.id).status is S.FILLED
    for item in evidence:  # a restart replays everything the gateway still knows
        (journal.record_fill if isinstance(item, FillEvidence) else journal.record_order)(item)
    assert _counts(journal) == once
    assert journal.record_fill(_fill("e.1")) is False
    assert journal.get_intent(rec.id).filled_qty == 2


def test_late_working_status_does_not_revive_a_finished_order(journal: Journal):
    rec = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    journal.begin_submit(rec.id, rec.fingerprint)
    journal.record_order(_order("Cancelled"))
    journal.record_order(_order("Submitted"))  # reordered evidence
    status = journal._conn.execute("SELECT status FROM orders").fetchone()[0]
    assert status == "Cancelled"


def test_commission_attaches_to_its_execution(journal: Journal):
    rec = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    journal.begin_submit(rec.id, rec.fingerprint)
    assert journal.record_commission("e.1", 2.5, "USD") is False  # execution not seen yet
    journal.record_fill(_fill("e.1"))
    assert journal.record_commission("e.1", 2.5, "USD", float("nan")) is True
    fill = journal.fills_for(rec.id)[0]
    assert (fill["commission"], fill["realized_pnl"]) == (2.5, None)


def test_evidence_for_an_unsent_intent_is_an_anomaly(journal: Journal):
    rec = journal.record_intent(
        make_intent(), mode="approval", needs_approval=True, pending_expiry_s=60, approved_ttl_s=60
    )
    journal.reject(rec.id, by="tester")
    update = journal.record_order(_order("Submitted"))
    assert update.anomaly and "never sent" in update.anomaly
    assert journal.events(kind="anomaly")
    # Tracked from now on, and certainly never sendable.
    with pytest.raises(NotSendable):
        journal.begin_submit(rec.id, rec.fingerprint)


def test_trading_state_defaults_to_active_and_is_journaled(journal: Journal):
    from bot.risk import TradingState

    assert journal.trading_state().state is TradingState.ACTIVE
    journal.set_trading_state(TradingState.HALTED, "3 rejections in 600 s", by="auto")
    state = journal.trading_state()
    assert (state.state, state.set_by, state.reason) == (TradingState.HALTED, "auto", "3 rejections in 600 s")
    assert journal.events(kind="trading_state")[0]["code"] == "halted"
    with pytest.raises(JournalError, match="needs a reason"):
        journal.set_trading_state(TradingState.ACTIVE, " ", by="x")


def test_decision_records_are_strict_json(journal: Journal):
    cycle = journal.start_cycle("paper", "tick", market_time=T0)
    journal.record_decision(cycle, {"votes": [1.0, float("nan")], "at": dt.date(2026, 3, 4)})
    assert journal.last_decision() == {"at": "2026-03-04", "votes": [1.0, None]}


def test_a_cycle_and_its_decision_are_written_together(journal: Journal):
    first = journal.record_cycle("paper", "tick:vix", T0, {"votes": [float("inf")]})
    second = journal.record_cycle("paper", "periodic", T0 + dt.timedelta(minutes=1), {"votes": [0.5]})
    rows = journal._conn.execute(
        "SELECT c.id, c.trigger, c.market_time, d.record FROM cycles c JOIN decisions d ON d.cycle_id = c.id "
        "ORDER BY c.id"
    ).fetchall()
    assert [(r[0], r[1], json.loads(r[3])) for r in rows] == [
        (first, "tick:vix", {"votes": [None]}),
        (second, "periodic", {"votes": [0.5]}),
    ]
    assert rows[0][2] == T0.isoformat(timespec="microseconds") and journal.last_decision() == {"votes": [0.5]}
    with pytest.raises(JournalError, match="naive"):
        journal.record_cycle("paper", "tick", dt.datetime(2026, 3, 4, 15), {})
    assert journal._conn.execute("SELECT COUNT(*) FROM cycles").fetchone()[0] == 2  # nothing half-written


def test_a_provisional_decision_record_is_completed_in_place(journal: Journal):
    provisional = {"version": 1, "complete": False, "state": {"layers": []}}
    cycle = journal.record_cycle("paper", "tick:vix", T0, provisional)
    later = journal.record_cycle("paper", "periodic", T0 + dt.timedelta(minutes=1), {"votes": [0.5]})
    journal.complete_decision(cycle, {"votes": [float("nan")], "state": {"layers": [1]}})
    records = [json.loads(r[0]) for r in journal._conn.execute("SELECT record FROM decisions ORDER BY cycle_id")]
    assert records == [{"votes": [None], "state": {"layers": [1]}}, {"votes": [0.5]}]  # same row, same order
    assert journal.last_decision() == {"votes": [0.5]} and later > cycle
    with pytest.raises(JournalError, match="no decision record to complete"):
        journal.complete_decision(later + 1, {"votes": []})


def test_naive_timestamps_are_refused(journal: Journal):
    with pytest.raises(JournalError, match="naive"):
        journal.start_cycle("paper", "tick", market_time=dt.datetime(2026, 3, 4, 15))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_writes_every_table_privately(journal: Journal, tmp_path: Path, fmt: str):
    rec = journal.record_intent(make_intent(), mode="paper", needs_approval=False)
    journal.begin_submit(rec.id, rec.fingerprint)
    journal.record_order(_order("Submitted"))
    journal.record_fill(_fill("e.1"))
    counts = export_journal(journal, tmp_path / "audit", fmt)
    assert counts["intents"] == 1 and counts["fills"] == 1 and counts["schema_version"] == 2
    for table in TABLES:
        path = tmp_path / "audit" / f"{table}.{fmt}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = (tmp_path / "audit" / f"fills.{fmt}").read_text()
    if fmt == "jsonl":
        assert json.loads(text.splitlines()[0])["exec_id"] == "e.1"
    else:
        assert text.splitlines()[0].startswith("exec_id,")


def test_sqlite_refuses_an_intent_with_bad_side_at_the_schema_level(journal: Journal):
    with pytest.raises(sqlite3.IntegrityError):
        journal._conn.execute(
            "INSERT INTO fills(exec_id, contract, side, quantity, price, time, recorded_at) "
            "VALUES ('x', 'VX', 'HOLD', 1, 1, 't', 't')"
        )


def test_umask_does_not_loosen_the_file(tmp_path: Path):
    old = os.umask(0)
    try:
        d = tmp_path / "p"
        d.mkdir(mode=0o700)
        Journal.open(d / "alvh.sqlite").close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((d / "alvh.sqlite").stat().st_mode) == 0o600


def test_daily_counts_of_submissions_and_ladder_orders(journal: Journal, clock):
    for n in range(3):
        rec = journal.record_intent(make_intent(f"L1-{n}"), mode="paper", needs_approval=False)
        journal.begin_submit(rec.id, rec.fingerprint)
        for step in (1, 2):
            journal.record_order_sending(
                rec.id, order_id=10 * n + step, step=step, con_id=1, action="BUY", quantity=2, limit_price=17.0,
                at=clock(),
            )  # fmt: skip
        clock.advance(3600)
    assert journal.submissions_since(T0) == 3
    assert journal.submissions_since(T0 + dt.timedelta(seconds=1)) == 2
    assert journal.orders_placed_since(T0) == 6


def test_expiry_happens_at_the_boundary_not_a_microsecond_before(journal: Journal, clock):
    """Instants are stored as fixed-width text; the comparison must still be exact across microseconds."""
    rec = journal.record_intent(make_intent(), mode="approval", needs_approval=True, pending_expiry_s=60,
                                approved_ttl_s=60)  # fmt: skip
    clock.advance(59.999999)
    assert journal.expire_due() == []
    clock.advance(0.000001)
    assert journal.expire_due() == [rec.id]


def test_the_bot_may_tighten_but_never_loosen_the_trading_state(journal: Journal):
    from bot.risk import TradingState

    journal.set_trading_state(TradingState.REDUCING, "VIX data thin", by="auto")
    journal.auto_halt("repeated_rejections", "3 orders rejected within 600 s")
    for loosened in (TradingState.ACTIVE, TradingState.REDUCING):
        with pytest.raises(JournalError, match="only a person may loosen"):
            journal.set_trading_state(loosened, "looks fine now", by="auto")
    journal.auto_halt("stale_data", "VIX quote is 901 s old")  # a second anomaly keeps the first cause
    state = journal.trading_state()
    assert (state.state, state.reason) == (TradingState.HALTED, "repeated_rejections: 3 orders rejected within 600 s")
    assert "stale_data" in journal.events(kind="halt")[0]["message"]
    resumed = journal.set_trading_state(TradingState.ACTIVE, "checked the account", by="operator:alice")
    assert resumed.state is TradingState.ACTIVE

"""Opening the journal safely: file permissions, SQLite pragmas, and forward-only schema migrations.

Only the local user may write the journal: it decides what the bot may send (approvals, trading state), so a file
or directory writable by others would let another user approve trades. We refuse to start rather than fix modes
silently, because a loosened permission is a sign someone changed something.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import stat
from collections.abc import Sequence
from pathlib import Path

BUSY_TIMEOUT_MS = 5000


class JournalError(Exception):
    """The journal cannot be used; the message says why and how to fix it."""


# (version, script). Append only: a released migration is never edited, a change is a new version.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE cycles(
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            market_time TEXT,
            mode TEXT NOT NULL,
            trigger TEXT NOT NULL
        );
        CREATE TABLE decisions(
            id INTEGER PRIMARY KEY,
            cycle_id INTEGER NOT NULL REFERENCES cycles(id),
            created_at TEXT NOT NULL,
            record TEXT NOT NULL CHECK (json_valid(record))
        );
        CREATE TABLE intents(
            id TEXT PRIMARY KEY,
            cycle_id INTEGER REFERENCES cycles(id),
            fingerprint TEXT NOT NULL,
            layer INTEGER NOT NULL,
            instrument TEXT NOT NULL,
            side TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
            quantity INTEGER NOT NULL CHECK (quantity > 0),
            ref_price REAL,
            limit_price REAL,
            reason TEXT NOT NULL,
            group_id TEXT,
            opens_position INTEGER NOT NULL,
            content TEXT NOT NULL CHECK (json_valid(content)),
            mode TEXT NOT NULL,
            needs_approval INTEGER NOT NULL,
            status TEXT NOT NULL,
            status_reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            expires_at TEXT,
            approved_ttl_s REAL,
            submit_count INTEGER NOT NULL DEFAULT 0 CHECK (submit_count <= 1),
            submitted_at TEXT,
            client_id INTEGER,
            order_id INTEGER,
            filled_qty REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX intents_status ON intents(status);
        CREATE TABLE intent_transitions(
            id INTEGER PRIMARY KEY,
            intent_id TEXT NOT NULL REFERENCES intents(id),
            at TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT NOT NULL,
            source TEXT NOT NULL,
            reason TEXT
        );
        CREATE INDEX intent_transitions_to ON intent_transitions(to_status, at);
        CREATE TABLE approvals(
            id INTEGER PRIMARY KEY,
            intent_id TEXT NOT NULL REFERENCES intents(id),
            fingerprint TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
            decided_at TEXT NOT NULL,
            decided_by TEXT NOT NULL,
            reason TEXT,
            valid_until TEXT,
            UNIQUE (intent_id, fingerprint)
        );
        CREATE TABLE orders(
            id INTEGER PRIMARY KEY,
            order_ref TEXT,
            intent_id TEXT REFERENCES intents(id),
            client_id INTEGER,
            order_id INTEGER,
            perm_id INTEGER UNIQUE,
            account TEXT,
            contract TEXT,
            side TEXT,
            quantity REAL,
            limit_price REAL,
            status TEXT NOT NULL,
            filled REAL NOT NULL DEFAULT 0,
            remaining REAL,
            avg_fill_price REAL,
            first_seen TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX orders_ref ON orders(order_ref);
        CREATE INDEX orders_client_order ON orders(client_id, order_id);
        CREATE TABLE order_status_history(
            id INTEGER PRIMARY KEY,
            order_row INTEGER NOT NULL REFERENCES orders(id),
            at TEXT NOT NULL,
            status TEXT NOT NULL,
            filled REAL NOT NULL,
            remaining REAL,
            limit_price REAL
        );
        CREATE TABLE fills(
            exec_id TEXT PRIMARY KEY,
            order_row INTEGER REFERENCES orders(id),
            intent_id TEXT REFERENCES intents(id),
            order_ref TEXT,
            perm_id INTEGER,
            order_id INTEGER,
            client_id INTEGER,
            account TEXT,
            contract TEXT NOT NULL,
            side TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
            quantity REAL NOT NULL CHECK (quantity > 0),
            price REAL NOT NULL,
            time TEXT NOT NULL,
            commission REAL,
            commission_currency TEXT,
            realized_pnl REAL,
            recorded_at TEXT NOT NULL
        );
        CREATE TABLE events(
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            code TEXT,
            message TEXT NOT NULL,
            data TEXT CHECK (data IS NULL OR json_valid(data))
        );
        CREATE TABLE trading_state(
            id INTEGER PRIMARY KEY CHECK (id = 1),
            state TEXT NOT NULL CHECK (state IN ('active', 'reducing', 'halted')),
            reason TEXT NOT NULL,
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL
        );
        """,
    ),
    (
        2,
        """
        ALTER TABLE orders ADD COLUMN step INTEGER;
        ALTER TABLE orders ADD COLUMN con_id INTEGER;
        ALTER TABLE orders ADD COLUMN sent_at TEXT;
        CREATE TABLE outcomes(
            id INTEGER PRIMARY KEY,
            intent_id TEXT NOT NULL REFERENCES intents(id),
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            filled REAL NOT NULL,
            quantity REAL NOT NULL,
            average_price REAL,
            orders_sent INTEGER NOT NULL,
            reason TEXT NOT NULL,
            error_code INTEGER
        );
        CREATE INDEX outcomes_intent ON outcomes(intent_id);
        """,
    ),
)


def check_permissions(path: Path) -> None:
    """Refuse a journal, or a directory holding it, that another user could write (or that another user owns)."""
    uid = os.getuid()
    for target, what in ((path.parent, "directory"), (path, "file")):
        try:
            st = target.stat()
        except FileNotFoundError:
            continue
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise JournalError(
                f"journal {what} {target} is writable by other users (mode {stat.filemode(st.st_mode)}); anyone "
                f"could approve trades. Fix: chmod {'700' if what == 'directory' else '600'} {target}, or move "
                "bot.journal_path into a private directory"
            )
        if st.st_uid != uid:
            raise JournalError(
                f"journal {what} {target} belongs to another user (uid {st.st_uid}). Fix: use a journal in a "
                "directory you own"
            )


def connect(path: Path, *, create: bool) -> sqlite3.Connection:
    """Open (and with `create`, make) the journal with mode 0600 in a private directory, WAL, foreign keys."""
    path = Path(path).expanduser().absolute()
    if not path.exists():
        if not create:
            raise JournalError(f"no journal at {path}. Fix: pass the journal the bot writes (--journal or --config)")
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
    check_permissions(path)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise JournalError(f"{path}: SQLite refused WAL mode (got {mode}). Fix: put the journal on a local disk")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"{path}: not a usable SQLite journal ({exc}). Fix: check the path") from None
    return conn


def checkpoint_wal(path: Path) -> tuple[int, int]:
    """Copy the WAL's committed pages into the database file; returns (frames in the WAL, frames copied).

    PASSIVE: it neither waits for nor blocks the bot's writers. It syncs the WAL first, and once everything is
    copied the next write starts the WAL from its beginning again, so it stops growing. Meant for a worker thread:
    it opens its own connection (`mode=rw`: a missing journal is an error here, never a new empty file).
    """
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.OperationalError as exc:
        raise JournalError(f"{path}: cannot open the journal to checkpoint it ({exc})") from None
    try:
        _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        conn.close()
    return int(frames), int(copied)


def schema_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, migrations: Sequence[tuple[int, str]] = MIGRATIONS) -> int:
    """Apply every migration newer than the stored version, each in its own transaction; returns the version."""
    current = schema_version(conn)
    latest = max(v for v, _ in migrations)
    if current > latest:
        raise JournalError(
            f"journal schema version {current} is newer than this alvh understands ({latest}). Fix: upgrade alvh"
        )
    for version, script in sorted(migrations):
        if version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) >= version:  # another process migrated while we waited for the lock
                conn.execute("COMMIT")
                continue
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version(version, applied_at) VALUES (?, ?)",
                (version, dt.datetime.now(dt.UTC).isoformat()),
            )
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            conn.execute("ROLLBACK")
            raise JournalError(f"migration to schema version {version} failed: {exc}") from None
        current = version
    return max(current, schema_version(conn))


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (executescript would commit our transaction)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise JournalError(f"incomplete SQL statement in a migration: {buf.strip()[:60]}")
    return out

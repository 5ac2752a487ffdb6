"""Checkpointing the journal's WAL from another connection: everything committed is copied, the WAL is then
reused instead of growing (so the fsync before an order flushes little), and a missing journal is an error, not a
new empty file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.journal import Journal, JournalError
from bot.journal.db import checkpoint_wal

ROWS = 40


def _journal(tmp_path: Path) -> Journal:
    d = tmp_path / "j"
    d.mkdir(mode=0o700)
    return Journal.open(d / "alvh.sqlite")


def _write(journal: Journal, rows: int = ROWS) -> None:
    for i in range(rows):
        journal.record_event("test", f"event {i} " + "x" * 600, "test")


def test_a_checkpoint_copies_every_frame_and_the_wal_stops_growing(tmp_path) -> None:
    journal = _journal(tmp_path)
    wal = Path(str(journal.path) + "-wal")
    try:
        _write(journal)
        frames, copied = checkpoint_wal(journal.path)
        assert frames > 0 and copied == frames
        size = wal.stat().st_size
        for _ in range(3):
            _write(journal)
            frames, copied = checkpoint_wal(journal.path)
            assert copied == frames
        assert wal.stat().st_size == size  # rewritten from its start each time
        _write(journal)
        _write(journal)  # without a checkpoint in between the WAL has to grow
        assert wal.stat().st_size > size
        assert len(journal.events("test", limit=10 * ROWS)) == 6 * ROWS
    finally:
        journal.close()


def test_checkpointing_a_missing_journal_fails_without_creating_one(tmp_path) -> None:
    missing = tmp_path / "nothing.sqlite"
    with pytest.raises(JournalError, match="cannot open the journal"):
        checkpoint_wal(missing)
    assert not missing.exists()

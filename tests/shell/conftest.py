"""Fixtures for the journal, approval, risk and account-guard tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.journal import Journal

from .helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def private_dir(tmp_path: Path) -> Path:
    d = tmp_path / "private"
    d.mkdir(mode=0o700)
    return d


@pytest.fixture
def journal(private_dir: Path, clock: FakeClock):
    j = Journal.open(private_dir / "alvh.sqlite", clock=clock)
    yield j
    j.close()

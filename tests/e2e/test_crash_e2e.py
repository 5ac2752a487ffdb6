"""Crashes mid-ladder against the simulator: a dropped connection, and a bot killed with SIGKILL and restarted.

The simulator runs in the test process (the `sim` fixture); the bot is a real process (bot_child.py). Every check
reads the simulator's orders log.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from .helpers import check_no_duplicates, orders, places, private_dir, quantities, start_bot, stop, wait_for

pytestmark = pytest.mark.timeout(90)


def test_killed_mid_ladder_and_restarted_never_sends_an_intent_twice(sim, tmp_path: Path) -> None:
    thread, anchor, log = sim
    d = private_dir(tmp_path)
    journal, out = d / "alvh.sqlite", tmp_path / "bot.out"
    first = start_bot(thread.port, anchor, journal, out)
    try:
        wait_for(lambda: bool(places(log)), 40, "the first order to reach the simulator")
    finally:
        first.send_signal(signal.SIGKILL)  # mid-ladder: its first order was just placed
        first.wait(timeout=10)
    killed_ref = places(log)[0]["orderRef"]
    seen_before = len(orders(log))
    second = start_bot(thread.port, anchor, journal, out)
    try:
        time.sleep(8)  # about two market days: the restart reconciles, resumes and keeps trading
    finally:
        assert stop(second) == 0
    log_rows = orders(log)
    assert len(log_rows) > seen_before, "the restarted bot did nothing"
    check_no_duplicates(log_rows, quantities(journal))
    output = out.read_text(errors="replace")
    recovered = [json.loads(x) for x in output.splitlines() if x.startswith("{") and '"recover"' in x]
    assert any(killed_ref in r["text"] for r in recovered), "the restart did not reconcile the killed intent"


def test_a_dropped_connection_mid_ladder_recovers_with_no_duplicate(sim, tmp_path: Path) -> None:
    thread, anchor, log = sim
    d = private_dir(tmp_path)
    journal, out = d / "alvh.sqlite", tmp_path / "bot.out"
    bot = start_bot(thread.port, anchor, journal, out)
    try:
        wait_for(lambda: bool(places(log)), 40, "the first order to reach the simulator")
        assert thread.call(lambda s: s.server.drop_connections()) >= 1
        time.sleep(8)
    finally:
        assert stop(bot) == 0
    check_no_duplicates(orders(log), quantities(journal))
    with sqlite3.connect(journal) as conn:
        kinds = [r[0] for r in conn.execute("SELECT code FROM events WHERE kind='connection' ORDER BY id")]
    assert "disconnected" in kinds and kinds.index("disconnected") < len(kinds) - 1, kinds
    assert kinds[-1] == "connected" or "connected" in kinds[kinds.index("disconnected") :], kinds
    assert len(places(log)) > 1, "nothing was sent after the reconnect"
    assert os.path.exists(journal)

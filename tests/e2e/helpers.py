"""Helpers for the end-to-end tests: configs, running `alvh run` as a real process, reading what the simulator saw.

Every check of "what was sent" reads the simulator's orders log (what reached the exchange), never the bot's own
journal, so a bug in the bot's bookkeeping cannot hide a duplicate order.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bot.sim.orders_log import read_orders_log

ROOT = Path(__file__).resolve().parents[2]

# The ts_macd signals need a daily ratio history; the simulator lists no expired VX contracts, so the demo configs
# use VIX/VIX3M (see docs/operations.md).
BASE_CONFIG = """
[bot]
mode = "{mode}"
journal_path = "{journal}"
cycle_seconds = 900.0

[broker]
simulator_scenario = "{scenario}"
simulator_speed = {speed}
client_id = 17

[signals]
ts_ratio_source = "vix_vix3m"
"""


def private_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    d.mkdir(mode=0o700)
    return d


def write_config(
    directory: Path, *, mode: str = "paper", scenario: str = "spike", speed: float = 100_000, extra: str = ""
) -> Path:
    journal = directory / "alvh.sqlite"
    text = BASE_CONFIG.format(mode=mode, journal=journal, scenario=scenario, speed=speed) + extra
    path = directory / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def journal_of(directory: Path) -> Path:
    return directory / "alvh.sqlite"


def orders_log_of(directory: Path) -> Path:
    return directory / "alvh.sim-orders.jsonl"


def alvh(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run the `alvh` CLI in a fresh interpreter (the installed entry point's module), capturing its output."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def start_alvh(*args: str, stdout: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = stdout.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
    )


def timeline_events(stdout: str) -> list[dict[str, Any]]:
    events = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("logger") == "bot.timeline":
                events.append(record)
    return events


def orders(path: Path) -> list[dict[str, Any]]:
    return read_orders_log(path) if path.exists() else []


def placed_refs(log: Iterable[dict[str, Any]]) -> set[str]:
    return {r["orderRef"] for r in log if r["event"] == "place"}


def check_no_duplicates(log: list[dict[str, Any]], quantities: dict[str, float]) -> None:
    """The exchange-side invariants of "never sent twice", per orderRef (= intent id):
    - never two orders of one intent working at the same time;
    - the quantity filled over all its orders never exceeds the intent's quantity.
    """
    working: dict[str, set[int]] = defaultdict(set)
    filled: dict[tuple[str, int], float] = {}
    for r in log:
        ref = r.get("orderRef") or ""
        if r["event"] != "status" or not ref:
            continue
        key = (ref, int(r["orderId"]))
        filled[key] = max(filled.get(key, 0.0), float(r["filled"]))
        if r["status"] in ("Submitted", "PreSubmitted"):
            working[ref].add(key[1])
            assert len(working[ref]) == 1, f"{ref}: orders {sorted(working[ref])} working at once"
        else:
            working[ref].discard(key[1])
    totals: dict[str, float] = defaultdict(float)
    for (ref, _), qty in filled.items():
        totals[ref] += qty
    for ref, total in totals.items():
        assert ref in quantities, f"{ref} reached the exchange but the journal has no such intent"
        assert total <= quantities[ref] + 1e-9, f"{ref}: filled {total} > intent quantity {quantities[ref]}"


# ---- a bot process against a simulator run by the test (crash and approval tests) ----------------------------------
SPEED = 20_000
START = dt.datetime(2025, 1, 27, 14, 45, tzinfo=dt.UTC)  # Monday 09:45 New York; the spike starts the next day
SLOW_SPEED = 2_000
SLOW_START = dt.datetime(2025, 1, 28, 17, 0, tzinfo=dt.UTC)  # noon New York on the spike's first day
CHILD = Path(__file__).with_name("bot_child.py")


def start_bot(
    port: int,
    anchor: float,
    journal: Path,
    out: Path,
    mode: str = "paper",
    sections: str = "{}",
    start: dt.datetime = START,
    speed: float = SPEED,
) -> subprocess.Popen[bytes]:
    """The Engine in its own process (bot_child.py) on the simulator's anchored clock."""
    args = [sys.executable, str(CHILD), str(port), str(journal), start.isoformat(), str(speed), repr(anchor)]
    args += [mode, sections]
    return subprocess.Popen(args, stdout=out.open("ab"), stderr=subprocess.STDOUT, cwd=ROOT)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as a person's Ctrl-C would: the bot shuts down cleanly and exits 0."""
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def places(log: Path) -> list[dict[str, Any]]:
    return [r for r in orders(log) if r["event"] == "place"]


def quantities(journal: Path) -> dict[str, float]:
    with sqlite3.connect(journal) as conn:
        return {r[0]: float(r[1]) for r in conn.execute("SELECT id, quantity FROM intents")}

"""The spike demo end to end: `alvh run` (paper mode) against the simulator's 2018-style spike at high speed.

What the layers did is read from the journal's decision records; what was traded, from the simulator's orders log.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from .helpers import (
    alvh,
    check_no_duplicates,
    journal_of,
    orders,
    orders_log_of,
    private_dir,
    timeline_events,
    write_config,
)

pytestmark = pytest.mark.timeout(150)
SPEED = 120_000  # the 56-day scenario in about 40 s of wall time


@pytest.fixture(scope="module")
def spike_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = private_dir(tmp_path_factory.mktemp("spike"))
    config = write_config(d, mode="paper", scenario="spike", speed=SPEED)
    result = alvh("run", "--config", str(config), "--log-format", "json", timeout=140)
    return {"dir": d, "config": config, "result": result}


def _records(journal: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(journal) as conn:
        return [json.loads(r[0]) for r in conn.execute("SELECT record FROM decisions ORDER BY id")]


def _vix(record: dict[str, Any]) -> float | None:
    q = record["snapshot"]["vix"] or {}
    return q.get("last") or (((q.get("bid") or 0) + (q.get("ask") or 0)) / 2 or None)


def _intent_quantities(journal: Path) -> dict[str, float]:
    with sqlite3.connect(journal) as conn:
        return {r[0]: float(r[1]) for r in conn.execute("SELECT id, quantity FROM intents")}


def test_the_run_ends_with_the_scenario_and_prints_a_summary(spike_run) -> None:
    result = spike_run["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    kinds = [e["event"] for e in timeline_events(result.stdout) if e["event"] != "note"]
    assert kinds[0] == "start" and "end" in kinds and kinds[-1] == "summary"
    assert "layer" in kinds and "fill" in kinds and "close" in kinds


def test_layers_arm_activate_overwrite_and_unwind(spike_run) -> None:
    records = _records(journal_of(spike_run["dir"]))
    transitions = [(t, r) for r in records for t in r["transitions"]]
    seq = defaultdict(list)
    for t, _ in transitions:
        seq[t["layer"]].append((t["from"], t["to"]))
    # layer 1 arms, then activates
    assert ("idle", "armed") in seq[1] and ("armed", "active") in seq[1]
    assert seq[1].index(("idle", "armed")) < seq[1].index(("armed", "active"))
    # layer 2 overwrites (harvests) when the MACD of the curve says the spike is stabilizing
    harvest = [t for t, _ in transitions if t["layer"] == 2 and t["to"] == "harvesting" and t["from"] != "harvesting"]
    assert harvest and "stabilizing" in harvest[0]["rule"]
    # layer 3 only above VIX 35
    tail = [(t, r) for t, r in transitions if t["layer"] == 3 and t["to"] in ("armed", "active")]
    assert tail, "the spike to about 37 should arm the tail layer"
    for t, r in tail:
        assert _vix(r) is not None and _vix(r) > 35, f"layer 3 {t['to']} at VIX {_vix(r)}"
    # everything unwinds afterwards: every layer that was active went through unwinding and ends idle
    for layer in (1, 2, 3):
        assert any(to == "unwinding" for _, to in seq[layer]), f"layer {layer} never unwound"
    final = {row["layer"]: row["phase"] for row in records[-1]["state"]["layers"]}
    assert set(final.values()) <= {"idle", "unwinding"}, final


def test_the_exchange_saw_hedges_bought_calls_offered_and_nothing_twice(spike_run) -> None:
    d = spike_run["dir"]
    log = orders(orders_log_of(d))
    places = [r for r in log if r["event"] == "place"]
    assert places, "no order reached the simulator"
    filled = [r for r in log if r["event"] == "status" and r["status"] == "Filled"]
    assert any(r["action"] == "BUY" and r["orderRef"].startswith("alvh-L1") for r in filled)
    # the overwrite reached the exchange: covered VIX calls offered by layer 2 (whether a ladder fills at this speed
    # depends on how far the simulated market moves during one step)
    overwrite = [r for r in places if r["orderRef"].startswith("alvh-L2") and r["localSymbol"].startswith("VIX ")]
    assert any(r["action"] == "SELL" for r in overwrite), "layer 2 offered no covered VIX call"
    assert all(r["orderType"] == "LMT" for r in places)  # never a market order
    check_no_duplicates(log, _intent_quantities(journal_of(d)))


def test_status_json_shows_layers_book_and_pnl(spike_run) -> None:
    result = alvh("status", "--json", "--config", str(spike_run["config"]))
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["running"] is False and status["mode"] == "paper" and status["account"] == "DU***567"
    assert [row["layer"] for row in status["layers"]] == [1, 2, 3]
    assert "condors" in status["book"]  # the scenario's condors expired before its end: the book is empty now
    assert all(st["break_evens"] for st in status["book"]["structures"])
    assert status["pending_approvals"] == []
    assert status["trading_state"]["state"] in ("active", "reducing", "halted")
    assert set(status["pnl"]) >= {"hedge_total", "condors", "net"}


def test_status_for_people_names_the_layers_and_the_trading_state(spike_run) -> None:
    result = alvh("status", "--config", str(spike_run["config"]))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "not running" in text and "mode paper  account DU***567" in text
    assert "trading state " in text and "layers:" in text
    assert all(f"  L{n} " in text for n in (1, 2, 3))
    assert "P&L: hedge" in text and "pending approvals: 0" in text

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
from .vix_cover import VixContract, net_by_fills, replay, uncovered, vix_contract

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
    # the overwrite reached the exchange: covered VIX calls offered by layer 2 (their fills: the tests below)
    assert any(_is_l2_call_sale(r) for r in places), "layer 2 offered no covered VIX call"
    assert all(r["orderType"] == "LMT" for r in places)  # never a market order
    check_no_duplicates(log, _intent_quantities(journal_of(d)))


def _is_l2_call_sale(row: dict[str, Any]) -> bool:
    """An order (or its fill) selling a VIX call for a layer-2 intent: the overwrite."""
    if not (row.get("orderRef") or "").startswith("alvh-L2") or row.get("action") != "SELL":
        return False
    contract = vix_contract(row["conId"])
    return contract is not None and contract.kind == "C"


def _named(positions: dict[VixContract, float]) -> dict[str, float]:
    return {f"{c.kind} {c.expiry} {c.strike:g}": q for c, q in positions.items()}


def _l2_call_sales(log: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(orders placed, fills) of layer 2's covered-call sales, as the simulated exchange logged them."""
    placed = [r for r in log if r["event"] == "place" and _is_l2_call_sale(r)]
    return placed, [r for r in log if r["event"] == "fill" and _is_l2_call_sale(r)]


def test_layer_2_call_sales_fill_at_the_exchange(spike_run) -> None:
    placed, fills = _l2_call_sales(orders(orders_log_of(spike_run["dir"])))
    assert placed, "layer 2 offered no covered VIX call"
    assert fills, (
        f"layer 2 placed {len(placed)} covered-call sale orders for {len({r['orderRef'] for r in placed})} intents "
        "and none filled"
    )
    assert all(r["side"] == "SLD" and r["price"] >= r["lmtPrice"] - 1e-9 for r in fills)  # never below the limit


def test_every_vix_call_sold_is_bought_back_by_the_end(spike_run) -> None:
    log = orders(orders_log_of(spike_run["dir"]))
    assert any(r["event"] == "fill" and _is_l2_call_sale(r) for r in log), "no layer 2 call sale filled"
    left_short = {c: q for c, q in net_by_fills(log).items() if c.kind == "C" and q < 0}
    assert not left_short, f"VIX calls still short at the end, never bought back: {_named(left_short)}"


def test_short_vix_calls_stay_covered_at_every_fill(spike_run) -> None:
    """The spec's covered-only rule, from the exchange's fills: at each layer-2 call sale and after every other
    fill, short VIX calls never exceed 10 per long VX, 1 per long VXM or long call (same or later expiry)."""
    log = orders(orders_log_of(spike_run["dir"]))
    for row, held in replay(log):  # the VIX book just after each fill, every layer's fills included
        missing = uncovered(held)
        what = "a layer 2 call sale" if _is_l2_call_sale(row) else f"{row['orderRef']} {row['side']}"
        assert not missing, (
            f"seq {row['seq']} at {row['sim_time']} ({what} of {row['shares']:g} {row['localSymbol']}) left short "
            f"calls uncovered: {missing} beyond cover per expiry; held: {_named(held)}"
        )


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

"""Covered VIX calls, checked from what the exchange saw: VIX positions replayed from the simulator's fills.

The spec (ALVH_SPEC.md section 5, layer 2) allows covered calls only: short VIX calls never exceed 10 per long VX
($1000/pt against $100/pt) or 1 per long VXM, and a long VIX call covers one short call. A long covers calls that
expire with it or before it: a future that settles first would leave the call naked for its last days.

Contracts are read from their conIds through the simulator's catalog (the same encoding the exchange issued them
with), so the check needs nothing from the bot's own bookkeeping.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.sim.market.catalog import FutKey, OptKey, key_of, settlement_instant

CALLS_COVERED = {"VX": 10, "VXM": 1, "C": 1}  # short calls one long of each kind covers


@dataclass(frozen=True, slots=True)
class VixContract:
    """A VIX future or option: kind "VX", "VXM", "C" or "P"."""

    kind: str
    expiry: dt.date
    strike: float
    settles_at: dt.datetime


def vix_contract(con_id: int) -> VixContract | None:
    """The VIX future or option behind a conId, None for anything else (SPX options, VIXY, indices)."""
    key = key_of(int(con_id))
    if isinstance(key, FutKey):
        return VixContract(key.root, key.expiry, 0.0, settlement_instant(key))
    if isinstance(key, OptKey) and key.trading_class == "VIX":
        return VixContract(key.right, key.expiry, key.strike, settlement_instant(key))
    return None


def uncovered(positions: Mapping[VixContract, float]) -> dict[dt.date, float]:
    """Short calls per expiry that the longs expiring then or later cannot cover; empty when every one is covered.

    Served from the latest expiry down: the latest short calls can use only the latest longs, while a spare later
    long can still cover an earlier call (this greedy order is optimal for nested "same or later" cover).
    """
    short: dict[dt.date, float] = defaultdict(float)
    cover: dict[dt.date, float] = defaultdict(float)
    for c, q in positions.items():
        if c.kind == "C" and q < 0:
            short[c.expiry] -= q
        elif c.kind in CALLS_COVERED and q > 0:
            cover[c.expiry] += q * CALLS_COVERED[c.kind]
    missing: dict[dt.date, float] = {}
    spare = 0.0
    for expiry in sorted(set(short) | set(cover), reverse=True):
        spare += cover[expiry]
        if short[expiry] > spare + 1e-9:
            missing[expiry] = short[expiry] - spare
        spare = max(0.0, spare - short[expiry])
    return missing


def is_fill(row: Mapping[str, Any]) -> bool:
    return row["event"] == "fill"


def replay(log: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], dict[VixContract, float]]]:
    """Each fill of a VIX contract, in the log's order, with the VIX positions just after it.

    Positions in contracts already settled at the fill's market time are left out (they no longer cover anything).
    """
    held: dict[VixContract, float] = defaultdict(float)
    for row in log:
        if not is_fill(row):
            continue
        contract = vix_contract(row["conId"])
        if contract is None:
            continue
        held[contract] += float(row["shares"]) * (1 if row["side"] == "BOT" else -1)
        t = dt.datetime.fromisoformat(row["sim_time"])
        yield row, {c: q for c, q in held.items() if q and c.settles_at > t}


def net_by_fills(log: Iterable[Mapping[str, Any]], ref_prefix: str = "") -> dict[VixContract, float]:
    """Signed quantity filled per VIX contract (of orders whose orderRef starts with `ref_prefix`), ignoring
    settlement: zero means what was sold was bought back (or the reverse)."""
    net: dict[VixContract, float] = defaultdict(float)
    for row in log:
        if not is_fill(row) or not (row.get("orderRef") or "").startswith(ref_prefix):
            continue
        contract = vix_contract(row["conId"])
        if contract is not None:
            net[contract] += float(row["shares"]) * (1 if row["side"] == "BOT" else -1)
    return dict(net)

"""IB market rules (price-increment tiers) derived from the market model's own tick rule.

contractDetails carries `marketRuleIds` and clients ask `reqMarketRule(id)` for the tiers before pricing options
(e.g. SPX options 0.05 below 3.00 and 0.10 from 3.00). The exchange side enforces `bot.sim.market.api.tick_size`,
so the server derives each instrument's tiers from that function and names each distinct tier set by a stable id:
what a client learns from reqMarketRule is then exactly what the simulated exchange accepts.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable

from bot.sim.market.api import Instrument, tick_size

Tiers = tuple[tuple[float, float], ...]  # (low edge, increment), ascending

# Prices at which tiers are probed; a change between two probes is located to the cent by bisection.
_PROBES = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 25.0, 50.0, 100.0, 1000.0, 10000.0, 100000.0)


def tiers_of(inst: Instrument, rule: Callable[[Instrument, float], float] = tick_size) -> Tiers:
    """The increment tiers `rule` applies to this instrument's prices, edges to the cent."""
    tiers: list[tuple[float, float]] = [(0.0, rule(inst, 0.0))]
    for lo, hi in itertools.pairwise(_PROBES):
        if rule(inst, hi) == rule(inst, lo):
            continue
        a, b = round(lo * 100), round(hi * 100)  # bisect in cents: rule(a) differs from rule(b)
        while b - a > 1:
            mid = (a + b) // 2
            if rule(inst, mid / 100) == rule(inst, a / 100):
                a = mid
            else:
                b = mid
        tiers.append((b / 100, rule(inst, b / 100)))
    return tuple(tiers)


def rule_id(tiers: Tiers) -> int:
    """A stable id (1000-9999) for a tier set: the same tiers get the same id in every run and session."""
    return 1000 + zlib.crc32(repr(tiers).encode()) % 9000


class MarketRules:
    """Remembers the tier set behind every rule id the server has handed out."""

    def __init__(self, rule: Callable[[Instrument, float], float] = tick_size) -> None:
        self._rule = rule
        self._by_id: dict[int, Tiers] = {}
        self._by_con_id: dict[int, int] = {}

    def id_for(self, inst: Instrument) -> int:
        cached = self._by_con_id.get(inst.con_id)
        if cached is not None:
            return cached
        tiers = tiers_of(inst, self._rule)
        rid = rule_id(tiers)
        known = self._by_id.setdefault(rid, tiers)
        if known != tiers:  # a crc collision between two different tier sets: refuse to answer ambiguously
            raise ValueError(f"market rule id {rid} would stand for both {known} and {tiers}")
        self._by_con_id[inst.con_id] = rid
        return rid

    def tiers(self, rid: int) -> Tiers | None:
        return self._by_id.get(rid)

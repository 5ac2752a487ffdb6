"""Shared fixtures: built markets are expensive-ish (a path of ~150k steps), so build each scenario once."""

from __future__ import annotations

import pytest

from bot.sim.market.factory import build_market


@pytest.fixture(scope="session")
def markets():
    cache = {}

    def get(name: str, seed: int = 0):
        if (name, seed) not in cache:
            cache[(name, seed)] = build_market(name, seed=seed)
        return cache[(name, seed)]

    return get

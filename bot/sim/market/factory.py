"""build_market: the one entry point the simulator server uses to get a MarketModel."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.settings.sim import SimSettings
from bot.sim.market.api import MarketInfo, MarketModel
from bot.sim.market.hours import ET
from bot.sim.market.model import SimMarket
from bot.sim.market.synthetic import SPECS, START_TIME_ET, SyntheticPath

SCENARIOS: dict[str, str] = {name: spec.description for name, spec in SPECS.items()}


class ScenarioError(ValueError):
    """An unknown scenario name or an unusable replay directory, explained with the fix."""


def build_market(
    scenario: str | None = "calm",
    replay_dir: Path | None = None,
    settings: SimSettings | None = None,
    seed: int = 0,
    start: dt.datetime | None = None,
) -> MarketModel:
    """A synthetic scenario by name, or (when replay_dir is given) a replay of daily history in that directory.

    `seed` selects the random path of a synthetic scenario (the caller passes SimSettings.seed from the config);
    `start` (timezone-aware, on a trading day) overrides SimSettings.start_date / replay_start; 00:00 UTC means
    that day from 10:00 ET.
    """
    settings = settings or SimSettings()
    if start is not None and start.tzinfo is None:
        raise ScenarioError(f"start {start} has no time zone; pass a timezone-aware datetime (UTC)")
    if start is not None and start.astimezone(dt.UTC).time() == dt.time(0):
        # A bare date (midnight UTC) means that trading day, from the usual start time rather than the evening
        # before in New York.
        start = dt.datetime.combine(start.astimezone(dt.UTC).date(), START_TIME_ET, tzinfo=ET).astimezone(dt.UTC)
    if replay_dir is not None:
        from bot.sim.market.replay import ReplayPath

        path = ReplayPath(Path(replay_dir), settings, start)
        info = MarketInfo(
            f"replay:{Path(replay_dir).name}",
            path.start,
            path.end,
            f"replay of daily history {path.start.date()} .. {path.end.date()} from {replay_dir}",
            {"kind": "replay", "dir": str(replay_dir)},
        )
        return SimMarket(path, settings, info)
    name = scenario or "calm"
    spec = SPECS.get(name)
    if spec is None:
        raise ScenarioError(f"unknown scenario {name!r}; choose one of {', '.join(SPECS)} or replay a data directory")
    try:
        synth = SyntheticPath(spec, settings, seed, start)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None
    info = MarketInfo(name, synth.start, synth.end, spec.description, {"kind": "synthetic", "seed": str(seed)})
    return SimMarket(synth, settings, info)

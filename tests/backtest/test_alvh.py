"""ALVH through `bot.strategy.decide`: t+1 execution, covered-only fills, what the snapshot shows and hides."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bot.backtest.alvh import HISTORY_BARS, HISTORY_BLOCK, _History, _Simulator, _vixy_traded, simulate_alvh
from bot.backtest.condors import CondorEngine
from bot.backtest.data import load_directory
from bot.config import AppConfig

from .synth import make_data_dir


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory):
    return load_directory(make_data_dir(tmp_path_factory.mktemp("synth"), n_days=320, spike_at=200))


@pytest.fixture(scope="module")
def condor(data):
    s = AppConfig().backtest
    return CondorEngine(data, s.condor, s.vol_model, s.costs).run()


def _scripted(monkeypatch: pytest.MonkeyPatch, script) -> None:
    """Replace decide with `script(snapshot, state) -> intents`, keeping the real Decision/state plumbing."""
    import bot.strategy as strategy
    from bot.decision import Decision

    def fake(snapshot, state, history, settings):
        record = SimpleNamespace(alerts=())  # the parts of a DecisionRecord the backtest reads
        return Decision(intents=tuple(script(snapshot, state, history)), state=state, record=record)

    monkeypatch.setattr(strategy, "decide", fake)


def _intent(instrument, side: str, qty: int, limit: float | None = None):
    from bot.domain.intents import Intent, PriceGuidance, Side
    from bot.domain.layers import LayerId

    price = None if limit is None else PriceGuidance(reference=limit, limit=limit)
    return Intent(
        id=f"t-{instrument.key}-{side}",
        layer=LayerId.NEAR_TERM,
        instrument=instrument,
        side=Side(side),
        quantity=qty,
        price=price,
        reason="test",
    )


def test_a_decision_at_close_t_fills_at_t_plus_1(data, condor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Buy one VX when the snapshot's VIX first exceeds 20. The F1 settle jumps on that very day, so a fill at
    day t (look-ahead) would earn the jump; the t+1 fill must not."""
    from bot.domain.intents import HedgeInstrument, HedgeKind

    trigger = int(np.argmax(data.vix > 20))
    fired: list[dt.date] = []

    def script(snapshot, state, history):
        if snapshot.vix.last > 20 and not fired:
            fired.append(snapshot.today)
            f1 = snapshot.curve.nth(snapshot.today, 1)
            return [_intent(HedgeInstrument(HedgeKind.VX, f1.expiry), "BUY", 1)]
        return []

    _scripted(monkeypatch, script)
    config = AppConfig()
    run = simulate_alvh(data, config, condor)
    assert fired == [data.dates[trigger].astype(object)]
    assert run.leg.exposure[trigger] == 0 and run.leg.exposure[trigger + 1] == 1
    col = data.vx.f1[trigger]
    held_from = data.vx.settle[trigger + 1, col]
    jump_day_gain = (data.vx.settle[trigger, col] - data.vx.settle[trigger - 1, col]) * 1000
    assert jump_day_gain > 1000  # the case is sensitive: look-ahead would have captured this
    assert run.leg.pnl[trigger] == 0.0
    half = config.backtest.costs.vx_half_spread * max(data.vix[trigger + 1] / 20, 1.0) * 1000
    assert run.leg.costs[trigger + 1] == pytest.approx(half + config.backtest.costs.vx_commission)
    day2 = (data.vx.settle[trigger + 2, col] - held_from) * 1000
    assert run.leg.pnl[trigger + 2] == pytest.approx(day2)


def test_limits_and_covered_only(data, condor, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.domain.intents import HedgeInstrument, HedgeKind

    day = 250

    def script(snapshot, state, history):
        if snapshot.today != data.dates[day].astype(object):
            return []
        opt = snapshot.vix_options[5].instrument
        f1 = snapshot.curve.nth(snapshot.today, 1)
        return [
            _intent(opt, "SELL", 1),  # naked short call: refused
            _intent(HedgeInstrument(HedgeKind.VX, f1.expiry), "BUY", 1, limit=0.01),  # limit far below: unfilled
        ]

    _scripted(monkeypatch, script)
    run = simulate_alvh(data, AppConfig(), condor)
    assert run.refused_uncovered == 1
    assert run.unfilled == 2  # both intents: the naked call and the VX beyond its limit
    assert not run.leg.exposure.any()
    off = AppConfig().backtest.model_copy(update={"fill_within_limit": False})
    run = simulate_alvh(data, AppConfig(backtest=off), condor)
    assert run.leg.exposure[day + 1] == 1  # without limits the same intent fills


def test_snapshot_and_history_hold_only_the_past(data, condor) -> None:
    sim = _Simulator(data, AppConfig(), condor)
    i = 150
    snap = sim.snapshot(i)
    today = data.dates[i].astype(object)
    assert snap.now.tzinfo is not None and snap.now.date() == today and snap.now.hour == 16
    assert snap.vix.last == pytest.approx(data.vix[i])
    assert all(p.expiry > today for p in snap.curve.points)
    open_now = [t for t in condor.trades if t.entry <= i < t.exit]
    assert len(snap.legs) == 4 * len(open_now)
    history = sim.history(i)
    assert history.vix.dates[-1] == data.dates[i - 1].astype(object)
    assert len(history.vix) < HISTORY_BARS + HISTORY_BLOCK


def test_unscheduled_macro_events_appear_only_on_their_day(data) -> None:
    marked = dataclasses.replace(data, macro_scheduled=np.array([True] * (len(data.macro_dates) - 1) + [False]))
    history = _History(marked)
    last = data.macro_dates[-1].astype(object)
    before = history.calendar(last - dt.timedelta(days=1))
    assert last not in before.dates
    assert last in history.calendar(last).dates
    assert data.macro_dates[0].astype(object) in before.dates  # scheduled: known in advance


def test_vixy_gets_an_as_traded_price_with_reverse_splits() -> None:
    close = np.array([np.nan, 600_000.0, 300_000.0, 55_000.0, 50_000.0])
    price, factor = _vixy_traded(close)
    assert np.isnan(price[0])
    assert price[1] == pytest.approx(100.0) and price[2] == pytest.approx(50.0)
    assert price[3] == pytest.approx(91.6667, rel=1e-4)  # 9.17 < 10 -> 1:10 reverse split
    assert factor.tolist() == [1.0, 1.0, 1.0, 10.0, 10.0]
    assert price[4] / price[3] == pytest.approx(50_000 / 55_000)  # returns unchanged by the split


def test_real_decide_on_the_synthetic_spike(data, condor) -> None:
    run = simulate_alvh(data, AppConfig(), condor)
    assert np.isfinite(run.leg.pnl).all()
    assert run.steward[195:260].any()  # the spike at day 200 arms at least one layer
    assert not run.steward[:150].any()  # calm VIX ~13: nothing armed
    assert "vix_level" in run.votes_for  # per-signal votes are kept for event scoring
    assert run.votes_for["vix_level"][200:210].any() and not run.votes_for["vix_level"][:150].any()


def test_real_data_alvh_runs(tmp_path: Path) -> None:
    real = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    if not (real / "vix_family_daily.csv").is_file():
        pytest.skip(f"real data not found at {real.resolve()}")
    data = load_directory(real).slice("2018-01-02", "2018-03-30")
    s = AppConfig().backtest
    condor = CondorEngine(data, s.condor, s.vol_model, s.costs).run()
    run = simulate_alvh(data, AppConfig(), condor)
    assert run.steward.any()  # Feb 2018
    assert np.isfinite(run.leg.pnl).all()


def test_harvested_cash_counts_written_calls_only(data, condor, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.domain.intents import HedgeInstrument, HedgeKind

    day = 250
    chosen: dict[str, object] = {}

    def script(snapshot, state, history):
        today = snapshot.today
        if today == data.dates[day].astype(object):
            f1 = snapshot.curve.nth(today, 1)
            chosen["vx"] = HedgeInstrument(HedgeKind.VX, f1.expiry)
            chosen["call"] = next(q.instrument for q in snapshot.vix_options if q.instrument.expiry == f1.expiry)
            return [_intent(chosen["vx"], "BUY", 1), _intent(chosen["call"], "BUY", 2)]
        if today == data.dates[day + 2].astype(object):
            return [_intent(chosen["call"], "SELL", 5)]  # sells the 2 longs, then writes 3 (covered by the VX)
        return []

    _scripted(monkeypatch, script)
    sim_runs: list = []
    original = _Simulator._fill

    def spy(self, i, intent):
        before = self.harvested
        filled = original(self, i, intent)
        if intent.side.value == "SELL":
            price = self.mid(intent.instrument, i)
            fill = price - self.half_spread(intent.instrument, price, i)
            sim_runs.append((filled, self.harvested - before, fill))
        return filled

    monkeypatch.setattr(_Simulator, "_fill", spy)
    simulate_alvh(data, AppConfig(), condor)
    assert len(sim_runs) == 1
    filled, harvested, fill = sim_runs[0]
    assert filled and fill > 0
    assert harvested == pytest.approx(3 * fill * 100)  # the 3 written calls, not the 2 longs sold


def test_a_simulation_leaves_no_cyclic_garbage_and_restores_the_collector(data, condor) -> None:
    """`simulate_alvh` pauses the cyclic garbage collector: safe only while a run creates no reference cycles (else
    their memory would wait for the next collection). Checked with the real decision path, spike days included;
    the collector's setting is restored afterwards, also when the run fails."""
    import gc

    gc.collect()
    assert gc.isenabled()
    gc.disable()  # so that nothing is collected during the run and every cycle it made is counted below
    try:
        run = simulate_alvh(data, AppConfig(), condor)
        assert not gc.isenabled()  # a paused collector stays paused
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert run.intents > 0  # the run traded: layers did activate on the spike
    simulate_alvh(data, AppConfig(), condor)
    assert gc.isenabled()
    with pytest.raises(AttributeError):
        simulate_alvh(data, None, condor)  # type: ignore[arg-type]
    assert gc.isenabled()

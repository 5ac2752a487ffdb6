"""`decide` end to end: spike -> layers open with intents; calm -> nothing; unknown greeks -> no sizing; the record."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from alvh_core_fixtures import NOW, WORKED_STRIKES, calm_market, condor_legs, quote, spike_market, vx_curve

from bot.domain.intents import HedgeKind, Side
from bot.domain.layers import LayerBook, LayerId, LayerPhase, LayerState, Regime
from bot.domain.market import Quote, VxCurve, VxPoint
from bot.domain.state import StrategyState
from bot.planner import apply_intents
from bot.settings.book import BookSettings
from bot.settings.sizing import SizingSettings
from bot.strategy import CoreSettings, decide, signal_inputs

SETTINGS = CoreSettings()


def test_a_confirmed_spike_opens_the_layers_with_explained_intents():
    snap, history = spike_market()
    d = decide(snap, StrategyState(), history, SETTINGS)
    phases = [s.phase for s in d.state.layers.layers]
    assert phases[0] is LayerPhase.ACTIVE
    assert d.record.regime is Regime.STEWARD
    l1 = [i for i in d.intents if i.layer is LayerId.NEAR_TERM]
    assert l1 and all(i.side is Side.BUY and i.opens_position for i in l1)
    assert all(i.instrument.kind in (HedgeKind.VX, HedgeKind.VXM) for i in l1)
    assert any(t.name == "activate" and t.layer is LayerId.NEAR_TERM for t in d.record.transitions)
    assert d.state.last_plan_ids == tuple(i.id for i in d.intents)
    assert all(i.votes == d.record.votes for i in d.intents)


def test_deciding_again_after_the_fills_gives_no_new_intents():
    snap, history = spike_market()
    first = decide(snap, StrategyState(), history, SETTINGS)
    filled = dataclasses.replace(snap, hedges=apply_intents(snap.hedges, first.intents))
    second = decide(filled, first.state, history, SETTINGS)
    assert second.intents == ()
    assert [s.phase for s in second.state.layers.layers] == [s.phase for s in first.state.layers.layers]


def test_calm_market_is_promoter_with_no_intents_and_proposes_the_cash_press():
    snap, history = calm_market()
    state = StrategyState(harvested_cash_usd=30_000.0)
    d = decide(snap, state, history, SETTINGS)
    assert d.intents == () and d.record.regime is Regime.PROMOTER
    assert all(s.phase is LayerPhase.IDLE for s in d.state.layers.layers)
    press = d.record.cash_press
    assert press is not None and press.condors == int(30_000 // press.max_loss_per_condor_usd)
    assert d.state.harvested_cash_usd == 30_000.0


def test_unknown_greeks_block_sizing_but_keep_the_hedge():
    legs = condor_legs(NOW.date() + dt.timedelta(days=45), WORKED_STRIKES, 5, with_greeks=True)
    stale = [
        dataclasses.replace(lg, greeks=dataclasses.replace(lg.greeks, at=NOW - dt.timedelta(hours=1))) for lg in legs
    ]
    snap, history = spike_market(stale)
    active = LayerBook(
        (
            LayerState(LayerId.NEAR_TERM, LayerPhase.ACTIVE, NOW - dt.timedelta(days=1), strength=1.0, episode=1),
            LayerState(LayerId.MID_CURVE),
            LayerState(LayerId.TAIL),
        )
    )
    settings = CoreSettings(book=BookSettings(bs_fallback=False))
    d = decide(snap, StrategyState(layers=active), history, settings)
    codes = {a.code for a in d.alerts}
    assert {"greeks_unknown", "sizing_abstain"} <= codes
    assert not any(i.layer is LayerId.NEAR_TERM for i in d.intents)


def test_carry_over_budget_is_alerted_and_can_drop_opening_intents():
    snap, history = spike_market()
    # spot above 3-month VIX (stress) but futures in contango: long futures and long calls cost carry
    snap = dataclasses.replace(snap, vix3m=Quote(last=30.0, at=NOW), curve=vx_curve(prices=(39.0, 41.0, 42.0, 43.0)))
    strict = CoreSettings(sizing=SizingSettings(carry_budget_share=0.0, carry_budget_enforced=True))
    d = decide(snap, StrategyState(), history, strict)
    assert d.record.carry.monthly_carry_usd < 0 and d.record.carry.within_budget is False
    assert any(a.code == "carry_over_budget" for a in d.alerts)
    assert d.record.plan.intents and all(not i.opens_position for i in d.intents)
    lenient = CoreSettings(sizing=SizingSettings(carry_budget_share=0.0))
    d2 = decide(snap, StrategyState(), history, lenient)
    assert any(a.code == "carry_over_budget" for a in d2.alerts) and d2.intents == d2.record.plan.intents


def test_signal_inputs_come_from_the_snapshot():
    snap, history = spike_market()
    inputs = signal_inputs(snap, history)
    f1 = snap.curve.nth(snap.today, 1)
    assert inputs.vix.value == 38.0 and inputs.f1.value == f1.quote.mid
    assert inputs.f1_dte_days == f1.dte(snap.today) and inputs.vix_history is history.vix


def test_the_record_serializes_to_strict_json():
    snap, history = spike_market()
    d = decide(snap, StrategyState(), history, SETTINGS)
    data = json.loads(d.record.to_json())
    assert data["regime"] == "steward"
    assert {v["name"] for v in data["votes"]} >= {"vix_rsi", "vix_level", "term_structure", "ts_macd_building"}
    assert data["intents"][0]["id"] == d.intents[0].id
    assert data["sizing"]["need"]["binding"] in ("vega", "scenario")
    assert data["book"]["condors"] == 1 and data["state"]["layers"][0]["phase"] == "active"
    assert "carry" in data and "transitions" in data and data["snapshot"]["vix"]["last"] == 38.0
    # a NaN from the broker (average cost) is written as null, never as NaN
    nan_leg = dataclasses.replace(snap.legs[0], avg_cost=float("nan"))
    d2 = decide(dataclasses.replace(snap, legs=(nan_leg, *snap.legs[1:])), StrategyState(), history, SETTINGS)
    assert "NaN" not in d2.record.to_json()


def test_settings_come_from_the_app_config_and_given_betas_are_used_as_is():
    from bot.config import AppConfig
    from bot.sizing import BetaEstimate, Betas

    config = AppConfig()
    core = CoreSettings.from_config(config)
    assert core.sizing is config.sizing and core.book is config.book and core.layers is config.layers
    snap, history = spike_market()
    fixed = Betas(BetaEstimate(0.9, "test"), BetaEstimate(0.8, "test"), BetaEstimate(0.5, "test"))
    d = decide(snap, StrategyState(), dataclasses.replace(history, betas=fixed), core)
    assert d.record.sizing.betas is fixed
    fitted = decide(snap, StrategyState(), history, core).record.sizing.betas
    assert fitted.f1.source in ("regression", "fallback") and fitted.f1.n > 0


def test_enforced_carry_budget_keeps_both_halves_of_a_roll():
    snap, history = spike_market()
    first = decide(snap, StrategyState(), history, SETTINGS)
    f1 = snap.curve.nth(snap.today, 1)
    held = apply_intents(snap.hedges, first.intents)
    # two business days before F1 expires the near hedge rolls to F2; quotes restamped at that instant
    later = dt.datetime.combine(f1.expiry - dt.timedelta(days=2), NOW.timetz())
    # futures in contango (spot still above VIX3M): long futures cost carry, so the budget of 0 is exceeded
    contango = (39.0, 41.0, 42.0, 43.0)
    points = zip(snap.curve.points, contango, strict=True)
    curve = VxCurve(tuple(VxPoint(p.expiry, quote(px, later)) for p, px in points))
    rolled = dataclasses.replace(
        snap,
        now=later,
        curve=curve,
        hedges=held,
        vix=dataclasses.replace(snap.vix, at=later),
        vix3m=Quote(last=30.0, at=later),
        spx=dataclasses.replace(snap.spx, at=later),
        vixy=dataclasses.replace(snap.vixy, at=later),
        vix_options=tuple(dataclasses.replace(o, quote=quote(o.quote.mid, later)) for o in snap.vix_options),
        legs=tuple(dataclasses.replace(lg, greeks=dataclasses.replace(lg.greeks, at=later)) for lg in snap.legs),
    )
    strict = CoreSettings(sizing=SizingSettings(carry_budget_share=0.0, carry_budget_enforced=True))
    d = decide(rolled, first.state, history, strict)
    assert any(a.code == "carry_over_budget" and "rolls kept" in a.message for a in d.alerts)
    assert all(not i.opens_position or i.group for i in d.intents)  # other opening intents were dropped
    roll = [i for i in d.intents if (i.group or "").startswith("roll-")]
    assert len(roll) == 2 and {i.opens_position for i in roll} == {True, False}
    assert {i.instrument.expiry for i in roll} == {f1.expiry, snap.curve.nth(snap.today, 2).expiry}


def test_betas_are_fitted_only_when_read_and_then_equal_the_eager_fit(monkeypatch):
    import bot.strategy as strategy
    from bot.sizing import estimate_betas

    fits = []

    def counting(*args):
        fits.append(args)
        return estimate_betas(*args)

    monkeypatch.setattr(strategy, "estimate_betas", counting)
    snap, history = calm_market()  # every layer idle: sizing never reads the betas
    d = decide(snap, StrategyState(), history, SETTINGS)
    assert fits == []
    eager = estimate_betas(history.vix, history.f1, history.f2, history.vixy, SETTINGS.sizing)
    assert d.record.to_dict()["sizing"]["betas"] == eager.to_dict()  # the record fits them, once
    assert d.record.sizing.betas == eager and len(fits) == 1
    spike, spike_history = spike_market()  # a layer opens: sizing reads them during the decision
    fits.clear()
    decide(spike, StrategyState(), spike_history, SETTINGS)
    assert len(fits) == 1

"""A synthetic 2018-style spike, day by day through evaluate_signals + step_layers.

The path is built here (not read from data): a long calm (VIX ~11, curve in contango), a two-day explosion above 35
(as on 2018-02-05), a second push above 35 three days later, then a slow decay back to calm. The test plays the
execution side: a layer that starts unwinding is reported flat on the next day.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from bot.domain.layers import LayerBook, LayerId, LayerPhase, Regime
from bot.layers import step_layers
from bot.settings.layers import LayerSettings
from bot.settings.signals import SignalSettings
from bot.signals.evaluate import evaluate_signals
from bot.signals.inputs import DailySeries, SignalInputs, SignalMemory, Timed
from bot.signals.sessions import sessions_in

L1, L2, L3 = LayerId.NEAR_TERM, LayerId.MID_CURVE, LayerId.TAIL
HOLDING = {LayerPhase.ACTIVE, LayerPhase.HARVESTING}
CALM_DAYS = 280
SPIKE = [13.5, 17.0, 38.0, 31.0, 28.0, 36.5, 30.0, 27.0, 25.5, 24.0, 22.5, 21.5]


def build_path(seed: int = 2018) -> tuple[list[dt.date], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    days = sessions_in(dt.date(2016, 12, 1), dt.date(2019, 12, 31))
    calm = 11.0 + 0.15 * np.cumsum(rng.normal(0, 1, CALM_DAYS)).clip(-6, 6) + rng.normal(0, 0.3, CALM_DAYS)
    decay = 13.0 + (SPIKE[-1] - 13.0) * np.exp(-np.arange(1, 41) / 6.0) + rng.normal(0, 0.2, 40)
    vix = np.concatenate([calm, SPIKE, decay])
    excess = vix - 11.0
    f1 = 12.5 + 0.70 * excess
    f2 = 13.6 + 0.45 * excess
    vix3m = 13.4 + 0.55 * excess
    return list(days[: len(vix)]), vix, vix3m, f1, f2


def run(layer_settings: LayerSettings | None = None):
    days, vix, vix3m, f1, f2 = build_path()
    sig, lay = SignalSettings(), layer_settings or LayerSettings()
    book, memory = LayerBook(), SignalMemory()
    unwinding_since: dict[LayerId, int] = {}
    rows = []
    for i in range(CALM_DAYS - 30, len(days)):
        now = dt.datetime.combine(days[i], dt.time(21, 15), tzinfo=dt.UTC)
        inputs = SignalInputs(
            now=now,
            vix=Timed(float(vix[i]), now),
            vix3m=Timed(float(vix3m[i]), now),
            f1=Timed(float(f1[i]), now),
            f2=Timed(float(f2[i]), now),
            f1_dte_days=20.0,
            vix_history=DailySeries(tuple(days[:i]), vix[:i]),
            ratio_history=DailySeries(tuple(days[:i]), (f1 / f2)[:i]),
        )
        votes, memory = evaluate_signals(inputs, memory, sig)
        flat = {layer: i > start for layer, start in unwinding_since.items()}
        step = step_layers(book, votes, now, lay, flat)
        for t in step.transitions:
            if t.name == "unwind":
                unwinding_since[t.layer] = i
            if t.name == "reset":
                unwinding_since.pop(t.layer)
        book = step.book
        rows.append((i, days[i], float(vix[i]), {v.name: v for v in votes}, step))
    return rows


@pytest.fixture(scope="module")
def rows():
    return run()


def transitions(rows, layer: LayerId, name: str):
    return [(i, t) for i, _, _, _, step in rows for t in step.transitions if t.layer == layer and t.name == name]


def test_calm_before_the_spike_is_promoter_and_idle(rows):
    for i, _, _, _, step in rows:
        if i < CALM_DAYS:
            assert step.transitions == () and step.book.regime is Regime.PROMOTER


def test_layer_1_arms_and_activates_in_the_spike(rows):
    (i_act, act), *_ = transitions(rows, L1, "activate")
    assert CALM_DAYS <= i_act <= CALM_DAYS + 2  # within the first days of the spike
    assert transitions(rows, L1, "arm")[0][0] <= i_act
    assert "l1_activate: 3 of 5" in act.rule and act.votes


def test_layer_3_only_while_vix_is_above_35(rows):
    assert len(transitions(rows, L3, "activate")) == 2, "the tail layer opens on each of the two closes above 35"
    for i, _, vix, _, step in rows:
        if step.book.get(L3).phase in HOLDING:  # includes the activation steps
            assert vix > 35, (i, vix)
        elif vix <= 35 and any(t.layer == L3 and t.name == "unwind" for t in step.transitions):
            assert rows[[r[0] for r in rows].index(i) - 1][4].book.get(L3).phase in HOLDING


def test_layer_2_opens_behind_layer_1_and_harvests_on_stabilization(rows):
    (i_act, _), *_ = transitions(rows, L2, "activate")
    (i_l1, _), *_ = transitions(rows, L1, "activate")
    assert i_act >= i_l1
    harvests = transitions(rows, L2, "harvest")
    assert harvests, "layer 2 must harvest once the MACD histogram falls from its peak"
    i_h, harvest = harvests[0]
    assert i_h > i_act and "stabilizing: 1 of 1 [ts_macd_stabilizing]" in harvest.rule
    assert next(r for r in rows if r[0] == i_h)[4].book.get(L2).thickness > 0


def test_everything_unwinds_in_reverse_order_and_ends_idle(rows):
    last_unwind = {layer: transitions(rows, layer, "unwind")[-1][0] for layer in (L1, L2, L3)}
    assert last_unwind[L3] < last_unwind[L2] < last_unwind[L1]
    final = rows[-1][4].book
    assert all(s.phase is LayerPhase.IDLE for s in final.layers)
    assert final.regime is Regime.PROMOTER
    (i_u1, u1) = transitions(rows, L1, "unwind")[-1]
    assert "calm: 2 of 3 [!vix_rsi, !vix_level, !term_structure]" in u1.rule
    assert rows[[r[0] for r in rows].index(i_u1)][2] < 20.0


def test_no_alerts_when_all_data_is_present(rows):
    assert all(step.alerts == () or {a.code for a in step.alerts} == {"unwind_waiting"} for *_, step in rows)

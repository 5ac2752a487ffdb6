"""The real 2004-2019 daily history through evaluate_signals + step_layers: spec invariants on real data.

Signals on the close of each day (no look-ahead: history before the day, that day's close as the live bar); the
execution side is played by reporting an unwinding layer flat on the next day. Nothing here is tuned to a window:
the assertions are the spec's rules (tail only above 35, reverse-order unwinds, no same-step flip-flops) and that
the named stress days of spec section 8 find layer 1 holding.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from bot.domain.layers import LayerBook, LayerId, LayerPhase
from bot.layers import step_layers
from bot.settings.layers import LayerSettings
from bot.settings.signals import SignalSettings
from bot.signals.evaluate import evaluate_signals
from bot.signals.inputs import DailySeries, SignalInputs, SignalMemory, Timed
from bot.signals.loaders import load_breadth, load_macro_calendar

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
HOLDING = {LayerPhase.ACTIVE, LayerPhase.HARVESTING}
L1, L2, L3 = LayerId.NEAR_TERM, LayerId.MID_CURVE, LayerId.TAIL


def _num(text: str) -> float:
    return float(text) if text not in ("", "nan", "NaN") else float("nan")


def load_days() -> tuple[tuple[dt.date, ...], dict[str, np.ndarray]]:
    vix: dict[dt.date, tuple[float, float]] = {}
    with open(DATA / "vix_family_daily.csv") as f:
        for row in csv.DictReader(f):
            if row["spx_trading_day"] == "True":
                vix[dt.date.fromisoformat(row["date"])] = (_num(row["vix_close"]), _num(row["vix3m_close"]))
    rows = []
    with open(DATA / "vx_term_structure.csv") as f:
        for row in csv.DictReader(f):
            day = dt.date.fromisoformat(row["trade_date"])
            f1, f2 = _num(row["f1_settle"]), _num(row["f2_settle"])
            if day >= dt.date(2004, 6, 1) and day in vix and np.isfinite(f1) and np.isfinite(f2):
                rows.append((day, *vix[day], f1, f2, _num(row["f1_dte"])))
    days = tuple(r[0] for r in rows)
    cols = np.array([r[1:] for r in rows], dtype=float).T
    return days, dict(zip(("vix", "vix3m", "f1", "f2", "dte"), cols, strict=True))


@pytest.fixture(scope="module")
def history():
    if not (DATA / "vx_term_structure.csv").exists():
        pytest.skip(f"shared data not found at {DATA}")
    days, c = load_days()
    cal = load_macro_calendar(DATA / "macro_calendar.csv")
    breadth = load_breadth(DATA / "nyse_adv_dec.csv")
    vix_hist = DailySeries(days, c["vix"])
    ratio_hist = DailySeries(days, c["f1"] / c["f2"])
    s, ls = SignalSettings(), LayerSettings()
    book, memory, unwinding = LayerBook(), SignalMemory(), {}
    out = []
    for i in range(260, len(days)):
        now = dt.datetime.combine(days[i], dt.time(21, 15), tzinfo=dt.UTC)

        def quote(x: float, now: dt.datetime = now) -> Timed | None:
            return Timed(float(x), now) if np.isfinite(x) else None

        inputs = SignalInputs(
            now=now,
            vix=quote(c["vix"][i]),
            vix3m=quote(c["vix3m"][i]),
            f1=quote(c["f1"][i]),
            f2=quote(c["f2"][i]),
            f1_dte_days=float(c["dte"][i]),
            vix_history=vix_hist,  # bars dated today or later are ignored by the rules
            ratio_history=ratio_hist,
            macro=cal,
            breadth=breadth,
        )
        votes, memory = evaluate_signals(inputs, memory, s)
        step = step_layers(book, votes, now, ls, {layer: i > k for layer, k in unwinding.items()})
        for t in step.transitions:
            if t.name == "unwind":
                unwinding[t.layer] = i
            elif t.name == "reset":
                unwinding.pop(t.layer)
        book = step.book
        out.append((days[i], float(c["vix"][i]), votes, step))
    return out


def test_tail_layer_holds_only_above_35(history):
    tail_days = [(day, vix) for day, vix, _, step in history if step.book.get(L3).phase in HOLDING]
    assert tail_days, "VIX closed above 35 in 2008, 2010, 2011, 2015 and 2018: the tail layer must have opened"
    assert all(vix > 35 for _, vix in tail_days)


@pytest.mark.parametrize("day", ["2008-10-10", "2011-08-08", "2015-08-24", "2018-02-05"])
def test_layer_1_holds_on_named_stress_days(history, day):
    row = next(r for r in history if r[0] == dt.date.fromisoformat(day))
    assert row[3].book.get(L1).phase in HOLDING, [v.detail for v in row[2]]


def test_no_same_step_flip_flops_and_reverse_order(history):
    for day, _, _, step in history:
        names = [(t.layer, t.name) for t in step.transitions]
        for layer in (L1, L2, L3):
            mine = [n for lay, n in names if lay == layer]
            assert not ("arm" in mine and "disarm" in mine), (day, names)
            assert not ("unwind" in mine and "activate" in mine), (day, names)
        if step.book.get(L2).phase in HOLDING | {LayerPhase.UNWINDING}:
            assert step.book.get(L1).phase in HOLDING, day


def test_the_term_structure_never_abstains_when_the_futures_are_there(history):
    # VIX3M starts in 2009-09: before then the F1/F2 pair alone must carry the vote
    early = [votes for day, _, votes, _ in history if day < dt.date(2009, 9, 1)]
    assert early and all(
        next(v for v in votes if v.name == "term_structure").vote.value != "abstain" for votes in early
    )

"""The spec's worked sizing example (ALVH_SPEC section 5), reproduced end to end through book and sizing.

Spec: SPX 5,500, 45 DTE, ATM IV 15% with skew; 10 condors 5310/5360P 5655/5705C. Credit $26,711; max loss
$23,289; vega -$1,487/pt; beta_IV 0.85, h 0.5 -> +$632/VIX pt -> ~1.15 VX (11 VXM) at beta_F 0.55, ~450 VIXY at
$50 with VIX 16; scenario (-7%, +15 IV, 5 days) loss -$9,615 -> ~6 VXM (9 VXM at beta 0.35).

The spec does not say which skew it used. Our skew term IV(K) = ATM + skew_slope * ln(K/S) with slope -0.7
(sticky moneyness in the stress: the smile moves with SPX), rate 0, gives credit $26,667 (-0.2%), vega -$1,467
(-1.4%) and a stress loss of -$9,574 (-0.4%). The tolerances below (1%, 2%, 1%) cover only that unknown skew.
Sizes then follow from our figures with the spec's formulas. Rounding is DOWN by design (never more hedge than
computed), so the ~5.8 VXM scenario need ("about 6") gives 5 contracts, and 1.13 VX gives 1 VX + 1 VXM.
"""

from __future__ import annotations

import datetime as dt

import pytest
from alvh_core_fixtures import NOW, WORKED_STRIKES, condor_legs, snapshot

from bot.book import read_book
from bot.domain.intents import HedgeKind
from bot.settings.book import BookSettings, StressPoint
from bot.settings.sizing import SizingSettings
from bot.sizing import futures_units, hedge_need, vixy_units

EXPIRY = NOW.date() + dt.timedelta(days=45)
SETTINGS = BookSettings(
    atm_iv_per_vix=0.15 / 0.16,  # VIX 16 -> ATM IV 15%
    skew_slope=-0.7,
    beta_iv=0.85,
    stress_grid=[StressPoint(spx_pct=-7.0, iv_points=15.0, days=5.0, vix_points=15.0)],
)


@pytest.fixture(scope="module")
def report():
    legs = condor_legs(EXPIRY, WORKED_STRIKES, 10, spot=5500.0, atm_iv=0.15, settings=SETTINGS, with_quotes=False)
    return read_book(snapshot(legs, vix=16.0, spx=5500.0), SETTINGS)


def test_book_figures_match_the_spec(report):
    (condor,) = report.condors
    assert condor.quantity == 10
    assert condor.credit == pytest.approx(26_711, rel=0.01)
    assert condor.max_loss == pytest.approx(50 * 100 * 10 - condor.credit)
    assert condor.max_loss == pytest.approx(23_289, rel=0.01)
    assert condor.break_evens == pytest.approx((5360 - condor.credit / 1000, 5655 + condor.credit / 1000))
    assert report.v_ic == pytest.approx(-1_487, rel=0.02)
    assert report.e_vix == pytest.approx(0.85 * report.v_ic)
    (stress,) = report.scenarios
    assert stress.pnl == pytest.approx(-9_615, rel=0.01)


def test_vega_sizing_matches_the_spec(report):
    s = SizingSettings(beta_f_stress=0.55)
    need = hedge_need(report, strength=0.5, beta_f=0.55, s=s)  # strength 0.5 -> h 0.5
    assert need is not None and need.h == pytest.approx(0.5)
    assert need.vega_usd_per_pt == pytest.approx(632, rel=0.02)
    in_vx = need.vega_usd_per_pt / (0.55 * 1000)
    assert in_vx == pytest.approx(1.15, rel=0.02)
    units = dict((i.kind, q) for i, q in futures_units(need.vega_usd_per_pt, EXPIRY, 0.55, s))
    assert units == {HedgeKind.VX: 1, HedgeKind.VXM: 1}  # 1.13 VX: one VX, remainder 1.3 VXM rounds down to 1
    only_vxm = SizingSettings(allow_vx=False)
    (vxm,) = futures_units(need.vega_usd_per_pt, EXPIRY, 0.55, only_vxm)
    assert vxm[0].kind is HedgeKind.VXM and vxm[1] == 11
    assert vixy_units(need.vega_usd_per_pt, 50.0, 16.0, 0.45, s) == pytest.approx(450, abs=10)


@pytest.mark.parametrize(("beta_stress", "raw", "contracts"), [(0.55, 5.83, 5), (0.35, 9.16, 9)])
def test_scenario_sizing_matches_the_spec(report, beta_stress, raw, contracts):
    s = SizingSettings(beta_f_stress=beta_stress, allow_vx=False)
    need = hedge_need(report, strength=0.5, beta_f=0.55, s=s)
    assert need is not None and need.binding == "scenario"
    scenario_vxm = need.scenario_usd_per_pt / (0.55 * 100)  # = h * L / (beta_stress * dVIX * 100)
    assert scenario_vxm == pytest.approx(raw, rel=0.01)
    (vxm,) = futures_units(need.effective_usd_per_pt, EXPIRY, 0.55, s)
    assert vxm[1] == contracts


def test_vega_sizing_asks_about_twice_the_scenario_hedge(report):
    need = hedge_need(report, strength=0.5, beta_f=0.55, s=SizingSettings(beta_f_stress=0.55))
    assert need is not None and need.scenario_usd_per_pt is not None
    assert need.vega_usd_per_pt / need.scenario_usd_per_pt == pytest.approx(2.0, rel=0.05)
    assert need.effective_usd_per_pt == need.scenario_usd_per_pt  # the smaller one is used

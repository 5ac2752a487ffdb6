"""Black-Scholes against textbook values, put-call parity, finite-difference greeks and the vector form."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.pricing.black_scholes import bs_greeks, bs_greeks_tuple, bs_price, bs_price_vec, implied_vol


def test_hull_example_call_and_put():
    # Hull, Options Futures and Other Derivatives, Example 15.6: S=42, K=40, r=10%, sigma=20%, T=0.5
    assert bs_price(42, 40, 0.5, 0.10, 0.20, "C") == pytest.approx(4.76, abs=0.005)
    assert bs_price(42, 40, 0.5, 0.10, 0.20, "P") == pytest.approx(0.81, abs=0.005)


@given(
    spot=st.floats(50, 6000),
    moneyness=st.floats(0.6, 1.4),
    t=st.floats(0.01, 2.0),
    vol=st.floats(0.05, 1.5),
    rate=st.floats(0.0, 0.08),
)
def test_put_call_parity(spot, moneyness, t, vol, rate):
    strike = spot * moneyness
    call = bs_price(spot, strike, t, rate, vol, "C")
    put = bs_price(spot, strike, t, rate, vol, "P")
    assert call - put == pytest.approx(spot - strike * math.exp(-rate * t), rel=1e-9, abs=1e-7 * spot)


@pytest.mark.parametrize("right", ["C", "P"])
def test_greeks_match_finite_differences(right):
    s, k, t, r, v = 5500.0, 5300.0, 45 / 365, 0.04, 0.17
    g = bs_greeks(s, k, t, r, v, right)
    h = 0.5
    assert g.delta == pytest.approx(
        (bs_price(s + h, k, t, r, v, right) - bs_price(s - h, k, t, r, v, right)) / (2 * h), rel=1e-5
    )
    vega_fd = (bs_price(s, k, t, r, v + 1e-4, right) - bs_price(s, k, t, r, v - 1e-4, right)) / 2e-4 * 0.01
    assert g.vega == pytest.approx(vega_fd, rel=1e-5)
    theta_fd = bs_price(s, k, t - 1 / 365, r, v, right) - g.price
    assert g.theta == pytest.approx(theta_fd, rel=2e-2)


def test_implied_vol_round_trip_and_refusal():
    price = bs_price(5500, 5600, 0.1, 0.03, 0.22, "C")
    assert implied_vol(price, 5500, 5600, 0.1, 0.03, "C") == pytest.approx(0.22, abs=1e-6)
    assert implied_vol(float("nan"), 5500, 5600, 0.1, 0.03, "C") is None
    assert implied_vol(1e6, 5500, 5600, 0.1, 0.03, "C") is None  # above the no-arbitrage bound


def test_vector_matches_scalar_including_expired():
    spots = np.array([5000.0, 5500.0, 6000.0, 5500.0])
    strikes = np.array([5200.0, 5500.0, 5800.0, 5400.0])
    ts = np.array([0.2, 0.05, 0.0, 0.3])
    calls = np.array([True, False, True, False])
    vec = bs_price_vec(spots, strikes, ts, 0.02, 0.2, calls)
    scalar = [
        bs_price(s, k, t, 0.02, 0.2, "C" if c else "P") for s, k, t, c in zip(spots, strikes, ts, calls, strict=True)
    ]
    assert vec == pytest.approx(scalar, rel=1e-10)
    assert vec[2] == pytest.approx(200.0)  # expired call = intrinsic


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="right"):
        bs_price(100, 100, 0.1, 0.0, 0.2, "X")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        bs_price(0, 100, 0.1, 0.0, 0.2, "C")


def _textbook_price_vec(spot, strike, t, rate, vol, is_call, div_yield=0.0):
    """The straightforward vector form `bs_price_vec` replaced: every input copied to one shape, four normal CDFs,
    both discount factors always, the intrinsic branch always. The fast form must match it to the bit."""
    from scipy.special import ndtr

    spot, strike, t, rate, vol, is_call, div_yield = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (spot, strike, t, rate, vol, is_call, div_yield))
    )
    is_call = is_call.astype(bool)
    intrinsic = np.where(is_call, np.maximum(spot - strike, 0.0), np.maximum(strike - spot, 0.0))
    live = (t > 1e-6) & (vol > 1e-4)
    safe_t = np.where(live, t, 1.0)
    safe_vol = np.where(live, vol, 1.0)
    sqrt_t = np.sqrt(safe_t)
    d1 = (np.log(spot / strike) + (rate - div_yield + 0.5 * safe_vol**2) * safe_t) / (safe_vol * sqrt_t)
    d2 = d1 - safe_vol * sqrt_t
    disc_r = np.exp(-rate * safe_t)
    disc_q = np.exp(-div_yield * safe_t)
    call = spot * disc_q * ndtr(d1) - strike * disc_r * ndtr(d2)
    put = strike * disc_r * ndtr(-d2) - spot * disc_q * ndtr(-d1)
    return np.where(live, np.maximum(np.where(is_call, call, put), 0.0), intrinsic)


@pytest.mark.parametrize("seed", range(40))
def test_vector_form_equals_the_textbook_form_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    rows, cols = int(rng.integers(1, 6)), int(rng.integers(1, 9))
    spots = rng.uniform(500.0, 6000.0) * (1.0 + rng.uniform(-0.5, 0.5, (rows, 1)))
    strikes = rng.uniform(400.0, 7000.0, cols)
    t = np.maximum(rng.uniform(-0.05, 0.3, (rows, cols)), 0.0)  # some expired
    vol = rng.uniform(0.0, 1.5, (rows, cols))
    vol[rng.random((rows, cols)) < 0.1] = 0.0  # some without vol
    rate = (0.0, 0.03, rng.uniform(0.0, 0.05, (rows, 1)))[seed % 3]  # zero, scalar, per-row
    div_yield = (0.0, 0.012)[seed % 2]
    calls = rng.random(cols) < 0.5
    # a deep out-of-the-money put whose CDF terms both vanish: a price of exactly zero
    strikes[0], t[:, 0], vol[:, 0], calls[0] = 1.0, 0.01, 0.05, False
    want = _textbook_price_vec(spots, strikes, t, rate, vol, calls, div_yield)
    got = bs_price_vec(spots, strikes, t, rate, vol, calls, div_yield)
    assert got.shape == want.shape
    assert got.tobytes() == want.tobytes()  # the same bits, signed zeros included
    all_live = bs_price_vec(spots, strikes, np.full((rows, cols), 0.2), rate, np.full(cols, 0.3), calls, div_yield)
    assert all_live.tobytes() == _textbook_price_vec(spots, strikes, 0.2, rate, 0.3, calls, div_yield).tobytes()
    scalar = bs_price_vec(20.0, 24.0, 0.1, 0.02, 0.9, True, 0.02)  # the Black-76 form the backtest uses
    assert np.asarray(scalar).tobytes() == _textbook_price_vec(20.0, 24.0, 0.1, 0.02, 0.9, True, 0.02).tobytes()


def _reference_greeks(spot, strike, t, rate, vol, right, q):
    """bs_greeks as written with the norm_pdf / norm_cdf helpers (before they were inlined)."""
    from bot.pricing.black_scholes import norm_cdf, norm_pdf

    sqrt_t = math.sqrt(t)
    d1 = (math.log(spot / strike) + (rate - q + 0.5 * vol * vol) * t) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    disc_r, disc_q = math.exp(-rate * t), math.exp(-q * t)
    pdf_d1 = norm_pdf(d1)
    gamma = disc_q * pdf_d1 / (spot * vol * sqrt_t)
    vega = spot * disc_q * pdf_d1 * sqrt_t * 0.01
    decay = -spot * disc_q * pdf_d1 * vol / (2.0 * sqrt_t)
    if right == "C":
        nd1, nd2 = norm_cdf(d1), norm_cdf(d2)
        price = spot * disc_q * nd1 - strike * disc_r * nd2
        delta = disc_q * nd1
        theta = decay - rate * strike * disc_r * nd2 + q * spot * disc_q * nd1
    else:
        nmd1, nmd2 = norm_cdf(-d1), norm_cdf(-d2)
        price = strike * disc_r * nmd2 - spot * disc_q * nmd1
        delta = -disc_q * nmd1
        theta = decay + rate * strike * disc_r * nmd2 - q * spot * disc_q * nmd1
    return (max(price, 0.0), delta, gamma, vega, theta / 365.0)


@given(
    spot=st.floats(50, 6000),
    moneyness=st.floats(0.3, 2.0),
    t=st.floats(1e-5, 3.0),
    vol=st.floats(0.01, 2.0),
    rate=st.floats(-0.01, 0.08),
    q=st.floats(0.0, 0.05),
    right=st.sampled_from(["C", "P"]),
)
def test_inlined_normal_functions_give_the_helpers_numbers_bit_for_bit(spot, moneyness, t, vol, rate, q, right):
    g = bs_greeks(spot, spot * moneyness, t, rate, vol, right, q)
    want = _reference_greeks(spot, spot * moneyness, t, rate, vol, right, q)
    assert (g.price, g.delta, g.gamma, g.vega, g.theta) == want
    assert bs_greeks_tuple(spot, spot * moneyness, t, rate, vol, right, q) == want


@pytest.mark.parametrize(("spot", "strike", "right"), [(110.0, 100.0, "C"), (90.0, 100.0, "C"), (90.0, 100.0, "P")])
def test_the_tuple_form_of_an_expired_option_is_its_intrinsic_value(spot, strike, right):
    g = bs_greeks(spot, strike, 0.0, 0.02, 0.2, right)
    assert bs_greeks_tuple(spot, strike, 0.0, 0.02, 0.2, right) == (g.price, g.delta, 0.0, 0.0, 0.0)
    assert g.price == (max(spot - strike, 0.0) if right == "C" else max(strike - spot, 0.0))

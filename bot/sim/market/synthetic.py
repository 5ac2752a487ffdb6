"""Synthetic scenarios: a seeded VIX path with scripted jumps, and SPX, VX and VIXY derived from it.

Model (docs/sim_market.md, "Synthetic path"), on a uniform grid of `step_minutes`, linear in between:
    ln VIX(t) = ln b(t) + sum_i ln(J_i) * s_i(t) + y_fast(t) + y_slow(t)
    b(t)      base level: constant in the warm-up, log-linear drift over the scenario (`base_end_ratio`)
    s_i(t)    jump shape: smoothstep rise over `rise_days`, then exponential decay with `half_life_days`
    y_*       Ornstein-Uhlenbeck noise (stationary sd and half-life from SimSettings), pinned to 0 at the start by
              subtracting y(start) * exp(-ln2 |t - start| / half-life), so each seed starts at the scenario level
    theta(t)  = contango_ratio * b(t) * exp(z(t)), the level the VX curve reverts to (see curve.py); z is OU noise
                (curve_noise_sd, curve_noise_half_life_days) so futures also move on their own, less near expiry
    ln SPX(t) = ln SPX0 - beta * (ln VIX(t) - ln VIX(start)) + mu * (t - start) + W(t) - W(start),
                dW = realized_ratio * VIX/100 * sqrt(dt) * N(0, 1)
The warm-up history (before `start`) is the same model with no jumps, no drift of the base and mu = 0.08/yr.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from bot.settings.sim import SimSettings
from bot.sim.market import hours
from bot.sim.market.api import Bar
from bot.sim.market.catalog import FutKey, OptKey, front_two, settlement_instant
from bot.sim.market.curve import DAYS_PER_YEAR, cm30_weights, future_price, vol_index

WARMUP_SPX_DRIFT = 0.08
DEFAULT_START = dt.date(2025, 1, 13)
START_TIME_ET = dt.time(10, 0)
SECONDS_PER_YEAR = DAYS_PER_YEAR * 86400.0


@dataclass(frozen=True, slots=True)
class Jump:
    day: float  # calendar days after the start when the rise begins
    rise_days: float
    peak_ratio: float  # VIX multiple at the top of the jump, before noise
    half_life_days: float


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    name: str
    description: str
    days: int  # calendar days simulated after the start
    vix_base: float
    base_end_ratio: float = 1.0
    jumps: tuple[Jump, ...] = ()
    spx_drift: float = 0.08  # annual log drift of SPX after the start
    spx_vix_beta: float | None = None  # overrides SimSettings.spx_vix_beta
    noise_scale: float = 1.0  # multiplies the VIX noise innovations after the start
    spx_noise_scale: float = 1.0  # multiplies SPX's own (non-VIX) noise after the start


SPECS: dict[str, ScenarioSpec] = {
    s.name: s
    for s in (
        ScenarioSpec("calm", "VIX about 13-14 with ordinary noise, curve in contango, SPX drifting up", 42, 13.5),
        ScenarioSpec(
            "spike",
            "2018-style: VIX about 14 jumps to about 37 within three days on day 14, the curve inverts, then decays",
            56,
            14.0,
            jumps=(Jump(14.0, 3.0, 37.0 / 14.0, 8.0),),
            noise_scale=0.4,
        ),
        ScenarioSpec(
            "crash-recover",
            "two-stage crash from day 10 (VIX about 15 to about 40-45, SPX about -20%), then a recovery over weeks",
            70,
            15.0,
            jumps=(Jump(10.0, 4.0, 2.1, 14.0), Jump(16.0, 3.0, 1.7, 10.0)),
            spx_drift=0.10,
            spx_vix_beta=0.20,
            noise_scale=0.4,
            spx_noise_scale=0.6,
        ),
        ScenarioSpec(
            "grind",
            "slow SPX decline while VIX drifts from about 14.5 to about 19 without a spike; no inversion",
            56,
            14.5,
            base_end_ratio=19.0 / 14.5,
            spx_drift=-0.30,
            noise_scale=0.5,
            spx_noise_scale=0.5,
        ),
    )
}


def smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def jump_shape(days: np.ndarray, jump: Jump) -> np.ndarray:
    tau = days - jump.day
    rise = smoothstep(tau / jump.rise_days)
    decay = np.exp(-math.log(2.0) * np.maximum(tau - jump.rise_days, 0.0) / jump.half_life_days)
    return np.where(tau < 0, 0.0, rise * decay)


def _ou(rng: np.random.Generator, n: int, sd: float, half_life_days: float, step_days: float, scale: np.ndarray):
    a = math.exp(-math.log(2.0) * step_days / half_life_days)
    shocks = rng.standard_normal(n) * sd * math.sqrt(1.0 - a * a) * scale
    shocks[0] = rng.standard_normal() * sd  # start from the stationary distribution
    return lfilter([1.0], [1.0, -a], shocks)


def start_instant(day: dt.date) -> dt.datetime:
    if not hours.is_session("cboe", day):
        raise ValueError(f"start date {day} is not a trading day; pick a weekday that is not an exchange holiday")
    return dt.datetime.combine(day, START_TIME_ET, tzinfo=hours.ET).astimezone(dt.UTC)


class SyntheticPath:
    """The whole simulated market history (warm-up and scenario) of one seeded scenario, evaluated at any t."""

    def __init__(self, spec: ScenarioSpec, settings: SimSettings, seed: int, start: dt.datetime | None = None):
        self.spec = spec
        self.settings = settings
        day = (start.astimezone(hours.ET).date() if start else None) or settings.start_date or DEFAULT_START
        self.start = start.astimezone(dt.UTC) if start else start_instant(day)
        if start and not hours.is_session("cboe", self.start.astimezone(hours.ET).date()):
            raise ValueError(f"start {start} is not a trading day; pick a weekday that is not an exchange holiday")
        self.end = self.start + dt.timedelta(days=spec.days)
        warm_sessions = hours.sessions_between(
            "cboe", self.start.date() - dt.timedelta(days=int(settings.warmup_days * 1.6) + 30), self.start.date()
        )
        first = warm_sessions[-(settings.warmup_days + 5)].day
        self.t0 = dt.datetime.combine(first - dt.timedelta(days=5), dt.time(0), tzinfo=dt.UTC)
        self.step_s = settings.step_minutes * 60.0
        n = int((self.end - self.t0).total_seconds() // self.step_s) + 3
        self.n = n
        rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode())])
        step_days = self.step_s / 86400.0
        days = (np.arange(n) * self.step_s - (self.start - self.t0).total_seconds()) / 86400.0  # since start
        after = days >= 0
        scale = np.where(after, spec.noise_scale, 1.0)
        fast = _ou(rng, n, settings.vix_fast_sd, settings.vix_fast_half_life_days, step_days, scale)
        slow = _ou(rng, n, settings.vix_slow_sd, settings.vix_slow_half_life_days, step_days, scale)
        # Pin the noise to zero at the start with a two-sided decay (continuous everywhere), so that every seed
        # starts the scenario at its documented level and the scripted shape is what a test or a user sees.
        i_start = round((self.start - self.t0).total_seconds() / self.step_s)
        fast -= fast[i_start] * np.exp(-math.log(2.0) * np.abs(days) / settings.vix_fast_half_life_days)
        slow -= slow[i_start] * np.exp(-math.log(2.0) * np.abs(days) / settings.vix_slow_half_life_days)
        frac = np.clip(days / spec.days, 0.0, 1.0)
        self.log_base = math.log(spec.vix_base) + math.log(spec.base_end_ratio) * frac
        jumps = sum((math.log(j.peak_ratio) * jump_shape(days, j) for j in spec.jumps), np.zeros(n))
        self.log_vix = self.log_base + jumps + fast + slow
        vix = np.exp(self.log_vix)
        beta = settings.spx_vix_beta if spec.spx_vix_beta is None else spec.spx_vix_beta
        i0 = self._index(self.start)
        sigma = settings.spx_realized_ratio * vix / 100.0 * np.where(after, spec.spx_noise_scale, 1.0)
        dt_years = self.step_s / SECONDS_PER_YEAR
        mu = np.where(after, spec.spx_drift, WARMUP_SPX_DRIFT)
        incr = mu * dt_years - 0.5 * sigma**2 * dt_years + sigma * math.sqrt(dt_years) * rng.standard_normal(n)
        incr[0] = 0.0
        walk = np.cumsum(incr)
        log_vix_start = np.interp(i0, np.arange(n), self.log_vix)
        walk_start = np.interp(i0, np.arange(n), walk)
        self.log_spx = math.log(settings.spx_start) - beta * (self.log_vix - log_vix_start) + walk - walk_start
        curve = _ou(rng, n, settings.curve_noise_sd, settings.curve_noise_half_life_days, step_days, np.ones(n))
        self.theta_arr = settings.contango_ratio * np.exp(self.log_base + curve)
        self._vixy = _VixyBook(self, settings)

    # ---- grid helpers
    def _index(self, t: dt.datetime) -> float:
        x = (t - self.t0).total_seconds() / self.step_s
        if not 0.0 <= x <= self.n - 2:
            raise ValueError(f"{t} is outside the simulated period {self.t0} .. {self.end}")
        return x

    def _interp(self, arr: np.ndarray, t: dt.datetime) -> float:
        x = self._index(t)
        i = int(x)
        w = x - i
        return float(arr[i] * (1.0 - w) + arr[i + 1] * w)

    # ---- series at t
    def vix(self, t: dt.datetime) -> float:
        return math.exp(self._interp(self.log_vix, t))

    def spx(self, t: dt.datetime) -> float:
        return math.exp(self._interp(self.log_spx, t))

    def theta(self, t: dt.datetime) -> float:
        return self._interp(self.theta_arr, t)

    def vol_index(self, days: float, t: dt.datetime) -> float:
        return vol_index(self.vix(t), self.theta(t), days, self.settings.curve_kappa)

    def future(self, key: FutKey, t: dt.datetime) -> float:
        settle = settlement_instant(key)
        if t >= settle:
            return self.vix(settle)
        tau = (settle - t).total_seconds() / SECONDS_PER_YEAR
        return future_price(self.vix(t), self.theta(t), tau, self.settings.curve_kappa)

    def vixy(self, t: dt.datetime) -> float:
        return self._vixy.price(t)

    def vix9d(self, t: dt.datetime) -> float:
        return self.vol_index(9.0, t)

    def vix3m(self, t: dt.datetime) -> float:
        return self.vol_index(93.0, t)

    def settlement(self, key: FutKey | OptKey) -> float:
        """The underlying's final settlement value: VIX (VX, VIX options) or SPX at the settlement instant."""
        at = settlement_instant(key)
        return self.spx(at) if isinstance(key, OptKey) and key.trading_class != "VIX" else self.vix(at)

    def spx_range(self) -> tuple[float, float]:
        return float(np.exp(self.log_spx.min())), float(np.exp(self.log_spx.max()))

    # ---- daily bars sampled from the grid
    def series_fn(self, series: str | FutKey):
        if isinstance(series, FutKey):
            return lambda t: self.future(series, t)
        return {"VIX": self.vix, "SPX": self.spx, "VIX9D": self.vix9d, "VIX3M": self.vix3m, "VIXY": self.vixy}[series]

    def bars(self, series: str | FutKey, venue: str, first: dt.date, end: dt.datetime) -> list[Bar]:
        """OHLC per session of `venue` from `first` through the session under way at `end` (cut at `end`)."""
        fn = self.series_fn(series)
        out = []
        for s in hours.sessions_between(venue, first, end.astimezone(hours.ET).date() + dt.timedelta(days=1)):
            lo, hi = (s.open, s.close) if venue == "cfe" else (s.liquid_open, s.liquid_close)
            hi = min(hi, end, self.end)
            if lo < self.t0 or hi <= lo or (series == "VIXY" and lo <= self._vixy.closes[0]):
                continue
            vals = self.sample(fn, lo, hi)
            out.append(Bar(s.day, vals[0], max(vals), min(vals), vals[-1]))
        return out

    def sample(self, fn, lo: dt.datetime, hi: dt.datetime, stride: int = 6) -> list[float]:
        """fn at lo, at every `stride`-th grid point in between, and at hi (a bar's open, path and close)."""
        a = math.ceil(self._index(lo))
        b = math.floor(self._index(hi))
        pts = [lo] + [self.t0 + dt.timedelta(seconds=i * self.step_s) for i in range(a, b + 1, stride)] + [hi]
        return [fn(p) for p in pts]


class _VixyBook:
    """VIXY: holds the 30-day constant-maturity mix of F1 and F2, rebalanced at each 16:00 ET close, minus fees."""

    def __init__(self, path: SyntheticPath, settings: SimSettings):
        self.path = path
        self.fee = settings.vixy_expense_ratio
        closes = [
            s.liquid_close
            for s in hours.sessions_between("stock", path.t0.date() + dt.timedelta(days=1), path.end.date())
            if path.t0 < s.liquid_close <= path.end
        ]
        self.closes = closes
        self.holdings: list[tuple[FutKey, FutKey, float, float]] = []
        self.levels: list[float] = []
        level = 1.0
        for k, c in enumerate(closes):
            if k:
                level = self._carry(k - 1, level, c)
            f1, f2 = front_two("VX", c)
            d = c.astimezone(hours.ET).date()
            w1, w2 = cm30_weights((f1.expiry - d).days, (f2.expiry - d).days)
            self.holdings.append((f1, f2, w1, w2))
            self.levels.append(level)
        anchor = self._raw(path.start)
        self.scale = settings.vixy_start / anchor

    def _mix(self, k: int, t: dt.datetime) -> float:
        f1, f2, w1, w2 = self.holdings[k]
        return w1 * self.path.future(f1, t) + w2 * self.path.future(f2, t)

    def _carry(self, k: int, level: float, t: dt.datetime) -> float:
        c = self.closes[k]
        years = (t - c).total_seconds() / SECONDS_PER_YEAR
        return level * self._mix(k, t) / self._mix(k, c) * math.exp(-self.fee * years)

    def _raw(self, t: dt.datetime) -> float:
        k = bisect.bisect_right(self.closes, t) - 1
        if k < 0:
            raise ValueError(f"{t} is before the first simulated VIXY close")
        return self._carry(k, self.levels[k], t)

    def price(self, t: dt.datetime) -> float:
        return self._raw(t) * self.scale

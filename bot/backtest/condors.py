"""Systematic SPX iron condors on a fixed capital base, marked daily by Black-Scholes on the model surface.

Rules (all in `CondorSettings`): every `entry_interval_days` trading days (or on each monthly expiry day, the
CNDR roll, with `entry_schedule = "monthly_expiry"`), if fewer than `max_open` condors are open, sell a condor on
the monthly (third-Friday) expiry nearest `entry_dte`: shorts at `short_delta`, wings `wing_width_pct` of SPX
further out (or at `wing_delta`), quantity so that the cycle's max loss is `risk_per_condor` of the capital
base. Each condor closes at the first close where it has earned `take_profit` of its credit, lost
`stop_multiple` times its credit, or has `exit_dte` days or fewer left; otherwise it settles at intrinsic value on
the expiry day's close (an approximation of the AM settlement). Exits are standing orders on the condor's own
mark, so acting on the same close is not look-ahead. Entries and exits pay commission and a half spread per leg
that widens with VIX. Entries use SPX closes (Yahoo's opens are unreliable in 2004-2007 and 2011-2013).

The engine is independent of any hedge: one run produces the condor P&L shared by every competitor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from bot.backtest.data import MarketData
from bot.backtest.volmodel import (
    DAYS,
    VolModelParams,
    atm_term_points,
    atm_vol,
    atm_vol_one,
    smile_vol,
    smile_vol_one,
)
from bot.pricing.black_scholes import bs_price_vec
from bot.settings.backtest import CondorSettings, CostSettings, VolModelSettings
from bot.vx_calendar import third_friday

_IS_CALL = np.array([False, False, True, True])  # long put, short put, short call, long call
_SIGN = np.array([-1.0, 1.0, 1.0, -1.0])  # +1 = sold; value to close = sum(sign * price)
_VEGA_BUMP = np.array([0.0, 0.01])  # marks, and marks with vols one point higher


@dataclass(frozen=True, slots=True)
class CondorTrade:
    entry: int  # day index of the entry close
    exit: int  # day index of the exit close (== last day of data when still open: see `open_at_end`)
    expiry: np.datetime64
    strikes: tuple[float, float, float, float]  # long put, short put, short call, long call
    quantity: int
    credit: float  # index points per condor received at entry (model mid)
    exit_value: float  # index points per condor paid to close (0 when expired worthless)
    reason: str  # "take_profit", "stop", "exit_dte", "expiry", "open_at_end"

    @property
    def max_loss(self) -> float:
        """Dollars: widest wing minus credit, times 100 per contract."""
        width = max(self.strikes[1] - self.strikes[0], self.strikes[3] - self.strikes[2])
        return (width - self.credit) * 100.0 * self.quantity


@dataclass(frozen=True)
class CondorResult:
    pnl: np.ndarray  # dollars per day, costs included (marked at model mid)
    credit: np.ndarray  # dollars of gross credit received per day
    costs: np.ndarray  # dollars of commissions and spreads per day
    vega: np.ndarray  # dollars per 1 vol point of the book at each close (negative: short vol)
    max_loss: np.ndarray  # dollars of max loss of the condors open at each close
    trades: tuple[CondorTrade, ...]
    skipped_entries: int  # entries skipped because one contract already exceeded the risk budget


def vol_params(settings: VolModelSettings) -> VolModelParams:
    return VolModelParams(**settings.model_dump())


def monthly_expiries(first: np.datetime64, last: np.datetime64) -> np.ndarray:
    """Third Fridays from the month of `first` to five months after `last`."""
    start = first.astype("datetime64[M]").astype(object)
    stop = (last.astype("datetime64[M]") + 5).astype(object)
    out = []
    year, month = start.year, start.month
    while (year, month) <= (stop.year, stop.month):
        out.append(np.datetime64(third_friday(year, month), "D"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return np.array(out, dtype="datetime64[D]")


def spread_scale(vix: np.ndarray | float, power: float) -> np.ndarray:
    """Spreads widen with VIX: (VIX/20)^power, never narrower than at VIX 20."""
    return np.maximum(np.asarray(vix, dtype=float) / 20.0, 1.0) ** power


def _strike_for_delta(
    spot: float, t: float, r: float, q: float, delta: float, put: bool, atm: float, skew: float, p: VolModelParams
) -> float:
    """Strike whose Black-Scholes |delta| under the smile is `delta` (fixed point on the smile vol)."""
    forward = spot * np.exp((r - q) * t)
    target = min(delta * np.exp(q * t), 0.999)
    d1 = -ndtri(target) if put else ndtri(target)
    vol = atm
    strike = spot
    for _ in range(4):
        strike = spot * np.exp(-d1 * vol * np.sqrt(t) + (r - q + 0.5 * vol * vol) * t)
        vol = smile_vol_one(atm, strike, forward, t, skew, p)
    return float(strike)


class CondorEngine:
    """Prices and simulates the condor book over a MarketData; `run()` is pure given its inputs."""

    def __init__(self, data: MarketData, condor: CondorSettings, vol: VolModelSettings, costs: CostSettings) -> None:
        self.data = data
        self.cfg = condor
        self.costs = costs
        self.p = vol_params(vol)
        self.points = atm_term_points(data.vix, data.vix9d, data.vix3m, self.p)
        self.expiries = monthly_expiries(data.dates[0], data.dates[-1])
        self.day_num = data.dates.astype(np.int64)

    def leg_values(
        self, days: np.ndarray, expiry: np.datetime64, strikes: np.ndarray, vol_shift: float = 0.0
    ) -> np.ndarray:
        """Model mid of the 4 legs on `days` -> array (len(days), 4) in index points."""
        return self.leg_values_shifted(days, expiry, strikes, np.array([vol_shift]))[0]

    def leg_values_shifted(
        self, days: np.ndarray, expiry: np.datetime64, strikes: np.ndarray, vol_shifts: np.ndarray
    ) -> np.ndarray:
        """Model mids under parallel vol shifts in one pass -> array (len(vol_shifts), len(days), 4)."""
        d = self.data
        t = np.maximum((expiry.astype(np.int64) - self.day_num[days]) / DAYS, 0.0)[:, None]
        spot = d.spx[days][:, None]
        r = d.rate[days][:, None]
        q = self.cfg.dividend_yield
        points = tuple(x[days][:, None] for x in self.points)
        atm = atm_vol(points, t)
        forward = spot * np.exp((r - q) * t)
        vol = smile_vol(atm, strikes[None, :], forward, t, d.skew[days][:, None], self.p)
        vols = vol[None, :, :] + vol_shifts[:, None, None]
        return bs_price_vec(spot[None], strikes[None, None, :], t[None], r[None], vols, _IS_CALL[None, None, :], q)

    def _choose_expiry(self, i: int) -> np.datetime64 | None:
        dte = self.expiries.astype(np.int64) - self.day_num[i]
        ok = dte > max(self.cfg.exit_dte, 1)
        if not ok.any():
            return None
        candidates = np.flatnonzero(ok)
        best = candidates[np.argmin(np.abs(dte[candidates] - self.cfg.entry_dte))]
        return self.expiries[best]

    def _strikes(self, i: int, expiry: np.datetime64) -> np.ndarray:
        d, cfg = self.data, self.cfg
        spot, r, q = float(d.spx[i]), float(d.rate[i]), cfg.dividend_yield
        t = (expiry.astype(np.int64) - self.day_num[i]) / DAYS
        atm = atm_vol_one(*(float(x[i]) for x in self.points), t)
        skew = float(d.skew[i])
        step = cfg.strike_step
        kps = np.floor(_strike_for_delta(spot, t, r, q, cfg.short_delta, True, atm, skew, self.p) / step) * step
        kcs = np.ceil(_strike_for_delta(spot, t, r, q, cfg.short_delta, False, atm, skew, self.p) / step) * step
        if cfg.wing_delta > 0:  # wings by delta (CNDR style), at least one strike beyond the shorts
            kpl = np.floor(_strike_for_delta(spot, t, r, q, cfg.wing_delta, True, atm, skew, self.p) / step) * step
            kcl = np.ceil(_strike_for_delta(spot, t, r, q, cfg.wing_delta, False, atm, skew, self.p) / step) * step
            return np.array([min(kpl, kps - step), kps, kcs, max(kcl, kcs + step)])
        width = max(np.round(cfg.wing_width_pct * spot / step), 1.0) * step
        return np.array([kps - width, kps, kcs, kcs + width])

    def run(self) -> CondorResult:
        d, cfg, c = self.data, self.cfg, self.costs
        n = d.n
        pnl = np.zeros(n)
        credit_out = np.zeros(n)
        cost_out = np.zeros(n)
        vega = np.zeros(n)
        max_loss = np.zeros(n)
        trades: list[CondorTrade] = []
        open_until: list[int] = []
        last_entry = -(10**9)
        skipped = 0
        half = c.option_half_spread * spread_scale(d.vix, c.spread_vix_power)
        leg_cost = c.option_commission + half * 100.0  # dollars per contract per leg per side
        last_day = np.searchsorted(self.day_num, self.expiries.astype(np.int64), side="right") - 1
        roll_days = {0} | {int(k) for k in last_day if 0 <= k < n}  # monthly expiry days (the CNDR roll)
        for i in range(n):
            open_until = [e for e in open_until if e > i]
            if len(open_until) >= cfg.max_open:
                continue
            if cfg.entry_schedule == "monthly_expiry":
                if i not in roll_days:
                    continue
            elif i - last_entry < cfg.entry_interval_days:
                continue
            if not (np.isfinite(d.spx[i]) and np.isfinite(d.vix[i]) and np.isfinite(d.rate[i])):
                continue
            expiry = self._choose_expiry(i)
            if expiry is None:
                continue
            strikes = self._strikes(i, expiry)
            end = int(last_day[np.searchsorted(self.expiries, expiry)])
            if end <= i:
                continue
            days = np.arange(i, min(end, n - 1) + 1)
            both = self.leg_values_shifted(days, expiry, strikes, _VEGA_BUMP) @ _SIGN
            value = both[0]  # cost to close one condor, points
            bumped_all = both[1]  # the same with every vol one point higher (for the book's vega)
            credit = float(value[0])
            width = max(strikes[1] - strikes[0], strikes[3] - strikes[2])
            loss_per = (width - credit) * 100.0
            qty = int(cfg.risk_per_condor * cfg.capital // loss_per) if loss_per > 0 else 0
            last_entry = i
            if qty < 1 or credit <= 0:
                skipped += 1
                continue
            earned = credit - value
            dte = expiry.astype(np.int64) - self.day_num[days]
            hit = (earned >= cfg.take_profit * credit) | (-earned >= cfg.stop_multiple * credit) | (dte <= cfg.exit_dte)
            hit[0] = False
            if hit.any():
                k = int(np.argmax(hit))
                j = int(days[k])
                if dte[k] <= 0:
                    reason = "expiry"
                elif earned[k] >= cfg.take_profit * credit:
                    reason = "take_profit"
                elif -earned[k] >= cfg.stop_multiple * credit:
                    reason = "stop"
                else:
                    reason = "exit_dte"
            elif end <= n - 1:
                k, j, reason = len(days) - 1, end, "expiry"
            else:
                k, j, reason = len(days) - 1, n - 1, "open_at_end"
            held = days[: k + 1]
            mult = 100.0 * qty
            pnl[held[1:]] += -np.diff(value[: k + 1]) * mult
            entry_cost = 4 * qty * leg_cost[i]
            exit_cost = 4 * qty * leg_cost[j] if reason not in ("expiry", "open_at_end") else 0.0
            pnl[i] -= entry_cost
            pnl[j] -= exit_cost
            cost_out[i] += entry_cost
            cost_out[j] += exit_cost
            credit_out[i] += credit * mult
            hold_overnight = held if reason == "open_at_end" else held[:-1]
            if len(hold_overnight):
                held_n = len(hold_overnight)
                vega[hold_overnight] -= (bumped_all[:held_n] - value[:held_n]) * mult
                max_loss[hold_overnight] += loss_per * qty
            trade = CondorTrade(i, j, expiry, tuple(float(s) for s in strikes), qty, credit, float(value[k]), reason)
            trades.append(trade)
            open_until.append(j)
        return CondorResult(pnl, credit_out, cost_out, vega, max_loss, tuple(trades), skipped)

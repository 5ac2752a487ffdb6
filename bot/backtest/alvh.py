"""ALVH in the backtest: daily snapshots fed through the live decision path, `bot.strategy.decide`.

There is no second implementation of signals, quorum, layers, sizing or planning here: this module only plays
the broker and the market around `decide`, once per trading day:
1. mark the hedge positions held overnight to day t's prices (VX: each contract's own settle; VIX calls: Black-76
   off the same-expiry settle; VIXY: its close), and settle what expired (VX and VIX options at the contract's
   final settlement on its expiry day);
2. fill the intents decided at the close of day t-1 at day t's prices: the mid plus or minus a half spread that
   widens with VIX, plus commissions. An intent whose fill price is beyond its limit is NOT filled (it was a limit
   order); it is counted and re-planned by the next decision;
3. build the close-of-day-t snapshot (VIX family, SPX, the VX curve, a VIX call chain from the model, the condor
   legs open at that close with model greeks, the hedge positions, net liquidation) and the history strictly before
   day t, and call `decide`. Its intents wait for day t+1. What does not depend on the simulation (the listed VX
   curve, the model VIX call chains, the condor legs' model vols) is computed for all days at once up front, and
   the memory `decide` returns is passed back the next day, so its signal caches only step over the new bar.
Unscheduled macro events (e.g. emergency FOMC cuts) become visible only on their date; scheduled ones are known.
VIXY is shown to `decide` at an as-traded-like price (the data is on a 2026 split basis, in the hundreds of
thousands in 2011): rebased to 100 at launch, with a synthetic 1:10 reverse split whenever it falls below 10,
held shares converted accordingly. VIX options are offered only from their 2006-02-24 launch, VIXY from 2011.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import datetime as dt
import gc
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from zoneinfo import ZoneInfo

import numpy as np

import bot.strategy as strategy  # called as strategy.decide: the one decision path (tests may script it)
from bot.backtest.condors import CondorEngine, CondorResult, CondorTrade, spread_scale
from bot.backtest.data import MarketData
from bot.backtest.hedges import (
    VX_MULTIPLIER,
    LegResult,
    vix_call_price,
    vix_call_prices,
    vix_call_vol,
    vix_call_vols_rows,
)
from bot.backtest.volmodel import DAYS, atm_vol, smile_vol
from bot.config import AppConfig
from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, Side
from bot.domain.layers import LayerBook, LayerPhase
from bot.domain.market import (
    ChainBlock,
    HedgePosition,
    MarketSnapshot,
    OptionContract,
    Quote,
    VixCallChain,
    VixOptionQuote,
    VxCurve,
    VxPoint,
    multiplier_of,
    trusted_curve,
    trusted_greeks,
    trusted_leg,
    trusted_quote,
    trusted_vx_point,
)
from bot.domain.state import StrategyState
from bot.domain.votes import Vote
from bot.pricing.black_scholes import bs_greeks_tuple
from bot.signals.inputs import Breadth, DailySeries, MacroCalendar, MacroEvent
from bot.sizing import uncovered_short_calls
from bot.strategy import CoreSettings, History

NEW_YORK = ZoneInfo("America/New_York")
DECISION_TIME = dt.time(16, 20)  # after the 16:15 VX settle and VIX close
VIX_OPTIONS_LAUNCH = np.datetime64("2006-02-24")
CHAIN_BELOW = 3  # call strikes offered from F - 3 ...
CHAIN_ABOVE = 40  # ... to F + 40, one point apart, for the first three listed expiries
_RIGHTS = ("P", "P", "C", "C")
HISTORY_BARS = 400  # at least this many daily bars handed to `decide` per series ...
HISTORY_BLOCK = 256  # ... from a first bar that moves in steps of this many (see `_last`)
_LegModel = tuple[OptionContract, int, float, float, str, float]  # contract, qty, avg cost, strike, right, vol


@dataclass
class _Position:
    qty: int
    mark: float  # last mark, price units
    avg_cost: float  # IB convention: price x multiplier per unit


@dataclass
class AlvhRun:
    leg: LegResult
    layers_active: np.ndarray  # layers ACTIVE or HARVESTING at each close
    steward: np.ndarray  # any layer armed, active or harvesting at each close: ALVH "on"
    intents: int
    unfilled: int  # not filled: beyond the intent's limit, no price, expired, failed roll close, or uncovered
    refused_uncovered: int  # of those, sells refused because they would leave short VIX calls uncovered
    alerts: dict[str, int]
    votes_for: dict[str, np.ndarray]  # per signal: voted FOR at the close of each day


def alvh_leg(
    data: MarketData, config: AppConfig, condor: CondorResult, progress: Callable[[int], None] | None = None
) -> tuple[LegResult, np.ndarray, dict[str, np.ndarray], list[str]]:
    """(hedge leg, layers active per day, signals per day, notes).
    Signals: `alvh` = any layer armed or active (the strategy's own alarm), and `alvh:<signal>` = that signal
    voted FOR, for event scoring."""
    run = simulate_alvh(data, config, condor, progress)
    top = ", ".join(f"{code} x{count}" for code, count in sorted(run.alerts.items(), key=lambda kv: -kv[1])[:6])
    notes = [
        f"alvh: {run.intents} intents, {run.unfilled} not filled at t+1 "
        f"({run.refused_uncovered} sells refused as uncovered calls; the rest beyond their limit, unpriced or "
        "expired); the next decision re-plans them",
        f"alvh alerts: {top or 'none'}",
    ]
    active = run.layers_active > 0
    if active.any():
        notes.append(
            f"alvh futures held: {run.leg.exposure[active].mean():.2f} VX-equivalent on average while a layer is "
            f"active ({int(active.sum())} days), at most {run.leg.exposure.max():.2f} (VIX options not counted)"
        )
    signals = {"alvh": run.steward, **{f"alvh:{name}": on for name, on in sorted(run.votes_for.items())}}
    return run.leg, run.layers_active, signals, notes


def simulate_alvh(
    data: MarketData, config: AppConfig, condor: CondorResult, progress: Callable[[int], None] | None = None
) -> AlvhRun:
    with _cyclic_gc_paused():
        return _simulate(data, config, condor, progress)


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for one simulation (reference counting still frees every object).

    Why: a run allocates about a million short-lived objects, none of them in reference cycles (a test checks that
    a simulation leaves no cyclic garbage), so the collector's passes, each walking every tracked object of the
    process, free nothing and cost about 4% of a 2004-2019 run. The previous setting is restored, also on error."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _simulate(
    data: MarketData, config: AppConfig, condor: CondorResult, progress: Callable[[int], None] | None
) -> AlvhRun:
    sim = _Simulator(data, config, condor)
    settings = CoreSettings.from_config(config)
    state = StrategyState()
    n = data.n
    pending: tuple[Intent, ...] = ()
    for i in range(n):
        sim.mark(i)
        sim.execute(i, pending)
        snapshot = sim.snapshot(i)
        decision = strategy.decide(snapshot, state, sim.history(i), settings)
        state = decision.state
        # the cash the fills moved, for the next decision (decide carries the figures it was given: when no fill
        # changed them, they are still the very objects passed in, and the state needs no copy)
        if state.harvested_cash_usd is not sim.harvested or state.realized_hedge_pnl_usd is not sim.realized:
            state = dataclasses.replace(state, harvested_cash_usd=sim.harvested, realized_hedge_pnl_usd=sim.realized)
        for alert in decision.alerts:
            sim.alerts[alert.code] = sim.alerts.get(alert.code, 0) + 1
        for vote in getattr(decision.record, "votes", ()):
            voted = sim.votes_for.get(vote.name)
            if voted is None:
                voted = sim.votes_for[vote.name] = np.zeros(n, dtype=bool)
            if vote.vote is Vote.FOR:  # the array starts all False: only a FOR writes
                voted[i] = True
        pending = decision.intents
        sim.intents += len(pending)
        sim.record_layers(i, state.layers)
        if progress is not None:
            progress(1)
    leg = LegResult(sim.pnl - sim.cost, sim.cost, sim.exposure)
    return AlvhRun(
        leg, sim.layers_active, sim.steward, sim.intents, sim.unfilled, sim.refused_uncovered, sim.alerts, sim.votes_for
    )


class _Simulator:
    """The market and the broker around `decide` (see the module docstring)."""

    def __init__(self, data: MarketData, config: AppConfig, condor: CondorResult) -> None:
        self.d = data
        self.cfg = config.backtest
        self.costs = config.backtest.costs
        self.comp = config.backtest.competitors
        self.condor = condor
        self.engine = CondorEngine(data, self.cfg.condor, self.cfg.vol_model, self.cfg.costs)
        n = data.n
        self.pnl = np.zeros(n)
        self.cost = np.zeros(n)
        self.exposure = np.zeros(n)
        self.layers_active = np.zeros(n)
        self.steward = np.zeros(n, dtype=bool)
        self.positions: dict[HedgeInstrument, _Position] = {}
        self.intents = 0
        self.unfilled = 0
        self.refused_uncovered = 0
        self.respect_limits = config.backtest.fill_within_limit
        self.harvested = 0.0
        self.realized = 0.0
        self.alerts: dict[str, int] = {}
        self.votes_for: dict[str, np.ndarray] = {}
        self.scale = spread_scale(data.vix, self.costs.spread_vix_power)
        self.dates = data.dates.astype("datetime64[D]").tolist()  # datetime.date objects, converted in one call
        self.col_of = {e.astype(object): j for j, e in enumerate(data.vx.expiry)}
        self.vixy_px, self.vixy_split = _vixy_traded(data.vixy)
        self.condor_equity = self.cfg.condor.capital + np.cumsum(condor.pnl)
        self._open_by_day = _open_trades(condor, n)
        self._leg_model = self._leg_models()
        self._chains = self._call_chains()
        self._curve_rows, self._curve_cols = self._listed_curves()
        # the data's contracts are sorted by expiry: the trusted curve builder needs them strictly increasing
        increasing = bool((data.vx.expiry[1:] > data.vx.expiry[:-1]).all())
        self._make_curve: Callable[[tuple[VxPoint, ...]], VxCurve] = trusted_curve if increasing else VxCurve
        self._history = _History(data)
        self._history_bounds = self._history.bounds(data.dates)

    # ---- prices ----------------------------------------------------------------------------------------------
    def now(self, i: int) -> dt.datetime:
        return dt.datetime.combine(self.dates[i], DECISION_TIME, NEW_YORK)

    def mid(self, inst: HedgeInstrument, i: int) -> float | None:
        """Model mid of a hedge instrument at the close of day i (None when it has no price that day)."""
        kind = inst.kind
        if kind is HedgeKind.VIXY:
            px = self.vixy_px[i]
            return float(px) if math.isfinite(px) else None
        col = self.col_of.get(inst.expiry)
        if col is None:
            return None
        f = self.d.vx.settle[i, col]
        if not math.isfinite(f):
            return None
        if kind in (HedgeKind.VX, HedgeKind.VXM):
            return float(f)
        t = (inst.expiry - self.dates[i]).days / DAYS
        strike = float(inst.strike)
        if t <= 0:
            return max(f - strike, 0.0)
        vol = vix_call_vol(self.d, i, t, strike, f, self.comp)
        return vix_call_price(f, strike, t, float(self.d.rate[i]), vol)

    def half_spread(self, inst: HedgeInstrument, price: float, i: int) -> float:
        kind = inst.kind
        if kind in (HedgeKind.VX, HedgeKind.VXM):
            return self.costs.vx_half_spread * self.scale[i]
        if kind is HedgeKind.VIXY:
            return price * self.costs.vixy_half_spread_bps * self.scale[i] / 1e4
        return max(self.costs.vix_option_half_spread * self.scale[i], 0.05 * price)

    def commission(self, inst: HedgeInstrument, price: float) -> float:
        kind = inst.kind
        if kind is HedgeKind.VX:
            return self.costs.vx_commission
        if kind is HedgeKind.VXM:
            return self.costs.vx_commission / 10.0
        if kind is HedgeKind.VIXY:
            return price * self.costs.vixy_commission_bps / 1e4
        return self.costs.vix_option_commission

    # ---- daily steps -----------------------------------------------------------------------------------------
    def mark(self, i: int) -> None:
        """Overnight P&L of held positions, then settlement of what expired today."""
        if i > 0 and self.vixy_split[i] != self.vixy_split[i - 1]:
            factor = self.vixy_split[i] / self.vixy_split[i - 1]  # price x factor -> shares / factor
            for inst, pos in self.positions.items():
                if inst.kind is HedgeKind.VIXY:
                    pos.qty = round(pos.qty / factor)
                    pos.mark *= factor
                    pos.avg_cost *= factor
        for inst in list(self.positions):
            pos = self.positions[inst]
            price = self.mid(inst, i)
            mult = multiplier_of(inst.kind)
            if price is not None:  # no print today: carried at the last mark
                self.pnl[i] += pos.qty * (price - pos.mark) * mult
                pos.mark = price
            expiry = getattr(inst, "expiry", None)
            if expiry is not None and expiry <= self.dates[i]:  # final settlement (or the last mark without one)
                self.realized += pos.qty * (pos.mark * mult - pos.avg_cost)
                del self.positions[inst]

    def execute(self, i: int, intents: tuple) -> None:
        """Fill yesterday's intents at today's prices, limit permitting. A contract whose final settlement is today
        no longer trades at the close. In a roll group the close goes first and the open is sent only if the close
        filled (the executor's `roll_open_after_close` rule)."""
        failed_groups: set[str] = set()
        for intent in sorted(intents, key=_execution_order):
            if intent.group is not None and intent.group in failed_groups:
                self.unfilled += 1
                continue
            if not self._fill(i, intent):
                self.unfilled += 1
                if intent.group is not None:
                    failed_groups.add(intent.group)

    def _fill(self, i: int, intent: Intent) -> bool:
        inst = intent.instrument
        expiry = getattr(inst, "expiry", None)
        if expiry is not None and expiry <= self.dates[i]:
            return False
        price = self.mid(inst, i)
        if price is None:
            return False
        buy = intent.side is Side.BUY
        half = self.half_spread(inst, price, i)
        fill = price + half if buy else price - half
        limit = intent.price.limit if intent.price is not None else None
        if fill <= 0 or (self.respect_limits and limit is not None and (fill > limit if buy else fill < limit)):
            return False
        mult = multiplier_of(inst.kind)
        qty = intent.quantity if buy else -intent.quantity
        if not buy and self._uncovers(inst, qty):
            self.refused_uncovered += 1
            return False
        self.cost[i] += abs(qty) * (half * mult + self.commission(inst, price))
        pos = self.positions.get(inst)
        if pos is None:
            pos = self.positions[inst] = _Position(0, price, 0.0)
        old = pos.qty
        new = old + qty
        if old != 0 and (new == 0 or (old > 0) != (new > 0) or abs(new) < abs(old)):
            closed = old if new == 0 or (old > 0) != (new > 0) else -qty
            self.realized += closed * (fill * mult - pos.avg_cost)
        opened_short = max(-new, 0) - max(-old, 0)
        if inst.kind is HedgeKind.VIX_OPTION and opened_short > 0:  # premium of calls written (not of longs sold)
            self.harvested += fill * mult * opened_short
        if new == 0:
            del self.positions[inst]
            return True
        if old == 0 or (old > 0) != (new > 0):
            pos.avg_cost = fill * mult
        elif abs(new) > abs(old):
            pos.avg_cost = (pos.avg_cost * abs(old) + fill * mult * abs(qty)) / abs(new)
        pos.qty = new
        pos.mark = price  # marked at mid: the half spread paid is in `cost`
        return True

    def _uncovers(self, inst: HedgeInstrument, qty: int) -> bool:
        """Would this sell leave more short VIX calls uncovered than before? (The spec's covered-only rule; a
        spread whose long leg did not fill must not leave a naked short call behind.)"""
        held = [(k, p.qty) for k, p in self.positions.items()]
        before = uncovered_short_calls(held)
        after_map = dict(held)
        after_map[inst] = after_map.get(inst, 0) + qty
        after = uncovered_short_calls(list(after_map.items()))
        return any(n > before.get(expiry, 0) for expiry, n in after.items())

    def record_layers(self, i: int, layers: LayerBook) -> None:
        """The day's active layer count, steward flag and VX exposure (one plain pass: it runs every day)."""
        active, steward = 0, False
        for s in layers.layers:
            phase = s.phase
            if phase in (LayerPhase.ACTIVE, LayerPhase.HARVESTING):
                active += 1
            if phase in (LayerPhase.ARMED, LayerPhase.ACTIVE, LayerPhase.HARVESTING):
                steward = True
        self.layers_active[i] = active
        self.steward[i] = steward
        if not self.positions:  # the sum of nothing: the 0 the array already holds
            return
        self.exposure[i] = sum(
            pos.qty * multiplier_of(inst.kind) / VX_MULTIPLIER
            for inst, pos in self.positions.items()
            if inst.kind in (HedgeKind.VX, HedgeKind.VXM)
        )

    # ---- the snapshot ----------------------------------------------------------------------------------------
    def snapshot(self, i: int) -> MarketSnapshot:
        """Day i's close as `decide` sees it. Built with the trusted builders: every value here is the backtest's own
        (finite model prices or NaN for missing, the aware decision time), valid by construction."""
        d, now = self.d, self.now(i)
        nan = math.nan

        def index(value: float) -> Quote | None:
            return trusted_quote(nan, nan, float(value), now) if math.isfinite(value) else None

        lo, hi = self._curve_rows[i], self._curve_rows[i + 1]
        expiry, bid, ask, last = self._curve_cols
        quotes = map(trusted_quote, bid[lo:hi], ask[lo:hi], last[lo:hi], repeat(now, hi - lo))
        curve = self._make_curve(tuple(map(trusted_vx_point, expiry[lo:hi], quotes)))
        vixy = None
        if math.isfinite(self.vixy_px[i]):
            px = float(self.vixy_px[i])
            half = px * self.costs.vixy_half_spread_bps * self.scale[i] / 1e4
            vixy = trusted_quote(max(px - half, 0.0), px + half, px, now)
        hedges: tuple[HedgePosition, ...] = ()
        if self.positions:  # most days hold no hedge
            hedges = tuple(
                HedgePosition(inst, pos.qty, pos.avg_cost)
                for inst, pos in sorted(self.positions.items(), key=lambda kv: kv[0].key)
                if pos.qty != 0
            )
        add = np.add.reduce  # `.sum()` without its Python wrapper (the same pairwise sum)
        net_liq = float(self.condor_equity[i] + add(self.pnl[: i + 1]) - add(self.cost[: i + 1]))
        return MarketSnapshot(
            now=now,
            vix=index(d.vix[i]),
            vix3m=index(d.vix3m[i]),
            vix9d=index(d.vix9d[i]),
            spx=index(d.spx[i]),
            vixy=vixy,
            curve=curve,
            vix_options=_ChainOnRead(now, self._chains, i),
            legs=self._legs(i, now),
            hedges=hedges,
            net_liquidation=net_liq,
        )

    def _listed_curves(self) -> tuple[list[int], tuple[list[dt.date], list[float], list[float], list[float]]]:
        """Every day's listed VX curve, computed for all days in one pass: (first row per day, with one past the
        last day's end; the rows' columns expiry, bid, ask, last). A day's rows are the contracts listed after
        its close that have a settle, nearest expiry first; bid/ask are the settle -/+ the day's half spread (the
        bid floored at 0)."""
        d = self.d
        listed = (d.vx.expiry[None, :] > d.dates[:, None]) & np.isfinite(d.vx.settle)
        rows, cols = np.nonzero(listed)  # row-major: day by day, by increasing expiry
        starts = np.searchsorted(rows, np.arange(d.n + 1), side="left").tolist()
        expiries = [e.astype(object) for e in d.vx.expiry]
        settle = d.vx.settle[rows, cols]
        half = self.costs.vx_half_spread * self.scale[rows]
        columns = (
            [expiries[j] for j in cols.tolist()],
            np.maximum(settle - half, 0.0).tolist(),
            (settle + half).tolist(),
            settle.tolist(),
        )
        return starts, columns

    def _call_chains(self) -> _DayChains:
        """Every day's model VIX calls, priced in one vectorised pass, as `VixCallChain` blocks (expiry, strikes,
        bid, ask, last) per day: the first three listed expiries from the VIX options launch on, strikes from
        F - 3 to F + 40 one point apart, ending at the first model price under a nickel (no bid there: the chain
        ends). Done once because nothing in it depends on the simulation; a day's chain is then a list lookup."""
        d = self.d
        listed = (d.vx.expiry[None, :] > d.dates[:, None]) & np.isfinite(d.vx.settle)
        first3 = listed & (np.cumsum(listed, axis=1) <= 3) & (d.dates >= VIX_OPTIONS_LAUNCH)[:, None]
        rows, cols = np.nonzero(first3)  # day by day, nearest expiry first
        by_day: list[list[tuple[dt.date, int, int]]] = [[] for _ in range(d.n)]
        if not len(rows):
            return _DayChains(by_day, *(np.empty((0, 0)),) * 4)
        f = d.vx.settle[rows, cols]
        t = (d.vx.expiry[cols] - d.dates[rows]).astype("timedelta64[D]").astype(np.int64) / DAYS
        lo = np.maximum(f.astype(np.int64) - CHAIN_BELOW, 1)
        hi = f.astype(np.int64) + CHAIN_ABOVE
        strikes = (lo[:, None] + np.arange(int((hi - lo).max()) + 1)).astype(float)
        vols = vix_call_vols_rows(d, rows[:, None], t[:, None], strikes, f[:, None], self.comp)
        prices = vix_call_prices(f[:, None], strikes, t[:, None], d.rate[rows][:, None], vols)
        halves = np.maximum(self.costs.vix_option_half_spread * self.scale[rows][:, None], 0.05 * prices)
        bid, ask = np.maximum(prices - halves, 0.0), prices + halves
        for a in (strikes, bid, ask, prices):
            a.flags.writeable = False
        stop = (prices < 0.05) | (strikes > hi[:, None])
        ends = np.where(stop.any(axis=1), stop.argmax(axis=1), strikes.shape[1]).tolist()
        expiries = [e.astype(object) for e in d.vx.expiry]
        for r, (i, j, end) in enumerate(zip(rows.tolist(), cols.tolist(), ends, strict=True)):
            by_day[i].append((expiries[j], r, end))
        return _DayChains(by_day, strikes, bid, ask, prices)

    def _leg_models(self) -> list[list[tuple[float, list[_LegModel]]]]:
        """Per day, each open condor's time to expiry (years) and its four legs (contract, signed quantity, average
        cost, strike, right, model vol). The vol model runs once over every (day, condor) pair and what is fixed per
        condor once per condor; only Black-Scholes greeks, which need each leg's own numbers, are left to the day."""
        d, q = self.d, self.cfg.condor.dividend_yield
        rows, trades, years, forwards = [], [], [], []
        expiry = {id(trade): trade.expiry.astype(object) for trade in self.condor.trades}  # converted once per condor
        for i, open_now in enumerate(self._open_by_day):
            spot, r = float(d.spx[i]), float(d.rate[i])
            for trade in open_now:
                t = max((expiry[id(trade)] - self.dates[i]).days / DAYS, 1e-6)
                rows.append(i)
                trades.append(trade)
                years.append(t)
                forwards.append(spot * math.exp((r - q) * t))
        out: list[list[tuple[float, list[_LegModel]]]] = [[] for _ in range(d.n)]
        if not rows:
            return out
        at = np.array(rows)
        t = np.array(years)
        atm = atm_vol(tuple(x[at] for x in self.engine.points), t)
        strikes = np.array([trade.strikes for trade in trades], dtype=float)
        vols = smile_vol(
            atm[:, None], strikes, np.array(forwards)[:, None], t[:, None], d.skew[at][:, None], self.engine.p
        ).tolist()
        fixed = {id(trade): self._fixed_legs(trade) for trade in self.condor.trades}
        for i, trade, tt, row in zip(rows, trades, years, vols, strict=True):
            legs = [(*leg, vol) for leg, vol in zip(fixed[id(trade)], row, strict=True)]
            out[i].append((tt, legs))
        return out

    def _fixed_legs(self, trade: CondorTrade) -> list[tuple[OptionContract, int, float, float, str]]:
        """A condor's legs as they stay while it is open: (contract, signed quantity, average cost, strike, right)."""
        entry = self.engine.leg_values(np.array([trade.entry]), trade.expiry, np.array(trade.strikes))[0]
        expiry = trade.expiry.astype(object)
        return [
            (
                OptionContract("SPX", expiry, float(strike), right),
                (1 if k in (0, 3) else -1) * trade.quantity,
                float(entry[k]) * 100.0,
                strike,
                right,
            )
            for k, (strike, right) in enumerate(zip(trade.strikes, _RIGHTS, strict=True))
        ]

    def _legs(self, i: int, now: dt.datetime) -> tuple:
        """The condor legs open at the close of day i, quoted and with model greeks (the backtest's 'broker')."""
        spot, r, q = float(self.d.spx[i]), float(self.d.rate[i]), self.cfg.condor.dividend_yield
        half = self.costs.option_half_spread * self.scale[i]
        legs = []
        for t, fixed in self._leg_model[i]:
            for contract, quantity, avg_cost, strike, right, vol in fixed:
                price, delta, gamma, vega, theta = bs_greeks_tuple(spot, strike, t, r, vol, right, q)
                bid = price - half
                quote = trusted_quote(0.0 if bid < 0.0 else bid, price + half, price, now)  # max(bid, 0.0)
                greeks = trusted_greeks(delta, gamma, vega, theta, vol, now, spot)
                legs.append(trusted_leg(contract, quantity, avg_cost, quote, greeks))
        return tuple(legs)

    def history(self, i: int) -> History:
        return self._history.at_bounds(self.dates[i], self._history_bounds[i])


class _DayChains:
    """Every day's VIX call blocks as rows of four read-only matrices (strikes, bid, ask, last): `chains[i]` slices
    out day i's blocks (expiry, strikes, bid, ask, last), nearest expiry first, only when asked."""

    __slots__ = ("_ask", "_bid", "_by_day", "_last", "_strikes")

    def __init__(
        self,
        by_day: list[list[tuple[dt.date, int, int]]],  # per day: (expiry, matrix row, strikes offered)
        strikes: np.ndarray,
        bid: np.ndarray,
        ask: np.ndarray,
        last: np.ndarray,
    ) -> None:
        self._by_day, self._strikes, self._bid, self._ask, self._last = by_day, strikes, bid, ask, last

    def __len__(self) -> int:
        return len(self._by_day)

    def __getitem__(self, i: int) -> list[ChainBlock]:
        k, b, a, p = self._strikes, self._bid, self._ask, self._last
        return [(expiry, k[r, :end], b[r, :end], a[r, :end], p[r, :end]) for expiry, r, end in self._by_day[i]]


class _ChainOnRead(VixCallChain):
    """A day's `VixCallChain` that checks and indexes its blocks when first read, not when built.

    Why: the backtest offers a chain every day, but `decide` reads it only on the days a layer writes covered calls
    or buys call spreads (284 of the 3,969 days of 2004-2019), and building one (slicing its blocks out of the
    day's rows, then their checks) was about a fifth of the cost of the day's snapshot. The blocks come from one
    vectorised pass (`_call_chains`) and still go through the same checks on first read. Every read goes through
    the public methods below, which first run the real constructor; anything else reading the unset slots fails
    loudly (AttributeError), never silently.
    """

    __slots__ = ("_pending",)

    def __init__(self, at: dt.datetime, source: Sequence[list[ChainBlock]], day: int) -> None:
        # the parent's constructor runs in `_ready`, on `source[day]` (day `day`'s blocks)
        self._pending: tuple[dt.datetime, Sequence[list[ChainBlock]], int] | None = (at, source, day)

    def _ready(self) -> None:
        if self._pending is not None:
            at, source, day = self._pending
            VixCallChain.__init__(self, at, source[day])
            self._pending = None

    def __len__(self) -> int:
        self._ready()
        return VixCallChain.__len__(self)

    def __getitem__(self, index: int | slice) -> VixOptionQuote | tuple[VixOptionQuote, ...]:  # type: ignore[override]
        self._ready()
        return VixCallChain.__getitem__(self, index)

    def __iter__(self) -> Iterator[VixOptionQuote]:
        self._ready()
        return VixCallChain.__iter__(self)

    def __eq__(self, other: object) -> bool:
        self._ready()
        return VixCallChain.__eq__(self, other)

    def __hash__(self) -> int:
        self._ready()
        return VixCallChain.__hash__(self)

    def __repr__(self) -> str:
        self._ready()
        return VixCallChain.__repr__(self)

    def calls(self, expiry: dt.date) -> tuple[tuple[float, Quote], ...]:
        self._ready()
        return VixCallChain.calls(self, expiry)

    def calls_from(self, expiry: dt.date, at_least: float) -> Iterator[tuple[float, Quote]]:
        self._ready()
        return VixCallChain.calls_from(self, expiry, at_least)

    def quote_for(self, instrument: HedgeInstrument) -> Quote | None:
        self._ready()
        return VixCallChain.quote_for(self, instrument)


def _execution_order(intent: Intent) -> int:
    """Buys first (a spread's long leg before its short leg), then roll closes, roll opens, and other sells."""
    group = intent.group
    if group is None:
        return 0 if intent.side is Side.BUY else 3
    return 2 if intent.opens_position else 1


def _open_trades(condor: CondorResult, n: int) -> list[list]:
    """Per day, the condors open at that close (entered on or before it, exiting after it)."""
    out: list[list] = [[] for _ in range(n)]
    for trade in condor.trades:
        last = trade.exit if trade.reason == "open_at_end" else trade.exit - 1
        for i in range(trade.entry, last + 1):
            out[i].append(trade)
    return out


def _vixy_traded(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """VIXY at an as-traded-like level: 100 at the first close, x10 (a 1:10 reverse split) whenever it falls under
    10. Returns (price, cumulative split factor per day)."""
    price = np.full(len(close), np.nan)
    factor = np.ones(len(close))
    ok = np.flatnonzero(np.isfinite(close))
    if not len(ok):
        return price, factor
    base = 100.0 / close[ok[0]]
    current = 1.0
    for i in range(len(close)):
        if math.isfinite(close[i]):
            if close[i] * base * current < 10.0:
                current *= 10.0
            price[i] = close[i] * base * current
        factor[i] = current
    return price, factor


class _History:
    """Daily series for `decide`, built once on the full (unsliced) data and cut strictly before each day."""

    def __init__(self, data: MarketData) -> None:
        root = data.history or data
        dates = tuple(root.dates.astype("datetime64[D]").tolist())  # datetime.date objects, converted in one call
        days: dict[str, np.ndarray] = {}  # each series' dates as datetime64[D], for `bounds`

        def series(values: np.ndarray, name: str) -> DailySeries:
            ok = np.isfinite(values)
            days[name] = root.dates[ok].astype("datetime64[D]")
            return DailySeries(tuple(x for x, keep in zip(dates, ok, strict=True) if keep), values[ok])

        f1 = np.full(root.n, np.nan)
        f2 = np.full(root.n, np.nan)
        rows = np.arange(root.n)
        has1, has2 = root.vx.f1 >= 0, root.vx.f2 >= 0
        f1[has1] = root.vx.settle[rows[has1], root.vx.f1[has1]]
        f2[has2] = root.vx.settle[rows[has2], root.vx.f2[has2]]
        self.vix = series(root.vix, "vix")
        self.f1 = series(f1, "f1")
        self.f2 = series(f2, "f2")
        self.ratio = series(f1 / f2, "ratio")
        traded, split = _vixy_traded(root.vixy)
        self.vixy = series(traded / split, "vixy")  # continuous (split-free) level: betas read its % changes
        self.breadth = None
        if root.breadth_ad is not None and np.isfinite(root.breadth_ad).any():
            both = np.isfinite(root.breadth_ad) & np.isfinite(root.breadth_net)
            keep = tuple(x for x, k in zip(dates, both, strict=True) if k)
            self.breadth = Breadth(DailySeries(keep, root.breadth_ad[both]), DailySeries(keep, root.breadth_net[both]))
            days["breadth"] = root.dates[both].astype("datetime64[D]")
        order = ("vix", "ratio", "f1", "f2", "vixy") + (("breadth", "breadth") if self.breadth is not None else ())
        self._days = tuple(days[name] for name in order)  # in `_series` order
        scheduled = root.macro_scheduled if root.macro_scheduled is not None else np.ones(len(root.macro_dates), bool)
        self.events = [
            (d.astype(object), MacroEvent(d.astype(object), str(e).upper(), "", bool(s)))
            for d, e, s in zip(root.macro_dates, root.macro_events, scheduled, strict=True)
        ]
        self._calendars: dict[int, MacroCalendar] = {}
        self._unscheduled = sorted(day for day, e in self.events if not e.scheduled)

    def calendar(self, today: dt.date) -> MacroCalendar:
        """Scheduled events are public in advance; an unscheduled one exists only from its own date on."""
        visible = bisect.bisect_right(self._unscheduled, today)  # unscheduled events dated on or before today
        if visible not in self._calendars:
            events = tuple(e for day, e in self.events if e.scheduled or day <= today)
            self._calendars[visible] = MacroCalendar(events)
        return self._calendars[visible]

    def _series(self) -> tuple[DailySeries, ...]:
        """The series `at` cuts, in the order of its cut bounds."""
        tail = (self.breadth.ad_line, self.breadth.net) if self.breadth is not None else ()
        return (self.vix, self.ratio, self.f1, self.f2, self.vixy, *tail)

    def at(self, today: dt.date) -> History:
        """Each series strictly before `today`, at least its last HISTORY_BARS bars (RSI converges in 250; betas use
        60; see `_last`)."""
        return self._cut(today, [_window(series.count_before(today)) for series in self._series()])

    def bounds(self, days: np.ndarray) -> list[list[tuple[int, int]]]:
        """`at`'s cut bounds for each of `days` (datetime64[D]), found for all days at once (the same binary
        search as `DailySeries.count_before`, vectorised): the simulator's day then only slices."""
        per_series = []
        for series_days in self._days:
            n = np.searchsorted(series_days, days, side="left")
            first = np.maximum(n - HISTORY_BARS, 0) // HISTORY_BLOCK * HISTORY_BLOCK  # `_window`, on integers
            per_series.append(list(zip(first.tolist(), n.tolist(), strict=True)))
        return [list(per_day) for per_day in zip(*per_series, strict=True)]

    def at_bounds(self, today: dt.date, bounds: list[tuple[int, int]]) -> History:
        """`at(today)` from its precomputed `bounds`."""
        return self._cut(today, bounds)

    def _cut(self, today: dt.date, bounds: list[tuple[int, int]]) -> History:
        series = (self.vix, self.ratio, self.f1, self.f2, self.vixy)
        vix, ratio, f1, f2, vixy = [s.bars(lo, n) for s, (lo, n) in zip(series, bounds, strict=False)]
        # the breadth columns have the same dates (checked when built), hence the same bounds: cut both at once
        return History(
            vix=vix,
            ratio=ratio,
            f1=f1,
            f2=f2,
            vixy=vixy,
            macro=self.calendar(today),
            breadth=self.breadth.bars(*bounds[5]) if self.breadth is not None else None,
        )


def _last(series: DailySeries, today: dt.date) -> DailySeries:
    """At least the last HISTORY_BARS bars dated before `today`, from a first bar on a multiple of HISTORY_BLOCK:
    consecutive days then share their first bar, so the signal caches in the memory `decide` returns are stepped
    over the one new bar instead of recomputing hundreds (a full recomputation once every HISTORY_BLOCK days).
    Measured on 2004-2019: the full history gives the same intents and P&L (RSI and MACD have long converged)
    but takes four times as long, as several core paths scan the whole history on every call."""
    return series.bars(*_window(series.count_before(today)))


def _window(n: int) -> tuple[int, int]:
    """`_last`'s bounds (first bar, end) for a series with `n` bars before the day."""
    return max(n - HISTORY_BARS, 0) // HISTORY_BLOCK * HISTORY_BLOCK, n

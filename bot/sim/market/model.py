"""SimMarket: the MarketModel the protocol server talks to, composed of a price path, the catalog and surfaces.

The path (synthetic or replay) gives VIX, SPX, VIX9D, VIX3M, VX futures and VIXY at any instant; this class turns
them into instruments, quotes, model greeks, bars, chains, settlements and the starting book. Everything is a pure
function of t; results are cached per instant because the server asks for ~50 instruments at the same t.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from bot.pricing.black_scholes import Greeks, black76_greeks, bs_greeks
from bot.settings.sim import SimSettings
from bot.sim.market import calendar as cal
from bot.sim.market import catalog, hours
from bot.sim.market.api import (
    Bar,
    BookEntry,
    ContractQuery,
    Instrument,
    MarketInfo,
    ModelGreeks,
    OptionChain,
    Quote,
)
from bot.sim.market.catalog import FutKey, Key, OptKey, settlement_instant, trading_stop
from bot.sim.market.curve import DAYS_PER_YEAR, term_vol
from bot.sim.market.quotes import NAN, make_quote
from bot.sim.market.surface import SpxSurface, VixOptionSurface

SECONDS_PER_YEAR = DAYS_PER_YEAR * 86400.0
VIX_STRIKES = tuple([float(k) for k in range(9, 50)] + [50.0 + 2.5 * i for i in range(21)])
INDEX_SYMBOLS = ("SPX", "VIX", "VIX3M", "VIX9D")


class PricePath(Protocol):
    """What a scenario (synthetic or replayed) provides: underlying levels at any instant and daily history."""

    start: dt.datetime
    end: dt.datetime
    t0: dt.datetime  # first instant with data (start of the warm-up history)

    def vix(self, t: dt.datetime) -> float: ...
    def spx(self, t: dt.datetime) -> float: ...
    def vix9d(self, t: dt.datetime) -> float: ...
    def vix3m(self, t: dt.datetime) -> float: ...
    def theta(self, t: dt.datetime) -> float: ...
    def future(self, key: FutKey, t: dt.datetime) -> float: ...
    def vixy(self, t: dt.datetime) -> float: ...
    def spx_range(self) -> tuple[float, float]: ...
    def settlement(self, key: FutKey | OptKey) -> float: ...
    def bars(self, series: str | FutKey, venue: str, first: dt.date, end: dt.datetime) -> list[Bar]: ...


@dataclass(frozen=True, slots=True)
class _State:
    vix: float
    spx: float
    v9: float
    v93: float


class _Lru(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def put(self, key, value):
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class SimMarket:
    """MarketModel implementation (see bot/sim/market/api.py for the contract)."""

    def __init__(self, path: PricePath, settings: SimSettings, info: MarketInfo):
        self.path = path
        self.settings = settings
        self.info = info
        self.spx_surface = SpxSurface(settings.spx_atm_ratio, settings.spx_skew_slope, settings.spx_skew_curvature)
        self.vix_surface = VixOptionSurface(settings.vvix_at_15, settings.vvix_slope, settings.vix_option_skew)
        lo, hi = path.spx_range()
        self.spx_strikes = (5.0 * math.floor(0.5 * lo / 5.0), 5.0 * math.ceil(1.5 * hi / 5.0))
        self._states: _Lru = _Lru(64)
        self._quotes: _Lru = _Lru(4096)
        self._greeks: _Lru = _Lru(4096)
        self._open: _Lru = _Lru(1024)
        self._ctx: _Lru = _Lru(256)  # per-instant sessions and listings
        self._bars: dict = {}
        self._hilo: dict = {}
        self._book: list[BookEntry] | None = None

    # ---- state and values ---------------------------------------------------------------------------------
    def _state(self, t: dt.datetime) -> _State:
        s = self._states.get(t)
        if s is None:
            p = self.path
            s = self._states.put(t, _State(p.vix(t), p.spx(t), p.vix9d(t), p.vix3m(t)))
        return s

    def _in_range(self, t: dt.datetime) -> bool:
        return self.path.t0 <= t <= self.path.end

    def underlying_value(self, key: str | FutKey, t: dt.datetime) -> float:
        if isinstance(key, FutKey):
            return self.path.future(key, t)
        if key == "VIXY":
            return self.path.vixy(t)
        s = self._state(t)
        return {"VIX": s.vix, "SPX": s.spx, "VIX9D": s.v9, "VIX3M": s.v93}[key]

    def option_greeks(self, key: OptKey, t: dt.datetime) -> tuple[Greeks, float, float, float]:
        """(greeks, implied vol, underlying price used, pv of dividends) for an option at t before its settlement."""
        s = self._state(t)
        tau = max((settlement_instant(key) - t).total_seconds() / SECONDS_PER_YEAR, 0.0)
        r = self.settings.rate
        if key.trading_class == "VIX":
            fut = self.path.future(vx_for_option(key), t)
            iv = self.vix_surface.iv(self.vix_surface.atm(s.vix, tau * DAYS_PER_YEAR), fut, key.strike)
            return black76_greeks(fut, key.strike, tau, r, iv, key.right), iv, fut, 0.0
        q = self.settings.spx_dividend_yield
        forward = s.spx * math.exp((r - q) * tau)
        atm = self.spx_surface.atm(term_vol(tau * DAYS_PER_YEAR, s.v9, s.vix, s.v93))
        iv = self.spx_surface.iv(atm, forward, key.strike, tau)
        pv_div = s.spx * (1.0 - math.exp(-q * tau))
        return bs_greeks(s.spx, key.strike, tau, r, iv, key.right, q), iv, s.spx, pv_div

    def value(self, key: Key, t: dt.datetime) -> float:
        if isinstance(key, OptKey):
            return self.option_greeks(key, t)[0].price
        return self.underlying_value(key, t)

    # ---- catalog ---------------------------------------------------------------------------------------------
    def by_con_id(self, con_id: int, t: dt.datetime | None = None) -> Instrument | None:
        key = catalog.key_of(con_id)
        if key is None or not self.exists(key):
            return None
        return catalog.with_hours(catalog.instrument(key), catalog.venue_of(key), t or self.info.start)

    def exists(self, key: Key) -> bool:
        if isinstance(key, OptKey):
            return self.strike_listed(key.trading_class, key.strike) and self.expiry_valid(key)
        return True

    def expiry_valid(self, key: OptKey) -> bool:
        e = key.expiry
        if key.trading_class == "SPX":
            return e == cal.spx_monthly_expiry(e.year, e.month)
        if key.trading_class == "VIX":
            return FutKey("VX", e.year, e.month).expiry == e
        return hours.is_session("cboe", e)  # SPXW expire on every trading day

    def strike_listed(self, trading_class: str, strike: float) -> bool:
        if trading_class == "VIX":
            return strike in VIX_STRIKES
        lo, hi = self.spx_strikes
        return lo <= strike <= hi and abs(strike / 5.0 - round(strike / 5.0)) < 1e-9

    def strikes(self, trading_class: str) -> tuple[float, ...]:
        if trading_class == "VIX":
            return VIX_STRIKES
        lo, hi = self.spx_strikes
        return tuple(lo + 5.0 * i for i in range(int((hi - lo) / 5.0) + 1))

    def find(self, query: ContractQuery, t: dt.datetime) -> list[Instrument]:
        from bot.sim.market.finder import find_keys

        keys = find_keys(self, query, t)
        out = []
        for key in keys:
            inst = catalog.instrument(key)
            if query.exchange and query.exchange not in inst.valid_exchanges.split(","):
                continue
            if query.currency and query.currency != inst.currency:
                continue
            if query.multiplier and query.multiplier.strip() != inst.multiplier:
                continue
            out.append(catalog.with_hours(inst, catalog.venue_of(key), t, query.exchange))
        return out

    def option_chains(self, underlying_con_id: int, t: dt.datetime) -> list[OptionChain]:
        key = catalog.key_of(underlying_con_id)
        classes = {"SPX": ("SPX", "SPXW"), "VIX": ("VIX",)}.get(key) if isinstance(key, str) else None
        if not classes:
            return []
        chains = []
        for exchange in ("SMART", "CBOE"):
            for tc in classes:
                exps = tuple(f"{d:%Y%m%d}" for d in catalog.listed_expiries(tc, t))
                chains.append(OptionChain(exchange, underlying_con_id, tc, "100", exps, self.strikes(tc)))
        return chains

    # ---- hours -----------------------------------------------------------------------------------------------
    def is_trading(self, con_id: int, t: dt.datetime) -> bool:
        key = catalog.key_of(con_id)
        if key is None:
            return False
        if not isinstance(key, str) and t >= trading_stop(key):
            return False
        venue = catalog.venue_of(key)
        cached = self._open.get((venue, t))
        if cached is None:
            cached = self._open.put((venue, t), hours.is_open(venue, t))
        return cached

    # ---- quotes and greeks -------------------------------------------------------------------------------------
    def quote(self, con_id: int, t: dt.datetime) -> Quote | None:
        ck = (con_id, t)
        if ck in self._quotes:
            return self._quotes[ck]
        q = None
        key = catalog.key_of(con_id)
        if key is not None and self.exists(key) and self._in_range(t) and self.is_trading(con_id, t):
            q = self._make_quote(key, con_id, t)
        return self._quotes.put(ck, q)

    def _make_quote(self, key: Key, con_id: int, t: dt.datetime) -> Quote | None:
        inst = catalog.instrument(key)
        venue = catalog.venue_of(key)
        vix = self._state(t).vix
        mid = self.value(key, t)
        if not (math.isfinite(mid) and math.isfinite(vix)) or mid <= 0:
            return None  # a hole in replayed data: no quote rather than a made-up price
        prev, session = self._sessions(venue, t)
        close = self.value(key, prev.liquid_close) if prev and prev.liquid_close >= self.path.t0 else mid
        frac = 0.5
        high = low = NAN
        if session is not None and session.open <= t:
            frac = (t - session.liquid_open) / (session.liquid_close - session.liquid_open)
            if not isinstance(key, OptKey):
                high, low = self._session_hilo(key, session, t, mid)
        months_out = 0
        if isinstance(key, FutKey):
            front = self._sessions(key.root, t)  # listed contracts, cached per instant like the sessions
            months_out = front.index(key) if key in front else 0
        minute = int((t - self.path.t0).total_seconds() // 60)
        return make_quote(inst, mid, vix, close, minute, high, low, frac, months_out)

    def _sessions(self, venue_or_root: str, t: dt.datetime):
        """Per-instant cache: (previous regular close, current or next session) of a venue, or the listed futures
        of a root ("VX"/"VXM"), which every quote at that instant needs."""
        ck = (venue_or_root, t)
        found = self._ctx.get(ck)
        if found is None:
            if venue_or_root in catalog.FUT_ROOTS:
                found = catalog.listed_futures(venue_or_root, t, 12)
            else:
                found = (
                    hours.last_close_before(venue_or_root, t, liquid=True),
                    hours.current_or_next_session(venue_or_root, t),
                )
            self._ctx.put(ck, found)
        return found

    def _session_hilo(self, key, session: hours.Session, t: dt.datetime, now: float) -> tuple[float, float]:
        """Session high/low so far, from the path sampled every 30 minutes since the open plus the current value."""
        start = max(session.open if catalog.venue_of(key) == "cfe" else session.liquid_open, self.path.t0)
        if t <= start:
            return now, now
        if len(self._hilo) > 4096:
            self._hilo.clear()  # bounded memory over long replays; entries rebuild on demand
        cache = self._hilo.setdefault((key, session.day), [])
        step = dt.timedelta(minutes=30)
        n_done = int((t - start) / step) + 1
        while len(cache) < n_done:
            cache.append(self.underlying_value(key, start + step * len(cache)))
        vals = cache[:n_done]
        return max(max(vals), now), min(min(vals), now)

    def greeks(self, con_id: int, t: dt.datetime) -> ModelGreeks | None:
        ck = (con_id, t)
        if ck in self._greeks:
            return self._greeks[ck]
        key = catalog.key_of(con_id)
        out = None
        if isinstance(key, OptKey) and self.exists(key) and self._in_range(t) and t < settlement_instant(key):
            g, iv, und, pv_div = self.option_greeks(key, t)
            if all(math.isfinite(x) for x in (iv, und, g.price, g.delta)):  # never publish NaN greeks
                out = ModelGreeks(iv, g.delta, g.price, pv_div, g.gamma, g.vega, g.theta, und)
        return self._greeks.put(ck, out)

    # ---- history ---------------------------------------------------------------------------------------------
    def daily_bars(self, con_id: int, end: dt.datetime, count: int) -> list[Bar]:
        key = catalog.key_of(con_id)
        if key is None or isinstance(key, OptKey) or count <= 0:
            return []
        end = min(end, self.path.end)
        venue = catalog.venue_of(key)
        first = self.path.t0.date()
        if isinstance(key, FutKey):
            # Synthetic paths price any maturity, so a contract has bars over the whole warm-up (a bot can warm
            # up on the contract it will trade); replay paths return only the days the real contract traded.
            end = min(end, trading_stop(key))
        ck = (key, end)
        bars = self._bars.get(ck)
        if bars is None:
            bars = self.path.bars(key, venue, first, end)
            if len(self._bars) > 256:
                self._bars.clear()
            self._bars[ck] = bars
        return bars[-count:]

    # ---- settlement and book -----------------------------------------------------------------------------------
    def settlement_price(self, con_id: int, t: dt.datetime | None = None) -> float | None:
        """VX: the VIX opening print on expiry; options: their cash value per unit (intrinsic at the settlement
        value). None before the settlement instant (when t is given) or if it lies beyond the simulated period."""
        key = catalog.key_of(con_id)
        if not isinstance(key, FutKey | OptKey):
            return None
        at = settlement_instant(key)
        if (t is not None and t < at) or not self._in_range(at):
            return None
        und = round(self.path.settlement(key), 2)
        if isinstance(key, FutKey):
            return und
        return round(max(und - key.strike, 0.0) if key.right == "C" else max(key.strike - und, 0.0), 2)

    def starting_book(self) -> list[BookEntry]:
        if self._book is None:
            from bot.sim.market.book import build_condors

            self._book = build_condors(self, self.settings, self.info.start)
        return list(self._book)


def vx_for_option(key: OptKey) -> FutKey:
    """The VX future a VIX option is priced off: the contract expiring on the option's expiry date."""
    fut = FutKey("VX", key.expiry.year, key.expiry.month)
    if fut.expiry != key.expiry:
        raise catalog.CatalogError(f"no VX future expires on {key.expiry} for VIX option {key}")
    return fut

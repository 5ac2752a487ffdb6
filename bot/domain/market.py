"""Market data and positions as immutable values: option legs, quotes, the VX curve, hedge positions.

Every observed value carries the instant it was observed, so that each consumer can check freshness against
the decision's `now` (a parameter, never a clock). NaN, inf, zero and negative prices mean "missing": the helpers
return None instead of a number so that no NaN can flow into a size or a limit price.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np

from bot.domain.intents import HedgeInstrument, HedgeKind

OPTION_RIGHTS = ("C", "P")


def usable_price(value: float | None) -> bool:
    """True for a finite, strictly positive number (the only kind of price the core acts on)."""
    return value is not None and math.isfinite(value) and value > 0.0


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _check_aware(name: str, at: dt.datetime | None) -> None:
    if at is not None and (at.tzinfo is None or at.utcoffset() is None):
        raise ValueError(f"{name}: timestamp {at!r} must be timezone-aware (e.g. datetime.now(UTC))")


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book (or an index value in `last`) and when it was observed. Fields may be NaN: that means missing."""

    bid: float = math.nan
    ask: float = math.nan
    last: float = math.nan
    at: dt.datetime | None = None

    def __post_init__(self) -> None:
        _check_aware("Quote", self.at)

    @property
    def mid(self) -> float | None:
        """Mid only when both sides are finite, positive and not crossed; otherwise None."""
        bid, ask = self.bid, self.ask
        # `usable_price` of both sides and not crossed, in one chain (NaN fails every comparison; a finite ask at or
        # above a positive bid makes both finite and positive): read on every quote of every decision
        if bid is not None and ask is not None and 0.0 < bid <= ask and math.isfinite(ask):
            return 0.5 * (bid + ask)
        return None

    @property
    def two_sided(self) -> bool:
        return self.mid is not None

    def value(self) -> float | None:
        """Best single value: the mid, else a usable last (indices such as VIX only have a last)."""
        mid = self.mid
        if mid is not None:
            return mid
        return self.last if usable_price(self.last) else None

    def is_fresh(self, now: dt.datetime, max_age_s: float) -> bool:
        if self.at is None:
            return False
        age = (now - self.at).total_seconds()
        return -1.0 <= age <= max_age_s  # a slightly future stamp (clock skew) is tolerated, a far one is not

    def fresh_value(self, now: dt.datetime, max_age_s: float) -> float | None:
        return self.value() if self.is_fresh(now, max_age_s) else None


@dataclass(frozen=True, slots=True)
class OptionContract:
    """An SPX/SPXW index option (or any European index option with the same conventions)."""

    trading_class: str  # "SPX" (AM-settled monthlies) or "SPXW" (PM weeklies)
    expiry: dt.date
    strike: float
    right: str  # "C" or "P"
    multiplier: float = 100.0
    symbol: str = "SPX"
    con_id: int | None = None
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        # hashed once: the book's memo key hashes every contract of the book on every decision
        key = (self.trading_class, self.expiry, self.strike, self.right, self.multiplier, self.symbol, self.con_id)
        object.__setattr__(self, "_hash", hash(key))
        if self.right not in OPTION_RIGHTS:
            raise ValueError(f"OptionContract: right must be 'C' or 'P', got {self.right!r}")
        if not usable_price(self.strike):
            raise ValueError(f"OptionContract: strike must be finite and positive, got {self.strike!r}")
        if not usable_price(self.multiplier):
            raise ValueError(f"OptionContract: multiplier must be finite and positive, got {self.multiplier!r}")
        if not self.trading_class:
            raise ValueError("OptionContract: trading_class is empty; use 'SPX' or 'SPXW'")

    def __hash__(self) -> int:
        return self._hash

    @property
    def key(self) -> str:
        return f"{self.trading_class}:{self.expiry.isoformat()}:{self.right}:{self.strike:g}"


@dataclass(frozen=True, slots=True)
class ModelGreeks:
    """Broker model greeks (IB tickOptionComputation, tick type 13): vega per vol point, theta per day."""

    delta: float
    gamma: float
    vega: float
    theta: float
    iv: float  # implied vol as a fraction (0.15 = 15%)
    at: dt.datetime
    und_price: float = math.nan

    def __post_init__(self) -> None:
        _check_aware("ModelGreeks", self.at)

    @property
    def complete(self) -> bool:
        return all(math.isfinite(x) for x in (self.delta, self.gamma, self.vega, self.theta))

    def is_fresh(self, now: dt.datetime, max_age_s: float) -> bool:
        age = (now - self.at).total_seconds()
        return -1.0 <= age <= max_age_s


@dataclass(frozen=True, slots=True)
class OptionLeg:
    """One option position. `avg_cost` follows IB: price x multiplier per contract (positive for long and short)."""

    contract: OptionContract
    quantity: int  # signed: > 0 long, < 0 short
    avg_cost: float
    quote: Quote | None = None
    greeks: ModelGreeks | None = None

    def __post_init__(self) -> None:
        if self.quantity == 0:
            raise ValueError(f"OptionLeg {self.contract.key}: quantity is 0; drop flat positions before the core")


@dataclass(frozen=True, slots=True)
class VxPoint:
    """One VX futures contract on the curve: its final settlement date and its quote."""

    expiry: dt.date
    quote: Quote

    def dte(self, today: dt.date) -> int:
        return (self.expiry - today).days


@dataclass(frozen=True, slots=True)
class VxCurve:
    """The VX futures curve, nearest expiry first. Expired points (expiry < today) are skipped by `listed`."""

    points: tuple[VxPoint, ...] = ()
    # the last `listed` answer: one decision asks for F1/F2/F3 of the same day about ten times
    _listed: tuple[dt.date, tuple[VxPoint, ...]] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.points, key=lambda p: p.expiry))
        object.__setattr__(self, "points", ordered)
        expiries = [p.expiry for p in ordered]
        if len(set(expiries)) != len(expiries):
            raise ValueError("VxCurve: two points share one expiry; pass one quote per contract")

    def listed(self, today: dt.date) -> tuple[VxPoint, ...]:
        """Contracts still trading on `today` (a contract trades on its final settlement morning only at the open)."""
        cached = self._listed
        if cached is not None and cached[0] == today:
            return cached[1]
        listed = tuple(p for p in self.points if p.expiry > today)
        object.__setattr__(self, "_listed", (today, listed))  # a cache of immutable data, not state
        return listed

    def nth(self, today: dt.date, n: int) -> VxPoint | None:
        """F1 is n=1, F2 is n=2 ..."""
        listed = self.listed(today)
        return listed[n - 1] if 0 < n <= len(listed) else None

    def point(self, expiry: dt.date) -> VxPoint | None:
        for p in self.points:
            if p.expiry == expiry:
                return p
        return None


@dataclass(frozen=True, slots=True)
class HedgePosition:
    """A position in a hedge instrument (net, as the broker reports it). `avg_cost` is per unit x multiplier (IB)."""

    instrument: HedgeInstrument
    quantity: int  # signed
    avg_cost: float = math.nan

    @property
    def multiplier(self) -> float:
        return multiplier_of(self.instrument.kind)


def multiplier_of(kind: HedgeKind) -> float:
    """Dollars per point of one unit. Execution reads the real value from IB contract details; the core's sizing
    only needs the contract-spec value, which the spec fixes (VX $1000, VXM $100, VIX option $100, VIXY 1 share)."""
    return {HedgeKind.VX: 1000.0, HedgeKind.VXM: 100.0, HedgeKind.VIX_OPTION: 100.0, HedgeKind.VIXY: 1.0}[kind]


@dataclass(frozen=True, slots=True)
class VixOptionQuote:
    instrument: HedgeInstrument  # kind VIX_OPTION with expiry, strike, right
    quote: Quote

    def __post_init__(self) -> None:
        inst = self.instrument
        if inst.kind is not HedgeKind.VIX_OPTION or inst.expiry is None or inst.strike is None or not inst.right:
            raise ValueError(f"VixOptionQuote: {inst.key} is not a complete VIX option (expiry, strike, right)")


ChainBlock = tuple[dt.date, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # expiry, strikes, bid, ask, last


class VixCallChain(Sequence[VixOptionQuote]):
    """VIX calls of one or more expiries held as arrays, one block per expiry; a sequence of `VixOptionQuote`.

    Why: a backtest offers ~90 calls a day and `decide` reads them only on the days a layer writes covered calls or
    buys call spreads, so each `VixOptionQuote` is built when it is read, not up front (16 years of daily chains
    built eagerly cost over a second). Blocks are `(expiry, strikes, bid, ask, last)`; strikes strictly increase
    within a block, all quotes are stamped `at`. Iteration order: blocks in the given order, strikes increasing.
    """

    __slots__ = ("_at", "_blocks", "_built", "_by_expiry", "_starts")

    def __init__(self, at: dt.datetime, blocks: Iterable[ChainBlock]) -> None:
        _check_aware("VixCallChain", at)
        if at is None:
            raise ValueError("VixCallChain: quotes need a timestamp")
        self._at = at
        self._blocks: list[tuple[dt.date, list[float], np.ndarray, np.ndarray, np.ndarray]] = []
        self._by_expiry: dict[dt.date, int] = {}
        self._starts = [0]
        for expiry, strikes, bid, ask, last in blocks:
            k = np.asarray(strikes, dtype=float)
            cols = [np.asarray(x, dtype=float) for x in (bid, ask, last)]
            if k.ndim != 1 or any(c.shape != k.shape for c in cols):
                raise ValueError(f"VixCallChain {expiry}: strikes, bid, ask and last must be 1-d of one length")
            # strictly increasing (a NaN fails the comparison) from a positive first to a finite last strike
            if len(k) and not (k[0] > 0 and math.isfinite(k[-1]) and bool((k[1:] > k[:-1]).all())):
                raise ValueError(f"VixCallChain {expiry}: strikes must be finite, positive and strictly increasing")
            if expiry in self._by_expiry:
                raise ValueError(f"VixCallChain: expiry {expiry} given twice; pass one block per expiry")
            self._by_expiry[expiry] = len(self._blocks)
            self._blocks.append((expiry, k.tolist(), *cols))
            self._starts.append(self._starts[-1] + len(k))
        self._built: list[VixOptionQuote | None] = [None] * self._starts[-1]

    def __len__(self) -> int:
        return self._starts[-1]

    def _quote(self, block: int, j: int) -> Quote:
        _, _, bid, ask, last = self._blocks[block]
        # the chain's time was checked once, in the constructor; NaN prices are valid (missing)
        return trusted_quote(float(bid[j]), float(ask[j]), float(last[j]), self._at)

    def _item(self, block: int, j: int) -> VixOptionQuote:
        pos = self._starts[block] + j
        item = self._built[pos]
        if item is None:
            expiry, strikes = self._blocks[block][0], self._blocks[block][1]
            inst = HedgeInstrument(HedgeKind.VIX_OPTION, expiry, strikes[j], "C")
            item = self._built[pos] = VixOptionQuote(inst, self._quote(block, j))
        return item

    @overload
    def __getitem__(self, index: int) -> VixOptionQuote: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[VixOptionQuote, ...]: ...

    def __getitem__(self, index: int | slice) -> VixOptionQuote | tuple[VixOptionQuote, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"VixCallChain index {index} out of range ({n} quotes)")
        pos = index % n
        block = bisect.bisect_right(self._starts, pos) - 1
        return self._item(block, pos - self._starts[block])

    def __iter__(self) -> Iterator[VixOptionQuote]:
        for block, (_, strikes, *_cols) in enumerate(self._blocks):
            for j in range(len(strikes)):
                yield self._item(block, j)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"VixCallChain({len(self)} calls, expiries {[b[0].isoformat() for b in self._blocks]})"

    def calls(self, expiry: dt.date) -> tuple[tuple[float, Quote], ...]:
        """(strike, quote) of `expiry`'s calls by increasing strike (what `MarketSnapshot.calls` returns)."""
        block = self._by_expiry.get(expiry)
        if block is None:
            return ()
        return tuple((k, self._item(block, j).quote) for j, k in enumerate(self._blocks[block][1]))

    def calls_from(self, expiry: dt.date, at_least: float) -> Iterator[tuple[float, Quote]]:
        """`calls(expiry)` from the first strike >= `at_least` on, each quote built only when the caller gets to it
        (sizing wants the first usable strike above a level, not the whole expiry)."""
        block = self._by_expiry.get(expiry)
        if block is None:
            return
        strikes = self._blocks[block][1]
        for j in range(bisect.bisect_left(strikes, at_least), len(strikes)):
            yield strikes[j], self._item(block, j).quote

    def quote_for(self, instrument: HedgeInstrument) -> Quote | None:
        """The quote of one VIX call of the chain, None when it is not offered (a binary search on the strike)."""
        if instrument.kind is not HedgeKind.VIX_OPTION or instrument.right != "C" or instrument.strike is None:
            return None
        block = self._by_expiry.get(instrument.expiry) if instrument.expiry is not None else None
        if block is None:
            return None
        strikes = self._blocks[block][1]
        j = bisect.bisect_left(strikes, instrument.strike)
        if j == len(strikes) or strikes[j] != instrument.strike:
            return None
        return self._item(block, j).quote


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """Everything one decision needs at instant `now`. Built by the shell (live) or the backtest; read-only here."""

    now: dt.datetime
    vix: Quote | None = None
    vix3m: Quote | None = None
    vix9d: Quote | None = None
    spx: Quote | None = None
    vixy: Quote | None = None
    curve: VxCurve = VxCurve()
    vix_options: tuple[VixOptionQuote, ...] | VixCallChain = ()  # a chain builds its quotes when read
    legs: tuple[OptionLeg, ...] = ()
    hedges: tuple[HedgePosition, ...] = ()
    net_liquidation: float | None = None
    _options: dict[HedgeInstrument, Quote] | None = field(default=None, init=False, repr=False, compare=False)
    _calls: dict[dt.date, tuple[tuple[float, Quote], ...]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("MarketSnapshot.now must be timezone-aware (e.g. datetime.now(UTC))")
        keys = [h.instrument.key for h in self.hedges]
        if len(set(keys)) != len(keys):
            raise ValueError("MarketSnapshot: one hedge instrument appears twice; pass net positions per instrument")

    @property
    def today(self) -> dt.date:
        return self.now.date()

    def quote_for(self, instrument: HedgeInstrument) -> Quote | None:
        """The quote that prices `instrument`: VIXY quote, the curve point of a future, or the option's quote."""
        kind = instrument.kind
        if kind is HedgeKind.VIXY:
            return self.vixy
        if kind in (HedgeKind.VX, HedgeKind.VXM):
            point = self.curve.point(instrument.expiry) if instrument.expiry else None
            return point.quote if point else None
        if isinstance(self.vix_options, VixCallChain):
            return self.vix_options.quote_for(instrument)
        if self._options is None:  # index built on first use (a cache of immutable data, not state)
            object.__setattr__(self, "_options", {o.instrument: o.quote for o in self.vix_options})
        assert self._options is not None
        return self._options.get(instrument)

    def calls(self, expiry: dt.date) -> tuple[tuple[float, Quote], ...]:
        """(strike, quote) of the VIX calls of `expiry`, by increasing strike (indexed on first use)."""
        if isinstance(self.vix_options, VixCallChain):
            return self.vix_options.calls(expiry)
        if self._calls is None:
            by_expiry: dict[dt.date, list[tuple[float, Quote]]] = {}
            for o in self.vix_options:
                inst = o.instrument
                if inst.right == "C" and inst.expiry is not None and inst.strike is not None:
                    by_expiry.setdefault(inst.expiry, []).append((inst.strike, o.quote))
            index = {e: tuple(sorted(rows, key=lambda r: r[0])) for e, rows in by_expiry.items()}
            object.__setattr__(self, "_calls", index)
        assert self._calls is not None
        return self._calls.get(expiry, ())

    def calls_from(self, expiry: dt.date, at_least: float) -> Iterator[tuple[float, Quote]]:
        """The (strike, quote) pairs of `calls(expiry)` whose strike is >= `at_least`, by increasing strike; from a
        `VixCallChain`, each quote is built only when reached."""
        if isinstance(self.vix_options, VixCallChain):
            return self.vix_options.calls_from(expiry, at_least)
        return ((k, q) for k, q in self.calls(expiry) if k >= at_least)

    def position(self, instrument: HedgeInstrument) -> int:
        for h in self.hedges:
            if h.instrument == instrument:
                return h.quantity
        return 0


# ---- trusted builders ------------------------------------------------------------------------------------------
# For builders whose values are valid by construction (the backtest's own model prices, stamped with its own aware
# decision time): they fill the slots directly, skipping `__init__` and the `__post_init__` checks, which are two
# thirds of the cost of a checked construction (a 2004-2019 backtest builds ~70,000 of these objects). The live
# engine builds from broker data with the checked constructors, which refuse naive datetimes and flat positions.
# The result is the same value as the checked constructor's (equal, same hash); tests check both agree.
_new = object.__new__
_SET = {
    cls: tuple(getattr(cls, name).__set__ for name in cls.__dataclass_fields__ if not name.startswith("_"))
    for cls in (Quote, VxPoint, ModelGreeks, OptionLeg)
}
_Q_BID, _Q_ASK, _Q_LAST, _Q_AT = _SET[Quote]
_P_EXPIRY, _P_QUOTE = _SET[VxPoint]
_G_DELTA, _G_GAMMA, _G_VEGA, _G_THETA, _G_IV, _G_AT, _G_UND = _SET[ModelGreeks]
_L_CONTRACT, _L_QTY, _L_COST, _L_QUOTE, _L_GREEKS = _SET[OptionLeg]
_C_POINTS, _C_LISTED = VxCurve.points.__set__, VxCurve._listed.__set__  # type: ignore[attr-defined]


def trusted_quote(bid: float, ask: float, last: float, at: dt.datetime) -> Quote:
    """`Quote(bid, ask, last, at)` without the check: `at` must already be timezone-aware."""
    q = _new(Quote)
    _Q_BID(q, bid)
    _Q_ASK(q, ask)
    _Q_LAST(q, last)
    _Q_AT(q, at)
    return q


def trusted_vx_point(expiry: dt.date, quote: Quote) -> VxPoint:
    """`VxPoint(expiry, quote)` (it has no checks; built here for speed alone)."""
    p = _new(VxPoint)
    _P_EXPIRY(p, expiry)
    _P_QUOTE(p, quote)
    return p


def trusted_curve(points: tuple[VxPoint, ...]) -> VxCurve:
    """`VxCurve(points)` without sorting and the duplicate check: `points` must be by strictly increasing expiry."""
    c = _new(VxCurve)
    _C_POINTS(c, points)
    _C_LISTED(c, None)
    return c


def trusted_greeks(
    delta: float, gamma: float, vega: float, theta: float, iv: float, at: dt.datetime, und_price: float
) -> ModelGreeks:
    """`ModelGreeks(...)` without the check: `at` must already be timezone-aware."""
    g = _new(ModelGreeks)
    _G_DELTA(g, delta)
    _G_GAMMA(g, gamma)
    _G_VEGA(g, vega)
    _G_THETA(g, theta)
    _G_IV(g, iv)
    _G_AT(g, at)
    _G_UND(g, und_price)
    return g


def trusted_leg(
    contract: OptionContract, quantity: int, avg_cost: float, quote: Quote | None, greeks: ModelGreeks | None
) -> OptionLeg:
    """`OptionLeg(...)` without the check: `quantity` must already be non-zero."""
    leg = _new(OptionLeg)
    _L_CONTRACT(leg, contract)
    _L_QTY(leg, quantity)
    _L_COST(leg, avg_cost)
    _L_QUOTE(leg, quote)
    _L_GREEKS(leg, greeks)
    return leg

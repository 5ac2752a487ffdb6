"""The condor book as data: structures found in the option positions, their greeks, exposure and stress losses.

Built by `bot.book.read_book`; read by sizing, the carry check, the cash press and the decision record.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar, overload

from bot.domain.market import OptionContract

T = TypeVar("T")


class OnRead(Sequence[T]):
    """An immutable sequence whose items are computed when first read, then kept (equal to the tuple it holds).

    Why: the book's stress repricing is a tenth of a decision's cost, yet only sizing (while a layer holds a hedge)
    and a serialised record read it; `read_book` hands it over as `OnRead` so that other decisions skip it. The
    computation reads only values fixed when the book was read, so reading later gives the same numbers.
    """

    __slots__ = ("_items", "_make")

    def __init__(self, make: Callable[[], tuple[T, ...]]) -> None:
        self._make: Callable[[], tuple[T, ...]] | None = make
        self._items: tuple[T, ...] = ()

    def _tuple(self) -> tuple[T, ...]:
        if self._make is not None:
            self._items = self._make()
            self._make = None
        return self._items

    def __len__(self) -> int:
        return len(self._tuple())

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[T, ...]: ...

    def __getitem__(self, index: int | slice) -> T | tuple[T, ...]:
        return self._tuple()[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self._tuple())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, OnRead):
            other = other._tuple()
        if not isinstance(other, tuple):
            return NotImplemented
        return self._tuple() == other

    def __hash__(self) -> int:
        return hash(self._tuple())

    def __repr__(self) -> str:
        return repr(self._tuple())


class GreeksSource(StrEnum):
    BROKER = "broker"  # fresh, complete IB model greeks
    BS_LEG_IV = "bs_leg_iv"  # Black-Scholes from the leg's own (fresh) implied vol
    BS_VIX = "bs_vix"  # Black-Scholes from a VIX-derived ATM vol plus a skew term
    UNKNOWN = "unknown"  # nothing usable: the exposure of any structure holding this leg is unknown


@dataclass(frozen=True, slots=True)
class LegGreeks:
    """Per-contract (quantity 1, before the multiplier) greeks and the inputs to reprice it under stress."""

    source: GreeksSource
    delta: float = math.nan
    gamma: float = math.nan
    vega: float = math.nan  # per vol point
    theta: float = math.nan  # per calendar day
    iv: float = math.nan  # the vol used for stress repricing
    model_price: float = math.nan  # price under the model at the current spot (stress base)
    mark: float = math.nan  # mid when two-sided and fresh, else model price: for live P&L

    @property
    def known(self) -> bool:
        return self.source is not GreeksSource.UNKNOWN


@dataclass(frozen=True, slots=True)
class StructureGreeks:
    """Dollar greeks of a structure (quantity and multiplier applied). All None when any leg is unknown."""

    delta: float | None = None  # $ per 1 SPX point
    gamma: float | None = None
    vega: float | None = None  # $ per 1 vol point
    theta: float | None = None  # $ per day

    @property
    def known(self) -> bool:
        return self.vega is not None


class StructureKind(StrEnum):
    IRON_CONDOR = "iron_condor"
    PUT_VERTICAL = "put_vertical"
    CALL_VERTICAL = "call_vertical"
    SINGLE = "single"


@dataclass(frozen=True, slots=True)
class StructureLeg:
    contract: OptionContract
    quantity: int  # signed, for this structure only (a position may be split across structures)
    avg_cost: float  # per contract, IB convention (price x multiplier)


@dataclass(frozen=True, slots=True)
class StructureShape:
    """What the positions fix about a structure (computed once per set of positions, not per decision).

    For a condor the legs are ordered long put K1, short put K2, short call K3, long call K4 and `quantity` is the
    number of condors. `credit` is positive when premium was received (NaN when an average cost is unusable).
    `max_loss` is None when unbounded (a naked short leg) or unknown. `break_evens` are underlying levels at expiry.
    """

    kind: StructureKind
    trading_class: str
    expiry: dt.date
    legs: tuple[StructureLeg, ...]
    quantity: int
    credit: float  # $, positive = received
    wing_widths: tuple[float, ...]  # condor: (put wing, call wing); vertical: (width,); single: ()
    max_loss: float | None  # $, positive number; None = unbounded or unknown
    break_evens: tuple[float, ...]

    @property
    def label(self) -> str:
        strikes = "/".join(f"{leg.contract.strike:g}{leg.contract.right}" for leg in self.legs)
        return f"{self.kind.value} {self.trading_class} {self.expiry.isoformat()} {strikes} x{self.quantity}"


@dataclass(frozen=True, slots=True)
class Structure:
    """An iron condor, a vertical or a single leg found in the book, valued at one instant. The fixed figures
    (kind, legs, credit, max loss, ...) live in `shape` and read through as attributes."""

    shape: StructureShape
    dte: int
    pnl: float | None  # $ at marks; None when any leg has no mark or an average cost is unusable
    greeks: StructureGreeks
    # $ per stress point (capped at -max_loss); None = unknown. `read_book` computes it on read (`OnRead`)
    scenario_pnl: tuple[float, ...] | OnRead[float] | None = None

    kind = property(lambda self: self.shape.kind)
    trading_class = property(lambda self: self.shape.trading_class)
    expiry = property(lambda self: self.shape.expiry)
    legs = property(lambda self: self.shape.legs)
    quantity = property(lambda self: self.shape.quantity)
    credit = property(lambda self: self.shape.credit)
    wing_widths = property(lambda self: self.shape.wing_widths)
    max_loss = property(lambda self: self.shape.max_loss)
    break_evens = property(lambda self: self.shape.break_evens)
    label = property(lambda self: self.shape.label)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "label": self.label,
            "quantity": self.quantity,
            "credit": self.credit,
            "max_loss": self.max_loss,
            "break_evens": list(self.break_evens),
            "dte": self.dte,
            "pnl": self.pnl,
            "vega": self.greeks.vega,
            "theta": self.greeks.theta,
        }


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    spx_pct: float
    iv_points: float
    days: float
    vix_points: float
    pnl: float | None  # $ for the whole book, each structure capped at its max loss; None = unknown

    def to_dict(self) -> dict[str, object]:
        return {
            "spx_pct": self.spx_pct,
            "iv_points": self.iv_points,
            "days": self.days,
            "vix_points": self.vix_points,
            "pnl": self.pnl,
        }


@dataclass(frozen=True, slots=True)
class BookReport:
    """The condor book at one instant. `known` is False when any structure's greeks are unknown: sizing abstains."""

    structures: tuple[Structure, ...]
    v_ic: float | None  # $ per vol point, 100 * sum(qty * vega); None when unknown
    e_vix: float | None  # $ per VIX point = beta_IV * V_IC
    beta_iv: float
    theta: float | None  # $ per day (positive for short premium books)
    scenarios: tuple[ScenarioResult, ...] | OnRead[ScenarioResult]  # `read_book` computes them on read (`OnRead`)
    unknown: tuple[str, ...] = ()  # labels of structures whose exposure is unknown, and why

    @property
    def known(self) -> bool:
        return self.e_vix is not None and not self.unknown

    @property
    def condors(self) -> tuple[Structure, ...]:
        return tuple(s for s in self.structures if s.kind is StructureKind.IRON_CONDOR)

    @property
    def leftovers(self) -> tuple[Structure, ...]:
        return tuple(s for s in self.structures if s.kind is not StructureKind.IRON_CONDOR)

    def to_dict(self) -> dict[str, object]:
        return {
            "v_ic": self.v_ic,
            "e_vix": self.e_vix,
            "beta_iv": self.beta_iv,
            "theta": self.theta,
            "condors": len(self.condors),
            "structures": [s.to_dict() for s in self.structures],
            "scenarios": [s.to_dict() for s in self.scenarios],
            "unknown": list(self.unknown),
        }

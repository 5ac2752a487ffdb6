"""Intents: what the planner wants done. Execution turns an accepted intent into limit orders, nothing else does."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from bot.domain.layers import LayerId
from bot.domain.votes import SignalVote


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    def signed(self, quantity: int) -> int:
        """`quantity` as a change of position: positive for a buy, negative for a sell."""
        return quantity if self is Side.BUY else -quantity


class HedgeKind(StrEnum):
    VX = "VX"  # Cboe VIX future, $1000/pt (IB: Future symbol VIX, exchange CFE, tradingClass VX)
    VXM = "VXM"  # mini VIX future, $100/pt
    VIXY = "VIXY"  # ETF shares
    VIX_OPTION = "VIX_OPTION"  # European VIX option, $100/pt, priced off the same-expiry future


_KEYS: dict[tuple[object, ...], str] = {}
_MAX_KEYS = 4096


@dataclass(frozen=True, slots=True)
class HedgeInstrument:
    kind: HedgeKind
    expiry: dt.date | None = None  # futures and options: final settlement date; None for VIXY
    strike: float | None = None  # options only
    right: str | None = None  # "C" / "P", options only
    # hashed once: books are dicts keyed by instrument, read ~60,000 times a 2004-2019 backtest (the generated hash
    # rebuilt a tuple and hashed the enum in Python each time); the same value as the generated one
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.kind, self.expiry, self.strike, self.right)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[HedgeInstrument], tuple[object, ...]]:
        """Pickled by its fields and rebuilt through `__init__`: a string's hash differs between processes, so a
        stored hash must never travel."""
        return (HedgeInstrument, (self.kind, self.expiry, self.strike, self.right))

    @property
    def key(self) -> str:
        """Compact, stable text key, e.g. 'VX:2018-03-21', 'VIX_OPTION:2018-03-21:C:25', 'VIXY'.

        Memoised by field values (a pure function of them): books are sorted by it several times per decision.
        A zero strike is not memoised: 0.0 and -0.0 are equal keys but print differently."""
        if self.strike == 0.0:
            return self._key()
        fields = (self.kind, self.expiry, self.strike, self.right)
        key = _KEYS.get(fields)
        if key is None:
            if len(_KEYS) >= _MAX_KEYS:  # a few hundred instruments a year: bounded for a bot that never restarts
                _KEYS.clear()
            key = _KEYS[fields] = self._key()
        return key

    def _key(self) -> str:
        parts = [self.kind.value]
        if self.expiry:
            parts.append(self.expiry.isoformat())
        if self.right:
            parts.append(self.right)
        if self.strike is not None:
            parts.append(f"{self.strike:g}")
        return ":".join(parts)


@dataclass(frozen=True, slots=True)
class PriceGuidance:
    """Where the execution ladder may trade: a reference (mid when planned) and a hard limit it must not cross."""

    reference: float
    limit: float  # worst acceptable price (max for BUY, min for SELL); the collar check uses it


@dataclass(frozen=True, slots=True)
class Intent:
    """One planned trade. `id` is deterministic (same decision -> same id) and fits IB's orderRef.

    A roll is two intents sharing `group`: the close and the open; execution sends the open only after the
    close has filled (or sends both when configured), and never one twice.
    """

    id: str  # <= 40 chars, [A-Za-z0-9._:-]
    layer: LayerId
    instrument: HedgeInstrument
    side: Side
    quantity: int  # > 0, whole contracts or shares
    price: PriceGuidance | None
    reason: str  # "layer 1 activate: h=0.52 of E_VIX $-1,264/pt", "roll F1->F2 5 days before expiry"
    votes: tuple[SignalVote, ...] = ()
    group: str | None = None  # roll pair / overwrite group
    opens_position: bool = True  # False for closes/reductions (allowed while trading state is REDUCING)

"""Build the MarketSnapshot `decide` reads from what the engine tracks: quotes, greeks, positions, net liquidation.

Positions come from the broker as ContractSpecs; here they become the core's types: SPX/SPXW options -> OptionLeg
(the condor book, with their quotes and model greeks), VX/VXM futures, VIXY and VIX options -> HedgePosition. Any
other position is not the bot's business and is left out (it is neither a condor leg nor a hedge).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

from bot.broker.discovery import condor_leg_positions
from bot.broker.types import ContractSpec, PositionRow
from bot.domain.intents import HedgeInstrument, HedgeKind
from bot.domain.market import (
    HedgePosition,
    MarketSnapshot,
    OptionContract,
    OptionLeg,
    Quote,
    VixOptionQuote,
    VxCurve,
    VxPoint,
)
from bot.engine.marketdata import MarketData

_FUTURE_CLASSES = {"VX": HedgeKind.VX, "VXM": HedgeKind.VXM}


def spec_expiry(spec: ContractSpec) -> dt.date | None:
    """The final settlement date of a dated contract (real expiration when the gateway sends it)."""
    for text in (spec.real_expiration, spec.expiry):  # the latter as ContractSpec.expiry_date reads it
        if len(text) == 8:
            return _yyyymmdd(text)
    return None


@cache
def _yyyymmdd(text: str) -> dt.date:
    """Parsed once per distinct date: every cycle asks for the same few dozen contracts' expiries (strptime is slow)."""
    return dt.datetime.strptime(text, "%Y%m%d").date()


def hedge_instrument(spec: ContractSpec) -> HedgeInstrument | None:
    """The hedge instrument a position is in, or None when it is not a hedge instrument."""
    if spec.sec_type == "STK" and spec.symbol == "VIXY":
        return HedgeInstrument(HedgeKind.VIXY)
    expiry = spec_expiry(spec)
    if spec.sec_type == "FUT" and spec.symbol in ("VIX", "VXM") and expiry:
        # IB lists the mini under symbol VXM; the trading class, when present, says which contract it is
        kind = _FUTURE_CLASSES.get(spec.trading_class or spec.symbol, HedgeKind.VX if spec.symbol == "VIX" else None)
        return HedgeInstrument(kind, expiry) if kind is not None else None
    if spec.sec_type == "OPT" and spec.symbol == "VIX" and spec.right in ("C", "P") and expiry:
        return HedgeInstrument(HedgeKind.VIX_OPTION, expiry, float(spec.strike), spec.right)
    return None


def hedge_positions(rows: Iterable[PositionRow]) -> dict[HedgeInstrument, tuple[int, float, int]]:
    """instrument -> (signed quantity, IB average cost, conId), flat positions dropped, one row per instrument."""
    out: dict[HedgeInstrument, tuple[int, float, int]] = {}
    for row in rows:
        inst = hedge_instrument(row.contract)
        qty = round(row.quantity)
        if inst is None or qty == 0:
            continue
        held = out.get(inst)
        total = qty + (held[0] if held else 0)
        out[inst] = (total, row.avg_cost, row.contract.con_id)
    return {k: v for k, v in out.items() if v[0] != 0}


@dataclass
class Instruments:
    """The contracts the engine watches, by role (filled during start-up discovery)."""

    vix: ContractSpec | None = None
    vix3m: ContractSpec | None = None
    vix9d: ContractSpec | None = None
    spx: ContractSpec | None = None
    vixy: ContractSpec | None = None
    curve: tuple[ContractSpec, ...] = ()
    vix_options: dict[int, ContractSpec] = field(default_factory=dict)

    def role_of(self, con_id: int) -> str | None:
        for role in ("vix", "vix3m", "vix9d", "spx", "vixy"):
            spec = getattr(self, role)
            if spec is not None and spec.con_id == con_id:
                return role
        if any(s.con_id == con_id for s in self.curve):
            return "curve"
        return None


def _quote(md: MarketData, spec: ContractSpec | None) -> Quote | None:
    return md.quote(spec.con_id) if spec is not None else None


def build_snapshot(
    now: dt.datetime,
    md: MarketData,
    inst: Instruments,
    positions: Sequence[PositionRow],
    net_liquidation: float | None,
) -> MarketSnapshot:
    points = []
    for spec in inst.curve:
        expiry = spec_expiry(spec)
        if expiry is not None:
            points.append(VxPoint(expiry, md.quote(spec.con_id) or Quote()))
    options = []
    for spec in inst.vix_options.values():
        option = hedge_instrument(spec)
        quote = md.quote(spec.con_id)
        if option is not None and quote is not None:
            options.append(VixOptionQuote(option, quote))
    legs = []
    for row in condor_leg_positions(positions):
        c = row.contract
        expiry = spec_expiry(c)
        qty = round(row.quantity)
        if expiry is None or qty == 0:
            continue
        multiplier = c.multiplier if c.multiplier > 1 else 100.0  # a bare position row may not carry it: SPX is 100
        contract = OptionContract(
            c.trading_class or "SPX", expiry, float(c.strike), c.right, multiplier, "SPX", c.con_id
        )
        legs.append(OptionLeg(contract, qty, row.avg_cost, md.quote(c.con_id), md.greeks(c.con_id)))
    hedges = tuple(HedgePosition(i, q, cost) for i, (q, cost, _) in hedge_positions(positions).items())
    return MarketSnapshot(
        now=now,
        vix=_quote(md, inst.vix),
        vix3m=_quote(md, inst.vix3m),
        vix9d=_quote(md, inst.vix9d),
        spx=_quote(md, inst.spx),
        vixy=_quote(md, inst.vixy),
        curve=VxCurve(tuple(points)),
        vix_options=tuple(options),
        legs=tuple(legs),
        hedges=hedges,
        net_liquidation=net_liquidation,
    )

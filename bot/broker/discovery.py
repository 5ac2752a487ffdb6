"""Contract discovery rules, as pure functions over contract details the gateway returned.

The facade asks the gateway (reqContractDetails, reqSecDefOptParams) and hands the answers here; keeping the
choosing and sorting apart from the I/O is what lets the unit tests pin the rules down.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from bot.broker.errors import ContractNotFoundError
from bot.broker.types import ContractSpec, PositionRow
from bot.domain.intents import HedgeInstrument, HedgeKind
from bot.vx_calendar import vx_expiry

# Where each index is quoted (IB: Index(symbol, exchange)).
INDEX_EXCHANGES: dict[str, str] = {"VIX": "CBOE", "VIX3M": "CBOE", "VIX9D": "CBOE", "SPX": "CBOE"}
CONDOR_TRADING_CLASSES = frozenset({"SPX", "SPXW"})


@dataclass(frozen=True, slots=True)
class ContractQuery:
    """A library-neutral reqContractDetails query; empty fields match anything."""

    symbol: str
    sec_type: str
    exchange: str
    currency: str = "USD"
    expiry: str = ""  # YYYYMMDD or YYYYMM
    strike: float = 0.0
    right: str = ""
    trading_class: str = ""
    con_id: int = 0


@dataclass(frozen=True, slots=True)
class OptionChainInfo:
    """One option chain (reqSecDefOptParams): the expirations and strikes listed for a trading class."""

    exchange: str
    trading_class: str
    multiplier: str
    expirations: tuple[str, ...]
    strikes: tuple[float, ...]


def futures_query(kind: HedgeKind) -> ContractQuery:
    """The whole listed curve of VX (or VXM) futures: IB lists both under symbol VIX on CFE."""
    if kind not in (HedgeKind.VX, HedgeKind.VXM):
        raise ValueError(f"{kind} is not a VIX future")
    return ContractQuery(symbol="VIX", sec_type="FUT", exchange="CFE", trading_class=kind.value)


def query_for(instrument: HedgeInstrument) -> ContractQuery:
    """The contract-details query that finds one hedge instrument; dated ones are asked for by month."""
    kind = instrument.kind
    if kind is HedgeKind.VIXY:
        return ContractQuery(symbol="VIXY", sec_type="STK", exchange="SMART")
    if instrument.expiry is None:
        raise ContractNotFoundError(f"{instrument.key}: a dated instrument needs an expiry")
    month = instrument.expiry.strftime("%Y%m")
    if kind in (HedgeKind.VX, HedgeKind.VXM):
        return ContractQuery(symbol="VIX", sec_type="FUT", exchange="CFE", expiry=month, trading_class=kind.value)
    if kind is HedgeKind.VIX_OPTION:
        if instrument.strike is None or instrument.right not in ("C", "P"):
            raise ContractNotFoundError(f"{instrument.key}: a VIX option needs a strike and a right C or P")
        return ContractQuery(
            symbol="VIX",
            sec_type="OPT",
            exchange="CBOE",
            expiry=month,
            strike=instrument.strike,
            right=instrument.right,
            trading_class="VIX",
        )
    raise ContractNotFoundError(f"{instrument.key}: no contract rule for {kind}")


def _expiry_matches(spec: ContractSpec, expiry: dt.date) -> bool:
    text = expiry.strftime("%Y%m%d")
    return spec.expiry == text or spec.real_expiration == text


def match_instrument(instrument: HedgeInstrument, candidates: Iterable[ContractSpec]) -> ContractSpec:
    """The one candidate that is exactly the instrument (expiry date, strike, right); anything else is an error."""
    found = list(candidates)
    matches = found
    if instrument.expiry is not None:
        matches = [c for c in matches if _expiry_matches(c, instrument.expiry)]
    if instrument.strike is not None:
        matches = [c for c in matches if abs(c.strike - instrument.strike) < 1e-9]
    if instrument.right:
        matches = [c for c in matches if c.right == instrument.right]
    if len(matches) != 1:
        listed = ", ".join(sorted(c.key for c in found)[:8]) or "none"
        raise ContractNotFoundError(
            f"{instrument.key}: {len(matches)} contracts match (listed: {listed}). "
            "Fix: plan only instruments the gateway lists (check the expiry date and strike)"
        )
    return matches[0]


def is_monthly_vx(spec: ContractSpec) -> bool:
    """True when the future expires on the monthly VX settlement date of its month (weeklies expire elsewhere)."""
    expiry = spec.expiry_date
    if expiry is None:
        return False
    return expiry == vx_expiry(expiry.year, expiry.month)


def sort_curve(
    specs: Iterable[ContractSpec], trading_class: str, today: dt.date, *, monthly_only: bool = True
) -> tuple[ContractSpec, ...]:
    """The futures curve front first: one trading class, unexpired, optionally monthlies only, no duplicates."""
    by_con_id: dict[int, ContractSpec] = {}
    for spec in specs:
        expiry = spec.expiry_date
        if spec.trading_class != trading_class or expiry is None or expiry < today:
            continue
        if monthly_only and not is_monthly_vx(spec):
            continue
        by_con_id[spec.con_id] = spec
    return tuple(sorted(by_con_id.values(), key=lambda s: (s.expiry, s.con_id)))


def condor_leg_positions(positions: Iterable[PositionRow]) -> list[PositionRow]:
    """Open SPX/SPXW option positions: the condor legs the bot protects (and must stream greeks for)."""
    legs = []
    for row in positions:
        spec = row.contract
        if spec.sec_type != "OPT" or spec.symbol != "SPX" or row.quantity == 0:
            continue
        if spec.trading_class and spec.trading_class not in CONDOR_TRADING_CLASSES:
            continue
        legs.append(row)
    return sorted(legs, key=lambda r: (r.contract.expiry, r.contract.right, r.contract.strike))


def pick_option_chain(chains: Iterable[OptionChainInfo], trading_class: str, exchange: str) -> OptionChainInfo:
    """The chain for a trading class on an exchange (SMART as a fallback), strikes and expirations sorted."""
    candidates = [c for c in chains if c.trading_class == trading_class]
    preferred = [c for c in candidates if c.exchange == exchange] or [c for c in candidates if c.exchange == "SMART"]
    if not preferred:
        have = ", ".join(sorted({f"{c.trading_class}@{c.exchange}" for c in chains})) or "none"
        raise ContractNotFoundError(f"no {trading_class} option chain on {exchange} (gateway lists: {have})")
    chain = preferred[0]
    return OptionChainInfo(
        exchange=chain.exchange,
        trading_class=chain.trading_class,
        multiplier=chain.multiplier,
        expirations=tuple(sorted(chain.expirations)),
        strikes=tuple(sorted(chain.strikes)),
    )

"""Sequential parser of placeOrder (message 3) at server version 176.

It walks the fields in exactly the order `client.placeOrder` of ib_async 2.1 and ib_insync 0.9.86 writes them,
including every variable-length section (BAG legs, delta-neutral, scale, hedge, algo parameters, PEG BENCH,
conditions, PEG BEST/MID), and fails if a single field is left over or missing: a silent misparse of an order
would move money wrongly, so the parser fails closed.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.sim.market.api import ContractQuery

UNSET_DOUBLE = sys.float_info.max
UNSET_INTEGER = 2**31 - 1

CONTRACT_FIELDS = (
    "conId",
    "symbol",
    "secType",
    "lastTradeDateOrContractMonth",
    "strike",
    "right",
    "multiplier",
    "exchange",
    "primaryExchange",
    "currency",
    "localSymbol",
    "tradingClass",
)

# Fields after the type, per condition type (the dataclass fields of ib_async/ib_insync *Condition minus condType).
CONDITION_FIELDS: dict[int, tuple[str, ...]] = {
    1: ("conjunction", "isMore", "price", "conId", "exch", "triggerMethod"),  # price
    3: ("conjunction", "isMore", "time"),  # time
    4: ("conjunction", "isMore", "percent"),  # margin
    5: ("conjunction", "secType", "exch", "symbol"),  # execution
    6: ("conjunction", "isMore", "volume", "conId", "exch"),  # volume
    7: ("conjunction", "isMore", "changePercent", "conId", "exch"),  # percent change
}


class OrderParseError(ValueError):
    """The placeOrder message does not have the layout of server version 176."""


def to_float(text: str) -> float | None:
    """A numeric field: "" or the IB unset value -> None; "Infinite" -> inf."""
    if text == "":
        return None
    if text == "Infinite":
        return math.inf
    value = float(text)
    return None if value == UNSET_DOUBLE else value


def to_int(text: str) -> int | None:
    if text == "":
        return None
    value = int(float(text)) if "." in text or "e" in text else int(text)
    return None if value == UNSET_INTEGER else value


def to_bool(text: str) -> bool:
    return text not in ("", "0")


@dataclass(frozen=True, slots=True)
class ParsedContract:
    """The 12 contract fields (C12) every contract-carrying request starts with."""

    con_id: int
    symbol: str
    sec_type: str
    last_trade_date: str
    strike: float
    right: str
    multiplier: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str
    trading_class: str

    @classmethod
    def from_fields(cls, f: Sequence[str]) -> ParsedContract:
        if len(f) != 12:
            raise OrderParseError(f"a contract has 12 fields, got {len(f)}")
        return cls(
            con_id=to_int(f[0]) or 0,
            symbol=f[1],
            sec_type=f[2],
            last_trade_date=f[3],
            strike=to_float(f[4]) or 0.0,
            right=f[5],
            multiplier=f[6],
            exchange=f[7],
            primary_exchange=f[8],
            currency=f[9],
            local_symbol=f[10],
            trading_class=f[11],
        )

    def to_query(self, include_expired: bool = False) -> ContractQuery:
        right = {"CALL": "C", "PUT": "P"}.get(self.right.upper(), self.right.upper())
        return ContractQuery(
            con_id=self.con_id,
            symbol=self.symbol,
            sec_type=self.sec_type,
            last_trade_date=self.last_trade_date,
            strike=self.strike,
            right=right,
            multiplier=self.multiplier,
            exchange=self.exchange,
            currency=self.currency,
            local_symbol=self.local_symbol,
            trading_class=self.trading_class,
            include_expired=include_expired,
        )


@dataclass(frozen=True, slots=True)
class ComboLeg:
    con_id: int
    ratio: int
    action: str
    exchange: str
    open_close: int
    short_sale_slot: int
    designated_location: str
    exempt_code: int


@dataclass(frozen=True, slots=True)
class Condition:
    cond_type: int
    values: Mapping[str, str]


@dataclass(frozen=True)
class ParsedOrder:
    """A placeOrder message, typed where the simulator acts on a field and kept raw (by IB name) for the rest."""

    order_id: int
    contract: ParsedContract
    action: str
    total_quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    tif: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    oca_group: str
    combo_legs: tuple[ComboLeg, ...] = ()
    order_combo_leg_prices: tuple[float | None, ...] = ()
    smart_combo_routing_params: tuple[tuple[str, str], ...] = ()
    delta_neutral_order_type: str = ""
    scale_price_increment: float | None = None
    hedge_type: str = ""
    hedge_param: str = ""
    delta_neutral_contract: tuple[int, float, float] | None = None
    algo_strategy: str = ""
    algo_params: tuple[tuple[str, str], ...] = ()
    what_if: bool = False
    conditions: tuple[Condition, ...] = ()
    raw: Mapping[str, str] = field(default_factory=dict)

    def unsupported_features(self) -> list[str]:
        """Parts of the order a plain limit/market matcher would silently ignore (so the server rejects them)."""
        found = []
        if self.contract.sec_type == "BAG" or self.combo_legs:
            found.append("combo (BAG) orders")
        if self.delta_neutral_order_type or self.delta_neutral_contract:
            found.append("delta-neutral orders")
        if self.scale_price_increment:
            found.append("scale orders")
        if self.hedge_type:
            found.append("hedge orders")
        if self.algo_strategy:
            found.append(f"algo {self.algo_strategy}")
        if self.conditions:
            found.append("conditional orders")
        if self.what_if:
            found.append("what-if orders")
        if self.parent_id:
            found.append("child (bracket) orders")
        if self.oca_group:
            found.append("OCA groups")
        return found


# Named field runs, in placeOrder order. "" marks the unnamed sharesAllocation field.
_HEAD = (
    "secIdType",
    "secId",
    "action",
    "totalQuantity",
    "orderType",
    "lmtPrice",
    "auxPrice",
    "tif",
    "ocaGroup",
    "account",
    "openClose",
    "origin",
    "orderRef",
    "transmit",
    "parentId",
    "blockOrder",
    "sweepToFill",
    "displaySize",
    "triggerMethod",
    "outsideRth",
    "hidden",
)
_AFTER_COMBO = (
    "sharesAllocation",
    "discretionaryAmt",
    "goodAfterTime",
    "goodTillDate",
    "faGroup",
    "faMethod",
    "faPercentage",
    "faProfile",  # only below server version 177
    "modelCode",
    "shortSaleSlot",
    "designatedLocation",
    "exemptCode",
    "ocaType",
    "rule80A",
    "settlingFirm",
    "allOrNone",
    "minQty",
    "percentOffset",
    "eTradeOnly",
    "firmQuoteOnly",
    "nbboPriceCap",
    "auctionStrategy",
    "startingPrice",
    "stockRefPrice",
    "delta",
    "stockRangeLower",
    "stockRangeUpper",
    "overridePercentageConstraints",
    "volatility",
    "volatilityType",
    "deltaNeutralOrderType",
    "deltaNeutralAuxPrice",
)
_DELTA_NEUTRAL = (
    "deltaNeutralConId",
    "deltaNeutralSettlingFirm",
    "deltaNeutralClearingAccount",
    "deltaNeutralClearingIntent",
    "deltaNeutralOpenClose",
    "deltaNeutralShortSale",
    "deltaNeutralShortSaleSlot",
    "deltaNeutralDesignatedLocation",
)
_SCALE_HEAD = (
    "continuousUpdate",
    "referencePriceType",
    "trailStopPrice",
    "trailingPercent",
    "scaleInitLevelSize",
    "scaleSubsLevelSize",
    "scalePriceIncrement",
)
_SCALE_TAIL = (
    "scalePriceAdjustValue",
    "scalePriceAdjustInterval",
    "scaleProfitOffset",
    "scaleAutoReset",
    "scaleInitPosition",
    "scaleInitFillQty",
    "scaleRandomPercent",
)
_HEDGE_HEAD = ("scaleTable", "activeStartTime", "activeStopTime", "hedgeType")
_CLEARING = ("optOutSmartRouting", "clearingAccount", "clearingIntent", "notHeld")
_MISC = ("algoId", "whatIf", "orderMiscOptions", "solicited", "randomizeSize", "randomizePrice")
_PEG_BENCH = (
    "referenceContractId",
    "isPeggedChangeAmountDecrease",
    "peggedChangeAmount",
    "referenceChangeAmount",
    "referenceExchangeId",
)
_ADJUSTED = (
    "adjustedOrderType",
    "triggerPrice",
    "lmtPriceOffset",
    "adjustedStopPrice",
    "adjustedStopLimitPrice",
    "adjustedTrailingAmount",
    "adjustableTrailingUnit",
    "extOperator",
    "softDollarTierName",
    "softDollarTierValue",
    "cashQty",
    "mifid2DecisionMaker",
    "mifid2DecisionAlgo",
    "mifid2ExecutionTrader",
    "mifid2ExecutionAlgo",
    "dontUseAutoPriceForHedge",
    "isOmsContainer",
    "discretionaryUpToLimitPrice",
    "usePriceMgmtAlgo",
    "duration",  # >= 158
    "postToAts",  # >= 160
    "autoCancelParent",  # >= 162
    "advancedErrorOverride",  # >= 166
    "manualOrderTime",  # >= 169
)

# ib_insync spells the pegged types only with a space; ib_async also accepts the joined spelling, for which the
# layout is therefore ambiguous and resolved by which reading consumes the message exactly.
_PEG_ALIASES = {"PEGBENCH", "PEGBEST", "PEGMID"}


class _Cursor:
    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = fields
        self.pos = 0
        self.raw: dict[str, str] = {}

    def take(self, what: str) -> str:
        if self.pos >= len(self.fields):
            raise OrderParseError(f"placeOrder ended early: missing {what!r} at field {self.pos}")
        value = self.fields[self.pos]
        self.pos += 1
        return value

    def named(self, names: Sequence[str]) -> None:
        for name in names:
            self.raw[name] = self.take(name)

    def count(self, what: str) -> int:
        text = self.take(what)
        try:
            n = int(text or 0)
        except ValueError as exc:
            raise OrderParseError(f"{what} must be a count, got {text!r}") from exc
        if n < 0 or n > 1000:
            raise OrderParseError(f"{what} {n} is out of range")
        return n


def parse_place_order(fields: Sequence[str]) -> ParsedOrder:
    """Parse a whole placeOrder message (fields[0] == "3"); raises OrderParseError naming the problem."""
    order_type = fields[18] if len(fields) > 18 else ""
    if order_type.upper() not in _PEG_ALIASES:
        return _parse(fields, peg_joined=True)
    try:
        return _parse(fields, peg_joined=True)
    except OrderParseError:
        return _parse(fields, peg_joined=False)


def _parse(fields: Sequence[str], peg_joined: bool) -> ParsedOrder:
    if not fields or fields[0] != "3":
        raise OrderParseError("not a placeOrder message (id 3)")
    c = _Cursor(fields)
    c.take("msgId")
    order_id_text = c.take("orderId")
    contract = ParsedContract.from_fields([c.take(n) for n in CONTRACT_FIELDS])
    c.named(_HEAD)
    r = c.raw
    order_type = r["orderType"]

    def is_type(*names: str) -> bool:
        return order_type in names or (peg_joined and order_type in {n.replace(" ", "") for n in names})

    legs: list[ComboLeg] = []
    leg_prices: list[float | None] = []
    smart: list[tuple[str, str]] = []
    if contract.sec_type == "BAG":
        for _ in range(c.count("comboLegsCount")):
            cid, ratio, action, exch, oc, sss, dl, ec = (c.take("comboLeg") for _ in range(8))
            legs.append(ComboLeg(to_int(cid) or 0, to_int(ratio) or 0, action, exch, to_int(oc) or 0,
                                 to_int(sss) or 0, dl, to_int(ec) if ec else -1))  # fmt: skip
        for _ in range(c.count("orderComboLegsCount")):
            leg_prices.append(to_float(c.take("orderComboLegPrice")))
        for _ in range(c.count("smartComboRoutingParamsCount")):
            smart.append((c.take("tag"), c.take("value")))
    c.named(_AFTER_COMBO)
    if r["deltaNeutralOrderType"]:
        c.named(_DELTA_NEUTRAL)
    c.named(_SCALE_HEAD)
    increment = to_float(r["scalePriceIncrement"])
    if increment is not None and increment > 0:
        c.named(_SCALE_TAIL)
    c.named(_HEDGE_HEAD)
    if r["hedgeType"]:
        c.named(("hedgeParam",))
    c.named(_CLEARING)
    dnc: tuple[int, float, float] | None = None
    if to_bool(c.take("deltaNeutralContractPresent")):
        con_id, delta, price = c.take("dncConId"), c.take("dncDelta"), c.take("dncPrice")
        dnc = (to_int(con_id) or 0, to_float(delta) or 0.0, to_float(price) or 0.0)
    c.named(("algoStrategy",))
    algo: list[tuple[str, str]] = []
    if r["algoStrategy"]:
        for _ in range(c.count("algoParamsCount")):
            algo.append((c.take("tag"), c.take("value")))
    c.named(_MISC)
    if is_type("PEG BENCH"):
        c.named(_PEG_BENCH)
    conditions: list[Condition] = []
    n_cond = c.count("conditionsCount")
    for _ in range(n_cond):
        type_text = c.take("condType")
        cond_type = to_int(type_text)
        names = CONDITION_FIELDS.get(cond_type or -1)
        if names is None:
            raise OrderParseError(f"unknown order condition type {type_text!r}; known: {sorted(CONDITION_FIELDS)}")
        conditions.append(Condition(cond_type or 0, {n: c.take(n) for n in names}))
    if n_cond:
        c.named(("conditionsIgnoreRth", "conditionsCancelOrder"))
    c.named(_ADJUSTED)
    if contract.exchange == "IBKRATS":
        c.named(("minTradeQty",))
    if is_type("PEG BEST"):
        c.named(("minCompeteSize", "competeAgainstBestOffset"))
        if r["competeAgainstBestOffset"] == "Infinite":
            c.named(("midOffsetAtWhole", "midOffsetAtHalf"))
    elif is_type("PEG MID"):
        c.named(("midOffsetAtWhole", "midOffsetAtHalf"))
    if c.pos != len(fields):
        raise OrderParseError(
            f"placeOrder has {len(fields) - c.pos} field(s) left over after field {c.pos}: {list(fields[c.pos :])[:8]}"
        )
    quantity = to_float(r["totalQuantity"])
    order_id = to_int(order_id_text)
    if order_id is None or quantity is None:
        raise OrderParseError("placeOrder without an orderId or a totalQuantity")
    return ParsedOrder(
        order_id=order_id,
        contract=contract,
        action=r["action"],
        total_quantity=quantity,
        order_type=order_type,
        lmt_price=to_float(r["lmtPrice"]),
        aux_price=to_float(r["auxPrice"]),
        tif=r["tif"],
        account=r["account"],
        order_ref=r["orderRef"],
        transmit=to_bool(r["transmit"]),
        parent_id=to_int(r["parentId"]) or 0,
        oca_group=r["ocaGroup"],
        combo_legs=tuple(legs),
        order_combo_leg_prices=tuple(leg_prices),
        smart_combo_routing_params=tuple(smart),
        delta_neutral_order_type=r["deltaNeutralOrderType"],
        scale_price_increment=increment if increment and increment > 0 else None,
        hedge_type=r["hedgeType"],
        hedge_param=r.get("hedgeParam", ""),
        delta_neutral_contract=dnc,
        algo_strategy=r["algoStrategy"],
        algo_params=tuple(algo),
        what_if=to_bool(r["whatIf"]),
        conditions=tuple(conditions),
        raw=dict(r),
    )

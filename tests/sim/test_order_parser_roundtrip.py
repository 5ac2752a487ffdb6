"""Every order shape each library can serialize goes through its REAL placeOrder into our parser, field for field."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType

import ib_async
import ib_insync
import pytest

from bot.sim.order_parser import OrderParseError, parse_place_order

LIBS = [ib_async, ib_insync]


def serialize(lib: ModuleType, contract, order, order_id: int = 42) -> list[str]:
    """Run the library's own placeOrder at server version 176 and capture the fields instead of sending them."""
    ib = lib.IB()
    client = ib.client
    client._serverVersion = 176
    client.connState = client.CONNECTED
    sent: list[str] = []
    client.sendMsg = sent.append
    try:
        client.placeOrder(order_id, contract, order)
    finally:
        client.connState = client.DISCONNECTED
        ib.disconnect = lambda: None  # nothing was connected; keeps IB.__del__ quiet
    assert len(sent) == 1
    fields = sent[0].split("\0")
    assert fields.pop() == ""
    return fields


def vx(lib):
    return lib.Contract(conId=101, symbol="VIX", secType="FUT", exchange="CFE", localSymbol="VXF7", currency="USD")


def spx_opt(lib):
    return lib.Option("SPX", "20261231", 5000, "P", "SMART", tradingClass="SPXW", conId=777)


def bag(lib):
    legs = [lib.ComboLeg(conId=11, ratio=1, action="BUY", exchange="SMART"),
            lib.ComboLeg(conId=12, ratio=2, action="SELL", exchange="SMART", openClose=1)]  # fmt: skip
    return lib.Contract(symbol="SPX", secType="BAG", exchange="SMART", currency="USD", comboLegs=legs)


def all_conditions(lib):
    return [
        lib.PriceCondition(price=4500.0, conId=416904, exch="CBOE", isMore=False, triggerMethod=2),
        lib.TimeCondition(time="20261124 15:00:00 US/Eastern").Or(),
        lib.MarginCondition(percent=30),
        lib.ExecutionCondition(secType="FUT", exch="CFE", symbol="VIX"),
        lib.VolumeCondition(volume=1000, conId=101, exch="CFE"),
        lib.PercentChangeCondition(changePercent=2.5, conId=101, exch="CFE"),
    ]


# name -> (contract builder, order builder, checks on the parsed order)
SHAPES: dict[str, tuple[Callable, Callable, Callable]] = {
    "LMT": (vx, lambda L: L.LimitOrder("BUY", 3, 17.25, orderRef="alvh:abc", tif="DAY"),
            lambda p: (p.lmt_price == 17.25, p.order_ref == "alvh:abc", p.tif == "DAY")),
    "MKT": (vx, lambda L: L.MarketOrder("SELL", 2), lambda p: (p.order_type == "MKT", p.lmt_price is None)),
    "STP": (vx, lambda L: L.StopOrder("BUY", 1, 20.5), lambda p: (p.aux_price == 20.5,)),
    "STP LMT": (vx, lambda L: L.StopLimitOrder("BUY", 1, 21.0, 20.5),
                lambda p: (p.lmt_price == 21.0, p.aux_price == 20.5)),
    "TRAIL": (vx, lambda L: L.Order(action="SELL", totalQuantity=1, orderType="TRAIL", auxPrice=0.5,
                                    trailStopPrice=16.0), lambda p: (p.raw["trailStopPrice"] == "16.0",)),
    "TRAIL pct": (vx, lambda L: L.Order(action="SELL", totalQuantity=1, orderType="TRAIL", trailingPercent=2.0),
                  lambda p: (p.raw["trailingPercent"] == "2.0",)),
    "bracket child": (vx, lambda L: L.LimitOrder("SELL", 1, 19.0, parentId=41, transmit=False),
                      lambda p: (p.parent_id == 41, p.transmit is False)),
    "OCA": (vx, lambda L: L.LimitOrder("SELL", 1, 19.0, ocaGroup="g1", ocaType=2),
            lambda p: (p.oca_group == "g1", p.raw["ocaType"] == "2")),
    "algo": (spx_opt, lambda L: L.LimitOrder("BUY", 1, 5.1, algoStrategy="Adaptive",
                                             algoParams=[L.TagValue("adaptivePriority", "Urgent")]),
             lambda p: (p.algo_strategy == "Adaptive", p.algo_params == (("adaptivePriority", "Urgent"),))),
    "conditions": (vx, lambda L: L.LimitOrder("BUY", 1, 15.0, conditions=all_conditions(L),
                                              conditionsCancelOrder=True),
                   lambda p: ([c.cond_type for c in p.conditions] == [1, 3, 4, 5, 6, 7],
                              p.conditions[0].values["price"] == "4500.0", p.conditions[1].values["conjunction"] == "o",
                              p.raw["conditionsCancelOrder"] == "1")),
    "whatIf": (spx_opt, lambda L: L.LimitOrder("SELL", 10, 4.2, whatIf=True), lambda p: (p.what_if is True,)),
    "BAG": (bag, lambda L: L.LimitOrder("BUY", 1, -1.5, orderComboLegs=[L.OrderComboLeg(1.0), L.OrderComboLeg()],
                                        smartComboRoutingParams=[L.TagValue("NonGuaranteed", "1")]),
            lambda p: (len(p.combo_legs) == 2, p.combo_legs[1].ratio == 2, p.combo_legs[1].open_close == 1,
                       p.order_combo_leg_prices == (1.0, None),
                       p.smart_combo_routing_params == (("NonGuaranteed", "1"),),
                       p.lmt_price == -1.5)),
    "delta-neutral": (spx_opt, lambda L: L.Order(action="BUY", totalQuantity=1, orderType="VOL", volatility=20.0,
                                                 volatilityType=2, deltaNeutralOrderType="LMT",
                                                 deltaNeutralAuxPrice=1.0, deltaNeutralConId=9),
                      lambda p: (p.delta_neutral_order_type == "LMT", p.raw["deltaNeutralConId"] == "9")),
    "dn contract": (lambda L: L.Contract(conId=5, symbol="SPX", secType="OPT", exchange="SMART",
                                         deltaNeutralContract=L.DeltaNeutralContract(416904, 0.5, 4500.0)),
                    lambda L: L.LimitOrder("BUY", 1, 3.0),
                    lambda p: (p.delta_neutral_contract == (416904, 0.5, 4500.0),)),
    "scale": (vx, lambda L: L.Order(action="BUY", totalQuantity=10, orderType="LMT", lmtPrice=15.0,
                                    scaleInitLevelSize=2, scaleSubsLevelSize=1, scalePriceIncrement=0.05,
                                    scaleAutoReset=True),
              lambda p: (p.scale_price_increment == 0.05, p.raw["scaleAutoReset"] == "1")),
    "hedge": (vx, lambda L: L.LimitOrder("BUY", 1, 15.0, hedgeType="D", hedgeParam="0.5"),
              lambda p: (p.hedge_type == "D", p.hedge_param == "0.5")),
    "PEG BENCH": (vx, lambda L: L.Order(action="BUY", totalQuantity=1, orderType="PEG BENCH", referenceContractId=8,
                                        peggedChangeAmount=0.1, referenceChangeAmount=0.2,
                                        referenceExchangeId="CBOE"),
                  lambda p: (p.raw["referenceContractId"] == "8", p.raw["referenceExchangeId"] == "CBOE")),
    "PEG BEST": (vx, lambda L: L.Order(action="BUY", totalQuantity=1, orderType="PEG BEST", minCompeteSize=3,
                                       competeAgainstBestOffset=0.02),
                 lambda p: (p.raw["minCompeteSize"] == "3", "midOffsetAtWhole" not in p.raw)),
    "PEG BEST inf": (vx, lambda L: L.Order(action="BUY", totalQuantity=1, orderType="PEG BEST", minCompeteSize=3,
                                           competeAgainstBestOffset=math.inf, midOffsetAtWhole=0.01,
                                           midOffsetAtHalf=0.005),
                     lambda p: (p.raw["competeAgainstBestOffset"] == "Infinite", p.raw["midOffsetAtHalf"] == "0.005")),
    "PEG MID": (vx, lambda L: L.Order(action="SELL", totalQuantity=1, orderType="PEG MID", midOffsetAtWhole=0.01,
                                      midOffsetAtHalf=0.005), lambda p: (p.raw["midOffsetAtWhole"] == "0.01",)),
    # joined spellings: ib_async writes the pegged sections for them, ib_insync does not; both must parse
    "PEGMID alias": (vx, lambda L: L.Order(action="SELL", totalQuantity=1, orderType="PEGMID", midOffsetAtWhole=0.01,
                                           midOffsetAtHalf=0.005), lambda p: (p.order_type == "PEGMID",)),
    "PEGBENCH alias": (vx, lambda L: L.Order(action="BUY", totalQuantity=1, orderType="PEGBENCH",
                                             referenceContractId=8), lambda p: (p.order_type == "PEGBENCH",)),
    "IBKRATS": (lambda L: L.Stock("VIXY", "IBKRATS", "USD"), lambda L: L.Order(action="BUY", totalQuantity=100,
                                                                               orderType="LMT", lmtPrice=20.0,
                                                                               minTradeQty=50),
                lambda p: (p.raw["minTradeQty"] == "50",)),
    "GTD outsideRth": (vx, lambda L: L.LimitOrder("BUY", 1, 15.0, tif="GTD", goodTillDate="20261231 16:00:00 UTC",
                                                  outsideRth=True, account="DU1234567"),
                       lambda p: (p.raw["goodTillDate"].startswith("20261231"), p.raw["outsideRth"] == "1",
                                  p.account == "DU1234567")),
}  # fmt: skip


@pytest.mark.parametrize("lib", LIBS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_library_serializer_round_trips_through_parser(lib: ModuleType, shape: str) -> None:
    make_contract, make_order, checks = SHAPES[shape]
    contract, order = make_contract(lib), make_order(lib)
    fields = serialize(lib, contract, order)
    parsed = parse_place_order(fields)  # raises on any field left over or missing
    assert parsed.order_id == 42
    assert parsed.action == order.action
    assert parsed.total_quantity == float(order.totalQuantity)
    assert parsed.order_type == order.orderType
    assert parsed.contract.con_id == contract.conId
    assert parsed.contract.sec_type == contract.secType
    assert parsed.contract.symbol == contract.symbol
    assert all(checks(parsed)), f"{shape}: parsed {parsed}"


def test_plain_limit_order_is_115_fields_as_documented() -> None:
    fields = serialize(ib_insync, vx(ib_insync), ib_insync.LimitOrder("BUY", 1, 15.0))
    assert len(fields) == 115


@pytest.mark.parametrize("cut", [1, 30, 80])
def test_truncated_message_is_refused_with_the_missing_field_named(cut: int) -> None:
    fields = serialize(ib_async, vx(ib_async), ib_async.LimitOrder("BUY", 1, 15.0))
    with pytest.raises(OrderParseError, match="ended early: missing"):
        parse_place_order(fields[:-cut])


def test_extra_field_is_refused() -> None:
    fields = serialize(ib_async, vx(ib_async), ib_async.LimitOrder("BUY", 1, 15.0))
    with pytest.raises(OrderParseError, match="left over"):
        parse_place_order([*fields, "x"])


def test_unknown_condition_type_is_named() -> None:
    order = ib_insync.LimitOrder("BUY", 1, 15.0, conditions=[ib_insync.MarginCondition()])
    fields = serialize(ib_insync, vx(ib_insync), order)
    # the conditions section: count 1, then the margin condition's type 4 and its conjunction "a"
    i = next(k for k in range(len(fields) - 2) if fields[k : k + 3] == ["1", "4", "a"])
    fields[i + 1] = "9"
    with pytest.raises(OrderParseError, match="unknown order condition type '9'"):
        parse_place_order(fields)

"""Encoders for every message the simulator sends, at server version 176.

Field counts match the decoders of ib_async 2.1 and ib_insync 0.9.86 exactly (a wrong count is silently dropped by
the client, so tests/sim fails on any decoder error). Each function returns one ready-to-write frame.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

from bot.sim.market.api import Bar, Instrument, ModelGreeks, OptionChain
from bot.sim.wire import frame, frame_raw

# message ids (server -> client)
TICK_PRICE, TICK_SIZE, ORDER_STATUS, ERROR, OPEN_ORDER = 1, 2, 3, 4, 5
ACCT_VALUE, PORTFOLIO_VALUE, ACCT_UPDATE_TIME, NEXT_VALID_ID, CONTRACT_DATA = 6, 7, 8, 9, 10
EXECUTION_DATA, MANAGED_ACCTS, HISTORICAL_DATA, TICK_OPTION_COMPUTATION = 11, 15, 17, 21
CURRENT_TIME, CONTRACT_DATA_END, OPEN_ORDER_END, ACCT_DOWNLOAD_END, EXECUTION_DATA_END = 49, 52, 53, 54, 55
TICK_SNAPSHOT_END, MARKET_DATA_TYPE, COMMISSION_REPORT, POSITION_DATA, POSITION_END = 57, 58, 59, 61, 62
ACCOUNT_SUMMARY, ACCOUNT_SUMMARY_END, ACCOUNT_UPDATE_MULTI, ACCOUNT_UPDATE_MULTI_END = 63, 64, 73, 74
SEC_DEF_OPT_PARAMS, SEC_DEF_OPT_PARAMS_END, COMPLETED_ORDER, COMPLETED_ORDERS_END = 75, 76, 101, 102
MARKET_RULE = 93

# The End messages a fault may delay or withhold, by the name used in fault specs.
END_MESSAGES = {
    "positionEnd": POSITION_END,
    "openOrderEnd": OPEN_ORDER_END,
    "completedOrdersEnd": COMPLETED_ORDERS_END,
    "accountDownloadEnd": ACCT_DOWNLOAD_END,
    "accountUpdateMultiEnd": ACCOUNT_UPDATE_MULTI_END,
    "execDetailsEnd": EXECUTION_DATA_END,
    "contractDetailsEnd": CONTRACT_DATA_END,
    "accountSummaryEnd": ACCOUNT_SUMMARY_END,
    "secDefOptParamsEnd": SEC_DEF_OPT_PARAMS_END,
    "tickSnapshotEnd": TICK_SNAPSHOT_END,
}


def num(value: float | None) -> str:
    """A price or amount: NaN/None -> "" (unset), else the float's shortest repr."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value))


def qty(value: float) -> str:
    """Quantities as IB prints them: whole numbers without decimals, fractions (VIXY shares) as decimals."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def ib_time(t: dt.datetime) -> str:
    """`YYYYMMDD HH:MM:SS UTC`: always with a zone, so clients never guess (TWS_API_PROTOCOL gotcha 8)."""
    return t.astimezone(dt.UTC).strftime("%Y%m%d %H:%M:%S") + " UTC"


def contract12_no_primary(inst: Instrument) -> list[object]:
    """conId .. tradingClass as position, execDetails, openOrder and completedOrder carry them (no primaryExchange)."""
    return [
        inst.con_id,
        inst.symbol,
        inst.sec_type,
        inst.last_trade_date,
        num(inst.strike),
        inst.right,
        inst.multiplier,
        inst.exchange,
        inst.currency,
        inst.local_symbol,
        inst.trading_class,
    ]


# ---- session -------------------------------------------------------------------------------------------------------
def handshake_reply(connection_time: dt.datetime, version: int = 176) -> bytes:
    return frame([version, ib_time(connection_time)])


def managed_accounts(accounts: Sequence[str]) -> bytes:
    return frame([MANAGED_ACCTS, 1, ",".join(accounts)])


def next_valid_id(order_id: int) -> bytes:
    return frame([NEXT_VALID_ID, 1, order_id])


def error(req_id: int, code: int, message: str, advanced_json: str = "") -> bytes:
    return frame([ERROR, 2, req_id, code, message, advanced_json])


def current_time(epoch_seconds: int) -> bytes:
    return frame([CURRENT_TIME, 1, epoch_seconds])


def end_message(name: str, req_id: int | None = None, account: str = "") -> bytes:
    """Any of END_MESSAGES, with the fields its decoder unpacks."""
    msg_id = END_MESSAGES[name]
    if msg_id == COMPLETED_ORDERS_END:
        return frame([msg_id])
    if msg_id in (POSITION_END, OPEN_ORDER_END):
        return frame([msg_id, 1])
    if msg_id == ACCT_DOWNLOAD_END:
        return frame([msg_id, 1, account])
    if msg_id == SEC_DEF_OPT_PARAMS_END:
        return frame([msg_id, req_id])
    return frame([msg_id, 1, req_id])


# ---- portfolio -----------------------------------------------------------------------------------------------------
def position(account: str, inst: Instrument, quantity: float, avg_cost: float) -> bytes:
    return frame([POSITION_DATA, 3, account, *contract12_no_primary(inst), qty(quantity), num(avg_cost)])


def account_value(key: str, value: str, currency: str, account: str) -> bytes:
    return frame([ACCT_VALUE, 2, key, value, currency, account])


def portfolio_value(
    inst: Instrument,
    quantity: float,
    market_price: float,
    market_value: float,
    avg_cost: float,
    unrealized: float,
    realized: float,
    account: str,
) -> bytes:
    return frame(
        [
            PORTFOLIO_VALUE,
            8,
            inst.con_id,
            inst.symbol,
            inst.sec_type,
            inst.last_trade_date,
            num(inst.strike),
            inst.right,
            inst.multiplier,
            inst.primary_exchange,
            inst.currency,
            inst.local_symbol,
            inst.trading_class,
            qty(quantity),
            num(market_price),
            num(market_value),
            num(avg_cost),
            num(unrealized),
            num(realized),
            account,
        ]
    )


def account_update_time(t: dt.datetime) -> bytes:
    return frame([ACCT_UPDATE_TIME, 1, t.astimezone(dt.UTC).strftime("%H:%M")])


def account_update_multi(req_id: int, account: str, key: str, value: str, currency: str) -> bytes:
    return frame([ACCOUNT_UPDATE_MULTI, 1, req_id, account, "", key, value, currency])


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> bytes:
    return frame([ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency])


# ---- contracts -----------------------------------------------------------------------------------------------------
def contract_details(req_id: int, inst: Instrument, market_rule_ids: str) -> bytes:
    return frame(
        [
            CONTRACT_DATA,
            req_id,
            inst.symbol,
            inst.sec_type,
            inst.last_trade_date,
            num(inst.strike),
            inst.right,
            inst.exchange,
            inst.currency,
            inst.local_symbol,
            inst.market_name,
            inst.trading_class,
            inst.con_id,
            num(inst.min_tick),
            inst.multiplier,
            inst.order_types,
            inst.valid_exchanges or inst.exchange,
            inst.price_magnifier,
            inst.under_con_id,
            inst.long_name,
            inst.primary_exchange,
            inst.contract_month,
            "",  # industry
            "",  # category
            "",  # subcategory
            inst.time_zone_id,
            inst.trading_hours,
            inst.liquid_hours,
            "",  # evRule
            "",  # evMultiplier
            0,  # no secIds
            "",  # aggGroup
            inst.under_symbol,
            inst.under_sec_type,
            market_rule_ids,
            inst.real_expiration_date,
            "",  # stockType
            "1",  # minSize
            "1",  # sizeIncrement
            "1",  # suggestedSizeIncrement
        ]
    )


def market_rule(rule_id: int, tiers: Sequence[tuple[float, float]]) -> bytes:
    fields: list[object] = [MARKET_RULE, rule_id, len(tiers)]
    for low_edge, increment in tiers:
        fields += [num(low_edge), num(increment)]
    return frame(fields)


def sec_def_opt_params(req_id: int, chain: OptionChain) -> bytes:
    return frame(
        [
            SEC_DEF_OPT_PARAMS,
            req_id,
            chain.exchange,
            chain.underlying_con_id,
            chain.trading_class,
            chain.multiplier,
            len(chain.expirations),
            *chain.expirations,
            len(chain.strikes),
            *[num(s) for s in chain.strikes],
        ]
    )


# ---- market data ---------------------------------------------------------------------------------------------------
def market_data_type(req_id: int, data_type: int) -> bytes:
    return frame([MARKET_DATA_TYPE, 1, req_id, data_type])


def tick_price(req_id: int, tick_type: int, price: float, size: float | None, attr_mask: int = 0) -> bytes:
    """Price ticks (the hot path, so formatted directly). NaN is sent as 'nan' only by the bad-price fault."""
    price_text = "nan" if price != price else repr(float(price))
    size_text = "" if size is None else qty(size)
    return frame_raw(f"1\x006\x00{req_id}\x00{tick_type}\x00{price_text}\x00{size_text}\x00{attr_mask}\x00".encode())


def tick_size(req_id: int, tick_type: int, size: float) -> bytes:
    return frame_raw(f"2\x006\x00{req_id}\x00{tick_type}\x00{qty(size)}\x00".encode())


def tick_option_computation(req_id: int, tick_type: int, g: ModelGreeks) -> bytes:
    """Model greeks (tick 13). tickAttrib 1 = price-based. Every value must be a number (clients call float())."""
    return frame(
        [
            TICK_OPTION_COMPUTATION,
            req_id,
            tick_type,
            1,
            *[
                repr(float(v)) if math.isfinite(v) else "-2"  # -2: IB's "not computed"
                for v in (g.implied_vol, g.delta, g.price, g.pv_dividend, g.gamma, g.vega, g.theta, g.und_price)
            ],
        ]
    )


def historical_data(req_id: int, start: str, end: str, bars: Sequence[Bar]) -> bytes:
    fields: list[object] = [HISTORICAL_DATA, req_id, start, end, len(bars)]
    for b in bars:
        wap = (b.high + b.low + b.close) / 3
        fields += [b.date.strftime("%Y%m%d"), num(b.open), num(b.high), num(b.low), num(b.close)]
        fields += [qty(b.volume), num(wap), 0]
    return frame(fields)


# ---- orders --------------------------------------------------------------------------------------------------------
def order_status(
    order_id: int,
    status: str,
    filled: float,
    remaining: float,
    avg_fill_price: float,
    perm_id: int,
    parent_id: int,
    last_fill_price: float,
    client_id: int,
    why_held: str = "",
) -> bytes:
    return frame(
        [
            ORDER_STATUS,
            order_id,
            status,
            qty(filled),
            qty(remaining),
            num(avg_fill_price),
            perm_id,
            parent_id,
            num(last_fill_price),
            client_id,
            why_held,
            "",  # mktCapPrice
        ]
    )


def open_order(
    order_id: int,
    inst: Instrument,
    raw: Mapping[str, str],
    client_id: int,
    perm_id: int,
    status: str,
    commission: float | None = None,
) -> bytes:
    """openOrder (5) for a plain order (no combo, algo, conditions, delta-neutral, scale or hedge parts).

    Only such orders are accepted (see ParsedOrder.unsupported_features); other fields echo what the client sent.
    """
    g = raw.get
    fields: list[object] = [
        OPEN_ORDER,
        order_id,
        *contract12_no_primary(inst),
        g("action", ""),
        g("totalQuantity", ""),
        g("orderType", ""),
        g("lmtPrice", ""),
        g("auxPrice", ""),
        g("tif", ""),
        g("ocaGroup", ""),
        g("account", ""),
        g("openClose", ""),
        g("origin", "0"),
        g("orderRef", ""),
        client_id,
        perm_id,
        g("outsideRth", "0"),
        g("hidden", "0"),
        g("discretionaryAmt", ""),
        g("goodAfterTime", ""),
        "",  # sharesAllocation
        g("faGroup", ""),
        g("faMethod", ""),
        g("faPercentage", ""),
        g("faProfile", ""),
        g("modelCode", ""),
        g("goodTillDate", ""),
        g("rule80A", ""),
        g("percentOffset", ""),
        g("settlingFirm", ""),
        g("shortSaleSlot", "0"),
        g("designatedLocation", ""),
        g("exemptCode", "-1"),
        g("auctionStrategy", "0"),
        g("startingPrice", ""),
        g("stockRefPrice", ""),
        g("delta", ""),
        g("stockRangeLower", ""),
        g("stockRangeUpper", ""),
        g("displaySize", ""),
        g("blockOrder", "0"),
        g("sweepToFill", "0"),
        g("allOrNone", "0"),
        g("minQty", ""),
        g("ocaType", "0"),
        "0",  # eTradeOnly
        "0",  # firmQuoteOnly
        "",  # nbboPriceCap
        g("parentId", "0"),
        g("triggerMethod", "0"),
        g("volatility", ""),
        g("volatilityType", ""),
        "",  # deltaNeutralOrderType (none: such orders are refused)
        "",  # deltaNeutralAuxPrice
        g("continuousUpdate", "0"),
        g("referencePriceType", ""),
        g("trailStopPrice", ""),
        g("trailingPercent", ""),
        "",  # basisPoints
        "",  # basisPointsType
        "",  # comboLegsDescrip
        0,  # comboLegs
        0,  # orderComboLegs
        0,  # smartComboRoutingParams
        g("scaleInitLevelSize", ""),
        g("scaleSubsLevelSize", ""),
        "",  # scalePriceIncrement (none)
        "",  # hedgeType (none)
        g("optOutSmartRouting", "0"),
        g("clearingAccount", ""),
        g("clearingIntent", ""),
        g("notHeld", "0"),
        0,  # deltaNeutralContract present
        "",  # algoStrategy (none)
        g("solicited", "0"),
        "0",  # whatIf
        status,
        "",  # initMarginBefore
        "",  # maintMarginBefore
        "",  # equityWithLoanBefore
        "",  # initMarginChange
        "",  # maintMarginChange
        "",  # equityWithLoanChange
        "",  # initMarginAfter
        "",  # maintMarginAfter
        "",  # equityWithLoanAfter
        num(commission),
        "",  # minCommission
        "",  # maxCommission
        "USD" if commission is not None else "",
        "",  # warningText
        g("randomizeSize", "0"),
        g("randomizePrice", "0"),
        0,  # conditions
        g("adjustedOrderType", ""),
        g("triggerPrice", ""),
        g("trailStopPrice", ""),
        g("lmtPriceOffset", ""),
        g("adjustedStopPrice", ""),
        g("adjustedStopLimitPrice", ""),
        g("adjustedTrailingAmount", ""),
        g("adjustableTrailingUnit", "0"),
        g("softDollarTierName", ""),
        g("softDollarTierValue", ""),
        "",  # softDollarTier displayName
        g("cashQty", ""),
        g("dontUseAutoPriceForHedge", "0"),
        g("isOmsContainer", "0"),
        g("discretionaryUpToLimitPrice", "0"),
        g("usePriceMgmtAlgo", "0"),
        g("duration", ""),
        g("postToAts", ""),
        g("autoCancelParent", "0"),
        g("minTradeQty", ""),
        g("minCompeteSize", ""),
        g("competeAgainstBestOffset", ""),
        g("midOffsetAtWhole", ""),
        g("midOffsetAtHalf", ""),
    ]
    return frame(fields)


def completed_order(
    inst: Instrument,
    raw: Mapping[str, str],
    perm_id: int,
    status: str,
    filled: float,
    completed_time: dt.datetime,
    completed_status: str,
) -> bytes:
    """completedOrder (101) for a plain order, field for field as the decoders unpack it at version 176."""
    g = raw.get
    fields: list[object] = [
        COMPLETED_ORDER,
        *contract12_no_primary(inst),
        g("action", ""),
        g("totalQuantity", ""),
        g("orderType", ""),
        g("lmtPrice", ""),
        g("auxPrice", ""),
        g("tif", ""),
        g("ocaGroup", ""),
        g("account", ""),
        g("openClose", ""),
        g("origin", "0"),
        g("orderRef", ""),
        perm_id,
        g("outsideRth", "0"),
        g("hidden", "0"),
        g("discretionaryAmt", ""),
        g("goodAfterTime", ""),
        g("faGroup", ""),
        g("faMethod", ""),
        g("faPercentage", ""),
        g("faProfile", ""),
        g("modelCode", ""),
        g("goodTillDate", ""),
        g("rule80A", ""),
        g("percentOffset", ""),
        g("settlingFirm", ""),
        g("shortSaleSlot", "0"),
        g("designatedLocation", ""),
        g("exemptCode", "-1"),
        g("startingPrice", ""),
        g("stockRefPrice", ""),
        g("delta", ""),
        g("stockRangeLower", ""),
        g("stockRangeUpper", ""),
        g("displaySize", ""),
        g("sweepToFill", "0"),
        g("allOrNone", "0"),
        g("minQty", ""),
        g("ocaType", "0"),
        g("triggerMethod", "0"),
        g("volatility", ""),
        g("volatilityType", ""),
        "",  # deltaNeutralOrderType
        "",  # deltaNeutralAuxPrice
        g("continuousUpdate", "0"),
        g("referencePriceType", ""),
        g("trailStopPrice", ""),
        g("trailingPercent", ""),
        "",  # comboLegsDescrip
        0,
        0,
        0,
        g("scaleInitLevelSize", ""),
        g("scaleSubsLevelSize", ""),
        "",  # scalePriceIncrement
        "",  # hedgeType
        g("clearingAccount", ""),
        g("clearingIntent", ""),
        g("notHeld", "0"),
        0,  # deltaNeutralContract present
        "",  # algoStrategy
        g("solicited", "0"),
        status,
        g("randomizeSize", "0"),
        g("randomizePrice", "0"),
        0,  # conditions
        g("trailStopPrice", ""),
        g("lmtPriceOffset", ""),
        g("cashQty", ""),
        g("dontUseAutoPriceForHedge", "0"),
        g("isOmsContainer", "0"),
        "",  # autoCancelDate
        qty(filled),
        "",  # refFuturesConId
        g("autoCancelParent", "0"),
        "",  # shareholder
        "0",  # imbalanceOnly
        "0",  # routeMarketableToBbo
        "",  # parentPermId
        ib_time(completed_time),
        completed_status,
        g("minTradeQty", ""),
        g("minCompeteSize", ""),
        g("competeAgainstBestOffset", ""),
        g("midOffsetAtWhole", ""),
        g("midOffsetAtHalf", ""),
    ]
    return frame(fields)


def exec_details(
    req_id: int,
    order_id: int,
    inst: Instrument,
    exec_id: str,
    time: dt.datetime,
    account: str,
    side: str,
    shares: float,
    price: float,
    perm_id: int,
    client_id: int,
    cum_qty: float,
    avg_price: float,
    order_ref: str,
) -> bytes:
    return frame(
        [
            EXECUTION_DATA,
            req_id,
            order_id,
            *contract12_no_primary(inst),
            exec_id,
            ib_time(time),
            account,
            inst.exchange,
            side,
            qty(shares),
            num(price),
            perm_id,
            client_id,
            0,  # liquidation
            qty(cum_qty),
            num(avg_price),
            order_ref,
            "",  # evRule
            "",  # evMultiplier
            "",  # modelCode
            2,  # lastLiquidity: 2 = removed liquidity
        ]
    )


def commission_report(exec_id: str, commission: float, realized_pnl: float | None) -> bytes:
    return frame([COMMISSION_REPORT, 1, exec_id, num(commission), "USD", num(realized_pnl), "", ""])

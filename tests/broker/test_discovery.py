import datetime as dt

import pytest

from bot.broker.discovery import (
    OptionChainInfo,
    condor_leg_positions,
    match_instrument,
    pick_option_chain,
    query_for,
    sort_curve,
)
from bot.broker.errors import ContractNotFoundError
from bot.broker.types import ContractSpec, PositionRow
from bot.domain.intents import HedgeInstrument, HedgeKind
from bot.vx_calendar import vx_expiry


def fut(con_id: int, expiry: dt.date, trading_class: str = "VX") -> ContractSpec:
    return ContractSpec(con_id, "VIX", "FUT", "CFE", expiry=expiry.strftime("%Y%m%d"), trading_class=trading_class)


def test_curve_is_sorted_front_first_and_drops_expired_weeklies_and_other_classes() -> None:
    today = dt.date(2018, 2, 1)
    feb, mar, apr = vx_expiry(2018, 2), vx_expiry(2018, 3), vx_expiry(2018, 4)
    jan = vx_expiry(2018, 1)
    weekly = feb - dt.timedelta(days=7)
    specs = [fut(3, apr), fut(1, feb), fut(2, mar), fut(9, jan), fut(8, weekly), fut(7, mar, "VXM"), fut(2, mar)]
    assert [s.con_id for s in sort_curve(specs, "VX", today)] == [1, 2, 3]
    assert [s.con_id for s in sort_curve(specs, "VX", today, monthly_only=False)] == [8, 1, 2, 3]
    assert [s.con_id for s in sort_curve(specs, "VXM", today)] == [7]


def test_query_for_instruments() -> None:
    vx = query_for(HedgeInstrument(HedgeKind.VX, dt.date(2018, 3, 21)))
    assert (vx.symbol, vx.sec_type, vx.exchange, vx.expiry, vx.trading_class) == ("VIX", "FUT", "CFE", "201803", "VX")
    option = query_for(HedgeInstrument(HedgeKind.VIX_OPTION, dt.date(2018, 3, 21), 25.0, "C"))
    assert (option.sec_type, option.strike, option.right, option.trading_class) == ("OPT", 25.0, "C", "VIX")
    assert query_for(HedgeInstrument(HedgeKind.VIXY)).exchange == "SMART"
    with pytest.raises(ContractNotFoundError, match="expiry"):
        query_for(HedgeInstrument(HedgeKind.VX))
    with pytest.raises(ContractNotFoundError, match="strike"):
        query_for(HedgeInstrument(HedgeKind.VIX_OPTION, dt.date(2018, 3, 21)))


def test_match_needs_exactly_one_contract() -> None:
    target = HedgeInstrument(HedgeKind.VX, dt.date(2018, 3, 21))
    good = fut(2, dt.date(2018, 3, 21))
    assert match_instrument(target, [fut(1, dt.date(2018, 3, 14)), good]) == good
    with pytest.raises(ContractNotFoundError, match="0 contracts match"):
        match_instrument(target, [fut(1, dt.date(2018, 3, 14))])
    real_exp = ContractSpec(5, "VIX", "FUT", expiry="201803", real_expiration="20180321", trading_class="VX")
    assert match_instrument(target, [real_exp]) == real_exp


def test_condor_legs_are_spx_options_only() -> None:
    def row(symbol, sec_type, trading_class, qty, strike=2600.0):
        spec = ContractSpec(int(strike), symbol, sec_type, expiry="20180316", strike=strike, right="P",
                            trading_class=trading_class)  # fmt: skip
        return PositionRow("DU1", spec, qty, 100.0)

    rows = [row("SPX", "OPT", "SPXW", -1, 2600), row("SPX", "OPT", "SPX", 1, 2550), row("VIX", "FUT", "VX", 1),
            row("SPX", "OPT", "SPXW", 0, 2500), row("SPY", "OPT", "SPY", 1)]  # fmt: skip
    assert [r.contract.strike for r in condor_leg_positions(rows)] == [2550.0, 2600.0]


def test_pick_option_chain_prefers_the_exchange_then_smart() -> None:
    chains = [
        OptionChainInfo("SMART", "VIX", "100", ("20180321", "20180221"), (30.0, 20.0)),
        OptionChainInfo("CBOE", "VIXW", "100", ("20180307",), (20.0,)),
    ]
    picked = pick_option_chain(chains, "VIX", "CBOE")
    assert picked.exchange == "SMART" and picked.expirations == ("20180221", "20180321")
    assert picked.strikes == (20.0, 30.0)
    with pytest.raises(ContractNotFoundError, match="VIXW@CBOE"):
        pick_option_chain(chains, "SPX", "CBOE")

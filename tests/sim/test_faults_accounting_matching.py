"""Fault SPEC grammar, the account's bookkeeping, and the matching rules, without sockets."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from bot.sim.account import Account, commission_for, mark_price
from bot.sim.faults import Faults, FaultSpecError, Trigger, parse_fault_spec
from bot.sim.market.api import BookEntry, Quote
from bot.sim.market_rules import MarketRules, rule_id, tiers_of
from bot.sim.matching import Liquidity, decide_fill

from .sim_fake_market import PUT_SHORT, VX

T0 = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("spec", "action", "args", "trigger"),
    [
        ("drop@t=120s", "drop", (), Trigger("t", 120)),
        ("refuse=30s@t=300s", "refuse", (30.0,), Trigger("t", 300)),
        ("error=1101@msg=400", "error", (1101,), Trigger("msg", 400)),
        ("reject-next@t=10m", "reject-next", (1,), Trigger("t", 600)),
        ("quotes=nan:60s@t=1h", "quotes", ("nan", 60.0), Trigger("t", 3600)),
        ("withhold=openOrderEnd", "withhold", ("openOrderEnd", None), Trigger("start")),
        ("delay=positionEnd:5s", "delay", ("positionEnd", 5.0), Trigger("start")),
        ("pacing=2@rt=1.5s", "pacing", (2,), Trigger("rt", 1.5)),
        ("partial=3", "partial", (3.0,), Trigger("start")),
        ("clientid-in-use", "clientid-in-use", (1,), Trigger("start")),
    ],
)
def test_fault_specs_parse(spec: str, action: str, args: tuple, trigger: Trigger) -> None:
    parsed = parse_fault_spec(spec)
    assert (parsed.action, parsed.args, parsed.trigger) == (action, args, trigger)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode", "unknown fault 'explode'"),
        ("refuse=soon", "bad duration 'soon'"),
        ("error=999", "error code must be one of"),
        ("quotes=nan", "use quotes=MODE:DUR"),
        ("withhold=fooEnd", "unknown End message 'fooEnd'"),
        ("delay=positionEnd", "use delay=END:DUR"),
        ("drop@when=5s", "bad trigger 'when=5s'"),
        ("reject-next=0", "positive whole number"),
        ("", "empty fault spec"),
    ],
)
def test_malformed_fault_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        parse_fault_spec(spec)


def test_scheduled_faults_fire_once_when_due() -> None:
    faults = Faults()
    faults.schedule("reject-next=2@t=60s")
    faults.schedule("pacing@msg=10")
    faults.check(59, 0, 9)
    assert faults.reject_next_count == 0 and faults.pacing_count == 0
    faults.check(60, 0, 10)
    faults.check(61, 0, 11)
    assert faults.reject_next_count == 2 and faults.pacing_count == 1 and not faults.pending
    assert faults.take_reject() and faults.take_reject() and not faults.take_reject()


def test_timed_effects_expire_on_the_wall_clock() -> None:
    now = [100.0]
    faults = Faults(clock=lambda: now[0])
    faults.quotes("zero", 5)
    faults.withhold("positionEnd", 2)
    assert faults.quote_mode() == "zero" and math.isinf(faults.end_delay("positionEnd") or 0)
    now[0] = 103
    assert faults.quote_mode() == "zero" and faults.end_delay("positionEnd") is None
    now[0] = 106
    assert faults.quote_mode() is None


def test_connection_faults_need_a_running_server() -> None:
    with pytest.raises(RuntimeError, match="start the simulator first"):
        Faults().drop()


def test_option_premium_moves_cash_and_closing_realizes_net_of_commission() -> None:
    acct = Account.with_book("DU1", 100_000.0, [BookEntry(PUT_SHORT, -10, 1020.0)])
    realized = acct.apply_fill(PUT_SHORT, 4, 8.0, commission=2.6)  # buy back 4 of the 10 short puts at 8.00
    assert realized == pytest.approx((1020.0 - 800.0) * 4 - 2.6)
    assert acct.cash == pytest.approx(100_000 - 4 * 800 - 2.6)
    assert acct.positions[PUT_SHORT.con_id].quantity == -6 and acct.positions[PUT_SHORT.con_id].avg_cost == 1020.0
    values = acct.values({PUT_SHORT.con_id: 9.0})
    assert values["NetLiquidation"] == pytest.approx(acct.cash - 6 * 900)
    assert values["UnrealizedPnL"] == pytest.approx(6 * (1020 - 900))


def test_futures_move_no_cash_until_closed_and_flip_resets_cost() -> None:
    acct = Account("DU1", 50_000.0)
    assert acct.apply_fill(VX, 2, 17.0, commission=4.5) is None
    assert acct.cash == pytest.approx(50_000 - 4.5)
    assert acct.values({VX.con_id: 18.0})["NetLiquidation"] == pytest.approx(acct.cash + 2 * 1000)
    realized = acct.apply_fill(VX, -3, 19.0, commission=6.75)  # close 2 (+4000) and go short 1 at 19
    assert realized == pytest.approx(2 * 2000 - 6.75)
    pos = acct.positions[VX.con_id]
    assert pos.quantity == -1 and pos.avg_cost == 19_000.0
    assert acct.cash == pytest.approx(50_000 - 4.5 + 4000 - 6.75)


def test_expired_position_is_cash_settled_at_its_settlement_value() -> None:
    acct = Account.with_book("DU1", 0.0, [BookEntry(PUT_SHORT, -10, 1020.0)])
    settlement = acct.settle(PUT_SHORT, 3.5)  # the put finished 3.50 in the money: the short pays 10 x 350
    assert settlement is not None and settlement.realized_pnl == pytest.approx(10 * (1020 - 350))
    assert acct.cash == pytest.approx(-3500.0) and acct.positions[PUT_SHORT.con_id].quantity == 0
    assert acct.settle(PUT_SHORT, 3.5) is None


def test_commissions_and_marks() -> None:
    assert commission_for(VX, 3) == pytest.approx(6.75)
    assert commission_for(PUT_SHORT, 1) == 1.0  # minimum per order
    assert mark_price(Quote(10, 10.4, 10.1, 9)) == pytest.approx(10.2)
    assert mark_price(Quote(math.nan, math.nan, 15.5, 15)) == 15.5
    assert mark_price(Quote(11, 10, math.nan, 9)) == 9  # crossed book: fall back to the close
    assert mark_price(None) is None


QUOTE = Quote(bid=17.0, ask=17.05, last=17.0, close=16.9, bid_size=20, ask_size=25)


def test_limit_matching_prices_and_sizes() -> None:
    liq = Liquidity(replenish_s=1.0)
    assert decide_fill("BUY", "LMT", 17.0, 5, QUOTE, 1, T0, liq) is None  # below the ask: rests
    fill = decide_fill("BUY", "LMT", 17.5, 40, QUOTE, 1, T0, liq)
    assert fill is not None and (fill.price, fill.quantity) == (17.05, 25)  # price improvement, size capped
    assert decide_fill("BUY", "LMT", 17.5, 15, QUOTE, 1, T0, liq) is None  # displayed size used up
    later = T0 + dt.timedelta(seconds=1)
    assert decide_fill("BUY", "MKT", None, 15, QUOTE, 1, later, liq) is not None  # replenished
    sell = decide_fill("SELL", "LMT", 16.9, 3, QUOTE, 1, T0, liq)
    assert sell is not None and sell.price == 17.0


@pytest.mark.parametrize(
    "bad",
    [
        Quote(math.nan, math.nan, 17, 17, 10, 10),
        Quote(17.1, 17.0, 17, 17, 10, 10),  # crossed
        Quote(17.0, 0.0, 17, 17, 10, 10),
        Quote(17.0, 17.05, 17, 17, 10, 0),  # no displayed size
    ],
)
def test_no_fill_on_broken_quotes(bad: Quote) -> None:
    assert decide_fill("BUY", "MKT", None, 1, bad, 1, T0, Liquidity()) is None


@pytest.mark.parametrize(
    "spec",
    ["reject-next=2", "partial=3", "partial", "quotes=crossed:5s", "withhold=execDetailsEnd:1m", "delay=positionEnd:2s",
     "clientid-in-use", "pacing=4"],
)  # fmt: skip
def test_every_non_connection_action_applies_from_its_spec(spec: str) -> None:
    faults = Faults()
    faults.apply(parse_fault_spec(spec))
    assert faults.fired == [parse_fault_spec(spec).action]


def test_market_rule_tiers_are_located_to_the_cent_and_ids_are_stable() -> None:
    def rule(inst, price: float) -> float:
        return 0.01 if price < 7.37 else (0.05 if price < 250 else 0.25)

    tiers = tiers_of(VX, rule)
    assert tiers == ((0.0, 0.01), (7.37, 0.05), (250.0, 0.25))
    rules = MarketRules(rule)
    rid = rules.id_for(VX)
    assert rid == rule_id(tiers) and 1000 <= rid <= 9999 and rules.tiers(rid) == tiers
    assert rules.id_for(PUT_SHORT) == rid  # same tiers under this rule, same id
    assert MarketRules().id_for(VX) != rid  # the real tick rule gives VX futures other tiers, so another id

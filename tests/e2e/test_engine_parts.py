"""The engine's small parts, without a gateway: quote sanitising, state restore, P&L, history, sim timings."""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import stat

import pytest

from bot.broker.types import ContractSpec, OptionGreeksTick, QuoteTick
from bot.config import AppConfig
from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, PriceGuidance, Side
from bot.domain.layers import LayerBook, LayerId, LayerPhase, LayerState
from bot.domain.state import StrategyState
from bot.engine.engine import Engine
from bot.engine.history import DailyHistory, session_close
from bot.engine.marketdata import MarketData, greeks_of, sanitise
from bot.engine.pnl import HedgeLedger
from bot.engine.simhost import accelerated
from bot.engine.snapshot import hedge_instrument
from bot.engine.state_codec import StateRestoreError, restore_state, state_from_dict
from bot.engine.status import read_status, write_status
from bot.engine.timeline import Timeline
from bot.engine.trades import groups_of, trade_key
from bot.journal import Journal, fingerprint
from bot.signals.inputs import SignalMemory

from .helpers import check_no_duplicates

T = dt.datetime(2025, 2, 3, 15, 0, tzinfo=dt.UTC)


def tick(bid, ask, last=None, frozen=False) -> QuoteTick:
    return QuoteTick(1, bid, ask, last, None, T, frozen=frozen)


def test_touch_leaves_a_closed_markets_quote_to_age() -> None:
    """Overnight only VX ticks: the VIX option's quote is the last session's and must not look current at the open."""
    md = MarketData()
    fut, opt = ContractSpec(1, "VIX", "FUT", "CFE"), ContractSpec(2, "VIX", "OPT", "SMART", right="C", strike=26.0)
    md.track(fut)
    md.track(opt)
    md.on_quote(QuoteTick(1, 23.4, 23.45, None, None, T), T)
    md.on_quote(QuoteTick(2, 2.6, 2.78, None, None, T), T)
    later = T + dt.timedelta(hours=17)
    md.touch(later, lambda spec: spec.sec_type == "FUT")
    assert md.quote(1).at == later and md.quote(2).at == T
    assert not md.quote(2).is_fresh(later, 7200.0)
    md.touch(later)  # without a market-hours answer every line is current, as before
    assert md.quote(2).at == later


def test_sanitise_keeps_good_quotes_and_drops_crossed_or_frozen_ones() -> None:
    q = sanitise(tick(20.0, 20.1, 20.05), T)
    assert (q.bid, q.ask, q.last, q.at) == (20.0, 20.1, 20.05, T)
    crossed = sanitise(tick(20.2, 20.1, 20.15), T)
    assert math.isnan(crossed.bid) and math.isnan(crossed.ask) and crossed.mid is None and crossed.last == 20.15
    assert sanitise(tick(20.0, 20.1, frozen=True), T).value() is None
    assert sanitise(tick(None, None, None), T).value() is None


def test_greeks_with_any_missing_value_are_dropped() -> None:
    good = OptionGreeksTick(1, 0.2, -0.3, 0.001, 5.0, -1.0, 10.0, 5500.0, T)
    assert greeks_of(good, T) is not None
    assert greeks_of(OptionGreeksTick(1, 0.2, math.nan, 0.001, 5.0, -1.0, 10.0, 5500.0, T), T) is None
    assert greeks_of(OptionGreeksTick(1, None, -0.3, 0.001, 5.0, -1.0, 10.0, 5500.0, T), T) is None


def test_strategy_state_survives_the_journal_round_trip() -> None:
    layers = LayerBook(
        (
            LayerState(LayerId.NEAR_TERM, LayerPhase.ACTIVE, T, None, 0.75, 0.0, 2, near_kind="VXM"),
            LayerState(LayerId.MID_CURVE, LayerPhase.HARVESTING, T, T + dt.timedelta(days=1), 0.5, 0.25, 1),
            LayerState(LayerId.TAIL),
        )
    )
    state = StrategyState(layers, SignalMemory(vix_rsi_on=True), 1200.0, -300.0, 0.4, ("a", "b"))
    restored = restore_state({"state": state.to_dict()})
    assert restored == state
    assert restore_state(None) == StrategyState()
    with pytest.raises(StateRestoreError, match="Fix"):
        state_from_dict({"layers": [{"layer": 7, "phase": "active"}]})
    with pytest.raises(StateRestoreError):
        restore_state({"at": "2025-01-01"})


def test_hedge_ledger_average_cost_realized_and_harvested() -> None:
    ledger = HedgeLedger()
    assert ledger.add_fill("e1", "VXM:2025-02-19", "BUY", 2, 20.0, 1.0)
    assert ledger.add_fill("e2", "VXM:2025-02-19", "BUY", 2, 22.0, 1.0)
    assert not ledger.add_fill("e2", "VXM:2025-02-19", "BUY", 2, 22.0, 1.0)  # a repeated execution counts once
    assert ledger.add_fill("e3", "VXM:2025-02-19", "SELL", 3, 25.0, 1.0)
    assert ledger.realized_usd == pytest.approx((25.0 - 21.0) * 3 * 100)
    assert ledger.unrealized_usd({"VXM:2025-02-19": 24.0}) == pytest.approx((24.0 - 21.0) * 1 * 100)
    assert ledger.unrealized_usd({}) is None
    assert ledger.add_fill("e4", "VIX_OPTION:2025-03-18:C:26", "SELL", 2, 2.5, None)
    assert ledger.harvested_usd == pytest.approx(2 * 2.5 * 100)
    assert ledger.commissions_usd == pytest.approx(3.0)


def test_daily_history_appends_the_last_value_before_each_close() -> None:
    day = dt.date(2025, 2, 3)
    close = session_close(day)
    assert close is not None
    h = DailyHistory()
    h.load("vix", {dt.date(2025, 1, 31): 18.0})
    h.observe("vix", 20.0, close - dt.timedelta(hours=1))
    h.observe("vix", 21.0, close - dt.timedelta(minutes=1))
    assert h.roll(close) == []  # the session has not ended yet
    h.observe("vix", 99.0, close + dt.timedelta(hours=2))  # after the close: tomorrow's session, not today's close
    assert h.roll(close + dt.timedelta(hours=1)) == [day]
    assert h.closes["vix"][day] == 21.0
    assert list(h.history().vix.dates) == [dt.date(2025, 1, 31), day]


def test_accelerated_settings_widen_freshness_and_shrink_wall_timings() -> None:
    config, notes = accelerated(AppConfig(), speed=20_000, push_interval_s=0.02)
    assert config.risk.max_quote_age_s == pytest.approx(1200.0)  # 3 pushes of 400 market seconds
    assert config.signals.quote_max_age_seconds == pytest.approx(1200.0)
    assert config.execution.step_interval_s == pytest.approx(0.06)  # 20 s / 20,000 is below the loopback floor
    assert config.execution.cancel_timeout_s == AppConfig().execution.cancel_timeout_s  # never shortened
    assert any("risk.max_quote_age_s 30 -> 1200" in n for n in notes)
    slow, slow_notes = accelerated(AppConfig(), speed=1.0, push_interval_s=0.02)
    assert slow == AppConfig() and slow_notes == []


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        (ContractSpec(1, "VXM", "FUT", "CFE", expiry="20250219", trading_class="VXM"), "VXM:2025-02-19"),
        (ContractSpec(2, "VIX", "FUT", "CFE", expiry="20250219", trading_class="VX"), "VX:2025-02-19"),
        (ContractSpec(3, "VIXY", "STK", "SMART"), "VIXY"),
        (
            ContractSpec(4, "VIX", "OPT", "CBOE", expiry="20250219", strike=25.0, right="C"),
            "VIX_OPTION:2025-02-19:C:25",
        ),
        (ContractSpec(5, "SPX", "OPT", "CBOE", expiry="20250221", strike=5500.0, right="P"), None),
    ],
)
def test_positions_map_to_hedge_instruments(spec: ContractSpec, key: str | None) -> None:
    inst = hedge_instrument(spec)
    assert (inst.key if inst else None) == key
    if inst is not None and key and key.startswith("VXM"):
        assert inst.kind is HedgeKind.VXM


def test_status_file_is_private_and_replaced_whole(tmp_path) -> None:
    path = tmp_path / "j.sqlite.status.json"
    write_status(path, {"mode": "paper", "pnl": {"net": math.nan}})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_status(path) == {"version": 1, "mode": "paper", "pnl": {"net": None}}
    write_status(path, {"mode": "approval"})
    assert read_status(path)["mode"] == "approval"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def _status(ref: str, order_id: int, status: str, filled: float) -> dict:
    return {"event": "status", "orderRef": ref, "orderId": order_id, "status": status, "filled": filled}


def test_the_duplicate_check_catches_overlapping_orders_and_overfills() -> None:
    ok = [_status("a", 1, "Submitted", 0), _status("a", 1, "Cancelled", 1), _status("a", 2, "Submitted", 0),
          _status("a", 2, "Filled", 2)]  # fmt: skip
    check_no_duplicates(ok, {"a": 3})
    with pytest.raises(AssertionError, match="working at once"):
        check_no_duplicates([_status("a", 1, "Submitted", 0), _status("a", 2, "Submitted", 0)], {"a": 3})
    with pytest.raises(AssertionError, match=re.escape("filled 3.0 > intent quantity 2")):
        check_no_duplicates(ok, {"a": 2})
    with pytest.raises(AssertionError, match="no such intent"):
        check_no_duplicates(ok, {})


def _intent(ident: str, layer: LayerId = LayerId.NEAR_TERM, side: Side = Side.BUY, group: str | None = None) -> Intent:
    inst = HedgeInstrument(HedgeKind.VXM, dt.date(2025, 2, 19))
    return Intent(ident, layer, inst, side, 2, PriceGuidance(20.0, 20.3), "test", (), group, True)


def test_a_trade_whose_attempt_ended_unfilled_is_retried_under_a_new_name(tmp_path) -> None:
    d = tmp_path / "j"
    d.mkdir(mode=0o700)
    engine = Engine(AppConfig(), mode="paper", timeline=Timeline(io.StringIO()))
    engine.journal = Journal.open(d / "alvh.sqlite")
    try:
        plan = _intent("alvh-L1e1-open-abc")
        assert [i.id for i in engine._attempts([plan])] == ["alvh-L1e1-open-abc"]  # never tried: as planned
        engine.journal.record_intent(plan, mode="paper", needs_approval=False)
        assert [i.id for i in engine._attempts([plan])] == ["alvh-L1e1-open-abc"]  # planned, not finished
        engine.journal.withdraw(plan.id, "test")
        retry = engine._attempts([plan])
        assert [i.id for i in retry] == ["alvh-L1e1-open-abc.r1"] and retry[0].quantity == plan.quantity
        engine.journal.record_intent(retry[0], mode="paper", needs_approval=False)
        engine.journal.begin_submit(retry[0].id, fingerprint(retry[0]))
        engine.journal.record_outcome(retry[0].id, "unfilled", filled=0, quantity=2, average_price=None,
                                      orders_sent=4, reason="ladder done")  # fmt: skip
        assert [i.id for i in engine._attempts([plan])] == ["alvh-L1e1-open-abc.r2"]
        engine.journal.record_intent(_intent("alvh-L1e1-open-abc.r2"), mode="paper", needs_approval=True,
                                     pending_expiry_s=60, approved_ttl_s=60)  # fmt: skip
        engine.journal.reject("alvh-L1e1-open-abc.r2", by="person")
        assert engine._attempts([plan]) == []  # a person's rejection is not retried under yet another name
    finally:
        engine.journal.close()


def test_intents_are_grouped_and_keyed_by_what_a_person_approves() -> None:
    close = _intent("c", group="roll-1", side=Side.SELL)
    opening = _intent("o", group="roll-1")
    alone = _intent("a")
    assert groups_of([close, alone, opening]) == [[close, opening], [alone]]
    assert trade_key(_intent("x")) == trade_key(_intent("y"))  # quantity and id do not change the question
    assert trade_key(_intent("x")) != trade_key(_intent("x", side=Side.SELL))
    assert trade_key(_intent("x")) != trade_key(_intent("x", layer=LayerId.MID_CURVE))


def test_the_engine_ages_vix_option_quotes_outside_their_session() -> None:
    """Overnight VX ticks on, but an unchanged VIX option quote is yesterday's: it is left to age."""
    engine = Engine(AppConfig(), mode="paper", timeline=Timeline(io.StringIO()))
    night = dt.datetime(2025, 2, 4, 8, 0, tzinfo=dt.UTC)  # 03:00 New York
    day = dt.datetime(2025, 2, 4, 20, 0, tzinfo=dt.UTC)  # 15:00 New York
    fut = ContractSpec(1, "VIX", "FUT", "CFE", expiry="20250219", trading_class="VX")
    opt = ContractSpec(2, "VIX", "OPT", "CBOE", expiry="20250219", strike=25.0, right="C")
    index = ContractSpec(3, "VIX", "IND", "CBOE")
    assert engine._quoted_at(index, night) and engine._quoted_at(fut, night)
    assert not engine._quoted_at(opt, night) and engine._quoted_at(opt, day)

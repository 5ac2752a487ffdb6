"""The engine checks call cover against what may still trade: working executions and intents accepted together.

Found by the e2e spike run once layer 2's call sales filled: a VXM sale and a call sale, each covered alone, went
out together and left calls naked.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.account_guard import AccountDecision
from bot.config import AppConfig
from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, PriceGuidance, Side
from bot.domain.layers import LayerId
from bot.domain.market import HedgePosition, MarketSnapshot, Quote, VixOptionQuote, VxCurve, VxPoint
from bot.engine.engine import Engine
from bot.engine.timeline import Timeline
from bot.journal import Journal, fingerprint
from bot.risk import TradingState

NOW = dt.datetime(2025, 2, 4, 16, 0, tzinfo=dt.UTC)  # a Tuesday, 11:00 New York: CFE and Cboe options open
EXPIRY = dt.date(2025, 3, 18)
VXM = HedgeInstrument(HedgeKind.VXM, EXPIRY)
CALL = HedgeInstrument(HedgeKind.VIX_OPTION, EXPIRY, 23.0, "C")


def _intent(ident: str, inst: HedgeInstrument, side: Side, quantity: int, price: float) -> Intent:
    return Intent(ident, LayerId.MID_CURVE, inst, side, quantity, PriceGuidance(price, price), "test", (), None, False)


def _snapshot(vxm: int, calls: int) -> MarketSnapshot:
    q = Quote(20.0, 20.05, 20.02, NOW)
    return MarketSnapshot(
        NOW,
        curve=VxCurve((VxPoint(EXPIRY, q),)),
        vix_options=(VixOptionQuote(CALL, Quote(1.95, 2.05, 2.0, NOW)),),
        hedges=(HedgePosition(VXM, vxm), HedgePosition(CALL, calls)),
        net_liquidation=1_000_000.0,
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A paper engine with its own journal (closed after the test), trading hours not required."""
    d = tmp_path / "j"
    d.mkdir(mode=0o700)
    config = AppConfig()
    config = config.model_copy(update={"risk": config.risk.model_copy(update={"require_trading_hours": False})})
    engine = Engine(config, mode="paper", timeline=Timeline(io.StringIO()))
    engine.journal = Journal.open(d / "alvh.sqlite")
    engine.account = AccountDecision(True, "paper", "DU1234567", True, "paper account")
    yield engine
    engine.journal.close()


def _working(engine: Engine, quantity: int) -> Intent:
    """A VXM sale of `quantity` that is journaled as submitted and worked by a ladder (in flight)."""
    working = _intent("alvh-L1e1-unwind-vxm", VXM, Side.SELL, quantity, 20.0)
    engine.journal.record_intent(working, mode="paper", needs_approval=False)
    engine.journal.begin_submit(working.id, fingerprint(working))
    engine._inflight.add(working.id)
    return working


def _uncovered(engine: Engine) -> list[str]:
    return [e["message"] for e in engine.journal.events() if e["code"] and "uncovered_short_call" in e["code"]]


def test_a_call_sale_and_a_cover_sale_accepted_together_cannot_uncover_calls(engine: Engine) -> None:
    sell_vxm = _intent("alvh-L2e1-harvest-vxm", VXM, Side.SELL, 2, 20.0)
    sell_calls = _intent("alvh-L2e1-open-c23", CALL, Side.SELL, 2, 2.0)
    snapshot = _snapshot(vxm=5, calls=-3)  # 3 short, 5 cover: each alone leaves them covered
    assert engine._accepted([sell_vxm], snapshot, NOW, TradingState.ACTIVE) == [sell_vxm]
    assert engine._accepted([sell_calls], snapshot, NOW, TradingState.ACTIVE) == [sell_calls]
    together = engine._accepted([sell_vxm, sell_calls], snapshot, NOW, TradingState.ACTIVE)
    assert together == [sell_vxm]
    assert _uncovered(engine)


def test_a_working_cover_sale_holds_back_a_call_sale_until_it_is_done(engine: Engine) -> None:
    working = _working(engine, 2)
    assert engine._in_flight_trades() == {VXM.key: -2}
    sell_calls = _intent("alvh-L2e1-open-c23", CALL, Side.SELL, 2, 2.0)
    assert engine._accepted([sell_calls], _snapshot(vxm=5, calls=-3), NOW, TradingState.ACTIVE) == []
    engine._inflight.discard(working.id)  # its ladder ended unfilled: the sale may go
    assert engine._accepted([sell_calls], _snapshot(vxm=5, calls=-3), NOW, TradingState.ACTIVE) == [sell_calls]


def test_a_partly_filled_working_intent_counts_only_its_remainder(engine: Engine) -> None:
    working = _working(engine, 4)
    rec = engine.journal.get_intent(working.id)
    engine.journal.get_intent = lambda _id: dataclasses.replace(rec, filled_qty=3.0)  # type: ignore[method-assign]
    assert engine._in_flight_trades() == {VXM.key: -1}

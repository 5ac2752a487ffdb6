"""What the engine does between a decision and its first order: nothing that can wait.

A cycle that plans two trades sends the first before it checks and journals the second, and the exchange-calendar
read behind every trading-hours check is made once per kind and minute, not once per question.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from types import SimpleNamespace

from bot.config import AppConfig
from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, PriceGuidance, Side
from bot.domain.layers import LayerId
from bot.engine import hours
from bot.engine.engine import Engine
from bot.engine.hours import TradingHours
from bot.engine.timeline import Timeline
from bot.execution import ExecutionOutcome, OutcomeKind
from bot.journal import IntentStatus, Journal
from bot.risk import TradingState

T = dt.datetime(2025, 1, 28, 20, 3, tzinfo=dt.UTC)


def _intent(id_: str, expiry: dt.date) -> Intent:
    inst = HedgeInstrument(HedgeKind.VX, expiry)
    return Intent(id_, LayerId.NEAR_TERM, inst, Side.BUY, 1, PriceGuidance(17.0, 17.2), "test")


class RecordingExecutor:
    """Notes, as each execution starts, what the journal says about the other intent of the cycle."""

    def __init__(self, journal: Journal, other: str) -> None:
        self.journal, self.other = journal, other
        self.seen: list[tuple[str, IntentStatus | None]] = []

    async def execute(self, intent: Intent) -> ExecutionOutcome:
        rec = self.journal.get_intent(self.other)
        self.seen.append((intent.id, rec.status if rec else None))
        return ExecutionOutcome(intent.id, OutcomeKind.FILLED, 1.0, 1.0, 17.1, 1, "test")


def test_the_first_trade_of_a_cycle_starts_before_the_second_is_checked_and_journaled(tmp_path) -> None:
    first, second = _intent("alvh-a", dt.date(2025, 2, 19)), _intent("alvh-b", dt.date(2025, 3, 18))
    d = tmp_path / "j"
    d.mkdir(mode=0o700)

    async def go() -> RecordingExecutor:
        engine = Engine(AppConfig(), mode="paper", timeline=Timeline(io.StringIO()))
        engine.journal = Journal.open(d / "alvh.sqlite")
        try:
            engine.broker = SimpleNamespace(is_ready=True)  # type: ignore[assignment]
            executor = RecordingExecutor(engine.journal, second.id)
            engine.executor = executor  # type: ignore[assignment]
            engine._accepted = lambda group, *args: list(group)  # type: ignore[method-assign]
            cycle_id = engine.journal.start_cycle("paper", "test", T)
            snapshot = SimpleNamespace(hedges=())
            await engine._trading_mode([first, second], snapshot, cycle_id, T, TradingState.ACTIVE)  # type: ignore[arg-type]
            await asyncio.gather(*engine._tasks)
            assert engine.journal.get_intent(second.id).status is IntentStatus.SUBMITTING
        finally:
            engine.journal.close()
        return executor

    executor = asyncio.run(go())
    assert executor.seen == [(first.id, None), (second.id, IntentStatus.SUBMITTING)]


def test_trading_hours_read_the_calendar_once_per_kind_and_minute(monkeypatch) -> None:
    calls: list[tuple[HedgeKind, dt.datetime]] = []

    def counting(kind: HedgeKind, at: dt.datetime) -> tuple[bool, str]:
        calls.append((kind, at))
        return at.minute % 2 == 0, f"minute {at.minute}"

    monkeypatch.setattr(hours, "market_open", counting)
    th = TradingHours()
    answers = [th.market_open(HedgeKind.VX, T + dt.timedelta(seconds=s)) for s in (0, 15, 59)]
    assert answers == [(False, "minute 3")] * 3 and len(calls) == 1
    th.market_open(HedgeKind.VIXY, T)
    assert th.market_open(HedgeKind.VX, T + dt.timedelta(minutes=1)) == (True, "minute 4")
    assert [k for k, _ in calls] == [HedgeKind.VX, HedgeKind.VIXY, HedgeKind.VX]

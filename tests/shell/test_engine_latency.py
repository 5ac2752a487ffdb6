"""What the engine does between a decision and its first order: nothing that can wait.

A cycle that plans two trades sends the first before it checks and journals the second, and the exchange-calendar
read behind every trading-hours check is made once per kind and minute, not once per question.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import threading
from types import SimpleNamespace

from bot.config import AppConfig
from bot.decision import DecisionRecord
from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, PriceGuidance, Side
from bot.domain.layers import LayerId
from bot.domain.state import StrategyState
from bot.engine import engine as engine_module
from bot.engine import hours
from bot.engine import reporting as reporting_module
from bot.engine.background_io import BackgroundIO
from bot.engine.engine import Engine
from bot.engine.hours import TradingHours
from bot.engine.state_codec import restore_state
from bot.engine.status import read_status, status_path
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


def test_the_status_file_and_the_journal_checkpoint_are_written_off_the_event_loop(tmp_path, monkeypatch) -> None:
    """The fsyncs of the status file and of a WAL checkpoint run on the worker thread, never on the loop that
    carries ticks to orders; the checkpoint is rate-limited and copies what the cycles wrote."""
    d = tmp_path / "j"
    d.mkdir(mode=0o700)
    seen: dict[str, list[object]] = {"status": [], "checkpoint": []}
    real_write, real_checkpoint = reporting_module.write_status_text, engine_module.checkpoint_wal

    def write(path, data):
        seen["status"].append(threading.current_thread())
        real_write(path, data)

    def checkpoint(path):
        frames, copied = real_checkpoint(path)
        seen["checkpoint"].append((threading.current_thread(), frames, copied))
        return frames, copied

    monkeypatch.setattr(reporting_module, "write_status_text", write)
    monkeypatch.setattr(engine_module, "checkpoint_wal", checkpoint)

    async def go() -> None:
        engine = Engine(AppConfig(), mode="paper", timeline=Timeline(io.StringIO()))
        engine.journal = Journal.open(d / "alvh.sqlite")
        engine._event_loop = asyncio.get_running_loop()
        engine._io = BackgroundIO(engine._background_failed)
        try:
            for i in range(20):
                engine.journal.record_cycle("paper", "test", T, {"i": i, "pad": "x" * 2000})
            snapshot = SimpleNamespace(hedges=(), now=T)
            engine._after_cycle(snapshot, None, {"regime": "calm"}, None, TradingState.ACTIVE)  # type: ignore[arg-type]
            engine._after_cycle(snapshot, None, {"regime": "calm"}, None, TradingState.ACTIVE)  # type: ignore[arg-type]
            assert engine._io.close()
        finally:
            engine.journal.close()

    asyncio.run(go())
    loop_thread = threading.main_thread()
    assert seen["status"] and all(t is not loop_thread for t in seen["status"])
    assert len(seen["checkpoint"]) == 1  # the second cycle came within CHECKPOINT_EVERY_S
    thread, frames, copied = seen["checkpoint"][0]  # type: ignore[misc]
    assert thread is not loop_thread and frames > 0 and copied == frames
    assert read_status(status_path(d / "alvh.sqlite"))["regime"] == "calm"


class _SendingDecision:
    """A decision that plans one trade: just what Engine._run_cycle reads of it."""

    def __init__(self, intent: Intent) -> None:
        self.intents = (intent,)
        self.state = StrategyState()
        self.record = _Record(self.state)
        self.alerts = ()


class _Record:
    provisional_dict = DecisionRecord.provisional_dict  # the real method, on this record's fields

    def __init__(self, state: StrategyState) -> None:
        self.at, self.state_after, self.transitions = T, state, ()

    def to_dict(self) -> dict[str, object]:
        return {"at": T.isoformat(), "votes": [0.9], "state": self.state_after.to_dict()}


class DecisionWatchingExecutor:
    """Notes the journal's last decision record as its execution starts."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.seen: list[dict | None] = []

    async def execute(self, intent: Intent) -> ExecutionOutcome:
        self.seen.append(self.journal.last_decision())
        return ExecutionOutcome(intent.id, OutcomeKind.FILLED, 1.0, 1.0, 17.1, 1, "test")


def test_a_cycle_that_sends_journals_its_state_before_the_order_and_its_full_record_right_after(
    tmp_path, monkeypatch
) -> None:
    d = tmp_path / "j"
    d.mkdir(mode=0o700)
    decision = _SendingDecision(_intent("alvh-a", dt.date(2025, 2, 19)))
    monkeypatch.setattr(engine_module, "decide", lambda *args: decision)
    monkeypatch.setattr(engine_module, "build_snapshot", lambda *args: SimpleNamespace(hedges=(), now=T))

    async def go() -> tuple[DecisionWatchingExecutor, dict | None]:
        engine = Engine(
            AppConfig(), mode="paper", timeline=Timeline(io.StringIO()), clock=SimpleNamespace(now=lambda: T)
        )
        engine.journal = Journal.open(d / "alvh.sqlite")
        try:
            engine.broker = SimpleNamespace(is_ready=True)  # type: ignore[assignment]
            engine.executor = executor = DecisionWatchingExecutor(engine.journal)  # type: ignore[assignment]
            monkeypatch.setattr(engine, "_positions", lambda: [])
            for name in ("_net_liquidation", "_maybe_refresh_options", "_check_anomalies"):
                monkeypatch.setattr(engine, name, lambda *args: None)
            engine._accepted = lambda group, *args: list(group)  # type: ignore[method-assign]
            await engine._run_cycle("tick:vix")
            await asyncio.gather(*engine._tasks)
            await asyncio.sleep(0)  # the after-cycle callback
            return executor, engine.journal.last_decision()
        finally:
            engine.journal.close()

    executor, after = asyncio.run(go())
    (during,) = executor.seen
    assert during is not None and during["complete"] is False
    assert restore_state(during) == decision.state  # a restart at this point restores the new state
    assert after == decision.record.to_dict()

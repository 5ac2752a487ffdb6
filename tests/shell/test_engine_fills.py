"""Fills that arrive while the bot starts up: journaled once, counted once in the expected hedge positions.

Found by the SIGKILL series of the fault matrix: a restarted bot resumed a working ladder; its order filled during
warm-up. The streamed positions already showed the fill when the start-up baseline was taken, the queued execution
was booked again on top (expected 10, broker 5: a false position-mismatch halt), and it never reached the journal
because the intent was in flight and its ladder's watch had started after the execution arrived.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.broker.types import (
    ContractSpec,
    ExecutionRecord,
    OrderEvent,
    OrderEventKind,
    PositionRow,
    ReconciliationSnapshot,
)
from bot.config import AppConfig
from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, PriceGuidance, Side
from bot.domain.layers import LayerId
from bot.engine.engine import Engine
from bot.engine.timeline import Timeline
from bot.journal import Journal, fingerprint
from bot.journal.execution_adapter import JournalExecutionAdapter

T = dt.datetime(2025, 1, 30, 18, 52, tzinfo=dt.UTC)
CALL = ContractSpec(77, "VIX", "OPT", "CBOE", expiry="20250219", strike=38.0, right="C", multiplier=100.0)
KEY = "VIX_OPTION:2025-02-19:C:38"
INTENT_ID = "alvh-L3e1-open-067bd317709c"
EXEC_ID = "6b053a1a.00000001.01.01"


@dataclass
class MemoryBroker:
    """The two things the start-up baseline reads from the facade: streamed positions and the library's memory."""

    rows: list[PositionRow]
    executions: dict[str, list[ExecutionRecord]] = field(default_factory=dict)

    def positions(self) -> list[PositionRow]:
        return self.rows

    def order_evidence(self, order_ref: str) -> ReconciliationSnapshot:
        executions = tuple(self.executions.get(order_ref, ()))
        return ReconciliationSnapshot(T, 1, ("DU1234567",), (), (), (), executions)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A paper engine with its own journal (closed after the test) holding INTENT_ID, submitted and not yet filled."""
    d = tmp_path / "j"
    d.mkdir(mode=0o700)
    engine = Engine(AppConfig(), mode="paper", timeline=Timeline(io.StringIO()))
    engine.journal = Journal.open(d / "alvh.sqlite")
    engine.adapter = JournalExecutionAdapter(engine.journal, 17)
    intent = Intent(
        INTENT_ID, LayerId.TAIL, HedgeInstrument(HedgeKind.VIX_OPTION, dt.date(2025, 2, 19), 38.0, "C"), Side.BUY, 5,
        PriceGuidance(3.0, 3.2), "test", (), None, True,
    )  # fmt: skip
    engine.journal.record_intent(intent, mode="paper", needs_approval=False)
    engine.journal.begin_submit(intent.id, fingerprint(intent))
    yield engine
    engine.journal.close()


# INTENT_ID's one execution, as the library's memory or a reconnect snapshot reports it
EXECUTION = ExecutionRecord(EXEC_ID, 282, 1000006, INTENT_ID, CALL.con_id, "BOT", 5.0, 3.05, T, 3.25)


def _execution_event() -> OrderEvent:
    return OrderEvent(
        OrderEventKind.FILLED, 282, 1000006, INTENT_ID, CALL.con_id, 5.0, 0.0, 3.05, T,
        last_fill_price=3.05, exec_id=EXEC_ID, exec_shares=5.0, commission=3.25, action="BUY", total_quantity=5.0,
    )  # fmt: skip


def test_an_execution_of_an_in_flight_intent_is_journaled_even_if_its_ladder_never_saw_it(engine: Engine) -> None:
    engine._inflight.add(INTENT_ID)  # a ladder works the intent: it journals its own order statuses
    engine._on_order_event(_execution_event(), T)
    fills = engine.journal.fills_for(INTENT_ID)
    assert [(f["exec_id"], f["quantity"], f["commission"]) for f in fills] == [(EXEC_ID, 5.0, 3.25)]
    engine._on_order_event(_execution_event(), T)  # the ladder's own copy, or a replay: still one row
    assert len(engine.journal.fills_for(INTENT_ID)) == 1


def test_a_fill_already_in_the_start_up_positions_is_not_counted_again(engine: Engine) -> None:
    engine.broker = MemoryBroker([PositionRow("DU1234567", CALL, 5.0, 305.0)], {INTENT_ID: [EXECUTION]})
    engine._take_baseline()
    engine._on_order_event(_execution_event(), T)  # the queued execution, booked after the baseline
    assert engine._expected_positions() == {KEY: 5}
    assert engine.monitor.check_positions({KEY: 5}) is None
    assert [f["exec_id"] for f in engine.journal.fills_for(INTENT_ID)] == [EXEC_ID]


def test_a_fill_after_the_baseline_is_counted(engine: Engine) -> None:
    engine.broker = MemoryBroker([])  # the order had not filled when the baseline was taken
    engine._take_baseline()
    engine._on_order_event(_execution_event(), T)
    assert engine._expected_positions() == {KEY: 5}


def test_executions_in_a_reconnect_snapshot_reach_the_journal(engine: Engine) -> None:
    engine._inflight.add(INTENT_ID)
    engine._journal_execution(EXECUTION)
    engine._journal_execution(EXECUTION)
    fills = engine.journal.fills_for(INTENT_ID)
    assert [(f["exec_id"], f["side"], f["contract"]) for f in fills] == [(EXEC_ID, "BUY", KEY)]

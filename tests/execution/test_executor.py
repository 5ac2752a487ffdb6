"""The executor against an in-memory broker: ladder steps, partial fills, rejections, drops and restarts."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, PriceGuidance, Side
from bot.domain.layers import LayerId
from bot.execution import Executor, InMemoryJournal, OutcomeKind
from bot.execution.journal import ExecutionOutcome, OrderSendRecord
from bot.settings.execution import ExecutionSettings

from .fakes import SPEC, FakeBroker, FakeOrder

pytestmark = pytest.mark.timeout(10)

FAST = ExecutionSettings(
    ladder_steps=4,
    step_interval_s=0.05,
    cancel_timeout_s=0.3,
    quote_wait_s=0.2,
    reconnect_wait_s=1.0,
    execution_report_wait_s=0.2,
)
VX = HedgeInstrument(HedgeKind.VX, dt.date(2018, 3, 21))


def intent(id_: str = "L1-a", qty: int = 5, limit: float = 17.3, side: Side = Side.BUY, **kw) -> Intent:
    return Intent(id_, LayerId.NEAR_TERM, VX, side, qty, PriceGuidance(17.15, limit), "test", **kw)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 8))


def fill_at_or_above(price: float):
    return lambda order: order.quantity if order.price >= price - 1e-9 else 0.0


def test_fills_at_mid_with_one_order() -> None:
    async def go():
        broker = FakeBroker(fill_rule=lambda o: o.quantity)
        outcome = await Executor(broker, FAST, InMemoryJournal()).execute(intent())
        return broker, outcome

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.FILLED and outcome.filled == 5 and outcome.orders_sent == 1
    assert [o.price for o in broker.orders] == [17.15]
    assert outcome.average_price == 17.15
    assert outcome.commission == 2.25 * 5


def test_steps_toward_the_ask_one_order_at_a_time() -> None:
    async def go():
        broker = FakeBroker(fill_rule=fill_at_or_above(17.25))
        outcome = await Executor(broker, FAST, InMemoryJournal()).execute(intent())
        return broker, outcome

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.FILLED
    assert [o.price for o in broker.orders] == [17.15, 17.2, 17.25]
    assert [o.status for o in broker.orders] == ["Cancelled", "Cancelled", "Filled"]
    assert broker.max_live_per_ref == 1


def test_partial_fill_carries_only_the_remainder_to_the_next_step() -> None:
    async def go():
        broker = FakeBroker(fill_rule=lambda o: 2.0 if o.price < 17.2 else o.quantity)
        outcome = await Executor(broker, FAST, InMemoryJournal()).execute(intent())
        return broker, outcome

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.FILLED and outcome.filled == 5
    assert [(o.quantity, o.filled) for o in broker.orders] == [(5, 2), (3, 3)]
    assert sum(o.filled for o in broker.orders) == 5


def test_never_priced_past_the_limit_and_cancelled_at_the_end() -> None:
    async def go():
        broker = FakeBroker()
        outcome = await Executor(broker, FAST, InMemoryJournal()).execute(intent(limit=17.2))
        return broker, outcome

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.UNFILLED and outcome.orders_sent == 4
    assert max(o.price for o in broker.orders) == 17.2
    assert all(o.status == "Cancelled" for o in broker.orders)


def test_ladder_stops_before_a_step_the_gate_refuses() -> None:
    """The exchange closing (or a halt) mid-ladder stops it: no further step is sent, the filled part stands."""
    allowed = iter([None, "XCBF is closed"])

    async def go():
        broker = FakeBroker(fill_rule=lambda o: 2.0 if o.price < 17.2 else o.quantity)
        executor = Executor(broker, FAST, InMemoryJournal(), may_send=lambda _intent: next(allowed))
        return broker, await executor.execute(intent())

    broker, outcome = run(go())
    assert len(broker.orders) == 1  # the second step was refused before anything was sent
    assert outcome.kind is OutcomeKind.PARTIAL and outcome.filled == 2
    assert "XCBF is closed" in outcome.reason


def test_sell_ladder_walks_down_to_the_bid() -> None:
    async def go():
        broker = FakeBroker()
        await Executor(broker, FAST, InMemoryJournal()).execute(intent(side=Side.SELL, limit=1.0))
        return broker

    assert [o.price for o in run(go()).orders] == [17.15, 17.1, 17.05, 17.0]


def test_rejection_ends_the_intent_with_the_reason() -> None:
    async def go():
        broker = FakeBroker(reject_next="insufficient margin")
        outcome = await Executor(broker, FAST, InMemoryJournal()).execute(intent())
        return broker, outcome

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.REJECTED and outcome.error_code == 201
    assert "insufficient margin" in outcome.reason
    assert len(broker.orders) == 1


def test_journal_is_written_before_each_send() -> None:
    class CheckingJournal(InMemoryJournal):
        def __init__(self, broker: FakeBroker) -> None:
            super().__init__()
            self.broker = broker

        def record_order_sending(self, record: OrderSendRecord) -> None:
            assert all(o.order_id != record.order_id for o in self.broker.orders), "sent before journaled"
            super().record_order_sending(record)

    async def go():
        broker = FakeBroker(fill_rule=fill_at_or_above(17.25))
        journal = CheckingJournal(broker)
        await Executor(broker, FAST, journal).execute(intent())
        return broker, journal

    broker, journal = run(go())
    assert [r.order_id for r in journal.sends] == [o.order_id for o in broker.orders]
    assert [r.limit_price for r in journal.sends] == [17.15, 17.2, 17.25]


def test_drop_mid_ladder_fills_during_the_outage_then_only_the_rest_is_sent() -> None:
    async def go():
        broker = FakeBroker()
        executor = Executor(broker, FAST, InMemoryJournal())
        task = asyncio.create_task(executor.execute(intent()))
        await asyncio.sleep(0.02)  # step 0 is working
        first = broker.orders[0]
        broker.drop()
        broker.fill(first, 2)  # fills while the bot cannot hear it
        await asyncio.sleep(0.1)
        assert len(broker.orders) == 1, "sent while disconnected"
        broker.fill_rule = lambda o: o.quantity
        broker.restore()
        return broker, await task

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.FILLED and outcome.filled == 5
    assert [(o.quantity, o.status) for o in broker.orders] == [(5, "Cancelled"), (3, "Filled")]
    assert broker.max_live_per_ref == 1


def test_drop_that_never_recovers_reports_interrupted() -> None:
    async def go():
        broker = FakeBroker()
        settings = FAST.model_copy(update={"reconnect_wait_s": 0.2})
        task = asyncio.create_task(Executor(broker, settings, InMemoryJournal()).execute(intent()))
        await asyncio.sleep(0.02)
        broker.drop()
        return broker, await task

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.INTERRUPTED and len(broker.orders) == 1
    assert not outcome.kind.final


def test_restart_adopts_the_broker_view_cancels_the_leftover_and_sends_the_remainder() -> None:
    async def go():
        broker = FakeBroker()
        leftover = FakeOrder(50, 9050, "L1-a", Side.BUY, 5, 17.15, "Submitted", 0)
        broker.orders.append(leftover)
        broker.fill(leftover, 4)
        journal = InMemoryJournal()
        journal.record_order_sending(
            OrderSendRecord("L1-a", 50, 0, SPEC.con_id, "BUY", 5, 17.15, dt.datetime.now(dt.UTC))
        )
        broker.fill_rule = lambda o: o.quantity
        outcome = await Executor(broker, FAST, journal).execute(intent())
        return broker, outcome

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.FILLED and outcome.filled == 5
    assert (broker.orders[0].order_id, broker.orders[0].quantity, broker.orders[0].status) == (50, 5, "Cancelled")
    assert [o.quantity for o in broker.orders[1:]] == [1]


def test_journaled_send_without_broker_evidence_is_unresolved_and_sends_nothing() -> None:
    async def go():
        broker = FakeBroker(fill_rule=lambda o: o.quantity)
        journal = InMemoryJournal()
        journal.record_order_sending(
            OrderSendRecord("L1-a", 50, 0, SPEC.con_id, "BUY", 5, 17.15, dt.datetime.now(dt.UTC))
        )
        return broker, await Executor(broker, FAST, journal).execute(intent())

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.UNRESOLVED and broker.orders == []


def test_final_outcome_is_never_executed_again() -> None:
    async def go():
        broker = FakeBroker(fill_rule=lambda o: o.quantity)
        journal = InMemoryJournal()
        journal.record_outcome(ExecutionOutcome("L1-a", OutcomeKind.FILLED, 5, 5, 17.15, 1, "done"))
        return broker, await Executor(broker, FAST, journal).execute(intent())

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.FILLED and broker.orders == []


def test_unconfirmed_cancel_stops_the_ladder() -> None:
    async def go():
        broker = FakeBroker(ignore_cancels=True)
        return broker, await Executor(broker, FAST, InMemoryJournal()).execute(intent())

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.UNRESOLVED and len(broker.orders) == 1


def test_intent_without_a_limit_is_refused() -> None:
    async def go():
        broker = FakeBroker(fill_rule=lambda o: o.quantity)
        bare = Intent("L1-b", LayerId.NEAR_TERM, VX, Side.BUY, 1, None, "no price")
        return broker, await Executor(broker, FAST, InMemoryJournal()).execute(bare)

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.REFUSED and broker.orders == []


def test_no_quote_refuses_before_sending() -> None:
    async def go():
        broker = FakeBroker(bid=-1.0)
        broker.latest_quote = lambda con_id: None  # type: ignore[method-assign]
        return broker, await Executor(broker, FAST, InMemoryJournal()).execute(intent())

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.REFUSED and broker.orders == []


def test_a_remembered_contract_needs_no_round_trip_and_a_resolved_one_is_asked_for_once() -> None:
    async def go():
        broker = FakeBroker(fill_rule=lambda o: o.quantity)
        executor = Executor(broker, FAST, InMemoryJournal())
        executor.remember(VX, SPEC)
        await executor.execute(intent("L1-a"))
        remembered = broker.resolves
        other = HedgeInstrument(HedgeKind.VX, dt.date(2018, 4, 18))
        for id_ in ("L1-b", "L1-c"):
            await executor.execute(Intent(id_, LayerId.NEAR_TERM, other, Side.BUY, 1, PriceGuidance(17.15, 17.3), "t"))
        return remembered, broker.resolves

    assert run(go()) == (0, 1)


def test_a_ladder_waiting_for_a_quote_goes_on_when_told_one_arrived(monkeypatch) -> None:
    """No polling to wait out: with the fallback re-check pushed past the quote wait, only quote_arrived can wake it."""
    monkeypatch.setattr("bot.execution.executor.QUOTE_RECHECK_S", 60.0)
    patient = FAST.model_copy(update={"quote_wait_s": 5.0})

    async def go():
        broker = FakeBroker(bid=None, fill_rule=lambda o: o.quantity)  # type: ignore[arg-type]
        executor = Executor(broker, patient, InMemoryJournal())
        loop = asyncio.get_running_loop()

        def quote_in() -> None:
            broker.bid = 17.0
            executor.quote_arrived(SPEC.con_id)

        loop.call_later(0.05, quote_in)
        started = loop.time()
        outcome = await executor.execute(intent())
        return outcome, loop.time() - started

    outcome, took = run(go())
    assert outcome.kind is OutcomeKind.FILLED and took < 1.0


def test_roll_open_waits_for_the_close_and_is_skipped_if_it_does_not_fill() -> None:
    close = intent("roll-close", side=Side.SELL, limit=20.0, group="roll-1", opens_position=False)
    open_ = intent("roll-open", group="roll-1")

    async def go(fills: bool):
        broker = FakeBroker(fill_rule=(lambda o: o.quantity) if fills else (lambda o: 0.0))
        outcomes = await Executor(broker, FAST, InMemoryJournal()).execute_group([open_, close])
        return broker, outcomes

    broker, outcomes = run(go(fills=True))
    assert [o.ref for o in broker.orders] == ["roll-close", "roll-open"]
    assert [o.kind for o in outcomes] == [OutcomeKind.FILLED, OutcomeKind.FILLED]
    broker, outcomes = run(go(fills=False))
    assert {o.ref for o in broker.orders} == {"roll-close"}
    assert [o.kind for o in outcomes] == [OutcomeKind.UNFILLED, OutcomeKind.SKIPPED]


def test_journal_refusing_the_send_means_nothing_is_sent() -> None:
    class RefusingJournal(InMemoryJournal):
        def record_order_sending(self, record: OrderSendRecord) -> None:
            raise RuntimeError("intent L1-a is planned: only a submitted intent may send orders")

    async def go():
        broker = FakeBroker(fill_rule=lambda o: o.quantity)
        return broker, await Executor(broker, FAST, RefusingJournal()).execute(intent())

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.REFUSED and broker.orders == []
    assert "only a submitted intent" in outcome.reason


def test_execution_can_be_cancelled_even_while_evidence_arrives() -> None:
    """Shutdown cancels execute(); a cancellation racing with an incoming event must still end the task."""
    from bot.broker.types import OrderEventKind

    async def go():
        broker = FakeBroker()
        slow = FAST.model_copy(update={"step_interval_s": 30.0})
        task = asyncio.create_task(Executor(broker, slow, InMemoryJournal()).execute(intent()))
        while not broker.orders:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the executor now waits for evidence on its queue
        broker._emit(broker.orders[0], OrderEventKind.WORKING)  # an event and the cancel in the same loop turn
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=1.0)
        return done

    assert run(go()), "execute() ignored the cancellation"


@pytest.mark.parametrize(("policy", "status"), [("cancel", "Cancelled"), ("leave", "Submitted")])
def test_shutdown_policy(policy: str, status: str) -> None:
    async def go():
        broker = FakeBroker()
        settings = FAST.model_copy(update={"step_interval_s": 30.0, "shutdown_policy": policy})
        executor = Executor(broker, settings, InMemoryJournal())
        task = asyncio.create_task(executor.execute(intent()))
        while not broker.orders:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        cancelled = executor.shutdown()
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return broker, cancelled

    broker, cancelled = run(go())
    assert broker.orders[0].status == status
    assert cancelled == ([broker.orders[0].order_id] if policy == "cancel" else [])


def test_after_a_shutdown_cancel_the_ladder_ends_without_sending_its_next_step() -> None:
    """Shutdown with policy 'cancel' cancels the working order; the ladder must then end, not price its next step
    (that order would outlive the cancel the operator was promised)."""

    async def go():
        broker = FakeBroker()
        settings = FAST.model_copy(update={"step_interval_s": 30.0, "shutdown_policy": "cancel"})
        executor = Executor(broker, settings, InMemoryJournal())
        task = asyncio.create_task(executor.execute(intent()))
        while not broker.orders:
            await asyncio.sleep(0.01)
        cancelled = executor.shutdown()
        outcome = await asyncio.wait_for(task, 2.0)  # ends on the cancel confirmation, nobody cancels the task
        return broker, cancelled, outcome

    broker, cancelled, outcome = run(go())
    assert cancelled == [broker.orders[0].order_id]
    assert [o.status for o in broker.orders] == ["Cancelled"]
    assert outcome.orders_sent == 1 and outcome.filled == 0
    assert "shutting down" in outcome.reason


def test_facade_refusing_the_order_ends_the_intent_without_a_send() -> None:
    from bot.broker.errors import ContractNotFoundError

    async def go():
        broker = FakeBroker()

        def refuse(*args, **kwargs):
            raise ContractNotFoundError("resolve the contract (contract details) before ordering")

        broker.place_limit = refuse  # type: ignore[method-assign]
        return broker, await Executor(broker, FAST, InMemoryJournal()).execute(intent())

    broker, outcome = run(go())
    assert outcome.kind is OutcomeKind.REFUSED and outcome.orders_sent == 0 and broker.orders == []


def test_an_order_lost_with_the_socket_is_forgotten_after_a_complete_reread() -> None:
    async def go():
        broker = FakeBroker(fill_rule=lambda o: o.quantity)
        real_place = broker.place_limit
        calls = 0

        def lost_then_real(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == 1:
                broker.drop()  # the socket dies as the first order is written: the gateway never sees it
                asyncio.get_running_loop().call_later(0.05, broker.restore)
                return
            real_place(*args, **kwargs)

        broker.place_limit = lost_then_real  # type: ignore[method-assign]
        journal = InMemoryJournal()
        outcome = await Executor(broker, FAST, journal).execute(intent())
        return broker, journal, outcome

    broker, journal, outcome = run(go())
    assert outcome.kind is OutcomeKind.FILLED and len(broker.orders) == 1 and broker.refreshes == 1
    assert len(journal.sends) == 2  # both sends stay journaled; only one ever reached the gateway


def test_option_prices_follow_the_market_rule_tiers() -> None:
    async def go():
        broker = FakeBroker(bid=3.21, ask=3.36, increments=((0.0, 0.01), (3.0, 0.05)))
        await Executor(broker, FAST, InMemoryJournal()).execute(intent(limit=9.0))
        return [o.price for o in broker.orders]

    # mid 3.285 -> 3.25 on the 0.05 tier (not 3.28), then toward the ask 3.36
    assert run(go()) == [3.25, 3.3, 3.3, 3.35]

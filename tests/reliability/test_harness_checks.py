"""The fault matrix's own checks must be able to fail: a closed-market send is judged at the bot's send instant."""

from __future__ import annotations

import datetime as dt

from bot.engine.clock import AnchoredClock

from .harness import closed_sends

START = dt.datetime(2025, 1, 27, 14, 45, tzinfo=dt.UTC)
CLOSE = dt.datetime(2025, 1, 27, 21, 15, tzinfo=dt.UTC)
ANCHOR = 1_000_000.0
CLOCK = AnchoredClock(START, 20_000, ANCHOR)


class OpenUntilClose:
    def is_trading(self, con_id: int, t: dt.datetime) -> bool:
        return t < CLOSE


def _wall(market_time: dt.datetime) -> float:
    return ANCHOR + (market_time - START).total_seconds() / CLOCK.speed


def _place(received: dt.datetime, order_id: int = 7) -> dict:
    return {"event": "place", "orderId": order_id, "orderRef": "alvh-L1e1-open-x", "conId": 1, "localSymbol": "VXMG5",
            "sim_time": received.isoformat()}  # fmt: skip


def test_an_order_sent_before_the_close_and_received_after_it_is_not_a_closed_send() -> None:
    received = CLOSE + dt.timedelta(seconds=20)  # one millisecond of loopback at 20,000x
    sent = {("alvh-L1e1-open-x", 7): _wall(CLOSE - dt.timedelta(seconds=5))}
    assert closed_sends([_place(received)], OpenUntilClose(), CLOCK, sent) == []


def test_an_order_the_bot_sent_after_the_close_is_a_closed_send() -> None:
    sent = {("alvh-L1e1-open-x", 7): _wall(CLOSE + dt.timedelta(minutes=6))}
    problems = closed_sends([_place(CLOSE + dt.timedelta(minutes=6, seconds=20))], OpenUntilClose(), CLOCK, sent)
    assert len(problems) == 1 and "order 7" in problems[0] and "closed" in problems[0]


def test_without_the_journal_time_the_simulator_receipt_is_used() -> None:
    assert len(closed_sends([_place(CLOSE + dt.timedelta(seconds=1))], OpenUntilClose(), CLOCK)) == 1
    assert closed_sends([_place(CLOSE - dt.timedelta(seconds=1))], OpenUntilClose(), CLOCK) == []

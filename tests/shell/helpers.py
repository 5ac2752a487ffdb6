"""Helpers shared by the journal, approval, risk and account-guard tests."""

from __future__ import annotations

import datetime as dt

from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, PriceGuidance, Side
from bot.domain.layers import LayerId
from bot.domain.votes import SignalVote, Vote

T0 = dt.datetime(2026, 3, 4, 15, 0, tzinfo=dt.UTC)  # a Wednesday, 09:00 in Chicago: CFE open


class FakeClock:
    """A settable clock so that expiry is tested without sleeping."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def make_intent(
    intent_id: str = "L1-e1-VX-open",
    *,
    quantity: int = 2,
    side: Side = Side.BUY,
    kind: HedgeKind = HedgeKind.VX,
    reference: float = 17.0,
    limit: float = 17.2,
    opens: bool = True,
    reason: str = "layer 1 activate: h=0.52",
    strike: float | None = None,
) -> Intent:
    expiry = None if kind is HedgeKind.VIXY else dt.date(2026, 4, 15)
    return Intent(
        id=intent_id,
        layer=LayerId.NEAR_TERM,
        instrument=HedgeInstrument(
            kind,
            expiry,
            strike if kind is HedgeKind.VIX_OPTION else None,
            "C" if kind is HedgeKind.VIX_OPTION else None,
        ),
        side=side,
        quantity=quantity,
        price=PriceGuidance(reference=reference, limit=limit),
        reason=reason,
        votes=(SignalVote("vix_rsi", Vote.FOR, 63.2, 60.0, "RSI(14) 63.2 > 60"),),
        opens_position=opens,
    )

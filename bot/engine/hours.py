"""Trading hours, asked often: the exchange's answer for an instrument kind, remembered for the current minute.

`bot.risk.market_open` floors the instant to its minute and reads the exchange calendar (pandas, about 0.2 ms a
call). The engine asks before each cycle's checks and before each ladder step; within one minute the answer cannot
change, so one calendar read per kind and minute is enough.
"""

from __future__ import annotations

import datetime as dt

from bot.domain.intents import HedgeKind
from bot.risk import market_open


class TradingHours:
    """`market_open`, memoised for the minute last asked about (a new minute forgets the old answers)."""

    def __init__(self) -> None:
        self._minute: dt.datetime | None = None
        self._answers: dict[HedgeKind, tuple[bool, str]] = {}

    def market_open(self, kind: HedgeKind, at: dt.datetime) -> tuple[bool, str]:
        if at.tzinfo is None:
            return market_open(kind, at)  # the risk module explains the refusal; nothing to remember
        minute = at.astimezone(dt.UTC).replace(second=0, microsecond=0)
        if minute != self._minute:
            self._minute, self._answers = minute, {}
        answer = self._answers.get(kind)
        if answer is None:
            answer = self._answers[kind] = market_open(kind, at)
        return answer

"""Signal votes: every signal says FOR, AGAINST or ABSTAIN, with the value and threshold that explain it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Vote(StrEnum):
    FOR = "for"
    AGAINST = "against"
    ABSTAIN = "abstain"  # data missing or stale: never counted as FOR


@dataclass(frozen=True, slots=True)
class SignalVote:
    name: str  # "vix_rsi", "vix_level", "vix_level_tail", "term_structure", "ts_macd", ... "external:pe"
    vote: Vote
    value: float | None = None
    threshold: float | None = None
    detail: str = ""  # one human sentence: "RSI(14) 63.2 > 60 (on)", "no VIX3M quote for 900 s"

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "vote": self.vote.value,
            "value": self.value,
            "threshold": self.threshold,
            "detail": self.detail,
        }

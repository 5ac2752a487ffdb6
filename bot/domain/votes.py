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


_new = object.__new__
_SET_NAME, _SET_VOTE, _SET_VALUE, _SET_THRESHOLD, _SET_DETAIL = (
    SignalVote.__dict__[f].__set__
    for f in ("name", "vote", "value", "threshold", "detail")  # type: ignore[attr-defined]
)


def trusted_vote(name: str, vote: Vote, value: float | None, threshold: float | None, detail: str) -> SignalVote:
    """`SignalVote(name, vote, value, threshold, detail)` filled through the slots' own setters. The dataclass has
    no checks, so this is the same object; it skips the frozen `__init__`'s generic field setting, which cost a
    measurable share of the signal votes (eight or more per decision)."""
    v = _new(SignalVote)
    _SET_NAME(v, name)
    _SET_VOTE(v, vote)
    _SET_VALUE(v, value)
    _SET_THRESHOLD(v, threshold)
    _SET_DETAIL(v, detail)
    return v

"""M-of-N confirmation ("multi-sig"): a transition happens only when M named signals agree.

A rule lists signal names; `!name` counts that signal's AGAINST as a confirmation (e.g. `!vix_rsi` = the RSI latch is
off, `!term_structure` = the curve is in contango), which is how deactivation is confirmed. ABSTAIN never counts,
in either form. A signal that has no vote at all is treated like ABSTAIN. When fewer than M of the listed signals
have data, the rule is `insufficient`: it does not pass, and the caller raises `quorum_data_insufficient`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.domain.votes import SignalVote, Vote

NEGATION = "!"


def base_name(ref: str) -> str:
    """`!vix_rsi` -> `vix_rsi`."""
    return ref[1:] if ref.startswith(NEGATION) else ref


@dataclass(frozen=True, slots=True)
class QuorumRule:
    name: str
    signals: tuple[str, ...]
    m: int
    refs: tuple[tuple[str, Vote], ...] = field(init=False, repr=False, compare=False)  # (vote name, confirming vote)

    def __post_init__(self) -> None:
        object.__setattr__(self, "signals", tuple(self.signals))
        if not self.signals:
            raise ValueError(f"quorum rule {self.name!r} lists no signals")
        if not 1 <= self.m <= len(self.signals):
            raise ValueError(f"quorum rule {self.name!r}: m={self.m} must be between 1 and {len(self.signals)}")
        if len(set(self.signals)) != len(self.signals):
            raise ValueError(f"quorum rule {self.name!r} lists a signal twice")
        refs = tuple((base_name(r), Vote.AGAINST if r.startswith(NEGATION) else Vote.FOR) for r in self.signals)
        object.__setattr__(self, "refs", refs)

    @property
    def text(self) -> str:
        return f"{self.name}: {self.m} of {len(self.signals)} [{', '.join(self.signals)}]"


@dataclass(frozen=True, slots=True)
class QuorumResult:
    rule: QuorumRule
    for_count: int  # signals confirming (FOR, or AGAINST for a `!name`)
    with_data: int  # signals that voted FOR or AGAINST
    votes: tuple[SignalVote, ...]  # the votes the rule looked at (missing signals are absent)

    @property
    def n(self) -> int:
        return len(self.rule.signals)

    @property
    def insufficient(self) -> bool:
        return self.with_data < self.rule.m

    @property
    def passed(self) -> bool:
        return not self.insufficient and self.for_count >= self.rule.m

    @property
    def text(self) -> str:
        state = "insufficient data" if self.insufficient else ("passed" if self.passed else "not met")
        return f"{self.rule.text} -> {self.for_count} confirm, {self.with_data} with data: {state}"


def index_votes(votes: tuple[SignalVote, ...]) -> dict[str, SignalVote]:
    return {v.name: v for v in votes}


def evaluate_quorum(rule: QuorumRule, votes: Mapping[str, SignalVote]) -> QuorumResult:
    confirm = with_data = 0
    seen: list[SignalVote] = []
    for name, wanted in rule.refs:
        vote = votes.get(name)
        if vote is None:
            continue
        seen.append(vote)
        if vote.vote is Vote.ABSTAIN:
            continue
        with_data += 1
        if vote.vote is wanted:
            confirm += 1
    return QuorumResult(rule=rule, for_count=confirm, with_data=with_data, votes=tuple(seen))

"""M-of-N quorum: ABSTAIN never confirms, `!name` counts AGAINST, too little data is `insufficient`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.votes import SignalVote, Vote
from bot.signals.quorum import QuorumRule, evaluate_quorum, index_votes

NAMES = ("a", "b", "c", "d")


def votes(**kinds: str) -> dict[str, SignalVote]:
    return index_votes(tuple(SignalVote(name, Vote(kind)) for name, kind in kinds.items()))


def test_passes_with_m_for_votes():
    r = evaluate_quorum(QuorumRule("x", NAMES, 2), votes(a="for", b="for", c="against", d="abstain"))
    assert (r.for_count, r.with_data, r.n, r.passed, r.insufficient) == (2, 3, 4, True, False)
    assert r.text == "x: 2 of 4 [a, b, c, d] -> 2 confirm, 3 with data: passed"


def test_not_met_with_enough_data():
    r = evaluate_quorum(QuorumRule("x", NAMES, 2), votes(a="for", b="against", c="against", d="abstain"))
    assert not r.passed and not r.insufficient


def test_insufficient_when_fewer_than_m_have_data_even_if_all_of_them_are_for():
    r = evaluate_quorum(QuorumRule("x", NAMES, 3), votes(a="for", b="for", c="abstain"))  # d has no vote at all
    assert r.insufficient and not r.passed
    assert r.with_data == 2
    assert "insufficient data" in r.text


def test_negation_counts_against_and_never_abstain():
    rule = QuorumRule("calm", ("!a", "!b", "!c"), 2)
    assert evaluate_quorum(rule, votes(a="against", b="against", c="for")).passed
    r = evaluate_quorum(rule, votes(a="against", b="abstain", c="abstain"))
    assert r.insufficient and r.for_count == 1


@pytest.mark.parametrize(("signals", "m"), [((), 1), (("a",), 0), (("a",), 2), (("a", "a"), 1)])
def test_malformed_rules_are_refused(signals, m):
    with pytest.raises(ValueError):
        QuorumRule("bad", signals, m)


@given(
    st.lists(st.sampled_from([Vote.AGAINST, Vote.ABSTAIN]), min_size=4, max_size=4),
    st.integers(min_value=1, max_value=4),
)
def test_abstain_and_against_never_pass_a_for_rule(kinds, m):
    vs = index_votes(tuple(SignalVote(n, k) for n, k in zip(NAMES, kinds, strict=True)))
    assert not evaluate_quorum(QuorumRule("x", NAMES, m), vs).passed


@given(st.lists(st.sampled_from(list(Vote)), min_size=4, max_size=4), st.integers(min_value=1, max_value=4))
def test_counts_are_consistent(kinds, m):
    vs = index_votes(tuple(SignalVote(n, k) for n, k in zip(NAMES, kinds, strict=True)))
    r = evaluate_quorum(QuorumRule("x", NAMES, m), vs)
    assert r.for_count == kinds.count(Vote.FOR)
    assert r.with_data == 4 - kinds.count(Vote.ABSTAIN)
    assert r.passed == (r.with_data >= m and r.for_count >= m)

"""Account guard: every mode x account type x flag combination, as one table; plus masking."""

from __future__ import annotations

import itertools

import pytest

from bot.account_guard import AccountGuardError, check_account, mask_account, require_account

PAPER, LIVE, OTHER_LIVE = "DU1234567", "U7654321", "U1111111"
MODES = ("dry-run", "paper", "approval", "live")
ACCOUNTS = {"paper": [PAPER], "live": [LIVE], "none": [], "two": [PAPER, "DU7654321"]}
# live_account config: unset, the exact live id, a different live id
CONFIGS = {"unset": None, "exact": LIVE, "other": OTHER_LIVE}


def expected(mode: str, account: str, live_flag: bool, config: str) -> tuple[bool, bool]:
    """(allowed, may_send) by the rules written out independently of the implementation."""
    if mode == "dry-run":
        return True, False
    if mode == "paper" and live_flag:
        return False, False
    if account in ("none", "two"):
        return False, False
    if account == "paper":
        return (mode in ("paper", "approval"), mode in ("paper", "approval"))
    # a live account: paper mode never; live and approval need --live AND the exact id
    ok = mode in ("live", "approval") and live_flag and config == "exact"
    return ok, ok


CASES = list(itertools.product(MODES, ACCOUNTS, (False, True), CONFIGS))


@pytest.mark.parametrize(("mode", "account", "live_flag", "config"), CASES)
def test_guard_table(mode: str, account: str, live_flag: bool, config: str):
    decision = check_account(mode, ACCOUNTS[account], live_flag=live_flag, live_account=CONFIGS[config])
    assert (decision.allowed, decision.may_send) == expected(mode, account, live_flag, config), decision.message
    assert "Fix:" in decision.message or decision.allowed
    for full_id in (PAPER, LIVE, OTHER_LIVE):
        assert full_id not in decision.message, "refusal messages show masked account ids only"


def test_refusals_say_what_is_missing():
    msg = check_account("live", [LIVE], live_flag=False, live_account=None).message
    assert "--live on the command line" in msg and "bot.live_account" in msg
    msg = check_account("live", [LIVE], live_flag=True, live_account=None).message
    assert "--live on the command line" not in msg and "bot.live_account" in msg
    msg = check_account("paper", [LIVE], live_flag=False, live_account=None).message
    assert "not a paper account" in msg and "U***321" in msg


def test_multiple_accounts_need_an_explicit_choice():
    two = [PAPER, "DU7654321"]
    assert not check_account("paper", two, live_flag=False, live_account=None, allow_multiple_accounts=True).allowed
    chosen = check_account(
        "paper", two, live_flag=False, live_account=None, allow_multiple_accounts=True, trade_account="DU7654321"
    )
    assert chosen.allowed and chosen.account == "DU7654321"
    mixed = check_account(
        "paper", [PAPER, LIVE], live_flag=False, live_account=None, allow_multiple_accounts=True, trade_account=LIVE
    )
    assert not mixed.allowed  # choosing the live account of a mixed login is still a live account


def test_trade_account_must_match_a_single_login():
    decision = check_account("paper", [PAPER], live_flag=False, live_account=None, trade_account="DU0000001")
    assert not decision.allowed and "risk.trade_account" in decision.message


def test_malformed_ids_and_unknown_modes_are_refused():
    assert not check_account("paper", ["DU12;DROP"], live_flag=False, live_account=None).allowed
    assert not check_account("yolo", [PAPER], live_flag=False, live_account=None).allowed


def test_require_account_raises_with_the_message():
    with pytest.raises(AccountGuardError, match="not a paper account"):
        require_account("paper", [LIVE], live_flag=False, live_account=None)
    assert require_account("paper", [PAPER], live_flag=False, live_account=None).account == PAPER


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("DU1234567", "DU***567"), ("U7654321", "U***321"), ("DF123", "DF***"), (None, "(none)"), ("", "(none)")],
)
def test_mask_account(raw, masked):
    assert mask_account(raw) == masked

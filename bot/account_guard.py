"""Account guard: which account a mode may trade, decided before any order can be sent (pure, no I/O).

Why a separate module: the rule "paper never trades a live account, live never starts without both
acknowledgements" must hold for every entry point (engine start, reconnect, risk check), so it lives in one
place and is tested as a table of mode x account type x flags.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

PAPER_PREFIX = "DU"  # IB paper trading account ids start with DU
_ACCOUNT_RE = re.compile(r"^[A-Z]{1,3}[0-9]{3,12}$")
MODES = ("dry-run", "approval", "paper", "live")


class AccountKind(StrEnum):
    PAPER = "paper"
    LIVE = "live"


@dataclass(frozen=True, slots=True)
class AccountDecision:
    """Outcome of the guard. `account` is the id to trade; `may_send` is False in dry-run even when allowed."""

    allowed: bool
    mode: str
    account: str | None
    may_send: bool
    message: str


class AccountGuardError(Exception):
    """The guard refused: the message says why and how to fix it."""


def mask_account(account: str | None) -> str:
    """Account id for logs: 'DU1234567' -> 'DU***567'. Keeps the prefix (paper or live) and the last 3 digits."""
    if not account:
        return "(none)"
    account = account.strip()
    prefix = re.match(r"^[A-Za-z]*", account).group(0)  # type: ignore[union-attr]
    if len(account) - len(prefix) <= 3:
        return f"{prefix}***"
    return f"{prefix}***{account[-3:]}"


def account_kind(account: str) -> AccountKind:
    return AccountKind.PAPER if account.upper().startswith(PAPER_PREFIX) else AccountKind.LIVE


def check_account(
    mode: str,
    managed_accounts: Sequence[str],
    *,
    live_flag: bool,
    live_account: str | None,
    allow_multiple_accounts: bool = False,
    trade_account: str | None = None,
) -> AccountDecision:
    """Decide whether `mode` may run against the login's `managed_accounts` (from IB's managedAccounts).

    - dry-run: allowed on anything (even no account), never sends.
    - paper: exactly one DU account (or trade_account among several, if allowed); `--live` is refused as ambiguous.
    - live: the account must be a non-DU account equal to `live_account`, and `--live` must be given.
    - approval: a paper account as in paper mode; a live account needs the same two acknowledgements as live.
    """

    def refuse(message: str, account: str | None = None) -> AccountDecision:
        return AccountDecision(False, mode, account, False, message)

    if mode not in MODES:
        return refuse(f"unknown mode {mode!r}. Fix: use one of {', '.join(MODES)}")
    accounts = [a.strip() for a in managed_accounts if a and a.strip()]
    if mode == "dry-run":
        chosen = accounts[0] if len(accounts) == 1 else (trade_account if trade_account in accounts else None)
        return AccountDecision(True, mode, chosen, False, "dry-run: orders are planned and journaled, never sent")

    if mode == "paper" and live_flag:
        return refuse("--live was given with mode paper. Fix: drop --live, or use --mode live for a live account")
    if not accounts:
        return refuse("the gateway reported no managed account. Fix: log the gateway in to an account, then restart")
    bad = [a for a in accounts if not _ACCOUNT_RE.match(a)]
    if bad:
        return refuse(f"the gateway reported a malformed account id ({mask_account(bad[0])}). Fix: check the login")
    if len(accounts) > 1:
        if not allow_multiple_accounts:
            return refuse(
                f"the login manages {len(accounts)} accounts ({', '.join(mask_account(a) for a in accounts)}). "
                "Fix: log in to a single account, or set risk.allow_multiple_accounts = true and risk.trade_account"
            )
        if not trade_account or trade_account not in accounts:
            return refuse(
                "several accounts are managed and risk.trade_account does not name one of them. "
                "Fix: set risk.trade_account to the exact id of the account to trade"
            )
        account = trade_account
    else:
        account = accounts[0]
        if trade_account and trade_account != account:
            return refuse(
                f"risk.trade_account is {mask_account(trade_account)} but the login is {mask_account(account)}. "
                "Fix: correct risk.trade_account or log in to that account",
                account,
            )

    kind = account_kind(account)
    shown = mask_account(account)
    if mode == "paper":
        if kind is not AccountKind.PAPER:
            return refuse(
                f"paper mode refuses account {shown}: it is not a paper account (paper ids start with DU). "
                "Fix: log in to your paper account, or use live mode with --live and bot.live_account",
                account,
            )
        return AccountDecision(True, mode, account, True, f"paper account {shown}")
    if mode == "live" and kind is AccountKind.PAPER:
        return refuse(f"live mode on paper account {shown}. Fix: use --mode paper for a paper account", account)
    if kind is AccountKind.LIVE:
        missing = []
        if not live_flag:
            missing.append("--live on the command line")
        if live_account != account:
            missing.append(f"bot.live_account = the exact id of account {shown}")
        if missing:
            return refuse(
                f"{mode} mode on live account {shown} needs both acknowledgements; missing: "
                f"{' and '.join(missing)}. Fix: add them, or log in to a paper account",
                account,
            )
        return AccountDecision(True, mode, account, True, f"live account {shown} acknowledged")
    return AccountDecision(True, mode, account, True, f"paper account {shown}")


def require_account(mode: str, managed_accounts: Sequence[str], **kwargs: object) -> AccountDecision:
    """`check_account` that raises AccountGuardError on refusal (for the engine's start-up)."""
    decision = check_account(mode, managed_accounts, **kwargs)  # type: ignore[arg-type]
    if not decision.allowed:
        raise AccountGuardError(decision.message)
    return decision

"""`alvh resume [--reason TEXT]`: return to active trading (the only way out of an automatic halt)."""

from __future__ import annotations

import argparse
import getpass

from bot.cli import UserError
from bot.journal import JournalError
from bot.journal.locate import add_journal_arguments, open_journal
from bot.journal.store import OPERATOR
from bot.risk import TradingState


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", default="operator resume", help="why, kept in the journal")
    add_journal_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        with open_journal(args) as journal:
            before = journal.trading_state()
            if before.state is TradingState.ACTIVE:
                print(f"trading state is already active ({before.reason}); nothing changed")
                return 0
            record = journal.set_trading_state(TradingState.ACTIVE, args.reason, by=f"{OPERATOR}{getpass.getuser()}")
    except JournalError as exc:
        raise UserError(str(exc)) from None
    print(f"trading state {before.state.value} ({before.set_by}: {before.reason}) -> {record.state.value}")
    return 0

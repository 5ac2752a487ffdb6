"""`alvh halt [--reason TEXT] [--reducing]`: stop the bot sending (or let only position-reducing orders through)."""

from __future__ import annotations

import argparse
import getpass

from bot.cli import UserError
from bot.journal import JournalError
from bot.journal.locate import add_journal_arguments, open_journal
from bot.journal.store import OPERATOR
from bot.risk import TradingState


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", default="operator halt", help="why, shown by `alvh status` and kept")
    parser.add_argument(
        "--reducing", action="store_true", help="allow orders that only reduce positions (state 'reducing')"
    )
    add_journal_arguments(parser)


def run(args: argparse.Namespace) -> int:
    state = TradingState.REDUCING if args.reducing else TradingState.HALTED
    try:
        # create=True: halting before the bot's first run is allowed, so that it starts halted
        with open_journal(args, create=True) as journal:
            record = journal.set_trading_state(state, args.reason, by=f"{OPERATOR}{getpass.getuser()}")
    except JournalError as exc:
        raise UserError(str(exc)) from None
    print(f"trading state is now {record.state.value}: {record.reason}. The bot applies it at its next cycle.")
    print("Undo with `alvh resume`.")
    return 0

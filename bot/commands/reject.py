"""`alvh reject ID [--reason TEXT]`: reject a pending intent; it can never be sent."""

from __future__ import annotations

import argparse
import getpass

from bot.cli import UserError
from bot.journal import JournalError
from bot.journal.locate import add_journal_arguments, open_journal


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="intent id from `alvh pending`")
    parser.add_argument("--reason", help="why, kept in the journal")
    add_journal_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        with open_journal(args) as journal:
            record = journal.reject(args.id, by=getpass.getuser(), reason=args.reason)
    except JournalError as exc:
        raise UserError(str(exc)) from None
    print(f"rejected {record.id}; it will not be sent")
    return 0

"""`alvh approve ID --fingerprint F`: approve exactly the content `alvh pending` showed (refused if it changed)."""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.approvals import describe
from bot.cli import UserError
from bot.journal import JournalError
from bot.journal.locate import add_journal_arguments, open_journal


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="intent id from `alvh pending`")
    parser.add_argument(
        "--fingerprint",
        help="the fingerprint `alvh pending` showed; without it an interactive terminal shows the intent and asks",
    )
    add_journal_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        with open_journal(args) as journal:
            fp = args.fingerprint
            if not fp:
                record = journal.get_intent(args.id)
                if record is None:
                    raise UserError(f"no intent {args.id!r}. Run `alvh pending` for ids")
                if not sys.stdin.isatty():
                    raise UserError(
                        "--fingerprint is required when not on an interactive terminal, so that you approve exactly "
                        "what you saw. Fix: copy it from `alvh pending`"
                    )
                item = describe(record)
                print(
                    f"{item['id']}: {item['side']} {item['quantity']} {item['instrument']} limit {item['limit_price']}"
                    f"\n  reason: {item['reason']}\n  status: {item['status']}  fingerprint {item['fingerprint']}"
                )
                if input("Approve exactly this? [y/N] ").strip().lower() not in ("y", "yes"):
                    print("not approved")
                    return 1
                fp = record.short_fingerprint
            record = journal.approve(args.id, fp, by=getpass.getuser())
    except JournalError as exc:
        raise UserError(str(exc)) from None
    until = f" until {record.expires_at:%Y-%m-%d %H:%M:%S} UTC" if record.expires_at else ""
    print(f"approved {record.id} (content {record.short_fingerprint}); the bot re-checks it and may send it{until}")
    return 0

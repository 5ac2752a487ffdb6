"""`alvh export-journal --journal FILE --out DIR`: every journal table as CSV or JSON lines, for audit."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.cli import UserError
from bot.journal import JournalError
from bot.journal.export import export_journal
from bot.journal.locate import add_journal_arguments, open_journal


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="directory for the files (created if missing)")
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="file format (default csv)")
    add_journal_arguments(parser)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file. Fix: pass a directory")
    try:
        with open_journal(args) as journal:
            counts = export_journal(journal, out, args.format)
    except JournalError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot write to {out}: {exc.strerror}. Fix: choose a writable directory") from None
    for table, n in counts.items():
        print(f"{table:22s} {n:6d} rows -> {out / f'{table}.{args.format}'}")
    return 0

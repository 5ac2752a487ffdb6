"""Finding and opening the journal from a command line (`--journal FILE` or `--config FILE`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.config import AppConfig, load_config
from bot.journal.db import JournalError
from bot.journal.store import Journal


def add_journal_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--journal", metavar="FILE", help="the bot's SQLite journal")
    group.add_argument("--config", metavar="FILE", help="config file whose bot.journal_path names the journal")


def journal_path(args: argparse.Namespace) -> Path:
    if getattr(args, "journal", None):
        return Path(args.journal)
    config = load_config(args.config) if getattr(args, "config", None) else AppConfig()
    return config.bot.journal_path


def open_journal(args: argparse.Namespace, *, create: bool = False) -> Journal:
    """Open an existing journal (commands never create one: a typo must not silently start an empty journal)."""
    return Journal.open(journal_path(args), create=create)


__all__ = ["JournalError", "add_journal_arguments", "journal_path", "open_journal"]

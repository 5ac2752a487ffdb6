"""`alvh check-config FILE`: validate a configuration and print the effective settings as a table."""

from __future__ import annotations

import argparse

from bot.config import load_config, render_table


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="TOML configuration file to validate")


def run(args: argparse.Namespace) -> int:
    config = load_config(args.file)  # ConfigError is reported by the CLI without a traceback
    print(render_table(config))
    print(f"\n{args.file}: OK")
    return 0

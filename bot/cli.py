"""`alvh`: the command-line front end. Each sub-command lives in its own module and is imported on demand."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from bot import __version__
from bot.config import ConfigError

# name -> (module, one-line help). A module exposes configure_parser(parser) and run(args) -> exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "check-config": ("bot.commands.check_config", "validate a config file and print the effective settings"),
    "sim": ("bot.sim.cli", "run the IB Gateway simulator (TWS API v176) on loopback in the foreground"),
    "backtest": ("bot.commands.backtest", "replay history: condors unhedged, with ALVH and simple hedges"),
    "sweep": ("bot.commands.sweep", "run a backtest parameter grid in parallel and print the sensitivity table"),
    "pending": ("bot.commands.pending", "list intents waiting for approval"),
    "approve": ("bot.commands.approve", "approve a pending intent (bound to the fingerprint you saw)"),
    "reject": ("bot.commands.reject", "reject a pending intent"),
    "halt": ("bot.commands.halt", "halt trading (or --reducing: only position-reducing orders)"),
    "resume": ("bot.commands.resume", "resume trading after a halt"),
    "export-journal": ("bot.commands.journal_export", "export the journal as CSV or JSON lines for audit"),
    "run": ("bot.commands.run", "run the bot: decide, check, (approve,) execute; starts the simulator if configured"),
    "status": ("bot.commands.status", "show the running bot: trading state, layers, book, hedges, approvals, P&L"),
}

EXIT_USAGE = 2
EXIT_INTERNAL = 70


class UserError(Exception):
    """A problem the user can fix; printed as one clear message, never as a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alvh", description="Adaptive Layered VIX Hedge for SPX iron condors at Interactive Brokers"
    )
    parser.add_argument("--version", action="version", version=f"alvh {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        module.configure_parser(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (ConfigError, UserError) as exc:
        print(f"alvh {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"alvh {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: say so plainly, keep the traceback one env var away
        if os.environ.get("ALVH_DEBUG"):
            raise
        print(
            f"alvh {args.command}: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in alvh. Re-run with ALVH_DEBUG=1 for the traceback and report it.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL

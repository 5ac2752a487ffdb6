"""`alvh pending [--json]`: the intents waiting for a person, with everything needed to decide on each."""

from __future__ import annotations

import argparse
import datetime as dt
import json

from bot.approvals import describe
from bot.cli import UserError
from bot.journal import JournalError
from bot.journal.locate import add_journal_arguments, open_journal


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_journal_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        with open_journal(args) as journal:
            records = journal.pending_approvals()
            state = journal.trading_state()
            now = journal.now()
            path = journal.path
    except JournalError as exc:
        raise UserError(str(exc)) from None
    items = [describe(r) for r in records]
    if args.json:
        print(
            json.dumps(
                {
                    "journal": str(path),
                    "trading_state": {"state": state.state.value, "reason": state.reason, "set_by": state.set_by},
                    "pending": items,
                },
                indent=2,
            )
        )
        return 0
    where = f"--journal {path}"
    print(f"trading state: {state.state.value} ({state.reason})")
    if not items:
        print(f"no intents awaiting approval in {path}")
        return 0
    print(f"{len(items)} intent(s) awaiting approval in {path}:\n")
    for item in items:
        print(_render(item, now, where))
    return 0


def _render(item: dict, now: dt.datetime, where: str) -> str:
    price = "at the market ladder (no limit set)"
    if item["limit_price"] is not None:
        price = f"limit {item['limit_price']:g} (reference {item['reference_price']:g})"
    expires = dt.datetime.fromisoformat(item["expires_at"]) if item["expires_at"] else None
    left = f", expires in {int((expires - now).total_seconds())} s at {expires:%H:%M:%S} UTC" if expires else ""
    votes = ", ".join(
        f"{v['name']}={v['vote']}" + (f" ({v['detail']})" if v.get("detail") else "") for v in item["votes"]
    )
    lines = [
        f"{item['id']}  [fingerprint {item['fingerprint']}]",
        f"  {item['side']} {item['quantity']} {item['instrument']}  {price}",
        f"  layer {item['layer']}, {'opens' if item['opens_position'] else 'reduces'} a position"
        + (f", group {item['group']}" if item["group"] else ""),
        f"  reason: {item['reason']}",
        f"  votes: {votes or '(none)'}",
        f"  created {item['created_at']}{left}",
        f"  approve: alvh approve {item['id']} --fingerprint {item['fingerprint']} {where}",
        f"  reject:  alvh reject {item['id']} --reason '...' {where}",
        "",
    ]
    return "\n".join(lines)

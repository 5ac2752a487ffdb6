"""`alvh status [--json] [--config FILE | --journal FILE]`: what the bot is doing, from another terminal.

Reads the journal (trading state, pending approvals, the last decision: authoritative) and the status file the
engine writes next to it each cycle (broker connection, masked account, hedge marks, P&L). Works while the bot
runs and after it stopped (then `running` is false and the figures are those of its last cycle).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot.approvals import describe
from bot.cli import UserError
from bot.engine.status import clean_json, read_status, status_path
from bot.engine.timeline import money
from bot.journal import JournalError
from bot.journal.locate import add_journal_arguments, open_journal


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_journal_arguments(parser)


def collect(args: argparse.Namespace) -> dict[str, Any]:
    try:
        with open_journal(args) as journal:
            state = journal.trading_state()
            pending = [describe(r) for r in journal.pending_approvals()]
            last = journal.last_decision()
            path = journal.path
    except JournalError as exc:
        raise UserError(str(exc)) from None
    live = read_status(status_path(path)) or {}
    last = last or {}
    layers = live.get("layers") or [{**row, "last_rule": None} for row in last.get("state", {}).get("layers", [])]
    return {
        "journal": str(path),
        "running": bool(live.get("running", False)),
        "updated_at": live.get("updated_at"),
        "market_time": live.get("market_time", last.get("at")),
        "mode": live.get("mode"),
        "account": live.get("account"),
        "broker": live.get("broker"),
        "simulator": live.get("simulator"),
        "trading_state": {"state": state.state.value, "reason": state.reason, "set_by": state.set_by},
        "regime": last.get("regime"),
        "layers": layers,
        "votes": last.get("votes", []),
        "book": last.get("book", {}),
        "hedges": live.get(
            "hedges", [{"instrument": k, "quantity": q} for k, q in last.get("snapshot", {}).get("hedges", {}).items()]
        ),
        "pnl": live.get("pnl"),
        "pending_approvals": pending,
        "in_flight": live.get("in_flight", []),
        "counts": live.get("counts"),
        "last_decision": {
            "at": last.get("at"),
            "intents": last.get("intents", []),
            "alerts": last.get("alerts", []),
            "transitions": last.get("transitions", []),
        }
        if last
        else None,
    }


def run(args: argparse.Namespace) -> int:
    status = collect(args)
    if args.json:
        print(json.dumps(clean_json(status), indent=2, allow_nan=False))
        return 0
    print(render(status))
    return 0


def _num(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, int | float) else "-"


def render(s: dict[str, Any]) -> str:
    ts = s["trading_state"]
    lines = [
        f"journal {s['journal']}  ({'running' if s['running'] else 'not running'}; last update {s['updated_at']})",
        f"mode {s['mode'] or '?'}  account {s['account'] or '?'}  broker {s['broker'] or '?'}"
        + (f"  simulator {s['simulator']}" if s["simulator"] else ""),
        f"trading state {ts['state']} ({ts['reason']}, by {ts['set_by']})  regime {s['regime'] or '?'}",
        f"market time {s['market_time']}",
        "",
        "layers:",
    ]
    for row in s["layers"]:
        rule = f"  last rule: {row['last_rule']}" if row.get("last_rule") else ""
        lines.append(
            f"  L{row['layer']} {row['phase']:<10} since {row.get('since') or '-'}"
            f"  thickness {row.get('thickness', 0):.2f}"
            f"  episode {row.get('episode', 0)}{rule}"
        )
    votes = ", ".join(f"{v['name']}={v['vote']}" for v in s["votes"])
    lines.append(f"votes: {votes or '(none)'}")
    book = s["book"] or {}
    lines += [
        "",
        f"book: {book.get('condors', 0)} condor(s), V_IC {_num(book.get('v_ic'))} $/vol pt, E_VIX "
        f"{_num(book.get('e_vix'))} $/VIX pt",
    ]
    for st in book.get("structures", []):
        be = " / ".join(f"{x:g}" for x in st.get("break_evens", []))
        lines.append(
            f"  {st['label']} x{st['quantity']}  break-evens {be or '-'}  DTE {st.get('dte')}"
            f"  vega {_num(st.get('vega'))}  theta {_num(st.get('theta'))}  P&L {money(st.get('pnl'))}"
        )
    lines += ["", "hedges:"]
    lines += [f"  {h['instrument']} {h['quantity']:+d}  mark {_num(h.get('mark'))}" for h in s["hedges"]] or [
        "  (none)"
    ]
    pnl = s["pnl"] or {}
    lines.append(
        f"P&L: hedge {money(pnl.get('hedge_total'))}, condors {money(pnl.get('condors'))}, net {money(pnl.get('net'))}"
    )
    lines += ["", f"pending approvals: {len(s['pending_approvals'])}"]
    for p in s["pending_approvals"]:
        lines.append(f"  {p['id']} [{p['fingerprint']}] {p['side']} {p['quantity']} {p['instrument']}: {p['reason']}")
    last = s["last_decision"]
    if last:
        lines.append(f"last decision at {last['at']}: {len(last['intents'])} intent(s), {len(last['alerts'])} alert(s)")
    return "\n".join(lines)

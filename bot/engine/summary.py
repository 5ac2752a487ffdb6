"""The end-of-run summary: what the layers did, how much was traded, and the P&L of hedges and condors."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

from bot.domain.layers import LayerBook
from bot.engine.timeline import Timeline, money
from bot.signals.sessions import NEW_YORK


@dataclasses.dataclass
class RunSummary:
    """Counted by the engine as the run goes."""

    transitions: list[tuple[dt.datetime, str]] = dataclasses.field(default_factory=list)
    cycles: int = 0
    intents: int = 0
    orders: int = 0
    fills: int = 0
    denials: int = 0


def print_summary(
    tl: Timeline, s: RunSummary, layers: LayerBook, pnl: Mapping[str, float | None], now: dt.datetime
) -> None:
    tl.text("")
    tl.text("=== summary ===")
    tl.text(f"cycles {s.cycles}, intents {s.intents}, risk denials {s.denials}, orders {s.orders}, fills {s.fills}")
    tl.text("layers:")
    if not s.transitions:
        tl.text("  (no layer transitions)")
    for at, text in s.transitions:
        tl.text(f"  {at.astimezone(NEW_YORK):%Y-%m-%d %H:%M} ET  {text}")
    final = ", ".join(f"L{int(x.layer)} {x.phase.value}" for x in layers.layers)
    tl.text(f"final layers: {final}")
    tl.text(
        f"hedge P&L {money(pnl['hedge_total'])} (realized {money(pnl['hedge_realized'])}, open "
        f"{money(pnl['hedge_unrealized'])}; call premium harvested {money(pnl['harvested'])})"
    )
    tl.text(f"condor P&L {money(pnl['condors'])}")
    tl.text(f"net {money(pnl['net'])}")
    if tl.json_lines:
        tl.emit("summary", now, "run summary", **dataclasses.asdict(s), pnl=dict(pnl))

"""The run's timeline: one line per event for people, or one JSON object per line for machines.

Events: the market at each session close (VIX, F1, F2, the votes, P&L), layer transitions with the rule that
allowed them, intents, risk denials, approvals, orders, fills, connection changes, halts, and the final summary.
Console lines start with the MARKET time in New York, so a 20,000x run reads like a trading diary.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from bot.signals.sessions import NEW_YORK


def num(value: float | None, fmt: str = ".2f") -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, fmt)


def money(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{'-' if value < 0 else '+'}${abs(value):,.0f}"


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    return obj


class Timeline:
    """Writes events to `out` as console lines (`json=False`) or JSON lines (`json=True`)."""

    def __init__(self, out: TextIO | None = None, *, json_lines: bool = False) -> None:
        self.out = out or sys.stdout
        self.json_lines = json_lines

    def emit(self, kind: str, market_time: dt.datetime | None, text: str, **data: Any) -> None:
        if self.json_lines:
            record = {
                "timestamp": dt.datetime.now(dt.UTC).isoformat(),
                "level": "info",
                "logger": "bot.timeline",
                "event": kind,
                "market_time": market_time.isoformat() if market_time else None,
                "text": text,
                **data,
            }
            self.out.write(json.dumps(_clean(record), sort_keys=False) + "\n")
        else:
            when = market_time.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M ET") if market_time else " " * 19
            self.out.write(f"{when}  {kind:<10} {text}\n")
        self.out.flush()

    def text(self, line: str) -> None:
        """A plain line (banner, summary) in console mode; a `note` event in JSON mode."""
        if self.json_lines:
            self.emit("note", None, line)
        else:
            self.out.write(line + "\n")
            self.out.flush()


def votes_summary(votes: Sequence[Mapping[str, Any]]) -> str:
    """'FOR vix_rsi,vix_level | AGAINST term_structure | ABSTAIN 2' from the record's votes."""
    groups: dict[str, list[str]] = {"FOR": [], "AGAINST": [], "ABSTAIN": []}
    for v in votes:
        groups.setdefault(str(v.get("vote", "")).upper(), []).append(str(v.get("name", "?")))
    parts = []
    if groups["FOR"]:
        parts.append("FOR " + ",".join(groups["FOR"]))
    if groups["AGAINST"]:
        parts.append(f"AGAINST {len(groups['AGAINST'])}")
    if groups["ABSTAIN"]:
        parts.append(f"ABSTAIN {len(groups['ABSTAIN'])}")
    return " | ".join(parts) or "no votes"


def quote_value(q: Mapping[str, Any] | None) -> float | None:
    """Mid (both sides) or last of a serialized quote from a decision record."""
    if not q:
        return None
    bid, ask, last = q.get("bid"), q.get("ask"), q.get("last")
    if bid and ask and 0 < bid <= ask:
        return (bid + ask) / 2
    return last if last and last > 0 else None


def curve_values(curve: Mapping[str, Any], today: dt.date) -> tuple[float | None, float | None]:
    """F1 and F2 values from a record's curve (expiry iso date -> quote), listed contracts only."""
    listed = [(dt.date.fromisoformat(k), v) for k, v in curve.items() if dt.date.fromisoformat(k) > today]
    listed.sort(key=lambda kv: kv[0])
    f1 = quote_value(listed[0][1]) if listed else None
    f2 = quote_value(listed[1][1]) if len(listed) > 1 else None
    return f1, f2

"""The result of one decision, and its record: everything needed to explain it later, serializable to JSON.

The record holds references to the immutable values the decision used; `to_dict()` builds the JSON form only
when asked (the journal does, the backtest may not), which keeps `decide` fast.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass

from bot.domain.condors import BookReport
from bot.domain.intents import Intent
from bot.domain.layers import Alert, Regime, Transition
from bot.domain.market import MarketSnapshot, Quote
from bot.domain.state import StrategyState
from bot.domain.votes import SignalVote
from bot.planner import Plan, hedge_break_evens, intent_to_dict
from bot.sizing import CarryCheck, CashPress, SizingResult

RECORD_VERSION = 1


def _quote(q: Quote | None) -> dict[str, object] | None:
    if q is None:
        return None

    def num(x: float) -> float | None:
        return x if math.isfinite(x) else None

    return {"bid": num(q.bid), "ask": num(q.ask), "last": num(q.last), "at": q.at.isoformat() if q.at else None}


def snapshot_summary(s: MarketSnapshot) -> dict[str, object]:
    """Market inputs at a glance (not every option leg: the book section lists structures)."""
    return {
        "now": s.now.isoformat(),
        "vix": _quote(s.vix),
        "vix3m": _quote(s.vix3m),
        "vix9d": _quote(s.vix9d),
        "spx": _quote(s.spx),
        "vixy": _quote(s.vixy),
        "curve": {p.expiry.isoformat(): _quote(p.quote) for p in s.curve.points},
        "vix_options": len(s.vix_options),
        "option_legs": len(s.legs),
        "hedges": {h.instrument.key: h.quantity for h in s.hedges},
        "net_liquidation": s.net_liquidation,
    }


def _transition(t: Transition) -> dict[str, object]:
    return {
        "layer": int(t.layer),
        "name": t.name,
        "from": t.from_phase.value,
        "to": t.to_phase.value,
        "at": t.at.isoformat(),
        "rule": t.rule,
        "votes": [v.to_dict() for v in t.votes],
    }


def _alert(a: Alert) -> dict[str, object]:
    return {"code": a.code, "message": a.message, "layer": int(a.layer) if a.layer is not None else None}


def json_safe(obj: object) -> object:
    """`obj` with every non-finite float replaced by None (strict JSON has no NaN or Infinity)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def _json_default(obj: object) -> object:
    if isinstance(obj, dt.date | dt.datetime):
        return obj.isoformat()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    at: dt.datetime
    snapshot: MarketSnapshot
    book: BookReport
    votes: tuple[SignalVote, ...]
    transitions: tuple[Transition, ...]
    sizing: SizingResult
    plan: Plan
    intents: tuple[Intent, ...]  # after the carry budget (may be fewer than plan.intents)
    carry: CarryCheck
    cash_press: CashPress | None
    regime: Regime
    alerts: tuple[Alert, ...]
    state_after: StrategyState

    def to_dict(self) -> dict[str, object]:
        return {
            "version": RECORD_VERSION,
            "at": self.at.isoformat(),
            "regime": self.regime.value,
            "snapshot": snapshot_summary(self.snapshot),
            "book": self.book.to_dict(),
            "votes": [v.to_dict() for v in self.votes],
            "transitions": [_transition(t) for t in self.transitions],
            "sizing": self.sizing.to_dict(),
            "plan": self.plan.to_dict(),
            "hedge_break_evens": hedge_break_evens(self.plan.attribution, self.snapshot.hedges),
            "intents": [intent_to_dict(i) for i in self.intents],
            "carry": self.carry.to_dict(),
            "cash_press": self.cash_press.to_dict() if self.cash_press else None,
            "alerts": [_alert(a) for a in self.alerts],
            "state": self.state_after.to_dict(),
        }

    def provisional_dict(self) -> dict[str, object]:
        """What a cycle that sends journals before its orders leave: the strategy state (all a restart restores) and
        `complete: false`. The full `to_dict()` replaces it right after the first orders are out; encoding it (a few
        hundred microseconds for a cycle that sends) would otherwise sit between the tick and the order."""
        return {
            "version": RECORD_VERSION,
            "at": self.at.isoformat(),
            "complete": False,
            "state": self.state_after.to_dict(),
        }

    def to_json(self) -> str:
        """Strict JSON: a non-finite number (e.g. a broker's NaN average cost) is written as null."""
        return json.dumps(json_safe(self.to_dict()), default=_json_default, allow_nan=False, sort_keys=True)


@dataclass(frozen=True, slots=True)
class Decision:
    """What one call of `bot.strategy.decide` returns: the intents to execute, the next state, and the record."""

    intents: tuple[Intent, ...]
    state: StrategyState
    record: DecisionRecord

    @property
    def alerts(self) -> tuple[Alert, ...]:
        return self.record.alerts
